import { traverse } from './traverse.js'
import type { TreeContext } from './context.js'
import type { AbortOptions, WalkedBlock } from './index.js'
import type { CID } from 'multiformats/cid'

/** Every block of the tree once, parents before children, each checked against its CID. */
export async function * walk (ctx: TreeContext, root: CID, options: AbortOptions = {}): AsyncGenerator<WalkedBlock> {
  for await (const { cid, bytes, node } of traverse(ctx, root, options)) {
    yield { cid, bytes, level: node.level }
  }
}
