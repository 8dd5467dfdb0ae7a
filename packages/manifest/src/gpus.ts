import { GPU_TABLE } from './gpu-table.js'
import type { GpuTableEntry } from './gpu-table.js'
import type { GpuFormFactor, GpuInterconnect, GpuVendor } from './types.js'

/** A normalized GPU: what a manifest's GpuClaim says about the card, less count and availability. */
export interface GpuModel {
  vendor: GpuVendor
  /** canonical model, e.g. "H100", "A100-80GB", "RTX4090", "MI300X" */
  model: string
  /** per-GPU memory from the table (nominal GB × 1024), never the detected figure */
  vramMiB: number
  /** from the name when it says (SXM, PCIe, NVL, OAM), else the model's most common build */
  formFactor: GpuFormFactor
  /** how several of these talk to each other: NVLink for SXM/NVL/superchip parts or an NVLink bridge, xGMI for AMD OAM, else PCIe */
  interconnect: GpuInterconnect
}

export interface NormalizeGpuHints {
  /** detected or listed per-GPU memory; picks between VRAM variants of one spelling ("A100" with 80 GB → A100-80GB) */
  vramMiB?: number
}

// Words that never identify a card: vendor and brand names, lspci class text, marketing and
// cloud flavour words. Model words such as "Ti", "SUPER", "Ada", "Laptop" are kept.
const NOISE_WORDS = new Set([
  'nvidia', 'geforce', 'tesla', 'quadro', 'amd', 'ati', 'instinct', 'radeon', 'intel', 'habana', 'labs',
  'corporation', 'corp', 'inc', 'ltd', 'co', 'advanced', 'micro', 'devices', 'processing', 'accelerators',
  'gpu', 'tensor', 'core', 'accelerator', 'generation', 'edition', 'blackwell', 'workstation', 'server',
  'max', 'q', 'baremetal', 'bare', 'metal', 'high', 'perf', 'low', 'ram', 'secure', 'mega', 'hgx', 'dgx',
  'vf', 'module', 'tm', 'r'
])

const SIZE_TOKEN = /^(\d+)(?:g|gb|gib)$/
const MEMORY_TYPE_TOKEN = /^(?:hbm\d?e?|gddr\d?x?)$/
const SXM_TOKEN = /^sxm\d?$/
const GLUED_FORM_FACTOR = /^(.+?)(sxm\d?|pcie)$/
const TOKEN_SEPARATOR = /[^a-z0-9]+/
const BRACKETED = /\[([^\]]*)\]/g

interface ParsedName {
  /** identity tokens plus form-factor tokens, joined: "h100nvl" */
  full: string
  /** identity tokens only: "h100" */
  core: string
  sizeGB?: number
  formFactor?: GpuFormFactor
  nvlink: boolean
}

function formFactorOf (token: string): GpuFormFactor | undefined {
  if (SXM_TOKEN.test(token)) return 'sxm'
  if (token === 'pcie') return 'pcie'
  if (token === 'nvl') return 'nvl'
  if (token === 'oam') return 'oam'
  if (token === 'mxm') return 'mxm'
  return undefined
}

function parseName (name: string): ParsedName {
  let full = ''
  let core = ''
  let sizeGB: number | undefined
  let formFactor: GpuFormFactor | undefined
  let nvlink = false
  for (const raw of name.toLowerCase().split(TOKEN_SEPARATOR)) {
    let token = raw
    if (token === '' || NOISE_WORDS.has(token) || MEMORY_TYPE_TOKEN.test(token)) continue
    if (token === 'nvlink') {
      nvlink = true
      continue
    }
    const size = SIZE_TOKEN.exec(token)
    if (size !== null) {
      sizeGB ??= Number(size[1])
      continue
    }
    let ff = formFactorOf(token)
    if (ff === undefined) {
      // "H100SXM5", "RTX5090PCIE": a form factor glued to the model
      const glued = GLUED_FORM_FACTOR.exec(token)
      if (glued?.[1] !== undefined && glued[2] !== undefined) {
        token = glued[1]
        ff = formFactorOf(glued[2])
        core += token
        full += token
      } else {
        core += token
        full += token
        continue
      }
    }
    if (ff !== undefined) {
      formFactor ??= ff
      full += ff
    }
  }
  const parsed: ParsedName = { full, core, nvlink }
  if (sizeGB !== undefined) parsed.sizeGB = sizeGB
  if (formFactor !== undefined) parsed.formFactor = formFactor
  return parsed
}

function sizedKey (key: string, sizeGB: number): string {
  return `${key}@${sizeGB}`
}

/** Spelling key → table entries, in table order (the first is the default). */
function buildIndex (table: readonly GpuTableEntry[]): Map<string, GpuTableEntry[]> {
  const index = new Map<string, GpuTableEntry[]>()
  for (const entry of table) {
    for (const alias of [entry.model, ...entry.aliases]) {
      const parsed = parseName(alias)
      const key = parsed.sizeGB === undefined ? parsed.full : sizedKey(parsed.full, parsed.sizeGB)
      const entries = index.get(key) ?? []
      if (!entries.includes(entry)) entries.push(entry)
      index.set(key, entries)
    }
  }
  return index
}

