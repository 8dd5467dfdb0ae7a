/** Longest key accepted, in bytes. */
export const MAX_KEY_BYTES = 4096

/** Default average number of entries per node. */
export const DEFAULT_TARGET_FANOUT = 32

/** Default hard bound on a node's encoded size. */
export const DEFAULT_MAX_NODE_BYTES = 65_536

/** Default number of decoded nodes kept in memory. */
export const DEFAULT_CACHE_SIZE = 4096

/** By default every block read from the store is re-hashed against its CID. */
export const DEFAULT_VERIFY_BLOCKS = true

/** Smallest fan-out that still makes every level shrink. */
export const MIN_TARGET_FANOUT = 2

/** Largest fan-out: the boundary threshold must stay a positive 32-bit number. */
export const MAX_TARGET_FANOUT = 65_536

/** Smallest allowed node bound: room for three branch entries with maximal keys, so forced splits always shrink a level. */
export const MIN_NODE_BYTES = 16_384

/** Largest allowed node bound, well inside the 2 MiB block limit of bitswap. */
export const MAX_NODE_BYTES_LIMIT = 1_048_576

/** Deepest level a decoded node may claim; real trees stay far below (fan-out 2 reaches it at 2^64 entries). */
export const MAX_LEVEL = 64

/** Largest subtree count that round-trips through a JavaScript number. */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER

/** Multicodec code of DAG-CBOR, the codec of every node. */
export const DAG_CBOR_CODE = 0x71

/** Multihash code of sha2-256, the hash of every node. */
export const SHA2_256_CODE = 0x12

/** Digest length of sha2-256. */
export const SHA2_256_BYTES = 32

/** Encoded size of a node link: tag 42, a 2-byte head, the 0x00 prefix and a 36-byte CIDv1. */
export const LINK_BYTES = 41

/** Boundary hashes are read as unsigned 32-bit numbers. */
export const HASH_SPACE = 0x1_0000_0000

/**
 * Leaves a range read keeps in the decoded-node cache. Past these it is a scan: its leaves are read without being
 * cached, so one long scan neither evicts the working set of point reads nor keeps thousands of nodes alive.
 */
export const SCAN_CACHED_LEAVES = 4
