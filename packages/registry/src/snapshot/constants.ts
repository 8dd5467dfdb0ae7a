/** Snapshot format version. */
export const SNAPSHOT_VERSION = 1

/** Largest snapshot block `decodeSnapshot` accepts. */
export const MAX_SNAPSHOT_BYTES = 4096

/** Key family byte of the history tree: `h ‖ height(u64 BE)` → `{ cid, time }`. */
export const HISTORY_HEIGHT_PREFIX = 0x68

/** Key family byte of the history tree: `t ‖ time ms(u64 BE) ‖ height(u64 BE)` → `{ cid, height }`. */
export const HISTORY_TIME_PREFIX = 0x74

/** Largest history-tree value accepted. */
export const MAX_HISTORY_VALUE_BYTES = 256

/**
 * How long after its lease ended an entry stays in the live trees (flagged expired) before a fold
 * prunes it: 24 hours.
 */
export const DEFAULT_PRUNE_AFTER_MS = 24 * 60 * 60 * 1000

/**
 * Decoded tree nodes a fold asks the tree engine's cache to make room for, per provider it updates: the leaf and
 * branches its lookup loads, and the attribute leaves its mutation reads. With only the default cache, a fold of
 * 5,000 at 1,000,000 providers fetched, hashed and decoded most of its nodes twice.
 */
export const FOLD_CACHED_NODES_PER_PROVIDER = 3
