import { ATTRS, attrValuePrefix, decodeAttrKey } from '../entries/attrs.js'
import { ATTR_SEPARATOR, NUMBER_BYTES } from '../entries/constants.js'
import { InvalidAttrKeyError } from '../entries/errors.js'
import { nameFromBytes } from '../records/index.js'
import { COST_CANDIDATE, COST_KEY, COST_PROBE, MAX_ENUMERATED_VALUES } from './constants.js'
import { KeySet } from './keyset.js'
import { matchTerm } from './match.js'
import { enumerateValues, expectedLoads, stepPass } from './plan.js'
import type { Plan, PlanOptions, PlanStep } from './plan.js'
import type { QueryTerm } from './parse.js'
import type { AbortOptions, Prolly } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'

/** Index work done by one run. */
export interface ScanStats {
  /** `attrs` keys read by range scans */
  keysScanned: number
  /** `attrs` keys looked up one by one */
  probes: number
  /** labels of the filter steps applied, in order */
  filtersApplied: string[]
}

export interface ScanComponents {
  prolly: Pick<Prolly, 'range' | 'get'>
}

const textEncoder = new TextEncoder()

/**
 * Calls `visit` with every key in the step's ranges whose value passes its test, and the offset its
 * provider key starts at; the test runs once per distinct value, as keys of one value are adjacent.
 */
async function scanStep (prolly: ScanComponents['prolly'], attrs: CID, step: PlanStep, stats: ScanStats, abort: AbortOptions, visit: (key: Uint8Array, start: number) => void): Promise<void> {
  const valueStart = textEncoder.encode(step.attr).length + 1
  const isNumber = ATTRS[step.attr].type === 'number'
  const test = step.test
  for (const range of step.ranges) {
    let previous: Uint8Array | undefined
    let previousEnd = 0
    let pass = true
    for await (const { key } of prolly.range(attrs, { gte: range.gte, lt: range.lt, ...abort })) {
      stats.keysScanned++
      const end = isNumber ? valueStart + NUMBER_BYTES : key.indexOf(ATTR_SEPARATOR, valueStart)
      if (end < valueStart || key[end] !== ATTR_SEPARATOR || end + 1 >= key.length) {
        throw new InvalidAttrKeyError('An attrs key has no value separator or no provider key')
      }
      if (test !== undefined) {
        if (previous === undefined || !sameValue(previous, previousEnd, key, end, valueStart)) {
          pass = matchTerm(test, [decodeAttrKey(key).value])
          previous = key
          previousEnd = end
        }
        if (!pass) continue
      }
      visit(key, end + 1)
    }
  }
}

function sameValue (a: Uint8Array, aEnd: number, b: Uint8Array, bEnd: number, start: number): boolean {
  if (aEnd !== bEnd) return false
  for (let i = aEnd - 1; i >= start; i--) {
    if (a[i] !== b[i]) return false
  }
  return true
}

/** The providers a `keep` step leaves: every provider key in its ranges, each once. */
export async function collectStep (components: ScanComponents, attrs: CID, step: PlanStep, stats: ScanStats, abort: AbortOptions): Promise<KeySet> {
  const set = new KeySet(step.estimate)
  await scanStep(components.prolly, attrs, step, stats, abort, (key, start) => { set.add(key, start) })
  return set
}

/** Which members of `set` have a key in the step's ranges: by scanning them, or by probing each member's keys. */
export async function markStep (components: ScanComponents, attrs: CID, step: PlanStep, set: KeySet, probe: boolean, stats: ScanStats, abort: AbortOptions): Promise<Uint8Array> {
  const hits = new Uint8Array(set.size)
  if (!probe || step.values === undefined) {
    await scanStep(components.prolly, attrs, step, stats, abort, (key, start) => {
      const index = set.indexOf(key, start)
      if (index >= 0) hits[index] = 1
    })
    return hits
  }
  const prefixes = step.values.map((v) => attrValuePrefix(step.attr, v))
  for (let index = 0; index < set.size; index++) {
    const providerKey = set.at(index)
    if (providerKey === undefined) continue
    for (const prefix of prefixes) {
      stats.probes++
      const key = new Uint8Array(prefix.length + providerKey.length)
      key.set(prefix, 0)
      key.set(providerKey, prefix.length)
      if (await components.prolly.get(attrs, key, abort) !== undefined) {
        hits[index] = 1
        break
      }
    }
  }
  return hits
}

