import { InvalidNodeError } from './errors.js'
import { childIndex } from './keys.js'
import { linkCid } from './codec.js'
import type { BranchNode, LeafNode, Link, TreeNode } from './codec.js'
import type { AbortOptions } from './index.js'
import type { NodeStore } from './store.js'

interface Frame {
  node: BranchNode
  /** the child descended into */
  index: number
}

/** Where to land when seeking: the node holding a key, or the first or last node of the level. */
export type SeekTarget = Uint8Array | 'first' | 'last'

/**
 * A position on one level of a tree: the path from the root down to a node at that level. Moving sideways climbs
 * only as far as the nearest ancestor with a sibling in that direction, so a sequential walk loads each node once.
 */
export class Cursor {
  /** whether leaves reached by moving sideways go into the decoded-node cache */
  cacheLeaves = true
  private path: Frame[] = []
  private current: TreeNode
  private currentLink: Link

  constructor (private readonly store: NodeStore, private readonly rootLink: Link, private readonly root: TreeNode, private readonly options: AbortOptions = {}) {
    this.current = root
    this.currentLink = rootLink
  }

  get node (): TreeNode {
    return this.current
  }

  get link (): Link {
    return this.currentLink
  }

  /** Moves to the node at `level` whose key range holds `target` (or to the level's first or last node). */
  async seek (target: SeekTarget, level: number): Promise<TreeNode> {
    this.path = []
    let node = this.root
    let link = this.rootLink
    while (!node.leaf && node.level > level) {
      const index = target === 'first' ? 0 : target === 'last' ? node.links.length - 1 : childIndex(node.keys, target)
      this.path.push({ node, index })
      link = node.links.get(index)
      node = this.store.cachedChild(node, index) ?? await this.store.child(node, index, this.options)
    }
    this.current = node
    this.currentLink = link
    return node
  }

  /** Seeks on the leaf level. */
  async seekLeaf (target: SeekTarget): Promise<LeafNode> {
    return this.asLeaf(await this.seek(target, 0))
  }

  /** First key of the next node on this level, read from an ancestor without loading the node. */
  nextKey (): Uint8Array | undefined {
    for (let depth = this.path.length - 1; depth >= 0; depth--) {
      const frame = this.path[depth]!
      if (frame.index + 1 < frame.node.keys.length) {
        return frame.node.keys.get(frame.index + 1)
      }
    }
    return undefined
  }

  async next (): Promise<TreeNode | undefined> {
    return this.step(1)
  }

  async previous (): Promise<TreeNode | undefined> {
    return this.step(-1)
  }

  async nextLeaf (): Promise<LeafNode | undefined> {
    const node = await this.step(1)
    return node === undefined ? undefined : this.asLeaf(node)
  }

  async previousLeaf (): Promise<LeafNode | undefined> {
    const node = await this.step(-1)
    return node === undefined ? undefined : this.asLeaf(node)
  }

  private async step (direction: 1 | -1): Promise<TreeNode | undefined> {
    const depth = this.path.length
    let pivot = depth - 1
    while (pivot >= 0) {
      const frame = this.path[pivot]!
      const index = frame.index + direction
      if (index >= 0 && index < frame.node.links.length) {
        break
      }
      pivot--
    }
    if (pivot < 0) {
      return undefined
    }
    this.path.length = pivot + 1
    let frame = this.path[pivot]!
    frame.index += direction
    for (;;) {
      const link = frame.node.links.get(frame.index)
      const child = this.store.cachedChild(frame.node, frame.index) ??
        await this.store.child(frame.node, frame.index, this.options, this.cacheLeaves || frame.node.level > 1)
      if (this.path.length === depth || child.leaf) {
        this.current = child
        this.currentLink = link
        return child
      }
      frame = { node: child, index: direction > 0 ? 0 : child.links.length - 1 }
      this.path.push(frame)
    }
  }

  private asLeaf (node: TreeNode): LeafNode {
    if (!node.leaf) {
      throw new InvalidNodeError(linkCid(this.currentLink), 'level', 'expected a leaf')
    }
    return node
  }
}
