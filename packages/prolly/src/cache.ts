import type { TreeNode } from './codec.js'
import type { CID } from 'multiformats/cid'

/** A CID's bytes as a latin1 string: a Map key that costs far less than base32 `toString()`. */
export function cidKey (cid: CID): string {
  const bytes = cid.bytes
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

/** Least-recently-used cache of decoded nodes, bounded by node count. A capacity of 0 disables it. */
export class NodeCache {
  private readonly nodes = new Map<string, TreeNode>()

  constructor (private readonly capacity: number) {}

  get (key: string): TreeNode | undefined {
    const node = this.nodes.get(key)
    if (node !== undefined) {
      // re-insert so Map order tracks recency
      this.nodes.delete(key)
      this.nodes.set(key, node)
    }
    return node
  }

  set (key: string, node: TreeNode): void {
    if (this.capacity === 0) {
      return
    }
    this.nodes.delete(key)
    this.nodes.set(key, node)
    if (this.nodes.size > this.capacity) {
      const oldest = this.nodes.keys().next()
      if (oldest.done !== true) {
        this.nodes.delete(oldest.value)
      }
    }
  }

  clear (): void {
    this.nodes.clear()
  }
}
