import { rootLink } from './codec.js'
import { childIndex, lowerBound, validateKey } from './keys.js'
import type { TreeContext } from './context.js'
import type { AbortOptions } from './index.js'
import type { CID } from 'multiformats/cid'

/** Point lookup: one node per level. */
export async function get (ctx: TreeContext, root: CID, key: Uint8Array, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
  validateKey(key)
  const { store } = ctx
  // cached nodes are taken without an await, so a warm lookup never leaves this function's turn
  const link = rootLink(root)
  let node = store.cached(link) ?? await store.load(link, options)
  while (!node.leaf) {
    const index = childIndex(node.keys, key)
    node = store.cachedChild(node, index) ?? await store.child(node, index, options)
  }
  const index = lowerBound(node.keys, key)
  return index < node.keys.length && node.keys.compare(index, key) === 0 ? node.values.get(index) : undefined
}
