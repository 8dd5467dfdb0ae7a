import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import {
  ARCH_PATTERN, CURRENCY_PATTERN, DAG_JSON_CODE, DECIMAL_AMOUNT_PATTERN, ED25519_PUBLIC_KEY_LENGTH,
  ED25519_PUBLIC_KEY_PREFIX, ENDPOINT_PATTERN, IDENTITY_CODE, ISO_3166_ALPHA2, UNKNOWN_COUNTRY, LIBP2P_KEY_CODE, MANIFEST_SCHEMA,
  MAX_AMOUNT_LENGTH, MAX_ATTESTATIONS, MAX_ENDPOINT_LENGTH, MAX_ENDPOINTS, MAX_GPU_CLAIMS, MAX_NAME_LENGTH,
  MAX_PRICING_CLAIMS, MAX_REGION_LENGTH, MAX_STORAGE_CLAIMS, MAX_TIMESTAMP_LENGTH, REGION_PATTERN, RFC3339_PATTERN
} from './constants.js'
import { InvalidManifestError } from './errors.js'
import { canonicalGpu } from './gpus.js'
import type { Manifest } from './types.js'

// One pass over the value. Paths are only built when a check fails, so that a valid manifest
// costs a few property reads and Set lookups per field.

type Fields = Record<string, unknown>

// ISO 3166-1 alpha-2, plus ZZ for a location the operator has not given
const COUNTRIES: ReadonlySet<string> = new Set([...ISO_3166_ALPHA2, UNKNOWN_COUNTRY])
const GPU_VENDORS: ReadonlySet<string> = new Set(['nvidia', 'amd', 'intel', 'other'])
const FORM_FACTORS: ReadonlySet<string> = new Set(['sxm', 'pcie', 'oam', 'nvl', 'superchip', 'mxm', 'other'])
const INTERCONNECTS: ReadonlySet<string> = new Set(['nvlink', 'xgmi', 'pcie', 'none', 'unknown'])
const STORAGE_KINDS: ReadonlySet<string> = new Set(['nvme', 'ssd', 'hdd', 'network', 'other'])
const PRICING_UNITS: ReadonlySet<string> = new Set(['gpu-hour', 'instance-hour'])
const STATUSES: ReadonlySet<string> = new Set(['available', 'busy', 'draining', 'offline'])

const MANIFEST_FIELDS: ReadonlySet<string> = new Set([
  'schema', 'provider', 'issuedAt', 'prev', 'gpus', 'cpu', 'memory', 'storage', 'network', 'location', 'pricing',
  'status', 'endpoints', 'attestations'
])
const GPU_FIELDS: ReadonlySet<string> = new Set(['vendor', 'model', 'name', 'vramMiB', 'formFactor', 'count', 'available', 'interconnect'])
const CPU_FIELDS: ReadonlySet<string> = new Set(['vendor', 'model', 'cores', 'threads', 'arch'])
const MEMORY_FIELDS: ReadonlySet<string> = new Set(['totalMiB', 'availableMiB'])
const STORAGE_FIELDS: ReadonlySet<string> = new Set(['kind', 'totalGiB', 'freeGiB'])
const NETWORK_FIELDS: ReadonlySet<string> = new Set(['uplinkMbps', 'downlinkMbps'])
const LOCATION_FIELDS: ReadonlySet<string> = new Set(['country', 'region', 'lat', 'lon'])
const PRICING_FIELDS: ReadonlySet<string> = new Set(['unit', 'amount', 'currency'])

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function join (path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (value === undefined) return 'nothing'
  return CID.asCID(value) !== null ? 'a CID' : `a ${typeof value}`
}

function fail (path: string, problem: string): never {
  throw new InvalidManifestError(path, problem)
}

/** A plain object whose every key is in `allowed`; unknown fields are rejected at every level. */
export function checkObject (value: unknown, path: string, allowed: ReadonlySet<string>): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, `must be an object, got ${describe(value)}`)
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) fail(path, `must be a plain object, got ${describe(value)}`)
  for (const key in value) {
    if (!allowed.has(key)) fail(join(path, key), 'is not a known field')
  }
  return value as Fields
}

function checkArray (value: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(value)) fail(path, `must be an array, got ${describe(value)}`)
  if (value.length > max) fail(path, `must have at most ${max} entries, got ${value.length}`)
  return value
}

