/** Snapshots `auditLog` lists when no limit is given. */
export const DEFAULT_LOG_LIMIT = 20

/** Most steps `providerTimeline` follows along a provider's manifest `prev` chain. */
export const DEFAULT_MANIFEST_CHAIN_LIMIT = 1000

/** Problems a verification report lists in full; it counts all of them. */
export const DEFAULT_MAX_REPORTED_PROBLEMS = 100

/** Entries verified concurrently (manifest fetches overlap; signatures are checked one at a time). */
export const DEFAULT_VERIFY_CONCURRENCY = 16
