import { ATTRS, isAttrName } from '../entries/attrs.js'
import type { AttrName, AttrType } from '../entries/attrs.js'

/**
 * The fields of the query language. Every field but `provider` is an attribute of the `attrs`
 * tree (`ATTRS`); `provider` is the key of the `providers` tree. `uptime` is a field only once the
 * attribute table holds it.
 */
export type QueryField = Exclude<AttrName, 'expires'> | 'provider' | 'uptime'

export interface FieldSpec {
  name: QueryField
  type: AttrType
  /** true when one provider may hold several values (a positive op matches if ANY value does) */
  multi: boolean
  /** the `attrs` attribute the field is indexed under; absent for `provider` */
  attr?: AttrName
  doc: string
}

const BASE_FIELDS: readonly string[] = [
  'gpu', 'gpus', 'vram', 'region', 'country', 'price', 'status', 'cpu', 'mem', 'uplink', 'provider', 'attested-by', 'uptime'
]

function buildFields (): ReadonlyMap<string, Readonly<FieldSpec>> {
  const fields = new Map<string, Readonly<FieldSpec>>()
  for (const name of BASE_FIELDS) {
    if (name === 'provider') {
      fields.set(name, { name, type: 'string', multi: false, doc: 'provider IPNS name (k51…); `provider=` is a point lookup' })
    } else if (isAttrName(name)) {
      const spec = ATTRS[name]
      fields.set(name, { name: name as QueryField, type: spec.type, multi: spec.multi, attr: name, doc: spec.doc })
    }
  }
  return fields
}

/** Known query fields, in documentation order. */
export const FIELDS: ReadonlyMap<string, Readonly<FieldSpec>> = buildFields()

/** Names of the known query fields, for error messages and help. */
export const FIELD_NAMES: readonly string[] = Object.freeze([...FIELDS.keys()])
