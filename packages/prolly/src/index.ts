/**
 * @packageDocumentation
 *
 * History-independent prolly trees (content-defined, hash-threshold chunked B-trees) over any block store.
 * The same set of entries always gives the same root CID, whatever the order of insertion,
 * so two writers holding the same entries can compare roots to detect omissions.
 * Nodes are DAG-CBOR blocks hashed with sha2-256; internal nodes carry subtree counts, so range
 * cardinalities cost O(log n) blocks. The package is pure: a block store goes in, nothing touches the network.
 *
 * @example
 *
 * ```ts
 * import { prolly, memoryBlockStore } from '@capdex/prolly'
 *
 * const tree = prolly({ blocks: memoryBlockStore() })
 * const root = await tree.build(sortedEntries)
 * const { root: next } = await tree.mutate(root, [{ op: 'put', key, value }])
 * for await (const change of tree.diff(root, next)) { ... }
 * ```
 *
 * ## Node format
 *
 * Every node is a DAG-CBOR list (CIDv1, codec dag-cbor, sha2-256):
 *
 * - leaf: `[0, [key, ...], [value, ...]]`
 * - branch: `[level, [firstKey, ...], [child CID, ...], [child entry count, ...]]`
 *
 * Keys are byte strings of at most 4 KiB, strictly ascending, compared bytewise. `firstKey` is the smallest key
 * under the child. A branch at `level` links nodes at `level - 1`; leaves are level 0. The root of the empty tree
 * is the leaf `[0, [], []]`. Only the canonical encoding is accepted when reading.
 *
 * ## Chunking
 *
 * In the spirit of the IPLD Prolly Tree specification's hash-threshold strategy, each level is cut left to right:
 * a node closes after an entry whose key is a boundary (the first 4 bytes of sha256(level byte ‖ key), big-endian,
 * are below 2^32 / `targetFanout`, or / `leafFanout` in leaves), and closes early, before an entry, when that
 * entry would push the node's encoded size past `maxNodeBytes`. Leaves hash their own keys; branches hash each
 * child's first key. The root is the single node of the first level that has only one. Boundaries depend on keys, not values: a value change
 * never moves a boundary (unless it crosses the size bound), so an update rewrites one path per changed key.
 * The shape (`targetFanout`, `leafFanout`) and `maxNodeBytes` are part of a tree's identity: writers that must agree
 * on roots must agree on them.
 *
 * ## Trust
 *
 * Every block read from the store is hashed and checked against its CID (unless `verifyBlocks` is off); nodes are
 * decoded strictly and over-size blocks are refused before decoding. `verify` additionally checks levels, counts,
 * global order and that every chunk boundary is the canonical one, so a tree that a buggy or hostile writer
 * produced fails. `mutate` trusts its input tree to be canonical (as `build` and `mutate` make them): on a tree
 * that is not, its result is not either, and `verify` says so. Errors are named classes (see `errors.ts`) that name
 * the CID. Bytes returned by `get`, `range` and `diff` may be shared with the cache: treat them as read-only.
 *
 * ## Costs
 *
 * A point read touches one node per level; warm reads come from the decoded-node cache without a store round trip.
 * A range read caches its first few leaves and then reads as a scan, leaving the cache to point reads. An update
 * rewrites one node per level on the path to each changed key; inserts and deletes re-chunk only until the new
 * boundaries meet the old ones again.
 */

import type { CID } from 'multiformats/cid'
import type { ProgressOptions, ProgressEvent } from 'progress-events'
import { createProlly } from './prolly.js'

export interface AbortOptions {
  signal?: AbortSignal
}

/** The small block-store contract the tree needs. Any helia blockstore fits through `fromHeliaBlockstore`. */
export interface BlockStore {
  get(cid: CID, options?: AbortOptions): Promise<Uint8Array>
  put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void>
  has?(cid: CID, options?: AbortOptions): Promise<boolean>
}

export interface Entry {
  key: Uint8Array
  value: Uint8Array
}

export type Operation =
  | { op: 'put', key: Uint8Array, value: Uint8Array }
  | { op: 'delete', key: Uint8Array }

export interface MutateResult {
  root: CID
  /** blocks newly written by this mutation */
  written: number
}

export interface RangeOptions extends AbortOptions {
  /** inclusive lower bound */
  gte?: Uint8Array
  /** exclusive upper bound */
  lt?: Uint8Array
  reverse?: boolean
  limit?: number
}

export interface CountRange extends AbortOptions {
  gte?: Uint8Array
  lt?: Uint8Array
}

export interface DiffEntry {
  key: Uint8Array
  /** the value in the first tree, absent when the key was added */
  before?: Uint8Array
  /** the value in the second tree, absent when the key was removed */
  after?: Uint8Array
}

export interface WalkedBlock {
  cid: CID
  bytes: Uint8Array
  /** 0 for leaves */
  level: number
}

export type ProllyProgressEvents =
  | ProgressEvent<'prolly:build:chunk', { entries: number, blocks: number }>
  | ProgressEvent<'prolly:verify:block', { cid: CID, blocks: number }>
  | ProgressEvent<'prolly:mutate:level', { level: number, nodes: number }>

