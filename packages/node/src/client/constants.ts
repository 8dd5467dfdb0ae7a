// ---- datastore keys -----------------------------------------------------------

/** Datastore prefix of the pin set: `/capdex/pins/<snapshot cid>` → JSON `Pin`. */
export const PIN_PREFIX = '/capdex/pins'

/** Datastore prefix of the last trusted head per indexer: `/capdex/trust/<indexer name>` → JSON `{ cid, height, time }`. */
export const TRUST_PREFIX = '/capdex/trust'

/** Datastore prefix of refused heads kept as evidence: `/capdex/evidence/<indexer name>/<cid>` → the signed record. */
export const EVIDENCE_PREFIX = '/capdex/evidence'

/** Datastore key of the indexer used last (the default of `--indexer`). */
export const DEFAULT_INDEXER_KEY = '/capdex/client/indexer'

/** The indexer service's head pointer, relative to the repo directory; gc keeps its snapshot DAG. */
export const INDEXER_HEAD_FILE = 'indexer/head.json'

/** Largest indexer head file gc reads. */
export const MAX_HEAD_FILE_BYTES = 64 * 1024

// ---- snapshot DAG walks ---------------------------------------------------------

/** Blocks fetched at once while walking a snapshot DAG. */
export const DEFAULT_DAG_CONCURRENCY = 16

/**
 * Blocks fetched at once while pinning from the network: enough round trips in flight that a
 * bitswap peer on loopback is busy (16 left pinning latency-bound at about 400 blocks/s).
 */
export const DEFAULT_PIN_CONCURRENCY = 64

/** Most blocks a snapshot DAG walk hands over at once to a caller that takes them in batches (CAR export, import). */
export const DEFAULT_DAG_BATCH = 256

/** Most blocks one snapshot DAG walk visits before it gives up. */
export const DEFAULT_MAX_DAG_BLOCKS = 16_000_000

/** Missing CIDs an `IncompleteSnapshotError` names (it counts them all). */
export const MISSING_SAMPLE_SIZE = 8

/** Newly written blocks made durable per `syncBlocks` call while pinning. */
export const PIN_SYNC_BATCH = 512

// ---- resolve --------------------------------------------------------------------

/** Bound on learning an indexer's head (record requests to peers and waiting on the index topic). */
export const DEFAULT_RESOLVE_TIMEOUT_MS = 10_000

/** A record request that stalls is retried on a fresh stream: at most this many tries per peer within the timeout. */
export const RECORD_ATTEMPTS = 4

/** Shortest time one record request is given. */
export const RECORD_ATTEMPT_MIN_MS = 1000

/** Connected peers asked for the indexer's record at once. */
export const MAX_RESOLVE_PEERS = 32

/** Most `prev` links followed when the history tree cannot prove that a head extends the trusted one. */
export const DEFAULT_MAX_CHAIN_WALK = 100_000

// ---- CAR ------------------------------------------------------------------------

/** Largest CAR `importCar` reads (it holds the whole file until every block checks out). */
export const DEFAULT_MAX_CAR_BYTES = 512 * 1024 * 1024

/** Blocks an import checks for and stores at once (and reports progress for). */
export const CAR_STORE_BATCH = 1024

// ---- gateway ----------------------------------------------------------------------

/** Bound on one trustless-gateway request. */
export const DEFAULT_GATEWAY_TIMEOUT_MS = 30_000

/** Largest CAR response read from a gateway while pinning; the rest is fetched block by block. */
export const DEFAULT_MAX_GATEWAY_CAR_BYTES = 1024 * 1024 * 1024
