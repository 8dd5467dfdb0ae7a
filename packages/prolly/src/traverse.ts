import { anySignal } from 'any-signal'
import { bytesKey } from './cache.js'
import { linkCid, rootLink } from './codec.js'
import { InvalidNodeError } from './errors.js'
import type { Link, TreeNode } from './codec.js'
import type { TreeContext } from './context.js'
import type { AbortOptions } from './index.js'
import type { CID } from 'multiformats/cid'

/** What a parent says about a child: the child must match it. */
export interface ParentClaim {
  level: number
  key: Uint8Array
  count: number
}

export interface Visit {
  cid: CID
  /** as fetched from the store, already checked against the CID */
  bytes: Uint8Array
  /** freshly decoded from `bytes`, never from the cache */
  node: TreeNode
  /** undefined for the root */
  claim: ParentClaim | undefined
}

/**
 * Every block of a tree in depth-first, left-to-right order, so each level is seen left to right. Blocks are
 * re-fetched and re-hashed (whatever `verifyBlocks` says) rather than served from the cache. The children of each branch are fetched
 * concurrently ahead of use, which matters on a network block store; whatever is still in flight is aborted when
 * the walk ends, by error or by the consumer stopping. A block linked twice fails: a valid tree never repeats one,
 * and refusing keeps a hostile DAG of shared subtrees from costing exponential work.
 */
export async function * traverse (ctx: TreeContext, root: CID, options: AbortOptions = {}): AsyncGenerator<Visit> {
  const controller = new AbortController()
  const signal = anySignal([controller.signal, options.signal])
  const prefetched = new Map<string, Promise<Uint8Array>>()
  const seen = new Set<string>()
  const stack: Array<{ link: Link, claim: ParentClaim | undefined }> = [{ link: rootLink(root), claim: undefined }]
  try {
    for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
      const { link, claim } = visit
      const cid = claim === undefined ? root : linkCid(link)
      const key = bytesKey(link)
      if (seen.has(key)) {
        throw new InvalidNodeError(cid, 'order', 'the block is linked more than once')
      }
      seen.add(key)
      const bytes = await (prefetched.get(key) ?? ctx.store.fetch(link, { signal }, true))
      prefetched.delete(key)
      const node = ctx.store.decode(link, bytes)
      if (claim !== undefined && node.level !== claim.level) {
        throw new InvalidNodeError(cid, 'level', `found level ${node.level} where its parent expects ${claim.level}`)
      }
      if (!node.leaf) {
        for (let i = node.links.length - 1; i >= 0; i--) {
          stack.push({ link: node.links.get(i), claim: { level: node.level - 1, key: node.keys.get(i), count: node.counts[i]! } })
        }
        for (let i = 0; i < node.links.length; i++) {
          const child = node.links.get(i)
          const childKey = bytesKey(child)
          if (!seen.has(childKey) && !prefetched.has(childKey)) {
            const fetching = ctx.store.fetch(child, { signal }, true)
            // a prefetch that fails is reported when (and if) its block is reached
            fetching.catch(() => {})
            prefetched.set(childKey, fetching)
          }
        }
      }
      yield { cid, bytes, node, claim }
    }
  } finally {
    controller.abort()
    signal.clear()
  }
}
