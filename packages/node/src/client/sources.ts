import { MAX_NODE_BYTES_LIMIT } from '@capdex/prolly'
import { blockMatchesCid, collectBlock } from '../blocks.js'
import { MAX_BLOCK_BYTES } from '../constants.js'
import { BlockHashMismatchError, BlockNotFoundError, InvalidOptionError } from '../errors.js'
import { decodeCid, scanTreeNode } from './dag-scan.js'
import type { CapdexNode } from '../types.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Blockstore } from 'interface-blockstore'

/** Blocks `fetchTreeDiff` asks for at once (over bitswap they share wantlist messages). */
const DEFAULT_TREE_DIFF_CONCURRENCY = 256

export interface BlockSourceGetOptions extends AbortOptions {
  /**
   * Largest acceptable block.
   *
   * @default 1048576
   */
  maxBytes?: number
}

/** A block whose bytes were checked against its CID. */
export interface VerifiedBlock {
  cid: CID
  bytes: Uint8Array
}

/**
 * Where the blocks of a snapshot come from: the local blockstore, bitswap peers or a trustless
 * gateway. Every implementation hands out only bytes it hashed against the CID.
 */
export interface BlockSource {
  /**
   * The verified bytes of `cid`.
   *
   * @throws BlockNotFoundError the source does not have the block (a local miss)
   * @throws BlockHashMismatchError the bytes do not hash to the CID
   * @throws BlockTooLargeError larger than `maxBytes`
   */
  get(cid: CID, options?: BlockSourceGetOptions): Promise<Uint8Array>
  /**
   * The bytes of `cid` as stored, NOT hashed: only for a caller that hashes every block itself
   * (the snapshot DAG walk, which then hashes each block once). Optional; local sources have it.
   *
   * @throws BlockNotFoundError the source does not have the block
   * @throws BlockTooLargeError larger than `maxBytes`
   */
  getUnchecked?(cid: CID, options?: BlockSourceGetOptions): Promise<Uint8Array>
  /**
   * Many blocks of the DAG under `root` in one request (a gateway CAR), each verified. Optional:
   * pinning stores what it yields before walking, then fetches the rest block by block.
   */
  prefetch?(root: CID, options?: PrefetchOptions): AsyncIterable<VerifiedBlock>
}

export interface PrefetchOptions extends AbortOptions {
  /** ask for the older snapshots along `prev` too @default false */
  history?: boolean
}

const MISSING = new Set(['BlockNotFoundError', 'MissingBlockError', 'NotFoundError'])

/** Whether an error means "this store does not have the block" rather than a failure. */
export function isMissingBlock (err: unknown): boolean {
  return err instanceof Error && MISSING.has(err.name)
}

/** Reads the local bytes, not verified; throws BlockNotFoundError on a miss. */
async function readStored (blockstore: Pick<Blockstore, 'get'>, cid: CID, options: BlockSourceGetOptions): Promise<Uint8Array> {
  try {
    return await collectBlock(cid, blockstore.get(cid, options), options.maxBytes ?? MAX_BLOCK_BYTES)
  } catch (err) {
    if (isMissingBlock(err)) {
      throw new BlockNotFoundError(`Block ${cid.toString()} is not in the local blockstore`)
    }
    throw err
  }
}

/** Reads the local bytes, verified; throws BlockNotFoundError on a miss. */
async function readLocal (blockstore: Pick<Blockstore, 'get' | 'has'>, cid: CID, options: BlockSourceGetOptions): Promise<Uint8Array> {
  if (!await blockstore.has(cid, options)) {
    throw new BlockNotFoundError(`Block ${cid.toString()} is not in the local blockstore`)
  }
  const bytes = await readStored(blockstore, cid, options)
  if (!await blockMatchesCid(cid, bytes)) {
    throw new BlockHashMismatchError(`The stored bytes of block ${cid.toString()} do not match its CID`)
  }
  return bytes
}

export interface LocalBlockSourceComponents {
  blockstore: Pick<Blockstore, 'get' | 'has'>
}

/** The local blockstore only; never touches the network. A miss throws `BlockNotFoundError`. */
export function localBlockSource (components: LocalBlockSourceComponents): BlockSource {
  const { blockstore } = components
  return {
    get: async (cid, options = {}) => readLocal(blockstore, cid, options),
    getUnchecked: async (cid, options = {}) => readStored(blockstore, cid, options)
  }
}

export interface BitswapBlockSourceComponents {
  node: Pick<CapdexNode, 'getVerifiedBlock'>
}

export interface BitswapBlockSourceInit {
  /**
   * Bound on each block fetch.
   *
   * @default 10000
   */
  timeoutMs?: number
}

/**
 * The node's blockstore, then bitswap peers (`getVerifiedBlock`: re-hashed, stored in the repo
 * on arrival).
 */
export function bitswapBlockSource (components: BitswapBlockSourceComponents, init: BitswapBlockSourceInit = {}): BlockSource {
  const { node } = components
  return {
    get: async (cid, options = {}) => node.getVerifiedBlock(cid, {
      ...(options.maxBytes != null ? { maxBytes: options.maxBytes } : {}),
      ...(init.timeoutMs != null ? { timeoutMs: init.timeoutMs } : {}),
      ...(options.signal != null ? { signal: options.signal } : {})
    })
  }
}

export interface StoringBlockSourceComponents {
  blockstore: Pick<Blockstore, 'get' | 'has' | 'put' | 'delete'>
}

export interface StoringBlockSourceInit {
  /** called with each block that was not local and came from the remote source or `store` */
  onFetch?(block: VerifiedBlock): void
}

