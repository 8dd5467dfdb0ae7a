/**
 * The query language, planner and executor over a snapshot's `providers` and `attrs` trees.
 *
 * ```ts
 * import { openSnapshot, query } from '@capdex/registry'
 *
 * // any helia / interface-blockstore store, or a prolly BlockStore
 * const snapshot = await openSnapshot(cid, helia.blockstore)
 * for await (const r of query(snapshot, 'gpu=H100 gpus>=8 price<=2.5', { sort: 'price', limit: 20 })) {
 *   console.log(r.provider, r.manifest.location.region)
 * }
 * ```
 */

import { prolly } from '@capdex/prolly'
import { blockReader } from '../snapshot/format.js'
import { entryCache, manifestCache, recordCache } from './cache.js'
import { ReadOnlyStoreError } from './errors.js'
import { executeQuery } from './execute.js'
import { parseQuery } from './parse.js'
import type { ExecuteComponents, ExecuteOptions, QueryRun } from './execute.js'
import type { QuerySnapshot } from './plan.js'
import type { SnapshotBlocks } from '../snapshot/format.js'

export { entryCache, manifestCache, recordCache } from './cache.js'
export type { EntryCache, LruCache, LruCacheInit, ManifestCache, RecordCache } from './cache.js'
export * from './constants.js'
export * from './errors.js'
export { executeQuery, parseSort } from './execute.js'
export type { ExecuteComponents, ExecuteOptions, QueryProgressEvents, QueryRejection, QueryResult, QueryRun, QuerySummary, SortSpec } from './execute.js'
export { FIELDS, FIELD_NAMES } from './fields.js'
export type { FieldSpec, QueryField } from './fields.js'
export { fieldValues, globMatch, matchQuery, matchTerm } from './match.js'
export type { FieldValues } from './match.js'
export { formatTerm, parseQuery } from './parse.js'
export type { Query, QueryOp, QueryTerm, QueryValue } from './parse.js'
export { explain, planQuery } from './plan.js'
export type { ExplainRun, Plan, PlanCandidate, PlanComponents, PlanDriver, PlanOptions, PlanStep, QuerySnapshot } from './plan.js'
export { loadEntry, verifyEntry, verifyLoadedEntry } from './verify-entry.js'
export type { CheckedManifest, LoadedEntry, VerifiedEntry, VerifyEntryComponents } from './verify-entry.js'

/** An opened snapshot that carries the store it was opened from: what `openSnapshot(cid, blockstore)` returns. */
export interface QueryableSnapshot extends QuerySnapshot {
  blocks: SnapshotBlocks
}

/**
 * The components queries over one store share: a tree engine (its decoded-node cache) and the
 * verified-record and checked-manifest caches. Held weakly by the store object, so they live as
 * long as the store does and repeated queries, over one snapshot or its successors, run warm.
 */
const ENGINES = new WeakMap<SnapshotBlocks, ExecuteComponents>()

function engineFor (blocks: SnapshotBlocks): ExecuteComponents {
  let engine = ENGINES.get(blocks)
  if (engine === undefined) {
    const reader = blockReader(blocks)
    const store = { get: reader.get, put: async (): Promise<void> => Promise.reject(new ReadOnlyStoreError()) }
    engine = { prolly: prolly({ blocks: store }), blocks: reader, recordCache: recordCache(), manifestCache: manifestCache(), entryCache: entryCache() }
    ENGINES.set(blocks, engine)
  }
  return engine
}

/**
 * Parses, plans and runs `expr` against a snapshot from `openSnapshot(cid, blockstore)`, reading
 * through the store it was opened from (see `executeQuery`). Queries over one store share a tree
 * engine and the record and manifest caches.
 */
export function query (snapshot: QueryableSnapshot, expr: string, options?: ExecuteOptions): QueryRun
/** Parses, plans and runs `expr` with explicit components: a tree engine, a block store and optional caches. */
export function query (components: ExecuteComponents, snapshot: QuerySnapshot, expr: string, options?: ExecuteOptions): QueryRun
export function query (first: QueryableSnapshot | ExecuteComponents, second: QuerySnapshot | string, third?: string | ExecuteOptions, fourth: ExecuteOptions = {}): QueryRun {
  if (typeof second === 'string') {
    const snapshot = first as QueryableSnapshot
    return executeQuery(engineFor(snapshot.blocks), snapshot, parseQuery(second), typeof third === 'object' ? third : {})
  }
  return executeQuery(first as ExecuteComponents, second, parseQuery(typeof third === 'string' ? third : ''), fourth)
}
