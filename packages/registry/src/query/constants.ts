/** Longest query string accepted, in UTF-8 bytes; longer ones are rejected before tokenizing. */
export const MAX_QUERY_BYTES = 4 * 1024

/** Most terms one query may hold. */
export const MAX_QUERY_TERMS = 32

/** Most items one `in [...]` / `notin [...]` list may hold. */
export const MAX_LIST_ITEMS = 256

/** Default size of the verified-record cache (entries, keyed by the sha256 of the record bytes). */
export const DEFAULT_RECORD_CACHE_SIZE = 100_000

/** Default size of the decoded-manifest cache (entries, keyed by manifest CID). */
export const DEFAULT_MANIFEST_CACHE_SIZE = 10_000

/** Allowed values of the `status` field. */
export const STATUS_VALUES: readonly string[] = Object.freeze(['available', 'busy', 'draining', 'offline'])

/**
 * Most distinct values the planner enumerates (one short seek each) to turn a glob the index cannot
 * bound, such as `region~*west*`, into equality ranges over the values that match; past it the
 * executor tests each distinct value as it scans.
 */
export const MAX_ENUMERATED_VALUES = 256

/**
 * Relative costs the planner and executor weigh index work against entry reads with: reading one
 * key of an index range, probing one `attrs` key by point lookup, and loading one candidate that is
 * not cached (its entry by point lookup, the strict entry and manifest decodes, the manifest hash).
 * Measured on the 1,000,000-provider snapshot of `pnpm bench:query`, in memory: about 1, 4 and
 * 100-500 keys' worth; loads are taken at the low end, as caches often hold part of them.
 */
export const COST_KEY = 1
export const COST_PROBE = 4
export const COST_CANDIDATE = 100