export interface ProllyOptions extends AbortOptions, ProgressOptions<ProllyProgressEvents> {}

/** Counts of block reads, for query plans (`--explain`) and benchmarks. */
export interface ProllyStats {
  /** blocks fetched from the store (cache misses) */
  blocksRead: number
  /** node lookups served by the decoded-node cache */
  cacheHits: number
  blocksWritten: number
}

export interface Prolly {
  /**
   * Builds a tree from entries sorted strictly ascending by key, streaming: memory stays O(depth × node size).
   * Keys and values are kept by reference (in cached nodes): do not modify them afterwards. Same for `mutate`.
   */
  build(sortedEntries: Iterable<Entry> | AsyncIterable<Entry>, options?: ProllyOptions): Promise<CID>
  /** The root of the tree that holds no entries. */
  empty(options?: AbortOptions): Promise<CID>
  /** Applies a batch of puts and deletes; touches only the paths to changed keys. */
  mutate(root: CID, batch: Iterable<Operation>, options?: ProllyOptions): Promise<MutateResult>
  get(root: CID, key: Uint8Array, options?: AbortOptions): Promise<Uint8Array | undefined>
  range(root: CID, options?: RangeOptions): AsyncIterable<Entry>
  prefix(root: CID, prefix: Uint8Array, options?: Omit<RangeOptions, 'gte' | 'lt'>): AsyncIterable<Entry>
  /** Number of entries in [gte, lt), in O(log n) blocks from the subtree counts. */
  count(root: CID, range?: CountRange): Promise<number>
  /** Differences from `a` to `b`, visiting only subtrees whose CIDs differ. Sorted by key. */
  diff(a: CID, b: CID, options?: AbortOptions): AsyncIterable<DiffEntry>
  /** Every block of the tree, each once, for pinning and export. */
  walk(root: CID, options?: AbortOptions): AsyncIterable<WalkedBlock>
  /** Re-hashes every block and checks every invariant; throws a named error on the first failure. */
  verify(root: CID, options?: ProllyOptions): Promise<{ blocks: number, entries: number, depth: number }>
  /** Depth of the tree (1 for a single leaf). */
  depth(root: CID, options?: AbortOptions): Promise<number>
  /**
   * Lets the decoded-node cache hold `nodes` more nodes until the returned function is called; the cache then
   * shrinks back to its size, evicting as usual. For a caller that reads a working set larger than the cache and
   * then mutates it (a registry fold looks up every key of a batch first), so the mutation finds those nodes cached
   * instead of fetching, hashing and decoding them again, without keeping a large cache between batches.
   */
  reserveCache(nodes: number): () => void
  /**
   * An engine that builds, mutates and verifies trees of another shape, over the same store, decoded-node cache and
   * stats, so one engine can serve trees of several shapes (a registry's providers and attribute trees).
   */
  withShape(shape: TreeShape): Prolly
  readonly stats: ProllyStats
  resetStats(): void
}

export interface ProllyComponents {
  blocks: BlockStore
}

/**
 * How a tree is cut into nodes. Part of a tree's identity: writers that must agree on roots must agree on it, and
 * `verify` checks a tree against it. Reads (`get`, `range`, `diff`, `count`, `walk`) work on a tree of any shape.
 */
export interface TreeShape {
  /**
   * Target average number of entries per node: a boundary falls after an entry whose hash is below 2^32 / fanout.
   *
   * @default 32
   */
  targetFanout?: number
  /**
   * Target average number of entries per leaf, when leaves should differ from branches. A tree of large values
   * wants smaller leaves: an update rewrites and re-hashes its whole leaf, while a branch entry is a key and a link.
   *
   * @default targetFanout
   */
  leafFanout?: number
}

export interface ProllyInit extends TreeShape {
  /**
   * Hard maximum encoded node size in bytes; a chunk is forced closed before it grows past this.
   *
   * @default 65536
   */
  maxNodeBytes?: number
  /**
   * Decoded nodes kept in memory for read-heavy use.
   *
   * @default 4096
   */
  cacheSize?: number
  /**
   * Re-hash every block read from the store and reject one that does not match its CID (InvalidBlockError).
   * `verify` and `walk` always re-hash. Turning this off saves a sha2-256 per block read, for a store that already
   * guarantees it (helia checks blocks as they arrive from the network).
   *
   * @default true
   */
  verifyBlocks?: boolean
}

export { memoryBlockStore, fromHeliaBlockstore } from './blockstores.js'
export type { HeliaBlockstore } from './blockstores.js'
export { MAX_KEY_BYTES, DEFAULT_TARGET_FANOUT, DEFAULT_MAX_NODE_BYTES, DEFAULT_CACHE_SIZE, MIN_NODE_BYTES, MAX_NODE_BYTES_LIMIT } from './constants.js'
export * from './errors.js'
/** Canonical DAG-CBOR primitives of the node codec, for other specialised codecs (provider entries). */
export * as cbor from './cbor.js'

/**
 * Creates a tree engine over a block store. The engine holds no root: every call takes the root CID to work on,
 * so one engine serves any number of trees and snapshots sharing the store and the decoded-node cache.
 */
export function prolly (components: ProllyComponents, init: ProllyInit = {}): Prolly {
  return createProlly(components, init)
}
