import { concat } from 'uint8arrays/concat'
import { attrPrefix, attrRange, decodeAttrKey, encodeString } from '../entries/attrs.js'
import { COST_CANDIDATE, COST_KEY, MAX_ENUMERATED_VALUES } from './constants.js'
import { FIELDS } from './fields.js'
import { globPrefix, matchTerm } from './match.js'
import { formatTerm } from './parse.js'
import type { SortSpec } from './execute.js'
import type { Query, QueryTerm } from './parse.js'
import type { AttrBounds, AttrByteRange, AttrName, AttrValue } from '../entries/attrs.js'
import type { AbortOptions, Prolly } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'

/** What the planner and executor need of an opened snapshot (`openSnapshot`'s result fits). */
export interface QuerySnapshot {
  cid: CID
  snapshot: {
    providers: CID
    attrs: CID
    count: number
  }
}

/** One way to narrow the scan: byte ranges over the `attrs` tree and their counted size. */
export interface PlanCandidate {
  /** the terms, in query syntax, this candidate stands for, e.g. `gpus>=8`, `status!=offline` or `expires>now` */
  label: string
  attr: AttrName
  ranges: AttrByteRange[]
  /** keys in the ranges, from the subtree counts (an upper bound on providers for multi-valued attributes) */
  estimate: number
}

/**
 * One pass over the `attrs` index that narrows the candidates before any entry is read. A `keep`
 * step leaves the providers with a key in `ranges` (whose value passes `test`, when there is one):
 * a positive term holds when ANY value matches. A `drop` step removes the providers with a key in
 * `ranges`: `!=` and `notin` hold when NO value matches.
 */
export interface PlanStep extends PlanCandidate {
  mode: 'keep' | 'drop'
  /** a term each distinct value met in `ranges` must pass: a glob that the ranges only bound */
  test?: QueryTerm
  /** the values `ranges` stand for, one equality range each, when known: the executor may then probe single keys */
  values?: AttrValue[]
  /** the query terms the step stands for (none for the liveness step) */
  terms: QueryTerm[]
}

export type PlanDriver =
  | ({ kind: 'attr-range' } & PlanStep)
  | { kind: 'provider-point', label: string, providers: string[], estimate: number }
  | { kind: 'full-scan', label: string, estimate: number }

export interface Plan {
  query: Query
  snapshot: QuerySnapshot
  /** ms since the epoch that liveness is judged at */
  now: number
  includeExpired: boolean
  driver: PlanDriver
  /**
   * Index steps the executor may apply to the driver's candidates before it reads any entry, most
   * selective first. It applies each only while that costs less than reading the entries it would
   * rule out; every term is checked on each verified manifest whether or not its step ran.
   */
  filters: PlanStep[]
  /** terms the driver does not stand for; every term is still checked on each verified manifest */
  residual: QueryTerm[]
  /** every index step the planner counted, smallest estimate first */
  candidates: PlanCandidate[]
  /** providers in the snapshot */
  total: number
  /** prolly reads spent on planning */
  blocks: { read: number, cacheHits: number }
}

export interface PlanComponents {
  prolly: Pick<Prolly, 'count' | 'range' | 'stats'>
}

export interface PlanOptions {
  /**
   * The time liveness is judged at.
   *
   * @default Date.now()
   */
  now?: number | Date
  /**
   * Plan for expired entries too (no liveness step).
   *
   * @default false
   */
  includeExpired?: boolean
  /**
   * The most results wanted. Unsorted, a small limit over a broad query is cheaper to meet by
   * streaming the `providers` tree than by intersecting index ranges first.
   *
   * @default Infinity
   */
  limit?: number
  /** a field to order by (see `parseSort`); sorted runs need every match, so they never stop early */
  sort?: SortSpec | string
  signal?: AbortSignal
}

/** A step before its ranges are counted. */
type Draft = Omit<PlanStep, 'estimate'>

/**
 * Picks the cheapest way to enumerate candidates: a provider point lookup when the query names
 * providers; else the `keep` step with the fewest keys (counted in O(log n) blocks each) drives,
 * and the other steps become filters; else, or when a small unsorted limit makes it cheaper, a
 * streaming scan of the `providers` tree with the `drop` steps as filters.
 */
