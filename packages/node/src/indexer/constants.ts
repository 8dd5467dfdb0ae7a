/** Keychain name of the indexer's IPNS key. */
export const INDEXER_KEY_NAME = 'indexer'

/** Directory under the repo that holds the head pointer, the head log and the journal. */
export const INDEXER_DIR = 'indexer'

/** The head pointer: `{ v, cid, height, previous }`, replaced atomically. */
export const HEAD_FILE = 'head.json'

/** Append-only log of durable heads, one `<height> <cid>` line each, fsynced. */
export const HEAD_LOG_FILE = 'heads.log'

/** Lines kept when the head log is compacted. */
export const HEAD_LOG_KEEP = 64

/** The head log is compacted once it holds this many lines. */
export const HEAD_LOG_MAX_LINES = 1024

/** Largest head pointer or head log read at start. */
export const MAX_HEAD_FILE_BYTES = 64 * 1024

/** Directory (under INDEXER_DIR) of the journal segments. */
export const JOURNAL_DIR = 'journal'

/** Journal segment file name suffix; names are a zero-padded segment number. */
export const JOURNAL_SEGMENT_SUFFIX = '.log'

/** A segment stops taking appends past this size, so folded segments can be deleted. */
export const JOURNAL_SEGMENT_MAX_BYTES = 8 * 1024 * 1024

/** Bytes before each journal entry: u32 BE payload length, u32 BE CRC-32 of the payload. */
export const JOURNAL_ENTRY_HEADER_BYTES = 8

/** Largest journal entry payload: a record (10 KiB) and a manifest (64 KiB) with room to spare. */
export const JOURNAL_MAX_ENTRY_BYTES = 128 * 1024

/** How long a fold batch collects updates before it folds. */
export const DEFAULT_BATCH_MS = 250

/**
 * Longest a batch whose window has closed waits for announcements still being verified (see `foldDelay`). The wait is
 * also at most the last fold's duration, so it reaches this only where folds are slow (a large index under a
 * backlog), and there the next fold would hold the same updates back about as long.
 */
export const CATCH_UP_MAX_MS = 2000

/** A batch folds as soon as it holds this many updates: the cap of a small index, and the least the cap grows from. */
export const DEFAULT_BATCH_MAX = 5000

/**
 * Share of the index's providers a batch may hold before it folds at once. A fold rewrites each changed leaf and
 * every branch above one: where a batch is small against the number of level-1 branches (about 16,000 in the two
 * trees of 1,000,000 providers), each update pays for branches of its own, and 5,000 updates there cost 2.25 blocks
 * written each; 20,000 share them and cost 1.55 (`bench:fold`). So the cap scales with the index.
 */
export const BATCH_SHARE = 0.02

/** Largest cap the share gives (a fold holds its batch, and the cache it reserves, in memory). */
export const BATCH_MAX_LIMIT = 50_000

/** Clock-skew tolerance: how far a provider's clock may differ from the indexer's. */
export const DEFAULT_CLOCK_SKEW_MS = 5 * 60 * 1000

/** Lifetime of the indexer's IPNS record. */
export const DEFAULT_INDEXER_RECORD_LIFETIME_MS = 24 * 60 * 60 * 1000

/** How often the IPNS record of an unchanged head is re-signed (seq+1) and re-announced. */
export const DEFAULT_REPUBLISH_INTERVAL_MS = 60 * 60 * 1000

/** Bound on fetching a missing or corrupt block of the index from peers (repairs). */
export const DEFAULT_REPAIR_TIMEOUT_MS = 10_000

/** Block writes a fold keeps running at once behind it (each a few calls on libuv's pool of 4 threads). */
export const WRITE_BEHIND_CONCURRENCY = 16

/** First delay before a failed fold is retried; it doubles on each failure. */
export const FOLD_RETRY_MIN_MS = 500

/** Longest delay between retries of a failing fold. */
export const FOLD_RETRY_MAX_MS = 30_000

/** At start, the head's trees are fully verified when it holds at most this many providers; larger heads get their root blocks checked. */
export const VERIFY_HEAD_MAX_PROVIDERS = 5_000

/**
 * Accepted updates held in memory before new ones are dropped (counted as ignored, reason
 * `backlog`); providers re-announce with their next heartbeat.
 */
export const DEFAULT_MAX_PENDING = 100_000

/**
 * Per-peer validation budget for an indexer's node: many providers may sit behind one relaying
 * peer (a simulation, a NAT), so it is far larger than a plain node's, and still finite.
 */
export const INDEXER_VALIDATION_BUDGET = Object.freeze({ burst: 4096, ratePerSecond: 1024 })

/** Buckets (seconds) of the `capdex_fold_seconds` histogram. */
export const FOLD_SECONDS_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** Relaying peers whose gossipsub score `metrics()` reports (the most recent ones). */
export const MAX_SCORED_PEERS = 64

/** Records the indexer verified, kept so fold need not check their signatures again when it replaces them. */
export const VERIFIED_RECORD_CACHE_SIZE = 200_000
