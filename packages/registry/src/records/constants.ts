/** Records larger than this are rejected before parsing (IPNS spec: 10 KiB). */
export const RECORD_MAX_SIZE = 10 * 1024

/** Announcements larger than this are rejected before decoding. */
export const ANNOUNCEMENT_MAX_SIZE = 1024 * 1024

/** A manifest this size or smaller travels inside the announcement. */
export const ANNOUNCEMENT_INLINE_MANIFEST_MAX = 16 * 1024

/** The largest manifest an announcement may carry (the manifest format's own cap). */
export const ANNOUNCEMENT_MANIFEST_MAX_SIZE = 64 * 1024

/** Default record TTL: 5 minutes, as the IPNS spec suggests. */
export const DEFAULT_RECORD_TTL_NS = 300_000_000_000n

/** How many names a verifier keeps parsed keys for. */
export const DEFAULT_KEY_CACHE_SIZE = 16384

/** Longest network name accepted in topic names. */
export const NETWORK_NAME_MAX_LENGTH = 64

/** The multicodec of a libp2p public key CID (an IPNS name). */
export const LIBP2P_KEY_CODEC = 0x72

/** The multicodec of DAG-JSON, the manifest codec. */
export const DAG_JSON_CODEC = 0x0129

/** The multihash codes a name may use. */
export const IDENTITY_HASH_CODE = 0x00
export const SHA2_256_HASH_CODE = 0x12

/** libp2p key types, as numbered in the PublicKey protobuf. */
export const KEY_TYPE_NAMES: readonly string[] = ['RSA', 'Ed25519', 'secp256k1', 'ECDSA']

/** Length of an Ed25519 public key. */
export const ED25519_PUBLIC_KEY_LENGTH = 32

/** Length of an Ed25519 signature. */
export const ED25519_SIGNATURE_LENGTH = 64

/** The bytes of an Ed25519 name: identity multihash of the protobuf key (2 + 4 + 32). */
export const NAME_BYTES_LENGTH = 38

/** Prefix of the V2 signature payload. */
export const SIGNATURE_V2_PREFIX = 'ipns-signature:'

/** Validity type EOL, the only one the spec (and we) support. */
export const VALIDITY_TYPE_EOL = 0
