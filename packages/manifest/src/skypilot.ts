import {
  GPU_VRAM_MISMATCH_FRACTION, MANIFEST_SCHEMA, PRICE_DECIMALS, PRICE_MIN_DECIMALS, SKYPILOT_GPU_MEMORY_IN_GB,
  SKYPILOT_GPU_MEMORY_IS_TOTAL, SKYPILOT_REQUIRED_COLUMNS
} from './constants.js'
import { parseCsv } from './csv.js'
import { InvalidCsvError, InvalidManifestError, MissingCsvColumnError } from './errors.js'
import { claimInterconnect, normalizeGpu } from './gpus.js'
import { parsePythonLiteral } from './python-literal.js'
import { regionCountry, regionSlug } from './regions.js'
import { validateManifest } from './validate.js'
import type { GpuModel } from './gpus.js'
import type { GpuClaim, Manifest, StorageClaim } from './types.js'
import type { CID } from 'multiformats/cid'

/** One offer of a SkyPilot `vms.csv` catalog, as raw text; columns a file lacks are "". */
export interface SkypilotRow {
  /** 1-based line of the record in the file, for reports */
  line: number
  instanceType: string
  acceleratorName: string
  acceleratorCount: string
  vCPUs: string
  memoryGiB: string
  gpuInfo: string
  region: string
  availabilityZone: string
  price: string
  spotPrice: string
  storageGiB: string
}

export interface SkypilotImportOptions {
  /** the provider's IPNS name (`k51…`) every manifest is issued under */
  provider: string
  /** the manifests' issuedAt */
  now: Date
  /** the catalog's cloud ("lambda", "vast"…): selects per-cloud quirks and region names */
  cloud: string
  /** country for rows whose region names none ("default", "earth", empty); without it they fail */
  country?: string
  /**
   * @default null
   */
  prev?: CID | null
}

export type SkypilotConversion =
  | { ok: true, manifest: Manifest, warnings: string[] }
  | { ok: false, reason: string }

const COLUMNS = {
  instanceType: 'InstanceType',
  acceleratorName: 'AcceleratorName',
  acceleratorCount: 'AcceleratorCount',
  vCPUs: 'vCPUs',
  memoryGiB: 'MemoryGiB',
  gpuInfo: 'GpuInfo',
  region: 'Region',
  availabilityZone: 'AvailabilityZone',
  price: 'Price',
  spotPrice: 'SpotPrice',
  storageGiB: 'StorageGiB'
} as const satisfies Record<Exclude<keyof SkypilotRow, 'line'>, string>

const DECIMAL = /^(\d+)(?:\.(\d*))?$/
const NUMBER = /^\d+(?:\.\d+)?$/

/**
 * Parse a SkyPilot catalog (`vms.csv`). Columns are found by header name, since their order
 * differs per cloud.
 *
 * @throws {InvalidCsvError} when the text is not RFC 4180 CSV or a row has the wrong field count
 * @throws {MissingCsvColumnError} when a required column is missing
 */
export function parseSkypilotCsv (text: string): SkypilotRow[] {
  const [header, ...records] = parseCsv(text)
  if (header === undefined) throw new MissingCsvColumnError(SKYPILOT_REQUIRED_COLUMNS[0])
  const index = new Map(header.fields.map((name, i) => [name.trim(), i]))
  for (const column of SKYPILOT_REQUIRED_COLUMNS) {
    if (!index.has(column)) throw new MissingCsvColumnError(column)
  }
  const positions = Object.entries(COLUMNS).map(([key, column]) => [key, index.get(column)] as const)
  return records.map(({ fields, line }) => {
    if (fields.length !== header.fields.length) {
      throw new InvalidCsvError(line, `has ${fields.length} fields, the header has ${header.fields.length}`)
    }
    const row: Record<string, string | number> = { line }
    for (const [key, position] of positions) row[key] = position === undefined ? '' : (fields[position] ?? '').trim()
    return row as unknown as SkypilotRow
  })
}

/**
 * A catalog price ("0.36979999999999996", "23.6", "8") as a clean decimal string: rounded half up
 * to PRICE_DECIMALS, trailing zeros trimmed down to PRICE_MIN_DECIMALS ("0.3698", "23.60", "8.00").
 * Works on the text, so binary float noise never leaks in. Undefined when the text is not a plain
 * non-negative decimal.
 */
