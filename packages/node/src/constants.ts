// ---- repo -------------------------------------------------------------------

/** Environment variable that overrides the default repo path. */
export const REPO_PATH_ENV = 'CAPDEX_HOME'

/** Name of the default repo directory under the home directory. */
export const DEFAULT_REPO_DIR = '.capdex'

/** Version of the repo layout and `config.json` shape. */
export const REPO_VERSION = 1

export const CONFIG_FILE = 'config.json'
export const LOCK_FILE = 'repo.lock'
export const BLOCKS_DIR = 'blocks'
export const DATASTORE_DIR = 'datastore'

/** Largest `config.json` we read; anything bigger is corrupt. */
export const MAX_CONFIG_BYTES = 1024 * 1024

/** Default network name. */
export const DEFAULT_NETWORK = 'main'

/** Listen addresses written into a new repo's config (the CLI passes them to the node). */
export const DEFAULT_REPO_LISTEN: readonly string[] = ['/ip4/0.0.0.0/tcp/0']

/** Keychain name of the libp2p peer key. */
export const PEER_KEY_NAME = 'self'

/** Keychain name of the provider's IPNS key. */
export const PROVIDER_KEY_NAME = 'provider'

/** Datastore namespace of the keychain, kept apart from helia's own keychain. */
export const KEYCHAIN_NAMESPACE = '/capdex/keychain'

/** Key derivation for the keychain's data encryption key (the @libp2p/keychain defaults); the salt comes from the config. */
export const KEYCHAIN_DEK = { hash: 'sha2-512', iterationCount: 10_000, keyLength: 64 } as const

/** Key names the keychain accepts. */
export const KEY_NAME_PATTERN = /^[A-Za-z0-9._-]{1,100}$/

/** Concurrent fsyncs in `syncBlocks`. */
export const SYNC_CONCURRENCY = 16

// ---- node -------------------------------------------------------------------

/** Listen addresses of a node when none are given. */
export const DEFAULT_LISTEN: readonly string[] = ['/ip4/127.0.0.1/tcp/0']

/** How long `createCapdexNode` waits for each bootstrap dial. */
export const DEFAULT_BOOTSTRAP_DIAL_TIMEOUT_MS = 10_000

/** Largest pubsub message payload (announcements are far smaller). */
export const MAX_PUBSUB_MESSAGE_BYTES = 1024 * 1024

/** Room for the RPC envelope and control messages around one maximal message. */
export const PUBSUB_RPC_OVERHEAD_BYTES = 64 * 1024

/** Largest block `getVerifiedBlock` returns and `putBlock` stores when no cap is given. */
export const MAX_BLOCK_BYTES = 1024 * 1024

/** Room for the bitswap message envelope around one maximal block. */
export const BITSWAP_MESSAGE_OVERHEAD_BYTES = 64 * 1024

/** Default bound on a network block fetch. */
export const DEFAULT_BLOCK_TIMEOUT_MS = 10_000

/** Default bound on `publishAndAwaitPeer` waiting for a subscriber. */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000

/** Gossipsub peer score thresholds for the capdex topics. */
export const SCORE_THRESHOLDS = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 5
} as const

/**
 * Weight of invalid message deliveries (squared) in a capdex topic's score: one Reject costs
 * -100, below the graylist threshold, so the peer's RPCs are ignored until the counter decays.
 */
export const INVALID_MESSAGE_WEIGHT = -100

/**
 * Per-second decay of the invalid-delivery counter: it falls to 1% in an hour. One Reject is
 * forgiven after about 90 s, three after about 16 min.
 */
export const INVALID_MESSAGE_DECAY = Math.pow(0.01, 1 / 3600)

/** Gossipsub heartbeat: mesh maintenance, gossip, score decay (and how long a score is cached). */
export const GOSSIPSUB_HEARTBEAT_INTERVAL_MS = 1000

/**
 * How long gossipsub keeps the score of a disconnected peer that is not positive (it does not
 * decay meanwhile). A graylisted peer is hung up on and refused by the connection gater for as
 * long, then starts again from zero.
 */
export const GRAYLIST_RETAIN_SCORE_MS = 10 * 60 * 1000

/** Validation work per peer: bucket size (messages). */
export const DEFAULT_VALIDATION_BURST = 32

/** Validation work per peer: refill rate (messages per second). */
export const DEFAULT_VALIDATION_RATE = 4

/** Peers tracked by the validation budget before idle buckets are dropped. */
export const MAX_BUDGET_PEERS = 10_000

// ---- IPNS records over libp2p -------------------------------------------------

/** Request/response protocol that serves stored IPNS records. */
export const IPNS_RECORD_PROTOCOL = '/capdex/ipns-record/1.0.0'

/** Datastore prefix of stored records: `/capdex/ipns/<name>`. */
export const IPNS_RECORD_PREFIX = '/capdex/ipns'

/** Largest request (an IPNS name). */
export const MAX_RECORD_REQUEST_BYTES = 256

/** Default bound on one record request, both sides. */
export const DEFAULT_RECORD_TIMEOUT_MS = 10_000

/** Concurrent inbound record streams per connection. */
export const RECORD_MAX_INBOUND_STREAMS = 8

export const RECORD_STATUS_FOUND = 0
export const RECORD_STATUS_NOT_FOUND = 1

// ---- provider -----------------------------------------------------------------

/** Heartbeat interval of `watch`. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 3 * 60 * 1000

/** Record lifetime (the liveness lease). */
export const DEFAULT_LEASE_MS = 10 * 60 * 1000

/** Bound on fetching an announced manifest over bitswap. */
export const DEFAULT_MANIFEST_FETCH_TIMEOUT_MS = 10_000

/** Validation budget units a manifest fetch over bitswap costs the relaying peer. */
export const DEFAULT_MANIFEST_FETCH_COST = 4

/** Records remembered by an announcement listener for cheap stale checks. */
export const MAX_KNOWN_RECORDS = 100_000

/** Loopback peers are local processes: they skip the per-host inbound connection rate limit. */
export const DEFAULT_CONNECTION_ALLOW_LIST: readonly string[] = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128']

/** Records a node's record store keeps after writing them, so replacing one need not re-verify it. */
export const WRITTEN_RECORDS_KEPT = 16384
