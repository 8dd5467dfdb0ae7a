import { CID } from 'multiformats/cid'
import { NodeCache } from './cache.js'
import { decodeNode, hashMatches, isNodeLink, linkCid } from './codec.js'
import { AbortError, InvalidBlockError, InvalidNodeError, MissingBlockError } from './errors.js'
import type { Block, BranchNode, Link, TreeNode } from './codec.js'
import type { AbortOptions, BlockStore, ProllyStats } from './index.js'

export interface NodeStoreInit {
  blocks: BlockStore
  cacheSize: number
  maxNodeBytes: number
  /** re-hash blocks on ordinary reads (verify always does) */
  verifyBlocks: boolean
  stats: ProllyStats
}

/** Throws our AbortError (naming the block when there is one) if the signal has fired. */
export function throwIfAborted (signal: AbortSignal | undefined, cid?: CID): void {
  if (signal?.aborted === true) {
    throw new AbortError(cid, undefined, { cause: signal.reason })
  }
}

/** Settles with `promise`, or rejects as soon as `signal` aborts, even if the store ignores the signal. */
async function raceSignal<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal == null) {
    return promise
  }
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(new AbortError(undefined, undefined, { cause: signal.reason })) }
    if (signal.aborted) {
      // the store may abort the signal's owner from inside `get`, before we get to listen
      onAbort()
    } else {
      signal.addEventListener('abort', onAbort, { once: true })
    }
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    if (onAbort !== undefined) {
      signal.removeEventListener('abort', onAbort)
    }
  }
}

function levelError (link: Link, found: number, expected: number): InvalidNodeError {
  return new InvalidNodeError(linkCid(link), 'level', `found level ${found} where its parent expects ${expected}`)
}

function isNotFound (err: unknown): boolean {
  return err instanceof Error && (err.name === 'NotFoundError' || err.name === 'MissingBlockError')
}

/**
 * Reads and writes nodes: hash checks on every fetch, strict decoding, the decoded-node cache and the counters.
 * Nodes are addressed by link (a node CID's bytes; a root CID's `bytes` is one); a CID object is made only to ask
 * the block store.
 */
export class NodeStore {
  private readonly blocks: BlockStore
  private readonly cache: NodeCache
  readonly maxNodeBytes: number
  private readonly verifyBlocks: boolean
  private readonly stats: ProllyStats

  constructor (init: NodeStoreInit) {
    this.blocks = init.blocks
    this.cache = new NodeCache(init.cacheSize)
    this.maxNodeBytes = init.maxNodeBytes
    this.verifyBlocks = init.verifyBlocks
    this.stats = init.stats
  }

  /** The block's bytes straight from the store, checked against the link unless `check` is off. */
  async fetch (link: Link, options: AbortOptions = {}, check = this.verifyBlocks): Promise<Uint8Array> {
    // links come from decoded branches (shape-checked) and from rootLink: this only guards against misuse
    if (!isNodeLink(link)) {
      throw new InvalidNodeError(CID.decode(link), 'link', 'nodes must be CIDv1 dag-cbor sha2-256')
    }
    const cid = linkCid(link)
    const signal = options.signal
    throwIfAborted(signal, cid)
    let bytes: Uint8Array
    try {
      bytes = await raceSignal(this.blocks.get(cid, signal == null ? {} : { signal }), signal)
    } catch (err) {
      if (signal?.aborted === true) {
        throw new AbortError(cid, undefined, { cause: err })
      }
      if (isNotFound(err)) {
        throw new MissingBlockError(cid, undefined, { cause: err })
      }
      throw err
    }
    this.stats.blocksRead++
    if (check && !hashMatches(link, bytes)) {
      throw new InvalidBlockError(cid)
    }
    return bytes
  }

  /** Strictly decodes a fetched block, rejecting it first if it is over the node size bound. */
  decode (link: Link, bytes: Uint8Array): TreeNode {
    if (bytes.length > this.maxNodeBytes) {
      throw new InvalidNodeError(linkCid(link), 'size', `${bytes.length} bytes is over the ${this.maxNodeBytes} byte bound`)
    }
    return decodeNode(link, bytes)
  }

  /** A cached node, without waiting: the fast path of every read. */
  cached (link: Link): TreeNode | undefined {
    const node = this.cache.get(link)
    if (node !== undefined) {
      this.stats.cacheHits++
    }
    return node
  }

  /** The `index`th child of a branch if it is cached, checked to sit one level below it. */
  cachedChild (parent: BranchNode, index: number): TreeNode | undefined {
    const link = parent.links.get(index)
    const node = this.cached(link)
    if (node !== undefined && node.level !== parent.level - 1) {
      throw levelError(link, node.level, parent.level - 1)
    }
    return node
  }

  /** A decoded node, from the cache when it is there; `remember` false keeps a node read from the store out of it. */
  async load (link: Link, options: AbortOptions = {}, remember = true): Promise<TreeNode> {
    const cached = this.cached(link)
    if (cached !== undefined) {
      return cached
    }
    const node = this.decode(link, await this.fetch(link, options))
    if (remember) {
      this.cache.set(link, node)
    }
    return node
  }

  /** Loads a node that a parent claims is at `level`. */
  async loadAt (link: Link, level: number, options: AbortOptions = {}, remember = true): Promise<TreeNode> {
    const node = await this.load(link, options, remember)
    if (node.level !== level) {
      throw levelError(link, node.level, level)
    }
    return node
  }

  /** The `index`th child of a branch, checked to sit one level below it. */
  async child (parent: BranchNode, index: number, options: AbortOptions = {}, remember = true): Promise<TreeNode> {
    return this.cachedChild(parent, index) ?? this.loadAt(parent.links.get(index), parent.level - 1, options, remember)
  }

  /**
   * Writes a block; with `node`, also caches that node, which must be the one the block encodes. Nodes built from
   * the caller's entries keep references to the caller's arrays, hence the rule that entries handed to build and
   * mutate are not modified afterwards.
   */
  async put (block: Block, options: AbortOptions = {}, node?: TreeNode): Promise<void> {
    throwIfAborted(options.signal)
    await this.blocks.put(block.cid, block.bytes, options.signal == null ? {} : { signal: options.signal })
    this.stats.blocksWritten++
    if (node !== undefined) {
      this.cache.set(block.cid.bytes, node)
    }
  }

  clearCache (): void {
    this.cache.clear()
  }

  reserveCache (nodes: number): () => void {
    return this.cache.reserve(nodes)
  }
}
