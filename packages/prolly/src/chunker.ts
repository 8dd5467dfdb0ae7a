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
import { InvalidNodeError, ValueTooLargeError } from './errors.js'
import { SaltedHash32 } from './hash.js'
import { branchEntryBytes, branchNode, leafEntryBytes, leafNode, nodeBytes } from './codec.js'
import type { ChildRef, TreeNode } from './codec.js'
import type { Entry, TreeShape } from './index.js'
import type { CID } from 'multiformats/cid'

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

/** What the chunker and mutate need to know about the entries of one kind of level. */
export interface ItemKind<T extends { key: Uint8Array }> {
  bytes(item: T): number
  /** the node's entries as items; fails when the node is of the other kind */
  items(node: TreeNode, cid: CID): T[]
  node(level: number, items: readonly T[]): TreeNode
}

export const LEAF_ITEMS: ItemKind<Entry> = {
  bytes: (entry) => leafEntryBytes(entry.key, entry.value),
  items: (node, cid) => {
    if (!node.leaf) {
      throw new InvalidNodeError(cid, 'level', 'expected a leaf')
    }
    return node.keys.map((key, i) => ({ key, value: node.values[i]! }))
  },
  node: (_level, items) => leafNode(items.map((entry) => entry.key), items.map((entry) => entry.value))
}

export const BRANCH_ITEMS: ItemKind<ChildRef> = {
  bytes: (child) => branchEntryBytes(child.key, child.count),
  items: (node, cid) => {
    if (node.leaf) {
      throw new InvalidNodeError(cid, 'level', 'expected a branch')
    }
    return node.keys.map((key, i) => ({ key, link: node.links[i]!, count: node.counts[i]! }))
  },
  node: (level, items) => branchNode(level, items.map((child) => child.key), items.map((child) => child.link), items.map((child) => child.count))
}

/** Cuts one level's stream of items into chunks; closed chunks queue up until taken. */
export class Chunker<T extends { key: Uint8Array }> {
  private items: T[] = []
  private entryBytes = 0
  private readonly closed: T[][] = []

  constructor (private readonly level: number, private readonly rules: ChunkRules, private readonly kind: ItemKind<T>) {}

  /** Items in the open chunk. */
  get pending (): number {
    return this.items.length
  }

  /** `boundary` may be passed when already known, sparing the hash (mutate knows it for keys that sat inside a node). */
  push (item: T, boundary?: boolean): void {
    const bytes = this.kind.bytes(item)
    if (this.items.length > 0 && this.rules.overflows(this.level, this.items.length, this.entryBytes, bytes)) {
      this.close()
    }
    this.items.push(item)
    this.entryBytes += bytes
    if (boundary ?? this.rules.isBoundary(this.level, item.key)) {
      this.close()
    }
  }

  /** Whether a chunk has closed and waits to be taken. */
  get ready (): boolean {
    return this.closed.length > 0
  }

  /** Closes the open chunk at the end of the level. */
  flush (): void {
    if (this.items.length > 0) {
      this.close()
    }
  }

  /** The oldest closed chunk, if any. */
  take (): T[] | undefined {
    return this.closed.shift()
  }

  private close (): void {
    this.closed.push(this.items)
    this.items = []
    this.entryBytes = 0
  }
}