function checkString (fields: Fields, key: string, path: string, max: number, min = 0): string {
  const value = fields[key]
  if (typeof value !== 'string') fail(join(path, key), `must be a string, got ${describe(value)}`)
  if (value.length > max || value.length < min) {
    fail(join(path, key), min > 0 ? `must be ${min} to ${max} characters long` : `must be at most ${max} characters long`)
  }
  return value
}

function checkInteger (fields: Fields, key: string, path: string, min = 0): number {
  const value = fields[key]
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(join(path, key), `must be an integer >= ${min}, got ${describe(value)}`)
  }
  return value
}

function checkEnum (fields: Fields, key: string, path: string, allowed: ReadonlySet<string>): string {
  const value = fields[key]
  if (typeof value !== 'string' || !allowed.has(value)) {
    fail(join(path, key), `must be one of ${[...allowed].join(', ')}, got ${describe(value)}`)
  }
  return value
}

function checkPattern (fields: Fields, key: string, path: string, max: number, pattern: RegExp, expected: string): string {
  const value = checkString(fields, key, path, max)
  if (!pattern.test(value)) fail(join(path, key), `must be ${expected}, got ${describe(value)}`)
  return value
}

function checkCoordinate (fields: Fields, key: string, path: string, limit: number): void {
  const value = fields[key]
  if (value === undefined) return
  if (typeof value !== 'number' || !Number.isFinite(value) || value < -limit || value > limit) {
    fail(join(path, key), `must be a number from -${limit} to ${limit}, got ${describe(value)}`)
  }
}

/** Whether `name` is an IPNS name of an Ed25519 key: a base36 CIDv1, codec libp2p-key, identity multihash of the key. */
export function isProviderName (name: string): boolean {
  if (name.length > 100 || !name.startsWith('k')) return false
  return isPlainProviderName(name) || parsesAsProviderName(name)
}

// A provider name's 40 bytes start 01 72 00 24 08 01 12 20: CIDv1, libp2p-key, identity multihash of
// 36 bytes, and the protobuf head of an Ed25519 key. As two 32-bit words:
const NAME_HEAD = [0x01720024, 0x08011220]
const NAME_WORDS = 10
const WORD = 2 ** 32
const DIGITS_PER_STEP = 4 // 36 ** 4 < 2 ** 21, so word × 36 ** 4 + carry stays below 2 ** 53

function base36Digit (code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30
  if (code >= 0x61 && code <= 0x7a) return code - 0x61 + 10
  return -1
}

/**
 * The fast check for the usual spelling of a provider name (what `toString()` of such a CID
 * writes): base36 read into ten 32-bit words instead of multiformats' byte-wise base-x (about 6 µs).
 * True implies `parsesAsProviderName`; false only means "not proven here".
 */
export function isPlainProviderName (name: string): boolean {
  // base-x reads each leading "0" as a zero byte: such names are not plain
  if (name.charCodeAt(1) === 0x30) return false
  const words = new Array<number>(NAME_WORDS).fill(0)
  // words[top..] hold the number read so far; the ones above it are still zero
  let top = NAME_WORDS - 1
  for (let i = 1; i < name.length;) {
    let chunk = 0
    let scale = 1
    for (const end = Math.min(i + DIGITS_PER_STEP, name.length); i < end; i++) {
      const digit = base36Digit(name.charCodeAt(i))
      if (digit < 0) return false
      chunk = chunk * 36 + digit
      scale *= 36
    }
    let carry = chunk
    for (let w = NAME_WORDS - 1; w >= top || carry !== 0; w--) {
      if (w < 0) return false
      const total = (words[w] ?? 0) * scale + carry
      carry = Math.floor(total / WORD)
      words[w] = total - carry * WORD
      if (w < top) top = w
    }
  }
  return words[0] === NAME_HEAD[0] && words[1] === NAME_HEAD[1]
}

/** The full check: parse the CID with multiformats and look at its parts. */
export function parsesAsProviderName (name: string): boolean {
  let cid: CID
  try {
    cid = CID.parse(name, base36)
  } catch {
    return false
  }
  if (cid.version !== 1 || cid.code !== LIBP2P_KEY_CODE || cid.multihash.code !== IDENTITY_CODE) return false
  const key = cid.multihash.digest
  if (key.length !== ED25519_PUBLIC_KEY_LENGTH) return false
  return ED25519_PUBLIC_KEY_PREFIX.every((byte, i) => key[i] === byte)
}