export async function planQuery (components: PlanComponents, snapshot: QuerySnapshot, query: Query, options: PlanOptions = {}): Promise<Plan> {
  const { prolly } = components
  const now = options.now instanceof Date ? options.now.getTime() : options.now ?? Date.now()
  const includeExpired = options.includeExpired ?? false
  const startRead = prolly.stats.blocksRead
  const startHits = prolly.stats.cacheHits
  const { providers, attrs } = snapshot.snapshot
  const abort: AbortOptions = options.signal === undefined ? {} : { signal: options.signal }
  const total = await prolly.count(providers, abort)
  const count = async (ranges: AttrByteRange[]): Promise<number> => {
    let sum = 0
    for (const range of ranges) sum += await prolly.count(attrs, { gte: range.gte, lt: range.lt, ...abort })
    return sum
  }

  const drafts = draftSteps(query)
  if (!includeExpired) {
    drafts.push(await livenessStep(now, count))
  }
  const steps: PlanStep[] = []
  for (const draft of drafts) {
    const exact = draft.test === undefined ? draft : await enumerateValues(prolly, attrs, draft, MAX_ENUMERATED_VALUES, abort) ?? draft
    steps.push({ ...exact, estimate: await count(exact.ranges) })
  }
  steps.sort((a, b) => a.estimate - b.estimate)

  let driver: PlanDriver
  let covered: QueryTerm[] = []
  let filters: PlanStep[] = []
  const point = providerPoint(query)
  const best = steps.find((s) => s.mode === 'keep')
  const drops = steps.filter((s) => s.mode === 'drop')
  if (point !== undefined) {
    driver = { kind: 'provider-point', label: formatTerm(point), providers: [...new Set(point.values.map(String))], estimate: point.values.length }
    covered = [point]
  } else if (best !== undefined && !streamIsCheaper(best, steps, total, options)) {
    driver = { kind: 'attr-range', ...best }
    covered = best.terms
    filters = steps.filter((s) => s !== best)
  } else {
    driver = { kind: 'full-scan', label: 'providers', estimate: total }
    filters = drops
  }

  return {
    query,
    snapshot,
    now,
    includeExpired,
    driver,
    filters,
    residual: query.terms.filter((t) => !covered.includes(t)),
    candidates: steps.map(({ label, attr, ranges, estimate }) => ({ label, attr, ranges, estimate })),
    total,
    blocks: { read: prolly.stats.blocksRead - startRead, cacheHits: prolly.stats.cacheHits - startHits }
  }
}

/** The share of all providers a step leaves, taking attributes as independent. */
export function stepPass (step: Pick<PlanStep, 'mode' | 'estimate'>, total: number): number {
  const share = total === 0 ? 0 : Math.min(1, step.estimate / total)
  return step.mode === 'keep' ? share : 1 - share
}

/**
 * Entries a run reads before it has `limit` results, when `size` candidates remain and `pending`
 * steps are still to hold: all of them when sorted or unlimited.
 */
export function expectedLoads (size: number, pending: readonly PlanStep[], total: number, options: Pick<PlanOptions, 'limit' | 'sort'>): number {
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  if (options.sort !== undefined || !Number.isFinite(limit)) return size
  const pass = pending.reduce((p, s) => p * stepPass(s, total), 1)
  return Math.min(size, limit / Math.max(pass, 1 / Math.max(total, 1)))
}

/** Whether streaming the providers tree until `limit` results beats collecting the driver's keys first. */
function streamIsCheaper (driver: PlanStep, steps: readonly PlanStep[], total: number, options: PlanOptions): boolean {
  return expectedLoads(total, steps, total, options) * COST_CANDIDATE < driver.estimate * COST_KEY
}

/**
 * Liveness as an index step: keep `expires > now`, or drop `expires <= now`, whichever range holds
 * fewer keys. Every entry has one `expires` key, so both select the same providers; the verified
 * record decides in the end.
 */
async function livenessStep (now: number, count: (ranges: AttrByteRange[]) => Promise<number>): Promise<Draft> {
  const live = attrRange('expires', { gt: now })
  const dead = attrRange('expires', { lte: now })
  return await count([dead]) < await count([live])
    ? { label: 'expires<=now', attr: 'expires', mode: 'drop', ranges: [dead], terms: [] }
    : { label: 'expires>now', attr: 'expires', mode: 'keep', ranges: [live], terms: [] }
}

