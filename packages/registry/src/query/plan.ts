import { concat } from 'uint8arrays/concat'
import { attrPrefix, attrRange, encodeString } from '../entries/attrs.js'
import { INDEX_DRIVER_MAX_FRACTION } from './constants.js'
import { FIELDS } from './fields.js'
import { globPrefix } from './match.js'
import { formatTerm } from './parse.js'
import type { Query, QueryTerm } from './parse.js'
import type { AttrBounds, AttrByteRange, AttrName } from '../entries/attrs.js'
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
  /** the terms, in query syntax, this candidate stands for, e.g. `gpus>=8` or `expires>now` */
  label: string
  attr: AttrName
  ranges: AttrByteRange[]
  /** keys in the ranges, from the subtree counts (an upper bound on providers for multi-valued attributes) */
  estimate: number
}

export type PlanDriver =
  | { kind: 'attr-range', label: string, attr: AttrName, ranges: AttrByteRange[], estimate: number }
  | { kind: 'provider-point', label: string, providers: string[], estimate: number }
  | { kind: 'full-scan', label: string, estimate: number }

export interface Plan {
  query: Query
  snapshot: QuerySnapshot
  /** ms since the epoch that liveness is judged at */
  now: number
  includeExpired: boolean
  driver: PlanDriver
  /** terms the driver does not stand for; every term is still checked on each verified manifest */
  residual: QueryTerm[]
  /** every indexable candidate the planner counted, smallest estimate first */
  candidates: PlanCandidate[]
  /** providers in the snapshot */
  total: number
  /** prolly reads spent on planning */
  blocks: { read: number, cacheHits: number }
}

export interface PlanComponents {
  prolly: Pick<Prolly, 'count' | 'stats'>
}

export interface PlanOptions {
  /**
   * The time liveness is judged at.
   *
   * @default Date.now()
   */
  now?: number | Date
  /**
   * Plan for expired entries too (no `expires > now` candidate).
   *
   * @default false
   */
  includeExpired?: boolean
  signal?: AbortSignal
}

interface Draft {
  label: string
  attr: AttrName
  ranges: AttrByteRange[]
  terms: QueryTerm[]
}

/**
 * Picks the cheapest way to enumerate candidates: a provider point lookup when the query names
 * providers, else the `attrs` range with the fewest keys (counted in O(log n) blocks each),
 * else a full scan of the `providers` tree.
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

  const drafts = draftCandidates(query)
  if (!includeExpired) {
    drafts.push({ label: 'expires>now', attr: 'expires', ranges: [attrRange('expires', { gt: now })], terms: [] })
  }
  const candidates: Array<PlanCandidate & { terms: QueryTerm[] }> = []
  for (const draft of drafts) {
    let estimate = 0
    for (const range of draft.ranges) {
      estimate += await prolly.count(attrs, { gte: range.gte, lt: range.lt, ...abort })
    }
    candidates.push({ ...draft, estimate })
  }
  candidates.sort((a, b) => a.estimate - b.estimate)

  let driver: PlanDriver
  let covered: QueryTerm[] = []
  const point = providerPoint(query)
  const best = candidates[0]
  if (point !== undefined) {
    driver = { kind: 'provider-point', label: formatTerm(point), providers: [...new Set(point.values.map(String))], estimate: point.values.length }
    covered = [point]
  } else if (best !== undefined && (best.estimate === 0 || best.estimate <= total * INDEX_DRIVER_MAX_FRACTION)) {
    driver = { kind: 'attr-range', label: best.label, attr: best.attr, ranges: best.ranges, estimate: best.estimate }
    covered = best.terms
  } else {
    driver = { kind: 'full-scan', label: 'providers', estimate: total }
  }

  return {
    query,
    snapshot,
    now,
    includeExpired,
    driver,
    residual: query.terms.filter((t) => !covered.includes(t)),
    candidates: candidates.map(({ terms: _terms, ...c }) => c),
    total,
    blocks: { read: prolly.stats.blocksRead - startRead, cacheHits: prolly.stats.cacheHits - startHits }
  }
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

/**
 * Index ranges for every indexable term. Bounds on one single-valued number attribute are merged
 * into one range (`gpus>=8 gpus<=16`); on a multi-valued one each term stays its own candidate, as
 * different values of one provider may satisfy different terms.
 */