const INDEX = buildIndex(GPU_TABLE)
const BY_MODEL = new Map(GPU_TABLE.map((entry) => [entry.model, entry]))

function nominalGB (entry: GpuTableEntry): number {
  return Math.round(entry.vramMiB / 1024)
}

function pick (entries: readonly GpuTableEntry[], sizeGB: number | undefined, hintMiB: number | undefined): GpuTableEntry | undefined {
  if (sizeGB !== undefined) {
    // an explicit size in the name must be the size of the card, or the name is not this card
    return entries.find((entry) => nominalGB(entry) === sizeGB)
  }
  if (hintMiB === undefined || entries.length === 1) return entries[0]
  let best = entries[0]
  for (const entry of entries) {
    if (best === undefined || Math.abs(entry.vramMiB - hintMiB) < Math.abs(best.vramMiB - hintMiB)) best = entry
  }
  return best
}

/** The interconnect several GPUs of this kind use, from vendor and form factor. */
function defaultInterconnect (vendor: GpuVendor, formFactor: GpuFormFactor): GpuInterconnect {
  if (vendor === 'nvidia' && (formFactor === 'sxm' || formFactor === 'nvl' || formFactor === 'superchip')) return 'nvlink'
  if (vendor === 'amd' && formFactor !== 'pcie') return 'xgmi'
  if (vendor === 'other' || formFactor === 'oam') return 'unknown'
  return 'pcie'
}

function toModel (entry: GpuTableEntry, formFactor: GpuFormFactor, nvlink: boolean): GpuModel {
  return {
    vendor: entry.vendor,
    model: entry.model,
    vramMiB: entry.vramMiB,
    formFactor,
    interconnect: nvlink ? 'nvlink' : defaultInterconnect(entry.vendor, formFactor)
  }
}

function normalizeOne (name: string, hintMiB: number | undefined): GpuModel | undefined {
  const parsed = parseName(name)
  if (parsed.core === '') return undefined
  const { full, core, sizeGB } = parsed
  // a full-key hit means the form-factor words are part of the model's name ("H100 NVL")
  const attempts: Array<[key: string, usesFormFactor: boolean, sized: boolean]> = []
  if (sizeGB !== undefined) attempts.push([sizedKey(full, sizeGB), true, true], [sizedKey(core, sizeGB), false, true])
  attempts.push([full, true, false], [core, false, false])
  for (const [key, usesFormFactor, sized] of attempts) {
    const entries = INDEX.get(key)
    if (entries === undefined) continue
    const entry = sized ? entries[0] : pick(entries, sizeGB, hintMiB)
    if (entry === undefined) return undefined
    const formFactor = usesFormFactor && full !== core ? entry.formFactor : (parsed.formFactor ?? entry.formFactor)
    return toModel(entry, formFactor, parsed.nvlink)
  }
  return undefined
}

function candidates (name: string): string[] {
  // lspci style "Aqua Vanjaram [Instinct MI300X]": the product is in the last brackets
  const bracketed = [...name.matchAll(BRACKETED)].map((match) => match[1] ?? '').reverse()
  return [...bracketed, name.replace(BRACKETED, ' ')]
}

/**
 * Map a GPU name as systeminformation, nvidia-smi, rocm-smi, lspci or a cloud catalog spells it
 * ("NVIDIA H100 80GB HBM3", "A100_80G_SXM4", "Aqua Vanjaram [Instinct MI300X]") to its canonical
 * model. Matching ignores case, separators, vendor words and memory types; a size in the name must
 * match the card. Returns undefined for unknown or ambiguous names ("MI250X/MI250").
 */
export function normalizeGpu (name: string, hints: NormalizeGpuHints = {}): GpuModel | undefined {
  for (const candidate of candidates(name)) {
    // "MI250X/MI250": alternatives must agree on one model
    const alternatives = candidate.split('/')
    let found: GpuModel | undefined
    let agreed = true
    for (const alternative of alternatives) {
      const model = normalizeOne(alternative, hints.vramMiB)
      if (model === undefined) continue
      if (found !== undefined && found.model !== model.model) agreed = false
      found ??= model
    }
    if (found !== undefined) return agreed ? found : undefined
  }
  return undefined
}

/** Every canonical model in the table, with its default form factor and interconnect. */
export function listGpuModels (): GpuModel[] {
  return GPU_TABLE.map((entry) => toModel(entry, entry.formFactor, false))
}

/** The table row of a canonical model name ("H100"), or undefined when the name is not canonical. */
export function getGpuModel (model: string): GpuModel | undefined {
  const entry = BY_MODEL.get(model)
  return entry === undefined ? undefined : toModel(entry, entry.formFactor, false)
}

/** Vendor and VRAM a canonical model must claim; undefined when the model is not in the table. */
export function canonicalGpu (model: string): Pick<GpuTableEntry, 'vendor' | 'vramMiB'> | undefined {
  return BY_MODEL.get(model)
}

/** The interconnect to claim for `count` GPUs of one kind: none for a single GPU. */
export function claimInterconnect (gpu: GpuModel, count: number): GpuInterconnect {
  return count > 1 ? gpu.interconnect : 'none'
}