/** The cost of applying `step` to `size` candidates: a scan of its ranges, or a probe per member and value. */
function stepCost (step: PlanStep, size: number): { cost: number, probe: boolean } {
  const scan = step.estimate * COST_KEY
  const probe = step.values === undefined ? Number.POSITIVE_INFINITY : size * step.values.length * COST_PROBE
  return probe < scan ? { cost: probe, probe: true } : { cost: scan, probe: false }
}

/**
 * Applies the plan's filters to `set` greedily: at each round the step that saves the most (the
 * entry reads it rules out, less its own cost) while it saves anything. Steps left over are
 * checked on the manifests, as every term is.
 */
export async function applyFilters (components: ScanComponents, plan: Plan, set: KeySet, options: Pick<PlanOptions, 'limit' | 'sort'>, stats: ScanStats, abort: AbortOptions): Promise<KeySet> {
  const pending = [...plan.filters]
  const enumerated = new Set<PlanStep>()
  while (pending.length > 0 && set.size > 0) {
    let best: { index: number, gain: number, probe: boolean } | undefined
    const loads = expectedLoads(set.size, pending, plan.total, options)
    for (let index = 0; index < pending.length; index++) {
      let step = pending[index]
      if (step === undefined) continue
      const saves = loads * (1 - stepPass(step, plan.total)) * COST_CANDIDATE
      // a range with few enough values may be cheaper to probe per member than to scan: find its
      // values (one seek each) when probing them could beat the scan and still save something
      const cap = Math.min(MAX_ENUMERATED_VALUES, Math.floor(step.estimate * COST_KEY / (set.size * COST_PROBE)), Math.floor(saves / COST_PROBE))
      if (step.values === undefined && !enumerated.has(step) && cap >= 1) {
        enumerated.add(step)
        const exact = await enumerateValues(components.prolly, plan.snapshot.snapshot.attrs, step, cap, abort)
        stats.probes += exact?.values?.length ?? cap
        if (exact !== undefined) pending[index] = step = exact
      }
      const { cost, probe } = stepCost(step, set.size)
      const gain = saves - cost
      if (gain > 0 && (best === undefined || gain > best.gain)) best = { index, gain, probe }
    }
    if (best === undefined) break
    const [step] = pending.splice(best.index, 1)
    if (step === undefined) break
    const hits = await markStep(components, plan.snapshot.snapshot.attrs, step, set, best.probe, stats, abort)
    const keep = step.mode === 'keep' ? 1 : 0
    set = set.filter((i) => hits[i] === keep)
    stats.filtersApplied.push(step.label)
  }
  return set
}

/** The providers the `drop` filters remove, for a streaming scan, while collecting them costs less than reading them. */
export async function droppedKeys (components: ScanComponents, plan: Plan, options: Pick<PlanOptions, 'limit' | 'sort'>, stats: ScanStats, abort: AbortOptions): Promise<KeySet> {
  const dropped = new KeySet()
  const loads = expectedLoads(plan.total, plan.filters, plan.total, options)
  for (const step of plan.filters) {
    if (step.mode !== 'drop' || step.estimate * COST_KEY >= loads * (1 - stepPass(step, plan.total)) * COST_CANDIDATE) continue
    await scanStep(components.prolly, plan.snapshot.snapshot.attrs, step, stats, abort, (key, start) => { dropped.add(key, start) })
    stats.filtersApplied.push(step.label)
  }
  return dropped
}

/** Whether a provider key passes the query's `provider` terms (a key that is no name is left to verification to reject). */
export function providerTermsHold (terms: readonly QueryTerm[], key: Uint8Array): boolean {
  if (terms.length === 0) return true
  let name: string
  try {
    name = nameFromBytes(key)
  } catch {
    return true
  }
  return terms.every((term) => matchTerm(term, [name]))
}
