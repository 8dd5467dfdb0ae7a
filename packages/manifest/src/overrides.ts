import { open } from 'node:fs/promises'
import { DEFAULT_CURRENCY, DEFAULT_PRICE_UNIT, OVERRIDES_MAX_BYTES } from './constants.js'
import { AbortError, InvalidManifestError, InvalidOverrideFlagError, InvalidOverridesError, OverridesReadError } from './errors.js'
import { checkEndpoints, checkLocation, checkNetwork, checkObject, checkPricing, checkStatus } from './validate.js'
import type { LocationClaim, NetworkClaim, PricingClaim, ProviderStatus } from './types.js'

/**
 * What only the operator knows: where the machine is, what it costs, whether it takes work, how to
 * reach it, and its real network speeds (a NIC's link speed is only an upper bound). Every field
 * is optional; `location.country` must be known by the time a manifest is built.
 */
export interface ManifestOverrides {
  location?: Partial<LocationClaim>
  pricing?: PricingClaim[]
  status?: ProviderStatus
  endpoints?: string[]
  network?: Partial<NetworkClaim>
}

/** Raw CLI flag values, as a parser such as commander hands them over. */
export interface OverrideFlags {
  /** `--country DE`: ISO 3166-1 alpha-2, any case */
  country?: string
  /** `--region eu-central`: a slug, any case */
  region?: string
  lat?: string | number
  lon?: string | number
  /** `--price 2.10/gpu-hour`, repeatable: `<amount>[/<unit>][ <currency>]` */
  price?: string | readonly string[]
  /** `--status available|busy|draining|offline` */
  status?: string
  /** `--endpoint /dns4/…` or `--endpoint https://…`, repeatable */
  endpoint?: string | readonly string[]
  uplinkMbps?: string | number
  downlinkMbps?: string | number
}

export interface LoadOverridesOptions {
  signal?: AbortSignal
}

const OVERRIDE_FIELDS: ReadonlySet<string> = new Set(['location', 'pricing', 'status', 'endpoints', 'network'])
const PRICE_FLAG = /^((?:0|[1-9]\d*)(?:\.\d+)?)(?:\/(gpu-hour|instance-hour))?(?:\s+([A-Za-z]{3}))?$/
const NUMBER_FLAG = /^-?\d+(?:\.\d+)?$/
const INTEGER_FLAG = /^\d+$/

/**
 * Check an overrides document (parsed JSON) strictly: unknown fields are rejected at every level
 * and each field obeys the manifest schema.
 *
 * @throws {InvalidOverridesError} naming the field
 */
export function validateOverrides (value: unknown, source = 'overrides'): ManifestOverrides {
  try {
    const overrides = checkObject(value, '', OVERRIDE_FIELDS)
    if (overrides.location !== undefined) checkLocation(overrides.location, 'location', true)
    if (overrides.pricing !== undefined) checkPricing(overrides.pricing, 'pricing')
    if (overrides.status !== undefined) checkStatus(overrides, 'status', '')
    if (overrides.endpoints !== undefined) checkEndpoints(overrides.endpoints, 'endpoints')
    if (overrides.network !== undefined) checkNetwork(overrides.network, 'network', true)
  } catch (err) {
    if (err instanceof InvalidManifestError) throw new InvalidOverridesError(err.path, err.problem, source)
    throw err
  }
  return value as ManifestOverrides
}

/**
 * Read and validate an operator overrides file (JSON), for example
 * `{ "location": { "country": "DE", "region": "eu-central" }, "pricing": [{ "unit": "gpu-hour", "amount": "2.10", "currency": "EUR" }] }`.
 *
 * @throws {OverridesReadError} when the file is missing, unreadable or over OVERRIDES_MAX_BYTES
 * @throws {InvalidOverridesError} when it is not JSON or breaks the schema
 */
