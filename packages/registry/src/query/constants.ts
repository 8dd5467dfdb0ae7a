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
 * The planner drives a scan from the `attrs` index only when the chosen range holds at most this
 * fraction of all providers; past it, a sequential scan of the `providers` tree reads fewer blocks
 * than one point lookup per candidate.
 */
export const INDEX_DRIVER_MAX_FRACTION = 0.25
