import { compare } from 'uint8arrays/compare'
import { concat } from 'uint8arrays/concat'
import { InvalidAttrKeyError, InvalidAttributeError, InvalidNumberError } from './errors.js'
import { ATTR_SEPARATOR, MIB_PER_GIB, NUMBER_BYTES, PRICE_CURRENCY, STRING_ESCAPE } from './constants.js'
import type { Manifest } from '@capdex/manifest'

/**
 * Attribute-index keys of the `attrs` tree: `attr ‖ 0x00 ‖ order-preserving value ‖ 0x00 ‖ providerKey`,
 * with an empty value. Numbers encode to 8 bytes whose bytewise order is numeric order; strings
 * encode to NFC lower-case UTF-8 with 0x00/0x01 escaped, so the separator is unambiguous and
 * bytewise order is code-point order of the canonical string.
 */

export type AttrType = 'number' | 'string'

export interface AttrSpec {
  name: AttrName
  type: AttrType
  /** true when one provider may hold several keys of this attribute */
  multi: boolean
  doc: string
}

export type AttrName =
  | 'gpu' | 'gpus' | 'vram' | 'region' | 'country' | 'price' | 'status'
  | 'cpu' | 'mem' | 'uplink' | 'attested-by' | 'expires' | 'uptime'

export type AttrValue = number | string

/** The attribute table: every queryable field of the `attrs` tree. */
export const ATTRS: Readonly<Record<AttrName, Readonly<AttrSpec>>> = Object.freeze({
  gpu: { name: 'gpu', type: 'string', multi: true, doc: 'canonical GPU model (e.g. "h100"), one key per distinct model' },
  gpus: { name: 'gpus', type: 'number', multi: false, doc: 'total GPU count over all models (0 for GPU-less providers)' },
  vram: { name: 'vram', type: 'number', multi: true, doc: 'per-GPU VRAM in GiB (vramMiB / 1024), one key per distinct value over the models' },
  region: { name: 'region', type: 'string', multi: false, doc: 'location region slug, e.g. "eu-west"; absent when the manifest leaves it empty' },
  country: { name: 'country', type: 'string', multi: false, doc: 'ISO 3166-1 alpha-2 country (upper case in manifests, encoded lower case)' },
  price: { name: 'price', type: 'number', multi: false, doc: 'lowest USD price per GPU-hour: gpu-hour amounts as is, instance-hour amounts divided by the total GPU count; for GPU-less providers the lowest USD instance-hour price. Absent without USD pricing' },
  status: { name: 'status', type: 'string', multi: false, doc: 'available | busy | draining | offline' },
  cpu: { name: 'cpu', type: 'number', multi: false, doc: 'physical CPU cores (`cpu.cores`, not threads)' },
  mem: { name: 'mem', type: 'number', multi: false, doc: 'total memory in GiB (totalMiB / 1024)' },
  uplink: { name: 'uplink', type: 'number', multi: false, doc: 'network uplink in Mbps' },
  'attested-by': { name: 'attested-by', type: 'string', multi: true, doc: 'each attestation CID (string form), one key per attestation' },
  expires: { name: 'expires', type: 'number', multi: false, doc: 'record validity EOL in ms since the epoch: live when expires > now' },
  uptime: { name: 'uptime', type: 'number', multi: false, doc: 'share (0..1, steps of 0.01) of the 30 days before the lease end during which the provider held a live lease, from the entry\'s lease summary' }
})

/** Every attribute name, in table order. */
export const ATTR_NAMES: readonly AttrName[] = Object.freeze(Object.keys(ATTRS) as AttrName[])

