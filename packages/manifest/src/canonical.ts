import { CID } from 'multiformats/cid'

/*
 * Fast paths for canonical DAG-JSON, for the values a manifest holds: plain objects, arrays, strings,
 * numbers, booleans, null and CID links. @ipld/dag-json 11 encodes with cborg 6's JSON encoder:
 *
 * - map keys sorted by UTF-16 code units (cborg's mapSorter compares key strings with `<`), no whitespace;
 * - strings as `JSON.stringify` writes them (cborg calls it);
 * - safe integers as `String(n)` (so -0 is "0"); any other finite number as `String(n)`, plus ".0"
 *   when that has neither "." nor "e" (2 ** 53 is "9007199254740992.0", 1e21 is "1e+21");
 * - a CID as `{"/":"<cid.toString()>"}`.
 *
 * Both fast paths decline (return undefined) whatever they are not sure of, and the callers then use
 * @ipld/dag-json itself: NaN, ±Infinity, undefined, bigints, bytes, integers beyond 2 ** 53 (dag-json
 * decodes them as bigints), maps with a "/" key other than a canonical link, CID-like objects of
 * another multiformats copy, class instances, "__proto__" keys, nesting deeper than MAX_DEPTH.
 * test/canonical.spec.ts checks both against @ipld/dag-json on random and mutated input.
 */

/** Manifests nest three levels deep; anything deeper is left to @ipld/dag-json. */
const MAX_DEPTH = 16

// Fatal, and keeping a BOM: then decoding is one-to-one, so comparing strings compares the bytes.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

// JSON.stringify escapes exactly '"', '\\', C0 controls and lone surrogates; a string without
// these (or any surrogate) it only wraps in quotes.
// eslint-disable-next-line no-control-regex -- the C0 controls are what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

function writeString (value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`
}

/** The DAG-JSON text of a number as cborg writes it, or undefined for NaN and ±Infinity. */
function writeNumber (value: number): string | undefined {
  if (!Number.isFinite(value)) return undefined
  const text = String(value)
  if (Number.isSafeInteger(value) || text.includes('.') || text.includes('e')) return text
  return `${text}.0`
}

/** Whether dag-json's encoder would take `value` for a CID (or fail trying): CIDs of other multiformats copies and look-alikes. */
function isCidLike (value: object): boolean {
  try {
    return CID.asCID(value) !== null
  } catch {
    return true
  }
}

/** Sorts a few keys by UTF-16 code units, as `Array.prototype.sort()` and cborg's `<` do; cheaper than sort() for a dozen keys. */
function sortKeys (keys: string[]): void {
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string
    let j = i - 1
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string
      j--
    }
    keys[j + 1] = key
  }
}

function write (value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string': return writeString(value)
    case 'number': return writeNumber(value)
    case 'boolean': return value ? 'true' : 'false'
    case 'object': break
    default: return undefined
  }
  if (value === null) return 'null'
  if (depth >= MAX_DEPTH) return undefined
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return undefined
    let text = '['
    for (let i = 0; i < value.length; i++) {
      const item = write(value[i], depth + 1)
      if (item === undefined) return undefined
      text += i === 0 ? item : `,${item}`
    }
    return `${text}]`
  }
  if (value instanceof CID) return `{"/":${writeString(value.toString())}}`
  // what cborg's type check calls a plain 'Object', and what dag-json's CID check leaves alone
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return undefined
  if (Object.prototype.toString.call(value) !== '[object Object]' || isCidLike(value)) return undefined
  const fields = value as Record<string, unknown>
  const keys = Object.keys(fields)
  sortKeys(keys)
  let text = '{'
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    // "/" maps are links or bytes to dag-json; "__proto__" (an own key to cborg 6, a prototype to older cborg) is left to it
    if (key === '/' || key === '__proto__') return undefined
    const item = write(fields[key], depth + 1)
    if (item === undefined) return undefined
    text += `${i === 0 ? '' : ','}${writeString(key)}:${item}`
  }
  return `${text}}`
}

/**
 * The canonical DAG-JSON text of `value`, identical to what @ipld/dag-json encodes, or undefined
 * when `value` holds anything outside the fast subset (the caller then uses @ipld/dag-json).
 */
export function encodeCanonical (value: unknown): string | undefined {
  return write(value, 0)
}

/**
 * The CID of a parsed `{"/":"<cid>"}` map, as dag-json's decoder reads it, when dag-json would write
 * that CID back the same way; undefined for any other "/" map (bytes, extra keys, other spellings).
 */
function parsedLink (value: object): CID | undefined {
  const target = (value as Record<string, unknown>)['/']
  if (typeof target !== 'string' || Object.keys(value).length !== 1) return undefined
  try {
    const cid = CID.parse(target)
    return cid.toString() === target ? cid : undefined
  } catch {
    return undefined
  }
}

/**
 * Checks that a child of a JSON.parse value reads the same under dag-json's decoder, turning link
 * maps into CIDs in place. With this, JSON.stringify of the value is exactly dag-json's encoding.
 */
function reviveItem (container: Record<string, unknown> | unknown[], key: string | number, depth: number): boolean {
  const slots = container as Record<string | number, unknown>
  const value = slots[key]
  if (typeof value === 'number') {
    // where writeNumber and JSON.stringify differ: 2 ** 53 is "9007199254740992", which dag-json reads as a bigint
    return Number.isFinite(value) && (Number.isSafeInteger(value) || !Number.isInteger(value))
  }
  if (typeof value !== 'object' || value === null) return true
  if (depth >= MAX_DEPTH) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!reviveItem(value, i, depth + 1)) return false
    }
    return true
  }
  if (Object.hasOwn(value, '/')) {
    const cid = parsedLink(value)
    if (cid === undefined) return false
    slots[key] = cid
    return true
  }
  const fields = value as Record<string, unknown>
  const keys = Object.keys(fields)
  for (let i = 0; i < keys.length; i++) {
    const field = keys[i] as string
    // JSON.stringify kept the input's key order, which must be dag-json's; "__proto__" is left to dag-json as in write()
    if ((i > 0 && !((keys[i - 1] as string) < field)) || field === '__proto__' || !reviveItem(fields, field, depth + 1)) return false
  }
  return true
}

/**
 * The value of `bytes` when they are exactly the canonical DAG-JSON encoding of it (the value
 * @ipld/dag-json decodes them to, links as CIDs), or undefined otherwise: invalid UTF-8 or JSON,
 * any byte that differs from the canonical form, or a value outside the fast subset. Undefined
 * means "ask the strict decoder"; it says nothing about validity.
 *
 * Why this is exact: JSON.stringify writes strings as cborg does, and numbers too except integers
 * beyond 2 ** 53 (declined); it writes keys in the parsed order, which reviveItem requires sorted;
 * and a link map is written back as parsed, which parsedLink requires to be the CID's own spelling.
 */
export function decodeCanonical (bytes: Uint8Array): unknown {
  let text: string
  let value: unknown
  try {
    text = UTF8.decode(bytes)
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (JSON.stringify(value) !== text) return undefined
  const holder = { value }
  return typeof value === 'object' && value !== null && !Object.hasOwn(value, '/') && reviveItem(holder, 'value', 0) ? holder.value : undefined
}
