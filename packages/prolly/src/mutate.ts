import { CustomProgressEvent } from 'progress-events'
import { TreeBuilder } from './build.js'
import { Chunker } from './chunker.js'
import { encodeNode, leafNode, linkCid, rootLink } from './codec.js'
import { InvalidNodeError, InvalidOperationError } from './errors.js'
import { Cursor } from './cursor.js'
import { compareBytes, equalBytes, validateKey, validateValue } from './keys.js'
import { throwIfAborted } from './store.js'
import type { LevelItem } from './chunker.js'
import type { ChildRef, Link, NodeBlock, TreeNode } from './codec.js'
import type { TreeContext } from './context.js'
import type { MutateResult, Operation, ProllyOptions } from './index.js'
import type { CID } from 'multiformats/cid'

/** A put (with the new item) or a delete (without) of the item at `key` on one level. */
interface LevelOp {
  key: Uint8Array
  item?: LevelItem
}

interface PendingBlock extends NodeBlock {
  /** came out identical to the old node it replaces, which the store already holds */
  unchanged?: boolean
}

interface LevelResult {
  /** operations on the level above */
  up: LevelOp[]
  /** every node the re-chunked regions produced, unchanged ones included */
  nodes: ChildRef[]
  /** blocks already written (leaves) */
  written: number
}

/** Validates a batch, sorts it by key and keeps the last operation for each key. */
function normalize (ctx: TreeContext, batch: Iterable<Operation>): LevelOp[] {
  const ops: LevelOp[] = []
  for (const operation of batch) {
    const key = validateKey((operation as { key?: unknown } | null)?.key)
    if (operation.op === 'put') {
      const value = validateValue(operation.value)
      ctx.rules.checkEntry(key, value)
      ops.push({ key, item: { key, value } })
    } else if (operation.op === 'delete') {
      ops.push({ key })
    } else {
      throw new InvalidOperationError(`Unknown operation ${String((operation as { op?: unknown }).op)}`)
    }
  }
  // Array sort is stable, so among equal keys the batch order survives and the last one wins
  ops.sort((a, b) => compareBytes(a.key, b.key))
  return ops.filter((op, i) => i === ops.length - 1 || compareBytes(op.key, ops[i + 1]!.key) !== 0)
}

/**
 * Re-chunks one level around the operations and returns the operations this causes one level up.
 *
 * Each region starts at the old node holding the first pending operation (chunk state is fresh there, since an old
 * node always starts right after a boundary) and runs over the merged items until the new chunking closes exactly
 * where an old node ended: from there on the old chunking is reproduced as it is, so the region can stop.
 */
async function rechunkLevel (
  ctx: TreeContext, root: Link, rootNode: TreeNode, level: number, ops: LevelOp[], pending: PendingBlock[], options: ProllyOptions
): Promise<LevelResult> {
  const cursor = new Cursor(ctx.store, root, rootNode, options)
  const removed: ChildRef[] = []
  const added: ChildRef[] = []
  /** per added node: whether it came out identical to the old node it replaces */
  const addedBlocks: Array<{ unchanged?: boolean }> = []
  const chunker = new Chunker(level, ctx.rules)
  let written = 0
  /**
   * Old nodes from here on were visited since the last new node closed: a new node identical to an old one holds
   * that old node's entries, so it is one of them.
   */
  let visitedFrom = 0
  const emit = async (): Promise<void> => {
    for (let node = chunker.take(); node !== undefined; node = chunker.take()) {
      const from = visitedFrom
      visitedFrom = Math.max(0, removed.length - 1)
      const block: PendingBlock = encodeNode(node)
      // the first key as the entries hold it: a view of the new block would keep the block alive as long as the key
      added.push({ key: node.keys.get(0), link: block.cid.bytes, count: node.count })
      if (level > 0) {
        pending.push(block)
        addedBlocks.push(block)
        continue
      }
      // Leaves are never in the chain of single-child branches that a shrinking root drops, so each is written as it
      // is made: its bytes are then garbage at once instead of outliving the mutation (a fold writes 150 MB of
      // leaves at 1,000,000 providers, which, held, would trigger full GCs by their external memory alone).
      let unchanged = false
      for (let i = from; i < removed.length && !unchanged; i++) unchanged = equalBytes(removed[i]!.link, block.cid.bytes)
      addedBlocks.push({ unchanged })
      if (!unchanged) {
        await ctx.store.put(block, options)
        written++
      }
    }
  }

  let next = 0
  while (next < ops.length) {
    throwIfAborted(options.signal)
    let node: TreeNode | undefined = await cursor.seek(ops[next]!.key, level)
    while (node !== undefined) {
      if (node.level !== level) {
        throw new InvalidNodeError(linkCid(cursor.link), 'level', `found level ${node.level} where level ${level} is re-chunked`)
      }
      const size = node.keys.length
      if (size > 0) {
        removed.push({ key: node.keys.get(0), link: cursor.link, count: node.count })
      }
      // operations below the next node's first key land in this node
      const limit = cursor.nextKey()
      let index = 0
      for (;;) {
        const op = next < ops.length && (limit === undefined || compareBytes(ops[next]!.key, limit) < 0) ? ops[next]! : undefined
        if (op === undefined && index === size) {
          break
        }
        const order = op === undefined ? -1 : index === size ? 1 : node.keys.compare(index, op.key)
        if (order < 0) {
          // an old key that sat inside its node is not a boundary: keys decide boundaries, so skip the hash
          chunker.pushFrom(node, index, index < size - 1 ? false : undefined)
          index++
        } else {
          if (op!.item !== undefined) {
            chunker.push(op!.item)
          }
          next++
          if (order === 0) {
            index++
          }
        }
      }
      await emit()
      if (chunker.pending === 0) {
        break
      }
      node = await cursor.next()
      if (node === undefined) {
        chunker.flush()
        await emit()
      }
    }
  }

  // Pair old and new nodes by first key; a node that came out identical is neither removed nor written.
  const up: LevelOp[] = []
  let r = 0
  let a = 0
  while (r < removed.length || a < added.length) {
    const old = removed[r]
    const fresh = added[a]
    const order = old === undefined ? 1 : fresh === undefined ? -1 : compareBytes(old.key, fresh.key)
    if (order < 0) {
      up.push({ key: old!.key })
      r++
    } else if (order > 0) {
      up.push({ key: fresh!.key, item: fresh! })
      a++
    } else {
      if (equalBytes(old!.link, fresh!.link)) {
        addedBlocks[a]!.unchanged = true
      } else {
        up.push({ key: fresh!.key, item: fresh! })
      }
      r++
      a++
    }
  }
  options.onProgress?.(new CustomProgressEvent('prolly:mutate:level', { level, nodes: added.length }))
  return { up, nodes: added, written }
}