/**
 * The step as equality ranges over the distinct values in its ranges that pass its test (all of
 * them when it has none), or undefined when there are more than `cap`: one short seek per distinct
 * value, so `region~*west*` reads only the runs of the regions that match, and a step's members can
 * be probed one key each.
 */
export async function enumerateValues<S extends Pick<PlanStep, 'attr' | 'ranges' | 'test' | 'values'>> (prolly: Pick<Prolly, 'range'>, attrs: CID, step: S, cap: number, abort: AbortOptions): Promise<S | undefined> {
  const test = step.test
  const values: AttrValue[] = []
  let seen = 0
  for (const range of step.ranges) {
    let gte = range.gte
    for (;;) {
      let first: Uint8Array | undefined
      for await (const { key } of prolly.range(attrs, { gte, lt: range.lt, limit: 1, ...abort })) first = key
      if (first === undefined) break
      if (++seen > cap) return undefined
      const { value, providerKey } = decodeAttrKey(first)
      if (test === undefined || matchTerm(test, [value])) values.push(value)
      // `attr ‖ 0x00 ‖ value ‖ 0x01`: just past every key of this value
      gte = first.slice(0, first.length - providerKey.length)
      gte[gte.length - 1] = 0x01
    }
  }
  const { test: _test, ...rest } = step
  return { ...rest, values, ranges: eq(step.attr, values) } as S
}

/** The smallest `provider=` / `provider in [...]` term, if any. */
function providerPoint (query: Query): QueryTerm | undefined {
  let best: QueryTerm | undefined
  for (const term of query.terms) {
    if (term.field === 'provider' && (term.op === '=' || term.op === 'in') && (best === undefined || term.values.length < best.values.length)) {
      best = term
    }
  }
  return best
}

interface Bound {
  value: number
  strict: boolean
}

const eq = (attr: AttrName, values: AttrValue[]): AttrByteRange[] => values.map((v) => attrRange(attr, { gte: v, lte: v }))

/**
 * Index steps for every term on an attribute. Order bounds on one single-valued number attribute
 * merge into one range (`gpus>=8 gpus<=16`); on a multi-valued one each term stays its own step,
 * as different values of one provider may satisfy different terms.
 */
function draftSteps (query: Query): Draft[] {
  const drafts: Draft[] = []
  const merged = new Map<AttrName, { lower?: Bound, upper?: Bound, terms: QueryTerm[] }>()
  for (const term of query.terms) {
    const spec = FIELDS.get(term.field)
    const attr = spec?.attr
    if (spec === undefined || attr === undefined) continue
    const [operand] = term.values
    if (operand === undefined) continue
    const label = formatTerm(term)
    const values = [...new Set(term.values)]
    if (term.op === '=' || term.op === 'in') {
      drafts.push({ label, attr, mode: 'keep', ranges: eq(attr, values), values, terms: [term] })
    } else if (term.op === '!=' || term.op === 'notin') {
      drafts.push({ label, attr, mode: 'drop', ranges: eq(attr, values), values, terms: [term] })
    } else if (term.op === '~' && typeof operand === 'string') {
      const prefix = globPrefix(operand)
      const ranges = [prefix === '' ? attrRange(attr) : prefixRange(concat([attrPrefix(attr), encodeString(prefix)]))]
      if (prefix === operand) {
        drafts.push({ label, attr, mode: 'keep', ranges: eq(attr, [prefix]), values: [prefix], terms: [term] })
      } else if (/^\*+$/.test(operand.slice(prefix.length))) {
        drafts.push({ label, attr, mode: 'keep', ranges, terms: [term] })
      } else {
        drafts.push({ label, attr, mode: 'keep', ranges, test: term, terms: [term] })
      }
    } else if (typeof operand === 'number' && !spec.multi) {
      const slot = merged.get(attr) ?? { terms: [] }
      if (term.op === '>' || term.op === '>=') {
        slot.lower = tighter(slot.lower, { value: operand, strict: term.op === '>' }, 1)
      } else {
        slot.upper = tighter(slot.upper, { value: operand, strict: term.op === '<' }, -1)
      }
      slot.terms.push(term)
      merged.set(attr, slot)
    } else {
      drafts.push({ label, attr, mode: 'keep', ranges: [attrRange(attr, boundsFor(term.op, operand))], terms: [term] })
    }
  }
  for (const [attr, { lower, upper, terms }] of merged) {
    const bounds: AttrBounds = {}
    if (lower !== undefined) bounds[lower.strict ? 'gt' : 'gte'] = lower.value
    if (upper !== undefined) bounds[upper.strict ? 'lt' : 'lte'] = upper.value
    drafts.push({ label: terms.map(formatTerm).join(' '), attr, mode: 'keep', ranges: [attrRange(attr, bounds)], terms })
  }
  return drafts
}