export interface StoringBlockSource extends BlockSource {
  /** blocks that were not local: fetched from the remote source or handed to `store` */
  readonly fetched: number
  /** Checks `block` against its CID and stores it unless it is stored already; true when it was new. */
  store(block: VerifiedBlock, options?: AbortOptions): Promise<boolean>
}

/**
 * The local blockstore first, then `remote`; what comes from `remote` is stored locally. A corrupt
 * local copy is deleted and fetched again.
 */
export function storingBlockSource (components: StoringBlockSourceComponents, remote: BlockSource, init: StoringBlockSourceInit = {}): StoringBlockSource {
  const { blockstore } = components
  let fetched = 0
  const putIfAbsent = async (block: VerifiedBlock, options: AbortOptions): Promise<void> => {
    // a bitswap source has stored the block already
    if (!await blockstore.has(block.cid, options)) {
      await blockstore.put(block.cid, block.bytes, options)
    }
  }
  const source: StoringBlockSource = {
    get fetched () { return fetched },
    async store (block, options = {}) {
      if (!await blockMatchesCid(block.cid, block.bytes)) {
        throw new BlockHashMismatchError(`Block ${block.cid.toString()} does not match its CID`)
      }
      if (await blockstore.has(block.cid, options)) {
        return false
      }
      await blockstore.put(block.cid, block.bytes, options)
      fetched++
      init.onFetch?.(block)
      return true
    },
    async get (cid, options = {}) {
      try {
        return await readLocal(blockstore, cid, options)
      } catch (err) {
        if ((err as Error).name === 'BlockHashMismatchError') {
          await blockstore.delete(cid, options)
        } else if (!isMissingBlock(err)) {
          throw err
        }
      }
      const bytes = await remote.get(cid, options)
      await putIfAbsent({ cid, bytes }, options)
      fetched++
      init.onFetch?.({ cid, bytes })
      return bytes
    }
  }
  if (remote.prefetch != null) {
    source.prefetch = remote.prefetch.bind(remote)
  }
  return source
}

export interface FetchTreeDiffComponents {
  /** where the nodes come from; a storing source (or the node's blockstore) keeps them for the diff */
  blocks: Pick<BlockSource, 'get'>
}

export interface FetchTreeDiffOptions extends AbortOptions {
  /**
   * Blocks asked for at once.
   *
   * @default 256
   */
  concurrency?: number
}

/** The level and child links of a prolly tree node; undefined when the bytes are not one (the diff itself names that error). */
function treeNodeLinks (cid: CID, bytes: Uint8Array): { level: number, links: CID[] } | undefined {
  let level: number | undefined
  const links: CID[] = []
  try {
    scanTreeNode(cid, bytes, {
      level: (n) => { level = n },
      link: (node, start, end) => { links.push(decodeCid(node.subarray(start, end))) }
    })
  } catch {
    return undefined
  }
  return level === undefined ? undefined : { level, links }
}

/** Runs `task` over `items`, at most `concurrency` at a time. */
async function eachConcurrently<T> (items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      await task(items[next++]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}

/**
 * Fetches the nodes that `prolly.diff(a, b)` reads, a level at a time: both roots, then at each
 * level the children that the two trees do not share (a CID in both is the same subtree, which the
 * diff skips unopened), all asked for at once. Over bitswap that is one round trip per level
 * instead of one per node, after which the diff reads what it needs locally. Every block is
 * checked against its CID by `blocks`. A node that is not a prolly node is not descended (the
 * diff reports it). Resolves with the number of blocks asked for.
 */
export async function fetchTreeDiff (components: FetchTreeDiffComponents, a: CID, b: CID, options: FetchTreeDiffOptions = {}): Promise<number> {
  const concurrency = options.concurrency ?? DEFAULT_TREE_DIFF_CONCURRENCY
  if (!Number.isSafeInteger(concurrency) || concurrency <= 0) {
    throw new InvalidOptionError(`concurrency must be a positive integer, got ${concurrency}`)
  }
  if (a.equals(b)) {
    return 0
  }
  const get = async (cid: CID): Promise<Uint8Array> => components.blocks.get(cid, { maxBytes: MAX_NODE_BYTES_LIMIT, ...(options.signal != null ? { signal: options.signal } : {}) })
  /** nodes to read, by level, for each tree */
  const levels = new Map<number, [Map<string, CID>, Map<string, CID>]>()
  const add = (level: number, side: 0 | 1, cid: CID): void => {
    let sides = levels.get(level)
    if (sides == null) levels.set(level, sides = [new Map<string, CID>(), new Map<string, CID>()])
    sides[side].set(cid.toString(), cid)
  }
  const descend = (side: 0 | 1, level: number, cid: CID, bytes: Uint8Array): void => {
    const node = treeNodeLinks(cid, bytes)
    if (node == null || node.level !== level || level === 0) return
    for (const link of node.links) add(level - 1, side, link)
  }

  // the roots' levels are known once they are read; the trees may differ in height
  const roots = await Promise.all([get(a), get(b)])
  let asked = 2
  roots.forEach((bytes, side) => {
    const root = side === 0 ? a : b
    const level = treeNodeLinks(root, bytes)?.level
    if (level != null) descend(side as 0 | 1, level, root, bytes)
  })
  while (levels.size > 0) {
    const level = Math.max(...levels.keys())
    const [left, right] = levels.get(level)!
    levels.delete(level)
    for (const key of left.keys()) {
      if (right.delete(key)) left.delete(key)
    }
    const work: Array<[0 | 1, CID]> = [...[...left.values()].map((cid): [0, CID] => [0, cid]), ...[...right.values()].map((cid): [1, CID] => [1, cid])]
    asked += work.length
    await eachConcurrently(work, concurrency, async ([side, cid]) => { descend(side, level, cid, await get(cid)) })
  }
  return asked
}
