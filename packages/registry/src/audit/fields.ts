import { CID } from 'multiformats/cid'
import type { Manifest } from '@capdex/manifest'

/** A JSON-like value of a manifest field: CIDs as strings. */
export type FieldValue = string | number | boolean | null | FieldValue[] | { [key: string]: FieldValue }

/** One field that differs between two manifests, e.g. `gpus[0].available` 8 → 6. */
export interface FieldChange {
  /** `gpus[0].available`, `pricing[0].amount`, `location.region` */
  path: string
  /** absent when the field was added */
  before?: FieldValue
  /** absent when the field was removed */
  after?: FieldValue
}

/** Fields left out of the diff: `prev` changes with every new manifest and says nothing. */
const SKIPPED = new Set(['prev'])

function plain (value: unknown): FieldValue {
  const cid = CID.asCID(value)
  if (cid != null) return cid.toString()
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value
  if (Array.isArray(value)) return value.map(plain)
  if (typeof value === 'object' && value !== undefined) {
    const out: Record<string, FieldValue> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v)
    return out
  }
  return typeof value === 'bigint' ? value.toString() : null
}

function isRecord (value: FieldValue | undefined): value is Record<string, FieldValue> {
  return value != null && typeof value === 'object' && !Array.isArray(value)
}

function same (a: FieldValue, b: FieldValue): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function walk (path: string, before: FieldValue | undefined, after: FieldValue | undefined, out: FieldChange[]): void {
  if (before !== undefined && after !== undefined && same(before, after)) return
  if (Array.isArray(before) && Array.isArray(after)) {
    for (let i = 0; i < Math.max(before.length, after.length); i++) walk(`${path}[${i}]`, before[i], after[i], out)
    return
  }
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    for (const key of keys) walk(path === '' ? key : `${path}.${key}`, before[key], after[key], out)
    return
  }
  const change: FieldChange = { path }
  if (before !== undefined) change.before = before
  if (after !== undefined) change.after = after
  out.push(change)
}

/**
 * The field-level difference between two manifests, in path order: objects key by key, arrays
 * index by index, leaves compared by value (`prev` is skipped). A whole element added to or removed
 * from an array is one change at its index.
 */
export function diffManifests (before: Manifest, after: Manifest): FieldChange[] {
  const a = plain(before)
  const b = plain(after)
  const out: FieldChange[] = []
  if (!isRecord(a) || !isRecord(b)) return out
  for (const key of SKIPPED) {
    delete a[key]
    delete b[key]
  }
  walk('', a, b, out)
  return out
}

/** `gpus[0].available 8 → 6`, with `∅` for an absent side. */
export function formatFieldChange (change: FieldChange): string {
  const show = (v: FieldValue | undefined): string => v === undefined ? '∅' : typeof v === 'string' ? v : JSON.stringify(v)
  return `${change.path} ${show(change.before)} → ${show(change.after)}`
}