function draftCandidates (query: Query): Draft[] {
  const drafts: Draft[] = []
  const merged = new Map<AttrName, { lower?: Bound, upper?: Bound, terms: QueryTerm[] }>()
  for (const term of query.terms) {
    const spec = FIELDS.get(term.field)
    const attr = spec?.attr
    if (spec === undefined || attr === undefined) continue
    const [operand] = term.values
    if (operand === undefined) continue
    const label = formatTerm(term)
    if (term.op === 'in') {
      const values = [...new Set(term.values)]
      drafts.push({ label, attr, ranges: values.map((v) => attrRange(attr, { gte: v, lte: v })), terms: [term] })
    } else if (term.op === '~' && typeof operand === 'string') {
      const prefix = globPrefix(operand)
      if (prefix === operand) {
        drafts.push({ label, attr, ranges: [attrRange(attr, { gte: prefix, lte: prefix })], terms: [term] })
      } else if (prefix !== '') {
        drafts.push({ label, attr, ranges: [prefixRange(concat([attrPrefix(attr), encodeString(prefix)]))], terms: [term] })
      }
    } else if (typeof operand === 'number' && !spec.multi && term.op !== '!=') {
      const slot = merged.get(attr) ?? { terms: [] }
      if (term.op === '=' || term.op === '>' || term.op === '>=') {
        slot.lower = tighter(slot.lower, { value: operand, strict: term.op === '>' }, 1)
      }
      if (term.op === '=' || term.op === '<' || term.op === '<=') {
        slot.upper = tighter(slot.upper, { value: operand, strict: term.op === '<' }, -1)
      }
      slot.terms.push(term)
      merged.set(attr, slot)
    } else if (term.op !== '!=' && term.op !== 'notin') {
      drafts.push({ label, attr, ranges: [attrRange(attr, boundsFor(term.op, operand))], terms: [term] })
    }
  }
  for (const [attr, { lower, upper, terms }] of merged) {
    const bounds: AttrBounds = {}
    if (lower !== undefined) bounds[lower.strict ? 'gt' : 'gte'] = lower.value
    if (upper !== undefined) bounds[upper.strict ? 'lt' : 'lte'] = upper.value
    drafts.push({ label: terms.map(formatTerm).join(' '), attr, ranges: [attrRange(attr, bounds)], terms })
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

/** Human-readable plan lines for `--explain`; pass the run's summary to add the blocks it touched. */
export function explain (plan: Plan, run?: { blocksRead: number, cacheHits: number, scanned: number, matched: number, rejected: number, expired: number }): string[] {
  const lines: string[] = []
  lines.push(`snapshot ${plan.snapshot.cid.toString()}: ${plan.total} providers`)
  lines.push(`query: ${plan.query.terms.length === 0 ? '(all)' : plan.query.terms.map(formatTerm).join(' ')}`)
  const d = plan.driver
  if (d.kind === 'attr-range') {
    lines.push(`driver: attrs range ${d.label} (attr ${d.attr}, ${d.ranges.length} range${d.ranges.length === 1 ? '' : 's'}, ~${d.estimate} keys)`)
  } else if (d.kind === 'provider-point') {
    lines.push(`driver: provider point lookup ${d.label} (${d.estimate} key${d.estimate === 1 ? '' : 's'})`)
  } else {
    lines.push(`driver: full scan of providers (${d.estimate} entries)`)
  }
  for (const c of plan.candidates) {
    lines.push(`  candidate ${c.label}: ~${c.estimate}`)
  }
  lines.push(`residual: ${plan.residual.length === 0 ? '(none)' : plan.residual.map(formatTerm).join(' ')}; every term re-checked on each verified manifest`)
  lines.push(`liveness: ${plan.includeExpired ? 'expired entries included' : `live at ${new Date(plan.now).toISOString()}`}`)
  lines.push(`planning: ${plan.blocks.read} blocks read, ${plan.blocks.cacheHits} cache hits`)
  if (run !== undefined) {
    lines.push(`execution: ${run.scanned} candidates, ${run.matched} matched, ${run.rejected} rejected, ${run.expired} expired; ${run.blocksRead} blocks read, ${run.cacheHits} cache hits`)
  }
  return lines
}
