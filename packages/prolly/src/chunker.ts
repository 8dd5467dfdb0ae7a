/**
 * Content-defined chunking, the rule that makes the tree history independent. Each level is cut left to right:
 *
 * 1. before an entry is added, the open chunk is closed if the entry would push the node past `maxNodeBytes`;
 * 2. after an entry is added, the chunk is closed if the entry's key is a boundary at this level: the first four
 *    bytes of sha256(level ‖ key), read big-endian, fall below 2^32 / leafFanout in leaves, 2^32 / targetFanout in
 *    branches.
 *
 * Leaves use their own keys; a branch entry uses its child's first key. Hashing keys only (not values) keeps the
 * shape of the tree fixed when values change, so an update rewrites exactly one path per changed key.
 */

import { HASH_SPACE } from './constants.js'
import { ValueTooLargeError } from './errors.js'
import { SaltedHash32 } from './hash.js'
import { branchEntryBytes, branchNode, entryBytesAt, leafEntryBytes, leafNode, nodeBytes } from './codec.js'
import type { ChildRef, TreeNode } from './codec.js'
import type { Entry, TreeShape } from './index.js'

export class ChunkRules {
  readonly maxNodeBytes: number
  private readonly branchThreshold: number
  private readonly leafThreshold: number
  private readonly hash = new SaltedHash32()

  constructor (shape: Required<TreeShape>, maxNodeBytes: number) {
    this.branchThreshold = Math.floor(HASH_SPACE / shape.targetFanout)
    this.leafThreshold = Math.floor(HASH_SPACE / shape.leafFanout)
    this.maxNodeBytes = maxNodeBytes
  }

  isBoundary (level: number, key: Uint8Array): boolean {
    return this.hash.digest(level, key) < (level === 0 ? this.leafThreshold : this.branchThreshold)
  }

  /** Whether a node already holding `entries` entries of `entryBytes` must close before taking one of `nextBytes`. */
  overflows (level: number, entries: number, entryBytes: number, nextBytes: number): boolean {
    return nodeBytes(level, entries + 1, entryBytes + nextBytes) > this.maxNodeBytes
  }

  /** Rejects an entry that could not fit in a leaf of its own. */
  checkEntry (key: Uint8Array, value: Uint8Array): void {
    if (nodeBytes(0, 1, leafEntryBytes(key, value)) > this.maxNodeBytes) {
      throw new ValueTooLargeError(`An entry with a ${value.length} byte value does not fit in a ${this.maxNodeBytes} byte node`)
    }
  }
}

/** An entry of a level: a leaf entry on level 0, a child reference above. */
export type LevelItem = Entry | ChildRef

/**
 * Cuts one level's stream of entries into nodes; closed nodes queue up until taken. Entries are held as the node's
 * own columns (keys, then values, or links and counts), so re-chunking an old node's entries makes no object per
 * entry and a closed chunk becomes its node as it stands.
 */
export class Chunker {
  private keys: Uint8Array[] = []
  /** leaf values, or branch links */
  private payloads: Uint8Array[] = []
  private counts: number[] = []
  private entryBytes = 0
  private readonly closed: TreeNode[] = []

  constructor (private readonly level: number, private readonly rules: ChunkRules) {}

  /** Entries in the open chunk. */
  get pending (): number {
    return this.keys.length
  }

  /** A new entry: a leaf entry on level 0, a child reference above. */
  push (item: LevelItem): void {
    if (this.level === 0) {
      const { key, value } = item as Entry
      this.add(key, value, 1, leafEntryBytes(key, value), undefined)
    } else {
      const { key, link, count } = item as ChildRef
      this.add(key, link, count, branchEntryBytes(key, count), undefined)
    }
  }

  /**
   * The `index`th entry of an old node on this level. `boundary` may be passed when already known, sparing the hash
   * (mutate knows it for keys that sat inside a node).
   */
  pushFrom (node: TreeNode, index: number, boundary?: boolean): void {
    const payload = node.leaf ? node.values.get(index) : node.links.get(index)
    this.add(node.keys.get(index), payload, node.leaf ? 1 : node.counts[index]!, entryBytesAt(node, index), boundary)
  }

  /** Whether a chunk has closed and waits to be taken. */
  get ready (): boolean {
    return this.closed.length > 0
  }

  /** Closes the open chunk at the end of the level. */
  flush (): void {
    if (this.keys.length > 0) {
      this.close()
    }
  }

  /** The oldest closed chunk, if any, as its node. */
  take (): TreeNode | undefined {
    return this.closed.shift()
  }

  private add (key: Uint8Array, payload: Uint8Array, count: number, bytes: number, boundary: boolean | undefined): void {
    if (this.keys.length > 0 && this.rules.overflows(this.level, this.keys.length, this.entryBytes, bytes)) {
      this.close()
    }
    this.keys.push(key)
    this.payloads.push(payload)
    if (this.level > 0) {
      this.counts.push(count)
    }
    this.entryBytes += bytes
    if (boundary ?? this.rules.isBoundary(this.level, key)) {
      this.close()
    }
  }

  private close (): void {
    this.closed.push(this.level === 0 ? leafNode(this.keys, this.payloads) : branchNode(this.level, this.keys, this.payloads, this.counts))
    this.keys = []
    this.payloads = []
    this.counts = []
    this.entryBytes = 0
  }
}