/** Whether `value` is an RFC 3339 date-time with real calendar and clock values. */
export function isRfc3339 (value: string): boolean {
  if (value.length > MAX_TIMESTAMP_LENGTH) return false
  const match = RFC3339_PATTERN.exec(value)
  if (match === null) return false
  const [, year, month, day, hour, minute, second, offsetHour, offsetMinute] = match.map(Number)
  if (year === undefined || month === undefined || day === undefined) return false
  if (month < 1 || month > 12 || day < 1 || day > (DAYS_IN_MONTH[month - 1] ?? 0)) return false
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return false
  if ((hour ?? 0) > 23 || (minute ?? 0) > 59 || (second ?? 0) > 60) return false
  return Number.isNaN(offsetHour) || ((offsetHour ?? 0) <= 23 && (offsetMinute ?? 0) <= 59)
}

function checkGpu (value: unknown, path: string): void {
  const gpu = checkObject(value, path, GPU_FIELDS)
  const vendor = checkEnum(gpu, 'vendor', path, GPU_VENDORS)
  const model = checkString(gpu, 'model', path, MAX_NAME_LENGTH, 1)
  checkString(gpu, 'name', path, MAX_NAME_LENGTH)
  const vramMiB = checkInteger(gpu, 'vramMiB', path, 1)
  checkEnum(gpu, 'formFactor', path, FORM_FACTORS)
  const count = checkInteger(gpu, 'count', path, 1)
  const available = checkInteger(gpu, 'available', path)
  if (available > count) fail(join(path, 'available'), `must be at most count (${count}), got ${available}`)
  checkEnum(gpu, 'interconnect', path, INTERCONNECTS)
  // one table: a canonical model always claims the same vendor and VRAM
  const canonical = canonicalGpu(model)
  if (canonical === undefined) fail(join(path, 'model'), `must be a canonical model of the GPU table, got ${describe(model)}`)
  if (canonical.vendor !== vendor) fail(join(path, 'vendor'), `must be ${canonical.vendor} for ${model}, got ${describe(vendor)}`)
  if (canonical.vramMiB !== vramMiB) fail(join(path, 'vramMiB'), `must be ${canonical.vramMiB} for ${model}, got ${vramMiB}`)
}

function checkCpu (value: unknown, path: string): void {
  const cpu = checkObject(value, path, CPU_FIELDS)
  checkString(cpu, 'vendor', path, MAX_NAME_LENGTH)
  checkString(cpu, 'model', path, MAX_NAME_LENGTH)
  const cores = checkInteger(cpu, 'cores', path)
  const threads = checkInteger(cpu, 'threads', path)
  if (threads < cores) fail(join(path, 'threads'), `must be at least cores (${cores}), got ${threads}`)
  checkPattern(cpu, 'arch', path, 32, ARCH_PATTERN, 'an architecture name such as "x86_64" or "arm64"')
}

function checkMemory (value: unknown, path: string): void {
  const memory = checkObject(value, path, MEMORY_FIELDS)
  const total = checkInteger(memory, 'totalMiB', path)
  const available = checkInteger(memory, 'availableMiB', path)
  if (available > total) fail(join(path, 'availableMiB'), `must be at most totalMiB (${total}), got ${available}`)
}

function checkStorage (value: unknown, path: string): void {
  const storage = checkObject(value, path, STORAGE_FIELDS)
  checkEnum(storage, 'kind', path, STORAGE_KINDS)
  const total = checkInteger(storage, 'totalGiB', path)
  const free = checkInteger(storage, 'freeGiB', path)
  if (free > total) fail(join(path, 'freeGiB'), `must be at most totalGiB (${total}), got ${free}`)
}

/** Network speeds; with `partial` (operator overrides) each field may be left out. */
export function checkNetwork (value: unknown, path: string, partial = false): void {
  const network = checkObject(value, path, NETWORK_FIELDS)
  for (const key of NETWORK_FIELDS) {
    if (!partial || network[key] !== undefined) checkInteger(network, key, path)
  }
}

/** A location; with `partial` (operator overrides) the country and region may be left out. */
export function checkLocation (value: unknown, path: string, partial = false): void {
  const location = checkObject(value, path, LOCATION_FIELDS)
  if (!partial || location.country !== undefined) {
    const country = location.country
    if (typeof country !== 'string' || !COUNTRIES.has(country)) {
      fail(join(path, 'country'), `must be an ISO 3166-1 alpha-2 code (or ZZ for unknown), got ${describe(country)}`)
    }
  }
  if (!partial || location.region !== undefined) {
    checkPattern(location, 'region', path, MAX_REGION_LENGTH, REGION_PATTERN, 'empty or a lower-case slug such as "eu-west"')
  }
  checkCoordinate(location, 'lat', path, 90)
  checkCoordinate(location, 'lon', path, 180)
}