/** The tighter of two bounds: the larger lower bound (`sign` 1) or the smaller upper bound (`sign` -1). */
function tighter (a: Bound | undefined, b: Bound, sign: 1 | -1): Bound {
  if (a === undefined) return b
  if (a.value === b.value) return { value: a.value, strict: a.strict || b.strict }
  return (a.value - b.value) * sign > 0 ? a : b
}

function boundsFor (op: QueryTerm['op'], value: number | string): AttrBounds {
  switch (op) {
    case '<': return { lt: value }
    case '<=': return { lte: value }
    case '>': return { gt: value }
    case '>=': return { gte: value }
    default: return { gte: value, lte: value }
  }
}

/** `[prefix, successor(prefix))`: every key that starts with `prefix`. */
function prefixRange (prefix: Uint8Array): AttrByteRange {
  let end = prefix.length
  while (end > 0 && prefix[end - 1] === 0xff) end--
  const lt = prefix.slice(0, end)
  if (end > 0) lt[end - 1] = (lt[end - 1] ?? 0) + 1
  return { gte: prefix, lt }
}

/** How a run went, for `explain`: the counters of `QuerySummary` it prints. */
export interface ExplainRun {
  blocksRead: number
  cacheHits: number
  scanned: number
  matched: number
  rejected: number
  expired: number
  keysScanned?: number
  probes?: number
  filtersApplied?: string[]
}

function describeStep (step: PlanStep): string {
  const how = step.mode === 'keep' ? 'keep' : 'drop'
  const test = step.test === undefined ? '' : ', value test'
  return `${how} ${step.label} (attr ${step.attr}, ${step.ranges.length} range${step.ranges.length === 1 ? '' : 's'}${test}, ~${step.estimate} keys)`
}

/** Human-readable plan lines for `--explain`; pass the run's summary to add the work it did. */
export function explain (plan: Plan, run?: ExplainRun): string[] {
  const lines: string[] = []
  lines.push(`snapshot ${plan.snapshot.cid.toString()}: ${plan.total} providers`)
  lines.push(`query: ${plan.query.terms.length === 0 ? '(all)' : plan.query.terms.map(formatTerm).join(' ')}`)
  const d = plan.driver
  if (d.kind === 'attr-range') {
    lines.push(`driver: attrs range ${d.label} (attr ${d.attr}, ${d.ranges.length} range${d.ranges.length === 1 ? '' : 's'}${d.test === undefined ? '' : ', value test'}, ~${d.estimate} keys)`)
  } else if (d.kind === 'provider-point') {
    lines.push(`driver: provider point lookup ${d.label} (${d.estimate} key${d.estimate === 1 ? '' : 's'})`)
  } else {
    lines.push(`driver: full scan of providers (${d.estimate} entries)`)
  }
  for (const f of plan.filters) {
    lines.push(`  filter ${describeStep(f)}`)
  }
  for (const c of plan.candidates) {
    lines.push(`  candidate ${c.label}: ~${c.estimate}`)
  }
  lines.push(`residual: ${plan.residual.length === 0 ? '(none)' : plan.residual.map(formatTerm).join(' ')}; every term re-checked on each verified manifest`)
  lines.push(`liveness: ${plan.includeExpired ? 'expired entries included' : `live at ${new Date(plan.now).toISOString()}`}`)
  lines.push(`planning: ${plan.blocks.read} blocks read, ${plan.blocks.cacheHits} cache hits`)
  if (run !== undefined) {
    if (run.keysScanned !== undefined || run.filtersApplied !== undefined) {
      lines.push(`index: ${run.keysScanned ?? 0} keys scanned, ${run.probes ?? 0} keys probed; filters applied: ${run.filtersApplied === undefined || run.filtersApplied.length === 0 ? '(none)' : run.filtersApplied.join(', ')}`)
    }
    lines.push(`execution: ${run.scanned} candidates, ${run.matched} matched, ${run.rejected} rejected, ${run.expired} expired; ${run.blocksRead} blocks read, ${run.cacheHits} cache hits`)
  }
  return lines
}