export function formatPrice (text: string): string | undefined {
  const match = DECIMAL.exec(text.trim())
  if (match?.[1] === undefined) return undefined
  const fraction = match[2] ?? ''
  const kept = fraction.slice(0, PRICE_DECIMALS).padEnd(PRICE_DECIMALS, '0')
  const roundUp = fraction.length > PRICE_DECIMALS && (fraction[PRICE_DECIMALS] ?? '0') >= '5'
  const scaled = (BigInt(match[1] + kept) + (roundUp ? 1n : 0n)).toString().padStart(PRICE_DECIMALS + 1, '0')
  let decimals = scaled.slice(-PRICE_DECIMALS)
  while (decimals.length > PRICE_MIN_DECIMALS && decimals.endsWith('0')) decimals = decimals.slice(0, -1)
  return `${scaled.slice(0, -PRICE_DECIMALS)}.${decimals}`
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

interface GpuInfo {
  name?: string
  /** per-GPU memory in MiB, after the per-cloud quirks */
  memoryMiB?: number
}

/**
 * Read the first GPU of GpuInfo, undoing the catalog quirks documented with the data: shadeform
 * gives GB; vast and primeintellect give the total over all GPUs; seeweb gives 0 for unknown.
 */
function readGpuInfo (text: string, count: number, cloud: string): GpuInfo {
  if (text === '') return {}
  const info = parsePythonLiteral(text)
  const first: unknown = isRecord(info) && Array.isArray(info.Gpus) ? info.Gpus[0] : undefined
  if (!isRecord(first)) return {}
  const result: GpuInfo = {}
  if (typeof first.Name === 'string') result.name = first.Name
  const size = Number(isRecord(first.MemoryInfo) ? first.MemoryInfo.SizeInMiB : undefined)
  if (Number.isFinite(size) && size > 0) {
    let perGpu = SKYPILOT_GPU_MEMORY_IN_GB.has(cloud) || size < 1024 ? size * 1024 : size
    if (SKYPILOT_GPU_MEMORY_IS_TOTAL.has(cloud)) perGpu /= count
    result.memoryMiB = perGpu
  }
  return result
}

function wholeNumber (text: string): number | undefined {
  if (!NUMBER.test(text)) return undefined
  const value = Number(text)
  return Number.isSafeInteger(value) ? value : undefined
}

/**
 * Build one normalized manifest from a catalog row: the GPU through the normalization table (the
 * table's VRAM wins over GpuInfo's, which only picks a variant), count from AcceleratorCount, CPU
 * threads and cores from vCPUs, memory from MemoryGiB, one instance-hour price in USD (SpotPrice
 * when a spot-only row has no Price), the country from the region (see regions.ts) and the
 * region slug. The CPU architecture is arm64 for Grace superchips (GH200, GB200, GB300) and
 * x86_64 otherwise, since catalogs do not say. Rows without an accelerator become CPU-only
 * manifests. A row that cannot be normalized returns a reason; nothing is dropped silently.
 */
export function skypilotRowToManifest (row: SkypilotRow, options: SkypilotImportOptions): SkypilotConversion {
  const cloud = options.cloud.toLowerCase()
  const warnings: string[] = []
  const gpus: GpuClaim[] = []
  let superchip = false

  if (row.acceleratorName !== '') {
    const count = wholeNumber(row.acceleratorCount)
    if (count === undefined || count < 1) return { ok: false, reason: `AcceleratorCount "${row.acceleratorCount}" is not a whole number of GPUs` }
    let info: GpuInfo = {}
    try {
      info = readGpuInfo(row.gpuInfo, count, cloud)
    } catch (err) {
      warnings.push(`GpuInfo is unreadable (${err instanceof Error ? err.message : String(err)}): ignored`)
    }
    const hints = info.memoryMiB === undefined ? {} : { vramMiB: info.memoryMiB }
    const gpu: GpuModel | undefined = normalizeGpu(row.acceleratorName, hints) ??
      (info.name === undefined ? undefined : normalizeGpu(info.name, hints))
    if (gpu === undefined) return { ok: false, reason: `unknown accelerator "${row.acceleratorName}"` }
    if (info.memoryMiB !== undefined && Math.abs(info.memoryMiB - gpu.vramMiB) > gpu.vramMiB * GPU_VRAM_MISMATCH_FRACTION) {
      warnings.push(`GpuInfo gives ${Math.round(info.memoryMiB)} MiB per GPU but ${gpu.model} has ${gpu.vramMiB} MiB: claimed as ${gpu.model}`)
    }
    superchip = gpu.formFactor === 'superchip'
    gpus.push({
      vendor: gpu.vendor,
      model: gpu.model,
      name: row.acceleratorName,
      vramMiB: gpu.vramMiB,
      formFactor: gpu.formFactor,
      count,
      available: count,
      interconnect: claimInterconnect(gpu, count)
    })
  }

  const threads = wholeNumber(row.vCPUs)
  if (threads === undefined) return { ok: false, reason: `vCPUs "${row.vCPUs}" is not a whole number` }
  if (!NUMBER.test(row.memoryGiB)) return { ok: false, reason: `MemoryGiB "${row.memoryGiB}" is not a number` }
  const totalMiB = Math.round(Number(row.memoryGiB) * 1024)

  let priceText = row.price
  if (priceText === '' && row.spotPrice !== '') {
    priceText = row.spotPrice
    warnings.push('no on-demand Price: priced from SpotPrice')
  }
  const amount = formatPrice(priceText)
  if (amount === undefined) return { ok: false, reason: priceText === '' ? 'no Price and no SpotPrice' : `Price "${priceText}" is not a decimal` }
  if (Number(amount) === 0) return { ok: false, reason: `Price "${priceText}" is zero` }

  const country = regionCountry(row.region, cloud) ?? options.country
  if (country === undefined) return { ok: false, reason: `region "${row.region}" names no country` }

  const storage: StorageClaim[] = []
  if (NUMBER.test(row.storageGiB)) {
    const size = Math.floor(Number(row.storageGiB))
    storage.push({ kind: 'other', totalGiB: size, freeGiB: size })
  }

  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    provider: options.provider,
    issuedAt: options.now.toISOString(),
    prev: options.prev ?? null,
    gpus,
    cpu: { vendor: '', model: '', cores: threads, threads, arch: superchip ? 'arm64' : 'x86_64' },
    memory: { totalMiB, availableMiB: totalMiB },
    storage,
    network: { uplinkMbps: 0, downlinkMbps: 0 },
    location: { country, region: regionSlug(row.region) },
    pricing: [{ unit: 'instance-hour', amount, currency: 'USD' }],
    status: 'available',
    endpoints: [],
    attestations: []
  }
  try {
    return { ok: true, manifest: validateManifest(manifest), warnings }
  } catch (err) {
    if (err instanceof InvalidManifestError) return { ok: false, reason: err.message }
    throw err
  }
}