/** A list of prices: unit, decimal-string amount, ISO 4217 currency. */
export function checkPricing (value: unknown, path: string): void {
  const pricing = checkArray(value, path, MAX_PRICING_CLAIMS)
  for (let i = 0; i < pricing.length; i++) {
    const itemPath = `${path}[${i}]`
    const price = checkObject(pricing[i], itemPath, PRICING_FIELDS)
    checkEnum(price, 'unit', itemPath, PRICING_UNITS)
    checkPattern(price, 'amount', itemPath, MAX_AMOUNT_LENGTH, DECIMAL_AMOUNT_PATTERN, 'a decimal string such as "2.10"')
    checkPattern(price, 'currency', itemPath, 3, CURRENCY_PATTERN, 'three upper-case letters (ISO 4217)')
  }
}

/** The provider status field of `fields`. */
export function checkStatus (fields: Fields, key: string, path: string): void {
  checkEnum(fields, key, path, STATUSES)
}

/** A list of multiaddrs or URLs. */
export function checkEndpoints (value: unknown, path: string): void {
  const endpoints = checkArray(value, path, MAX_ENDPOINTS)
  for (let i = 0; i < endpoints.length; i++) {
    const endpoint = endpoints[i]
    if (typeof endpoint !== 'string' || endpoint.length > MAX_ENDPOINT_LENGTH || !ENDPOINT_PATTERN.test(endpoint)) {
      fail(`${path}[${i}]`, `must be a multiaddr or a URL, got ${describe(endpoint)}`)
    }
  }
}

function checkPrev (value: unknown): void {
  if (value === null) return
  const cid = CID.asCID(value)
  if (cid === null) fail('prev', `must be a CID or null, got ${describe(value)}`)
  if (cid.version !== 1 || cid.code !== DAG_JSON_CODE) fail('prev', 'must be a CIDv1 of a DAG-JSON manifest')
}

/**
 * Check that `value` is a v1 manifest and return it, typed. Rejects wrong types, unknown fields at
 * any level, negative or fractional counts and sizes, available > count, unknown countries, bad
 * currencies, amounts, timestamps, provider names, statuses and coordinates, and GPU claims whose
 * model, vendor or VRAM disagree with the normalization table.
 *
 * @throws {InvalidManifestError} naming the field path and the problem
 */
export function validateManifest (value: unknown): Manifest {
  const manifest = checkObject(value, '', MANIFEST_FIELDS)
  if (manifest.schema !== MANIFEST_SCHEMA) fail('schema', `must be "${MANIFEST_SCHEMA}", got ${describe(manifest.schema)}`)
  const provider = checkString(manifest, 'provider', '', 100)
  if (!isProviderName(provider)) fail('provider', `must be the base36 IPNS name of an Ed25519 key ("k51…"), got ${describe(provider)}`)
  const issuedAt = checkString(manifest, 'issuedAt', '', MAX_TIMESTAMP_LENGTH)
  if (!isRfc3339(issuedAt)) fail('issuedAt', `must be an RFC 3339 date-time, got ${describe(issuedAt)}`)
  checkPrev(manifest.prev)

  const gpus = checkArray(manifest.gpus, 'gpus', MAX_GPU_CLAIMS)
  for (let i = 0; i < gpus.length; i++) checkGpu(gpus[i], `gpus[${i}]`)
  checkCpu(manifest.cpu, 'cpu')
  checkMemory(manifest.memory, 'memory')
  const storage = checkArray(manifest.storage, 'storage', MAX_STORAGE_CLAIMS)
  for (let i = 0; i < storage.length; i++) checkStorage(storage[i], `storage[${i}]`)
  checkNetwork(manifest.network, 'network')
  checkLocation(manifest.location, 'location')
  checkPricing(manifest.pricing, 'pricing')
  checkStatus(manifest, 'status', '')
  checkEndpoints(manifest.endpoints, 'endpoints')
  const attestations = checkArray(manifest.attestations, 'attestations', MAX_ATTESTATIONS)
  for (let i = 0; i < attestations.length; i++) {
    if (CID.asCID(attestations[i]) === null) fail(`attestations[${i}]`, `must be a CID, got ${describe(attestations[i])}`)
  }
  return value as Manifest
}
