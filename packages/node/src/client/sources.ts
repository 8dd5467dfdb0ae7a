import { blockMatchesCid, collectBlock } from '../blocks.js'
import { MAX_BLOCK_BYTES } from '../constants.js'
import { BlockHashMismatchError, BlockNotFoundError } from '../errors.js'
import type { CapdexNode } from '../types.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

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

/** Reads the local bytes, verified; throws BlockNotFoundError on a miss. */
async function readLocal (blockstore: Pick<Blockstore, 'get' | 'has'>, cid: CID, options: BlockSourceGetOptions): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    if (!await blockstore.has(cid, options)) {
      throw new BlockNotFoundError(`Block ${cid.toString()} is not in the local blockstore`)
    }
    bytes = await collectBlock(cid, blockstore.get(cid, options), options.maxBytes ?? MAX_BLOCK_BYTES)
  } catch (err) {
    if (isMissingBlock(err)) {
      throw new BlockNotFoundError(`Block ${cid.toString()} is not in the local blockstore`)
    }
    throw err
  }
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
    get: async (cid, options = {}) => readLocal(blockstore, cid, options)
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