/** Applies a batch of puts and deletes, re-chunking only around the changed keys, level by level up to the root. */
export async function mutate (ctx: TreeContext, root: CID, batch: Iterable<Operation>, options: ProllyOptions = {}): Promise<MutateResult> {
  const ops = normalize(ctx, batch)
  if (ops.length === 0) {
    return { root, written: 0 }
  }
  const oldRoot = rootLink(root)
  const rootNode = await ctx.store.load(oldRoot, options)
  // new branches in level order, written once the final root is known (leaves are written as they are made)
  const pending: PendingBlock[] = []
  let level = await rechunkLevel(ctx, oldRoot, rootNode, 0, ops, pending, options)
  const leavesWritten = level.written
  for (let depth = 1; depth <= rootNode.level && level.up.length > 0; depth++) {
    level = await rechunkLevel(ctx, oldRoot, rootNode, depth, level.up, pending, options)
  }
  if (level.up.length === 0) {
    return { root, written: leavesWritten }
  }

  // The old root was the whole of its level, so what re-chunking it produced is the whole new top level.
  const top = level.nodes
  if (top.length > 1) {
    // the top level split: grow new levels above it
    const written = leavesWritten + await writePending(ctx, pending, rootNode.level, options)
    const builder = new TreeBuilder(ctx, rootNode.level + 1, options)
    for (const child of top) {
      await builder.add(child)
    }
    const grown = await builder.finish()
    return { root: linkCid(grown.root), written: written + builder.blocks }
  }

  let newRoot: Link
  let node: TreeNode
  if (top.length === 0) {
    const block = encodeNode(leafNode([], []))
    node = block.node
    pending.push(block)
    newRoot = block.cid.bytes
  } else {
    newRoot = top[0]!.link
    node = await loadNew(ctx, pending, newRoot, options)
    // a level that shrank to one node is the root; drop the chain of single-child nodes above it
    while (!node.leaf && node.links.length === 1) {
      newRoot = node.links.get(0)
      node = await loadNew(ctx, pending, newRoot, options)
    }
  }
  return { root: linkCid(newRoot), written: leavesWritten + await writePending(ctx, pending, node.level, options) }
}

async function loadNew (ctx: TreeContext, pending: PendingBlock[], link: Link, options: ProllyOptions): Promise<TreeNode> {
  // pending is in level order and the root chain is the top of it: search from the end
  for (let i = pending.length - 1; i >= 0; i--) {
    if (equalBytes(pending[i]!.cid.bytes, link)) return pending[i]!.node
  }
  return ctx.store.load(link, options)
}

/** Writes the new blocks up to `maxLevel`, children before parents; anything above is the dropped chain. */
async function writePending (ctx: TreeContext, pending: PendingBlock[], maxLevel: number, options: ProllyOptions): Promise<number> {
  let written = 0
  for (const block of pending) {
    if (block.unchanged !== true && block.node.level <= maxLevel) {
      await ctx.store.put(block, options, block.node)
      written++
    }
  }
  return written
}