export async function loadOverrides (path: string, options: LoadOverridesOptions = {}): Promise<ManifestOverrides> {
  const { signal } = options
  // a function, so that the check after the awaits is not narrowed away
  const aborted = (): boolean => signal?.aborted === true
  if (aborted()) throw new AbortError()
  let text: string
  try {
    const file = await open(path, 'r')
    try {
      const { size } = await file.stat()
      if (size > OVERRIDES_MAX_BYTES) throw new OverridesReadError(`Overrides file ${path} has ${size} bytes, more than ${OVERRIDES_MAX_BYTES}`)
      text = await file.readFile(signal === undefined ? { encoding: 'utf8' } : { encoding: 'utf8', signal })
    } finally {
      await file.close()
    }
  } catch (err) {
    if (err instanceof OverridesReadError) throw err
    if (aborted()) throw new AbortError()
    throw new OverridesReadError(`Cannot read overrides file ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new InvalidOverridesError('', `is not JSON: ${err instanceof Error ? err.message : String(err)}`, path)
  }
  return validateOverrides(value, path)
}

/**
 * Parse a `--price` value: `<amount>[/<unit>][ <currency>]`, e.g. "2.10", "2.10/gpu-hour",
 * "0.95/instance-hour EUR". The unit defaults to gpu-hour and the currency to USD.
 *
 * @throws {InvalidOverrideFlagError}
 */
export function parsePriceFlag (text: string): PricingClaim {
  const match = PRICE_FLAG.exec(text.trim())
  if (match?.[1] === undefined) {
    throw new InvalidOverrideFlagError('price', `expected <amount>[/<unit>][ <currency>] such as "2.10/gpu-hour USD", got "${text}"`)
  }
  return {
    unit: match[2] === 'instance-hour' ? 'instance-hour' : DEFAULT_PRICE_UNIT,
    amount: match[1],
    currency: match[3]?.toUpperCase() ?? DEFAULT_CURRENCY
  }
}

function list (value: string | readonly string[] | undefined): readonly string[] {
  if (value === undefined) return []
  return typeof value === 'string' ? [value] : value
}

function number (flag: string, value: string | number, pattern: RegExp): number {
  const text = String(value).trim()
  if (!pattern.test(text)) throw new InvalidOverrideFlagError(flag, `expected a ${pattern === INTEGER_FLAG ? 'whole ' : ''}number, got "${text}"`)
  return Number(text)
}

/**
 * Turn CLI flags into overrides, checked as strictly as an overrides file (country and region
 * are case-folded first, since people type them).
 *
 * @throws {InvalidOverrideFlagError} naming the flag
 */
export function parseOverrideFlags (flags: OverrideFlags): ManifestOverrides {
  const overrides: ManifestOverrides = {}
  const location: Partial<LocationClaim> = {}
  if (flags.country !== undefined) location.country = flags.country.trim().toUpperCase()
  if (flags.region !== undefined) location.region = flags.region.trim().toLowerCase()
  if (flags.lat !== undefined) location.lat = number('lat', flags.lat, NUMBER_FLAG)
  if (flags.lon !== undefined) location.lon = number('lon', flags.lon, NUMBER_FLAG)
  if (Object.keys(location).length > 0) overrides.location = location
  const prices = list(flags.price)
  if (prices.length > 0) overrides.pricing = prices.map(parsePriceFlag)
  if (flags.status !== undefined) overrides.status = flags.status.trim().toLowerCase() as ProviderStatus
  const endpoints = list(flags.endpoint)
  if (endpoints.length > 0) overrides.endpoints = endpoints.map((endpoint) => endpoint.trim())
  const network: Partial<NetworkClaim> = {}
  if (flags.uplinkMbps !== undefined) network.uplinkMbps = number('uplink-mbps', flags.uplinkMbps, INTEGER_FLAG)
  if (flags.downlinkMbps !== undefined) network.downlinkMbps = number('downlink-mbps', flags.downlinkMbps, INTEGER_FLAG)
  if (Object.keys(network).length > 0) overrides.network = network

  try {
    return validateOverrides(overrides, 'flags')
  } catch (err) {
    if (err instanceof InvalidOverridesError) throw new InvalidOverrideFlagError(flagName(err.field), err.message)
    throw err
  }
}

function flagName (field: string): string {
  const [head = '', tail = ''] = field.split(/[.[]/)
  if (head === 'location') return tail
  if (head === 'pricing') return 'price'
  if (head === 'endpoints') return 'endpoint'
  if (head === 'network') return tail === 'uplinkMbps' ? 'uplink-mbps' : 'downlink-mbps'
  return head
}

/**
 * Layer overrides: later layers win field by field inside `location` and `network`; `pricing`
 * and `endpoints` are replaced whole. Typical use: `mergeOverrides(await loadOverrides(file), parseOverrideFlags(flags))`.
 */
export function mergeOverrides (...layers: readonly ManifestOverrides[]): ManifestOverrides {
  const merged: ManifestOverrides = {}
  for (const layer of layers) {
    if (layer.location !== undefined) merged.location = { ...merged.location, ...layer.location }
    if (layer.network !== undefined) merged.network = { ...merged.network, ...layer.network }
    if (layer.pricing !== undefined) merged.pricing = layer.pricing
    if (layer.endpoints !== undefined) merged.endpoints = layer.endpoints
    if (layer.status !== undefined) merged.status = layer.status
  }
  return merged
}
