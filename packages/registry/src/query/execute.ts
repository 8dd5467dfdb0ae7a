import { CustomProgressEvent } from 'progress-events'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { nameToBytes } from '../records/index.js'
import { ForgedEntryError, InvalidQueryOptionError } from './errors.js'
import { FIELDS, FIELD_NAMES } from './fields.js'
import { matchQuery } from './match.js'
import { planQuery } from './plan.js'
import { applyFilters, collectStep, droppedKeys, providerTermsHold } from './scan.js'
import { loadEntry, verifyLoadedEntry } from './verify-entry.js'
import type { RejectReason } from './errors.js'
import type { QueryField } from './fields.js'
import type { Query, QueryValue } from './parse.js'
import type { Plan, PlanComponents, PlanOptions, QuerySnapshot } from './plan.js'
import type { ScanStats } from './scan.js'
import type { LoadedEntry, VerifyEntryComponents } from './verify-entry.js'
import type { VerifiedRecord } from '../records/index.js'
import type { Manifest } from '@capdex/manifest'
import type { AbortOptions, Prolly } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

/** One verified provider that matches the query. */
export interface QueryResult {
  /** canonical IPNS name (`k51…`) */
  provider: string
  manifest: Manifest
  manifestCid: CID
  record: VerifiedRecord
  /** true when the record's validity has passed (only with `includeExpired`) */
  expired: boolean
}

/** An entry left out because it did not verify; the indexer that served it forged or altered it. */
export interface QueryRejection {
  provider: string
  reason: RejectReason
  /** the `ForgedEntryError` message */
  message: string
}

/** Counters of one run, final once iteration ends. */
export interface QuerySummary {
  /** candidates the driver produced and the executor loaded */
  scanned: number
  /** results returned */
  matched: number
  /** candidates that failed verification (reported through `onRejected`) */
  rejected: number
  /** matching candidates left out because their record expired (those the index already ruled out are not loaded, so not counted) */
  expired: number
  /** prolly blocks read from the store while executing (not planning) */
  blocksRead: number
  /** prolly node lookups served from its cache while executing */
  cacheHits: number
  /** `attrs` keys read by index range scans */
  keysScanned: number
  /** `attrs` keys looked up one by one */
  probes: number
  /** labels of the index filters the executor applied, in order */
  filtersApplied: string[]
}

export interface SortSpec {
  field: QueryField
  descending: boolean
}

export type QueryProgressEvents =
  | ProgressEvent<'registry:query:plan', Plan>
  | ProgressEvent<'registry:query:rejected', QueryRejection>
  | ProgressEvent<'registry:query:done', QuerySummary>

/**
 * `sort` orders by a field, `price` ascending or `price-` descending; multi-valued fields sort by
 * their min (asc) or max (desc). `limit` is the most results to return.
 */
export interface ExecuteOptions extends PlanOptions, ProgressOptions<QueryProgressEvents> {
  /** told about every candidate that fails verification */
  onRejected?(rejection: QueryRejection): void
}

export interface ExecuteComponents extends VerifyEntryComponents, PlanComponents {
  prolly: Pick<Prolly, 'count' | 'range' | 'get' | 'stats'>
}

/** The results of one query; `summary` fills in as they are consumed. */
export interface QueryRun extends AsyncIterable<QueryResult> {
  readonly summary: QuerySummary
}

/** Parses `price` (ascending) or `price-` (descending); also accepts a trailing `+`. */
export function parseSort (spec: string): SortSpec {
  const descending = spec.endsWith('-')
  const name = spec.replace(/[+-]$/, '').toLowerCase()
  const field = FIELDS.get(name)
  if (field === undefined) {
    throw new InvalidQueryOptionError(`cannot sort by unknown field '${name}'; known fields: ${FIELD_NAMES.join(', ')}`)
  }
  return { field: field.name, descending }
}

