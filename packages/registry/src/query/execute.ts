import { CustomProgressEvent } from 'progress-events'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { decodeAttrKey } from '../entries/attrs.js'
import { nameToBytes } from '../records/index.js'
import { ForgedEntryError, InvalidQueryOptionError } from './errors.js'
import { FIELDS, FIELD_NAMES } from './fields.js'
import { matchQuery } from './match.js'
import { planQuery } from './plan.js'
import { loadEntry, verifyLoadedEntry } from './verify-entry.js'
import type { RejectReason } from './errors.js'
import type { QueryField } from './fields.js'
import type { FieldValues } from './match.js'
import type { Query, QueryValue } from './parse.js'
import type { Plan, PlanComponents, PlanOptions, QuerySnapshot } from './plan.js'
import type { VerifyEntryComponents } from './verify-entry.js'
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
  /** matching candidates left out because their record expired */
  expired: number
  /** prolly blocks read from the store while executing (not planning) */
  blocksRead: number
  /** prolly node lookups served from its cache while executing */
  cacheHits: number
}

export interface SortSpec {
  field: QueryField
  descending: boolean
}

export type QueryProgressEvents =
  | ProgressEvent<'registry:query:plan', Plan>
  | ProgressEvent<'registry:query:rejected', QueryRejection>
  | ProgressEvent<'registry:query:done', QuerySummary>

export interface ExecuteOptions extends PlanOptions, ProgressOptions<QueryProgressEvents> {
  /** a field to order by, `price` ascending or `price-` descending; multi-valued fields sort by their min (asc) or max (desc) */
  sort?: SortSpec | string
  /** most results to return */
  limit?: number
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
 * Runs a query (planning it first when given a `Query`): enumerates candidates from the plan's
 * driver in provider-key order, loads and checks each manifest, evaluates every term on it, then
 * verifies the record of each match. Forged entries are reported and never returned; expired ones
 * are left out unless `includeExpired`. With `sort`, results are collected (at most `2 × limit`
 * at a time) and sorted; without it they stream.
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
  return { scanned: 0, matched: 0, rejected: 0, expired: 0, blocksRead: 0, cacheHits: 0 }
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
  const sorter = sort === undefined ? undefined : new TopK(sort, limit)
  try {
    for await (const candidate of candidates(prolly, plan, abort)) {
      options.signal?.throwIfAborted()
      summary.scanned++
      const value = candidate.value ?? await prolly.get(plan.snapshot.snapshot.providers, candidate.key, abort)
      let result: QueryResult
      let fields: FieldValues
      try {
        if (value === undefined) {
          if (plan.driver.kind === 'provider-point') continue
          throw new ForgedEntryError(toString(candidate.key, 'base16'), 'missing-entry', 'the attrs index names a provider the providers tree lacks')
        }
        const loaded = await loadEntry(components, candidate.key, value, abort)
        fields = loaded.fields
        if (!matchQuery(plan.query, fields)) continue
        const verified = await verifyLoadedEntry(components, loaded, abort)
        const expired = verified.record.validity.getTime() <= plan.now
        if (expired && !plan.includeExpired) {
          summary.expired++
          continue
        }
        result = { provider: verified.provider, manifest: verified.manifest, manifestCid: verified.manifestCid, record: verified.record, expired }
      } catch (err) {
        if (!isForged(err)) throw err
        summary.rejected++
        const rejection: QueryRejection = { provider: err.provider, reason: err.reason, message: err.message }
        options.onRejected?.(rejection)
        options.onProgress?.(new CustomProgressEvent('registry:query:rejected', rejection))
        continue
      }
      if (sorter !== undefined) {
        sorter.push(result, fields)
        continue
      }
      summary.matched++
      yield result
      if (summary.matched >= limit) break
    }
    for (const result of sorter?.results() ?? []) {
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
async function * candidates (prolly: ExecuteComponents['prolly'], plan: Plan, abort: AbortOptions): AsyncGenerator<Candidate> {
  const driver = plan.driver
  if (driver.kind === 'full-scan') {
    yield * prolly.range(plan.snapshot.snapshot.providers, abort)
    return
  }
  // hex of a fixed-length key sorts as the bytes do
  const keys = new Set<string>()
  if (driver.kind === 'provider-point') {
    for (const name of driver.providers) keys.add(toString(nameToBytes(name), 'base16'))
  } else {
    for (const range of driver.ranges) {
      for await (const { key } of prolly.range(plan.snapshot.snapshot.attrs, { gte: range.gte, lt: range.lt, ...abort })) {
        keys.add(toString(decodeAttrKey(key).providerKey, 'base16'))
      }
    }
  }
  for (const hex of [...keys].sort()) {
    yield { key: fromString(hex, 'base16') }
  }
}

/** Collects results for one sort order, keeping the best `limit` (in batches of up to `2 × limit`). */
class TopK {
  private readonly spec: SortSpec
  private readonly limit: number
  private items: Array<{ result: QueryResult, key: QueryValue | undefined }> = []

  constructor (spec: SortSpec, limit: number) {
    this.spec = spec
    this.limit = limit
  }

  push (result: QueryResult, fields: FieldValues): void {
    this.items.push({ result, key: sortKey(fields.get(this.spec.field) ?? [], this.spec.descending) })
    if (this.items.length >= 2 * this.limit) this.trim()
  }

  results (): QueryResult[] {
    this.trim()
    return this.items.map((i) => i.result)
  }

  private trim (): void {
    const sign = this.spec.descending ? -1 : 1
    // Array#sort is stable, so ties keep provider-key order; absent values sort last either way.
    this.items.sort((a, b) => {
      if (a.key === undefined || b.key === undefined) return (a.key === undefined ? 1 : 0) - (b.key === undefined ? 1 : 0)
      return a.key < b.key ? -sign : a.key > b.key ? sign : 0
    })
    if (this.items.length > this.limit) this.items = this.items.slice(0, this.limit)
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
