/** Separator between the parts of an attribute-index key: `attr ‖ 0x00 ‖ value ‖ 0x00 ‖ provider`. */
export const ATTR_SEPARATOR = 0x00

/** Escape byte of the string encoding: 0x00 → 0x01 0x01, 0x01 → 0x01 0x02. */
export const STRING_ESCAPE = 0x01

/** Width of an encoded number: an order-preserving IEEE-754 float64, big-endian. */
export const NUMBER_BYTES = 8

/** The one currency the `price` attribute is computed in. */
export const PRICE_CURRENCY = 'USD'

/** Largest providers-tree entry value accepted by `decodeEntry` (a 10 KiB record plus a CID and an int). */
export const MAX_ENTRY_BYTES = 16 * 1024

/** MiB in one GiB, for `vram` and `mem`. */
export const MIB_PER_GIB = 1024

/** Width of one uptime bucket: 10 minutes. */
export const UPTIME_BUCKET_MS = 10 * 60 * 1000

/** The uptime window in buckets: 30 days. */
export const UPTIME_WINDOW_BUCKETS = 30 * 24 * 6

/** The uptime window in ms: 30 days. */
export const UPTIME_WINDOW_MS = UPTIME_WINDOW_BUCKETS * UPTIME_BUCKET_MS

/**
 * The most of one record's lease that counts towards uptime: the protocol's default lease,
 * 10 minutes, before its EOL (records carry no start time).
 */
export const UPTIME_LEASE_CREDIT_MS = 10 * 60 * 1000

/** The indexed uptime is rounded down to a multiple of 1 / UPTIME_STEPS (0.01). */
export const UPTIME_STEPS = 100