/**
 * Runs a query (planning it first when given a `Query`). The driver enumerates candidates: the keys
 * of an `attrs` range narrowed by the plan's index filters, provider point lookups, or a stream of
 * the `providers` tree. Then, in provider-key order, each candidate's manifest is loaded and checked
 * and every term is evaluated on it, and the record of each match is verified. Forged entries are
 * reported and never returned; expired ones are left out unless `includeExpired`. With `sort`,
 * matches are ranked as they come (at most `2 × limit` kept at a time) and only those that rank are
 * verified; without it results stream.
 */
export function executeQuery (components: ExecuteComponents, snapshot: QuerySnapshot, query: Query | Plan, options: ExecuteOptions = {}): QueryRun {
  const sort = typeof options.sort === 'string' ? parseSort(options.sort) : options.sort
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  if (!(limit >= 0) || (limit !== Number.POSITIVE_INFINITY && !Number.isSafeInteger(limit))) {
    throw new InvalidQueryOptionError(`limit must be a non-negative integer, got ${String(options.limit)}`)
  }
  const summary = emptySummary()
  return {
    summary,
    [Symbol.asyncIterator]: () => run(components, snapshot, query, options, sort, limit, summary)[Symbol.asyncIterator]()
  }
}

function emptySummary (): QuerySummary {
  return { scanned: 0, matched: 0, rejected: 0, expired: 0, blocksRead: 0, cacheHits: 0, keysScanned: 0, probes: 0, filtersApplied: [] }
}

async function * run (components: ExecuteComponents, snapshot: QuerySnapshot, queryOrPlan: Query | Plan, options: ExecuteOptions, sort: SortSpec | undefined, limit: number, summary: QuerySummary): AsyncGenerator<QueryResult> {
  const abort: AbortOptions = options.signal === undefined ? {} : { signal: options.signal }
  Object.assign(summary, emptySummary())
  const plan = 'driver' in queryOrPlan ? queryOrPlan : await planQuery(components, snapshot, queryOrPlan, options)
  options.onProgress?.(new CustomProgressEvent('registry:query:plan', plan))
  if (limit === 0) return
  const { prolly } = components
  const startRead = prolly.stats.blocksRead
  const startHits = prolly.stats.cacheHits

  /** Verifies a match's record and judges its liveness: the result, or undefined when it is rejected or expired. */
  const finish = async (loaded: LoadedEntry): Promise<QueryResult | undefined> => {
    try {
      const verified = await verifyLoadedEntry(components, loaded, abort)
      const expired = verified.record.validity.getTime() <= plan.now
      if (expired && !plan.includeExpired) {
        summary.expired++
        return undefined
      }
      return { provider: verified.provider, manifest: verified.manifest, manifestCid: verified.manifestCid, record: verified.record, expired }
    } catch (err) {
      reject(err)
      return undefined
    }
  }
  const reject = (err: unknown): void => {
    if (!isForged(err)) throw err
    summary.rejected++
    const rejection: QueryRejection = { provider: err.provider, reason: err.reason, message: err.message }
    options.onRejected?.(rejection)
    options.onProgress?.(new CustomProgressEvent('registry:query:rejected', rejection))
  }
  const sorter = sort === undefined ? undefined : new TopK(sort, limit, finish)
  try {
    for await (const candidate of candidates(components, plan, sort === undefined ? { limit } : { limit, sort }, summary, abort)) {
      options.signal?.throwIfAborted()
      summary.scanned++
      let loaded: LoadedEntry
      try {
        const value = candidate.value ?? await prolly.get(plan.snapshot.snapshot.providers, candidate.key, abort)
        if (value === undefined) {
          if (plan.driver.kind === 'provider-point') continue
          throw new ForgedEntryError(toString(candidate.key, 'base16'), 'missing-entry', 'the attrs index names a provider the providers tree lacks')
        }
        loaded = await loadEntry(components, candidate.key, value, abort)
      } catch (err) {
        reject(err)
        continue
      }
      if (!matchQuery(plan.query, loaded.fields)) continue
      if (sorter !== undefined) {
        await sorter.push(loaded)
        continue
      }
      const result = await finish(loaded)
      if (result === undefined) continue
      summary.matched++
      yield result
      if (summary.matched >= limit) break
    }
    for (const result of await sorter?.results() ?? []) {
      summary.matched++
      yield result
    }
  } finally {
    summary.blocksRead = prolly.stats.blocksRead - startRead
    summary.cacheHits = prolly.stats.cacheHits - startHits
    options.onProgress?.(new CustomProgressEvent('registry:query:done', summary))
  }
}