export function isAttrName (name: string): name is AttrName {
  return Object.hasOwn(ATTRS, name)
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Order-preserving encoding of a float64: big-endian IEEE-754 with the sign bit flipped for
 * non-negative numbers and every bit flipped for negative ones. -0 is encoded as 0; NaN throws
 * `InvalidNumberError`; ±Infinity sort at the ends.
 */
export function encodeNumber (n: number): Uint8Array {
  if (Number.isNaN(n)) {
    throw new InvalidNumberError()
  }
  NUMBER_SCRATCH[0] = n === 0 ? 0 : n
  const out = new Uint8Array(NUMBER_BYTES)
  for (let i = 0; i < NUMBER_BYTES; i++) {
    out[i] = NUMBER_SCRATCH_BYTES[LITTLE_ENDIAN ? NUMBER_BYTES - 1 - i : i]!
  }
  if (out[0]! & 0x80) {
    for (let i = 0; i < NUMBER_BYTES; i++) {
      out[i] = ~out[i]! & 0xff
    }
  } else {
    out[0] = out[0]! ^ 0x80
  }
  return out
}

// a float64's bytes without a DataView per call (attribute keys are built per folded update)
const NUMBER_SCRATCH = new Float64Array(1)
const NUMBER_SCRATCH_BYTES = new Uint8Array(NUMBER_SCRATCH.buffer)
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/** Inverse of `encodeNumber` over its first 8 bytes. */
export function decodeNumber (bytes: Uint8Array): number {
  if (bytes.length < NUMBER_BYTES) {
    throw new InvalidAttrKeyError('An encoded number needs 8 bytes')
  }
  const copy = bytes.slice(0, NUMBER_BYTES)
  if ((copy[0] ?? 0) & 0x80) {
    copy[0] = (copy[0] ?? 0) ^ 0x80
  } else {
    for (let i = 0; i < NUMBER_BYTES; i++) {
      copy[i] = ~(copy[i] ?? 0) & 0xff
    }
  }
  const n = new DataView(copy.buffer).getFloat64(0, false)
  if (Number.isNaN(n)) {
    throw new InvalidAttrKeyError('An encoded number decodes to NaN')
  }
  return n
}

/** The canonical form strings are indexed and compared in: NFC, lower case. */
export function canonicalString (s: string): string {
  // printable ASCII is already NFC, and lower-cases to ASCII (the common case, and a hot path in fold)
  if (PRINTABLE_ASCII.test(s)) return s.toLowerCase()
  return s.normalize('NFC').toLowerCase().normalize('NFC')
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/

/**
 * Order-preserving, 0x00-free encoding of a string: canonical form (NFC, lower case) as UTF-8,
 * then 0x00 → 0x01 0x01 and 0x01 → 0x01 0x02.
 */
export function encodeString (s: string): Uint8Array {
  const raw = textEncoder.encode(canonicalString(s))
  let escapes = 0
  for (const b of raw) {
    if (b <= STRING_ESCAPE) escapes++
  }
  if (escapes === 0) {
    return raw
  }
  const out = new Uint8Array(raw.length + escapes)
  let j = 0
  for (const b of raw) {
    if (b <= STRING_ESCAPE) {
      out[j++] = STRING_ESCAPE
      out[j++] = b + 1
    } else {
      out[j++] = b
    }
  }
  return out
}

/** Decodes an escaped string that ends at `end` (exclusive); the inverse of `encodeString` on canonical strings. */
function decodeStringBytes (bytes: Uint8Array, start: number, end: number): string {
  const out = new Uint8Array(end - start)
  let j = 0
  for (let i = start; i < end; i++) {
    const b = bytes[i] ?? 0
    if (b === STRING_ESCAPE) {
      const next = bytes[++i]
      if (next !== 0x01 && next !== 0x02) {
        throw new InvalidAttrKeyError('Bad escape in an encoded string')
      }
      out[j++] = next - 1
    } else {
      out[j++] = b
    }
  }
  try {
    return textDecoder.decode(out.subarray(0, j))
  } catch {
    throw new InvalidAttrKeyError('An encoded string is not UTF-8')
  }
}

/** Decodes a whole `encodeString` output. */
export function decodeString (bytes: Uint8Array): string {
  return decodeStringBytes(bytes, 0, bytes.length)
}

function attrSpec (attr: string): Readonly<AttrSpec> {
  if (!isAttrName(attr)) {
    throw new InvalidAttributeError(`Unknown attribute "${attr}"`)
  }
  return ATTRS[attr]
}

/** Encodes `value` for `attr`, checking its type against `ATTRS`. */
export function encodeAttrValue (attr: AttrName, value: AttrValue): Uint8Array {
  const spec = attrSpec(attr)
  if (spec.type === 'number') {
    if (typeof value !== 'number') {
      throw new InvalidAttributeError(`Attribute "${attr}" takes a number`)
    }
    return encodeNumber(value)
  }
  if (typeof value !== 'string') {
    throw new InvalidAttributeError(`Attribute "${attr}" takes a string`)
  }
  return encodeString(value)
}

const SEP = Uint8Array.of(ATTR_SEPARATOR)
const AFTER_SEP = Uint8Array.of(ATTR_SEPARATOR + 1)

/** `attr ‖ 0x00`: the prefix of every key of one attribute. */
export function attrPrefix (attr: AttrName): Uint8Array {
  attrSpec(attr)
  return concat([textEncoder.encode(attr), SEP])
}

/** `attr ‖ 0x00 ‖ enc(value) ‖ 0x00`: the prefix of every key of one attribute value (equality scans). */
export function attrValuePrefix (attr: AttrName, value: AttrValue): Uint8Array {
  return concat([textEncoder.encode(attr), SEP, encodeAttrValue(attr, value), SEP])
}

/** `attr ‖ 0x00` of every attribute, encoded once. */
const ATTR_HEADS = new Map<string, Uint8Array>(ATTR_NAMES.map((name) => [name, concat([textEncoder.encode(name), SEP])]))

/** The full attribute-index key `attr ‖ 0x00 ‖ enc(value) ‖ 0x00 ‖ providerKey`. */
export function attrKey (attr: AttrName, value: AttrValue, providerKey: Uint8Array): Uint8Array {
  const head = ATTR_HEADS.get(attr)
  if (head === undefined) {
    throw new InvalidAttributeError(`Unknown attribute "${attr}"`)
  }
  const encoded = encodeAttrValue(attr, value)
  const key = new Uint8Array(head.length + encoded.length + 1 + providerKey.length)
  key.set(head, 0)
  key.set(encoded, head.length)
  key[head.length + encoded.length] = ATTR_SEPARATOR
  key.set(providerKey, head.length + encoded.length + 1)
  return key
}

export interface AttrBounds {
  gte?: AttrValue
  gt?: AttrValue
  lte?: AttrValue
  lt?: AttrValue
}

export interface AttrByteRange {
  /** inclusive lower bound */
  gte: Uint8Array
  /** exclusive upper bound */
  lt: Uint8Array
}

/**
 * Byte bounds `[gte, lt)` of the attribute keys whose value lies in the given bounds (all optional;
 * with none, the whole attribute). Exact for strings too: `gt: "a"` excludes "a" and includes "a…".
 * An empty interval comes back with `gte` equal to `lt`.
 */
export function attrRange (attr: AttrName, bounds: AttrBounds = {}): AttrByteRange {
  const name = textEncoder.encode(attr)
  const head = concat([name, SEP])
  let gte: Uint8Array = head
  let lt: Uint8Array = concat([name, AFTER_SEP])
  const valueBound = (value: AttrValue, after: Uint8Array): Uint8Array =>
    concat([head, encodeAttrValue(attr, value), after])
  if (bounds.gte !== undefined) {
    const b = valueBound(bounds.gte, SEP)
    if (compare(b, gte) > 0) gte = b
  }
  if (bounds.gt !== undefined) {
    const b = valueBound(bounds.gt, AFTER_SEP)
    if (compare(b, gte) > 0) gte = b
  }
  if (bounds.lt !== undefined) {
    const b = valueBound(bounds.lt, SEP)
    if (compare(b, lt) < 0) lt = b
  }
  if (bounds.lte !== undefined) {
    const b = valueBound(bounds.lte, AFTER_SEP)
    if (compare(b, lt) < 0) lt = b
  }
  if (compare(gte, lt) > 0) {
    lt = gte
  }
  return { gte, lt }
}

export interface DecodedAttrKey {
  attr: AttrName
  /** numbers as numbers; strings in canonical form (NFC, lower case) */
  value: AttrValue
  providerKey: Uint8Array
}

/** Splits an attribute-index key into its attribute, value and provider key. */
export function decodeAttrKey (key: Uint8Array): DecodedAttrKey {
  const nameEnd = key.indexOf(ATTR_SEPARATOR)
  if (nameEnd <= 0) {
    throw new InvalidAttrKeyError('No attribute name in key')
  }
  let attr: string
  try {
    attr = textDecoder.decode(key.subarray(0, nameEnd))
  } catch {
    throw new InvalidAttrKeyError('Attribute name is not UTF-8')
  }
  if (!isAttrName(attr)) {
    throw new InvalidAttrKeyError(`Unknown attribute "${attr}" in key`)
  }
  const start = nameEnd + 1
  let value: AttrValue
  let end: number
  if (ATTRS[attr].type === 'number') {
    end = start + NUMBER_BYTES
    if (key.length < end + 1) {
      throw new InvalidAttrKeyError('Key too short for a number value')
    }
    value = decodeNumber(key.subarray(start, end))
  } else {
    end = key.indexOf(ATTR_SEPARATOR, start)
    if (end < 0) {
      throw new InvalidAttrKeyError('No separator after a string value')
    }
    value = decodeStringBytes(key, start, end)
  }
  if (key[end] !== ATTR_SEPARATOR) {
    throw new InvalidAttrKeyError('No separator after the value')
  }
  const providerKey = key.slice(end + 1)
  if (providerKey.length === 0) {
    throw new InvalidAttrKeyError('No provider key')
  }
  return { attr, value, providerKey }
}

export interface AttrPair {
  attr: AttrName
  value: AttrValue
}

/** The USD price per GPU-hour the `price` attribute holds, or undefined without USD pricing. */
export function pricePerGpuHour (manifest: Pick<Manifest, 'gpus' | 'pricing'>): number | undefined {
  const gpuTotal = manifest.gpus.reduce((sum, g) => sum + g.count, 0)
  let best: number | undefined
  for (const p of manifest.pricing) {
    if (p.currency.toUpperCase() !== PRICE_CURRENCY) continue
    const amount = Number(p.amount)
    if (!Number.isFinite(amount)) continue
    let perUnit: number
    if (gpuTotal > 0) {
      perUnit = p.unit === 'gpu-hour' ? amount : amount / gpuTotal
    } else {
      if (p.unit !== 'instance-hour') continue
      perUnit = amount
    }
    if (best === undefined || perUnit < best) best = perUnit
  }
  return best
}

/** What the attributes take from outside the manifest: the record's EOL and the entry's uptime. */
export interface AttrContext {
  validity: Date
  /** `entryUptime(entry)`; absent for entries without a lease summary (no `uptime` key) */
  uptime?: number | undefined
}

/** A string that two pairs share exactly when they encode to the same key (for a provider). */
export function attrPairId ({ attr, value }: AttrPair): string {
  return `${attr}\u0000${typeof value === 'string' ? canonicalString(value) : String(value === 0 ? 0 : value)}`
}

/**
 * The attribute pairs a manifest alone decides: one per single-valued attribute present, one per
 * distinct value of a multi-valued one, without duplicates.
 */
export function manifestAttrs (manifest: Manifest): AttrPair[] {
  const out: AttrPair[] = []
  const seen = new Set<string>()
  const add = (attr: AttrName, value: AttrValue): void => {
    if (typeof value === 'number' && Number.isNaN(value)) return
    const pair = { attr, value }
    const id = attrPairId(pair)
    if (seen.has(id)) return
    seen.add(id)
    out.push(pair)
  }
  for (const g of manifest.gpus) add('gpu', g.model)
  add('gpus', manifest.gpus.reduce((sum, g) => sum + g.count, 0))
  for (const g of manifest.gpus) add('vram', g.vramMiB / MIB_PER_GIB)
  if (manifest.location.region !== '') add('region', manifest.location.region)
  add('country', manifest.location.country)
  const price = pricePerGpuHour(manifest)
  if (price !== undefined) add('price', price)
  add('status', manifest.status)
  add('cpu', manifest.cpu.cores)
  add('mem', manifest.memory.totalMiB / MIB_PER_GIB)
  add('uplink', manifest.network.uplinkMbps)
  for (const a of manifest.attestations) add('attested-by', a.toString())
  return out
}

/** The attribute pairs that come from outside the manifest: `expires` and, with a lease summary, `uptime`. */
export function contextAttrs (record: AttrContext): AttrPair[] {
  const out: AttrPair[] = []
  const expires = record.validity.getTime()
  if (!Number.isNaN(expires)) out.push({ attr: 'expires', value: expires })
  if (record.uptime !== undefined && !Number.isNaN(record.uptime)) out.push({ attr: 'uptime', value: record.uptime })
  return out
}

/** Every attribute pair of one provider: the manifest's, then the record's and the entry's. */
export function attrsForManifest (manifest: Manifest, record: AttrContext): AttrPair[] {
  return [...manifestAttrs(manifest), ...contextAttrs(record)]
}

/** The attribute-index keys of one provider, for a mutate batch. */
export function attrKeysForManifest (manifest: Manifest, record: AttrContext, providerKey: Uint8Array): Uint8Array[] {
  return attrsForManifest(manifest, record).map(({ attr, value }) => attrKey(attr, value, providerKey))
}
