import { childIndex, equalBytes, lowerBound, validateKey } from './keys.js'
import type { TreeContext } from './context.js'
import type { AbortOptions } from './index.js'
import type { CID } from 'multiformats/cid'

/** Point lookup: one node per level. */
export async function get (ctx: TreeContext, root: CID, key: Uint8Array, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
  validateKey(key)
  let node = await ctx.store.load(root, options)
  while (!node.leaf) {
    node = await ctx.store.child(node, childIndex(node.keys, key), options)
  }
  const index = lowerBound(node.keys, key)
  const found = node.keys[index]
  return found !== undefined && equalBytes(found, key) ? node.values[index] : undefined
}