function isForged (err: unknown): err is Error & { provider: string, reason: RejectReason } {
  return err instanceof Error && err.name === 'ForgedEntryError'
}

interface Candidate {
  key: Uint8Array
  /** present when the driver read the entry already (full scan) */
  value?: Uint8Array
}

/** The plan's candidates in provider-key order, each once. */
async function * candidates (components: ExecuteComponents, plan: Plan, options: Pick<PlanOptions, 'limit' | 'sort'>, stats: ScanStats, abort: AbortOptions): AsyncGenerator<Candidate> {
  const { prolly } = components
  const driver = plan.driver
  if (driver.kind === 'provider-point') {
    // hex of a fixed-length key sorts as the bytes do
    const keys = new Set(driver.providers.map((name) => toString(nameToBytes(name), 'base16')))
    for (const hex of [...keys].sort()) {
      yield { key: fromString(hex, 'base16') }
    }
    return
  }
  const providerTerms = plan.query.terms.filter((t) => t.field === 'provider')
  if (driver.kind === 'full-scan') {
    const dropped = await droppedKeys(components, plan, options, stats, abort)
    for await (const entry of prolly.range(plan.snapshot.snapshot.providers, abort)) {
      if (dropped.size > 0 && dropped.indexOf(entry.key) >= 0) continue
      if (!providerTermsHold(providerTerms, entry.key)) continue
      yield entry
    }
    return
  }
  const attrs = plan.snapshot.snapshot.attrs
  const set = await applyFilters(components, plan, await collectStep(components, attrs, driver, stats, abort), options, stats, abort)
  for (const key of set.sorted()) {
    if (providerTermsHold(providerTerms, key)) yield { key }
  }
}

/**
 * Ranks matches for one sort order, keeping the best `limit`. Matches are verified only when they
 * rank: each time the list reaches `2 × limit` it is sorted and walked, verifying until `limit`
 * results hold; the rest is dropped, as it cannot outrank them.
 */
class TopK {
  private readonly spec: SortSpec
  private readonly limit: number
  private readonly finish: (loaded: LoadedEntry) => Promise<QueryResult | undefined>
  private items: Array<{ loaded: LoadedEntry, key: QueryValue | undefined, result?: QueryResult | null }> = []

  constructor (spec: SortSpec, limit: number, finish: (loaded: LoadedEntry) => Promise<QueryResult | undefined>) {
    this.spec = spec
    this.limit = limit
    this.finish = finish
  }

  async push (loaded: LoadedEntry): Promise<void> {
    this.items.push({ loaded, key: sortKey(loaded.fields.get(this.spec.field) ?? [], this.spec.descending) })
    if (this.items.length >= 2 * this.limit) await this.trim()
  }

  async results (): Promise<QueryResult[]> {
    await this.trim()
    return this.items.flatMap((i) => i.result ?? [])
  }

  private async trim (): Promise<void> {
    const sign = this.spec.descending ? -1 : 1
    // Array#sort is stable, so ties keep provider-key order; absent values sort last either way.
    this.items.sort((a, b) => {
      if (a.key === undefined || b.key === undefined) return (a.key === undefined ? 1 : 0) - (b.key === undefined ? 1 : 0)
      return a.key < b.key ? -sign : a.key > b.key ? sign : 0
    })
    const kept: typeof this.items = []
    for (const item of this.items) {
      if (kept.length >= this.limit) break
      item.result ??= await this.finish(item.loaded) ?? null
      if (item.result !== null) kept.push(item)
    }
    this.items = kept
  }
}
/** The value a provider sorts by: the least of its values ascending, the greatest descending. */
function sortKey (values: readonly QueryValue[], descending: boolean): QueryValue | undefined {
  let best: QueryValue | undefined
  for (const v of values) {
    if (best === undefined || (descending ? v > best : v < best)) best = v
  }
  return best
}
