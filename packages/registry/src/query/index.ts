/**
 * The query language, planner and executor over a snapshot's `providers` and `attrs` trees.
 *
 * ```ts
 * import { openSnapshot, query } from '@capdex/registry'
 * import { prolly } from '@capdex/prolly'
 *
 * const opened = await openSnapshot(cid, blocks)
 * for await (const r of query({ prolly: prolly({ blocks }), blocks }, opened, 'gpu=H100 gpus>=8 price<=2.5', { sort: 'price', limit: 20 })) {
 *   console.log(r.provider, r.manifest.location.region)
 * }
 * ```
 */

import { executeQuery } from './execute.js'
import { parseQuery } from './parse.js'
import type { ExecuteComponents, ExecuteOptions, QueryRun } from './execute.js'
import type { QuerySnapshot } from './plan.js'

export { manifestCache, recordCache } from './cache.js'
export type { LruCache, LruCacheInit, ManifestCache, RecordCache } from './cache.js'
export * from './constants.js'
export * from './errors.js'
export { executeQuery, parseSort } from './execute.js'
export type { ExecuteComponents, ExecuteOptions, QueryProgressEvents, QueryRejection, QueryResult, QueryRun, QuerySummary, SortSpec } from './execute.js'
export { FIELDS, FIELD_NAMES } from './fields.js'
export type { FieldSpec, QueryField } from './fields.js'
export { globMatch } from './match.js'
export { formatTerm, parseQuery } from './parse.js'
export type { Query, QueryOp, QueryTerm, QueryValue } from './parse.js'
export { explain, planQuery } from './plan.js'
export type { Plan, PlanCandidate, PlanComponents, PlanDriver, PlanOptions, QuerySnapshot } from './plan.js'
export { loadEntry, verifyEntry, verifyLoadedEntry } from './verify-entry.js'
export type { CheckedManifest, LoadedEntry, VerifiedEntry, VerifyEntryComponents } from './verify-entry.js'

/** Parses, plans and runs `expr` against an opened snapshot (see `executeQuery`). */
export function query (components: ExecuteComponents, snapshot: QuerySnapshot, expr: string, options: ExecuteOptions = {}): QueryRun {
  return executeQuery(components, snapshot, parseQuery(expr), options)
}
