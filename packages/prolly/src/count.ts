import { rootLink } from './codec.js'
import { childIndex, lowerBound, validateBound } from './keys.js'
import type { TreeNode } from './codec.js'
import type { TreeContext } from './context.js'
import type { AbortOptions, CountRange } from './index.js'
import type { CID } from 'multiformats/cid'

/** Entries with keys below `key`: one descent, adding the counts of the children passed on the left. */
async function rank (ctx: TreeContext, root: TreeNode, key: Uint8Array, options: AbortOptions): Promise<number> {
  let node = root
  let below = 0
  while (!node.leaf) {
    const index = childIndex(node.keys, key)
    for (let i = 0; i < index; i++) {
      below += node.counts[i]!
    }
    node = await ctx.store.child(node, index, options)
  }
  return below + lowerBound(node.keys, key)
}

/** Entries in [gte, lt) from the subtree counts, in O(depth) nodes. */
export async function count (ctx: TreeContext, root: CID, range: CountRange = {}): Promise<number> {
  const gte = validateBound(range.gte)
  const lt = validateBound(range.lt)
  const node = await ctx.store.load(rootLink(root), range)
  const upper = lt === undefined ? node.count : await rank(ctx, node, lt, range)
  const lower = gte === undefined ? 0 : await rank(ctx, node, gte, range)
  return Math.max(0, upper - lower)
}
