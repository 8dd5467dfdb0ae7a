import { build } from './build.js'
import { ChunkRules } from './chunker.js'
import { encodeNode, leafNode, rootLink } from './codec.js'
import { DEFAULT_CACHE_SIZE, DEFAULT_MAX_NODE_BYTES, DEFAULT_TARGET_FANOUT, DEFAULT_VERIFY_BLOCKS, MAX_NODE_BYTES_LIMIT, MAX_TARGET_FANOUT, MIN_NODE_BYTES, MIN_TARGET_FANOUT } from './constants.js'
import { count } from './count.js'
import { diff } from './diff.js'
import { InvalidConfigError } from './errors.js'
import { get } from './get.js'
import { mutate } from './mutate.js'
import { prefixRange, range } from './range.js'
import { NodeStore } from './store.js'
import { verify } from './verify.js'
import { walk } from './walk.js'
import type { TreeContext } from './context.js'
import type { AbortOptions, CountRange, DiffEntry, Entry, MutateResult, Operation, Prolly, ProllyComponents, ProllyInit, ProllyOptions, ProllyStats, RangeOptions, TreeShape, WalkedBlock } from './index.js'
import type { CID } from 'multiformats/cid'

function checkInteger (name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(`${name} must be an integer from ${min} to ${max}, got ${value}`)
  }
  return value
}

/** Checks a shape and fills in its defaults. */
function resolveShape (shape: TreeShape): Required<TreeShape> {
  const targetFanout = checkInteger('targetFanout', shape.targetFanout ?? DEFAULT_TARGET_FANOUT, MIN_TARGET_FANOUT, MAX_TARGET_FANOUT)
  const leafFanout = checkInteger('leafFanout', shape.leafFanout ?? targetFanout, MIN_TARGET_FANOUT, MAX_TARGET_FANOUT)
  return { targetFanout, leafFanout }
}

class DefaultProlly implements Prolly {
  readonly stats: ProllyStats
  private readonly ctx: TreeContext

  constructor (store: NodeStore, stats: ProllyStats, shape: Required<TreeShape>) {
    this.stats = stats
    this.ctx = { store, rules: new ChunkRules(shape, store.maxNodeBytes) }
  }

  async build (sortedEntries: Iterable<Entry> | AsyncIterable<Entry>, options: ProllyOptions = {}): Promise<CID> {
    return build(this.ctx, sortedEntries, options)
  }

  async empty (options: AbortOptions = {}): Promise<CID> {
    const block = encodeNode(leafNode([], []))
    await this.ctx.store.put(block, options)
    return block.cid
  }

  async mutate (root: CID, batch: Iterable<Operation>, options: ProllyOptions = {}): Promise<MutateResult> {
    return mutate(this.ctx, root, batch, options)
  }

  async get (root: CID, key: Uint8Array, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    return get(this.ctx, root, key, options)
  }

  range (root: CID, options: RangeOptions = {}): AsyncIterable<Entry> {
    return range(this.ctx, root, () => options)
  }

  prefix (root: CID, prefix: Uint8Array, options: Omit<RangeOptions, 'gte' | 'lt'> = {}): AsyncIterable<Entry> {
    return range(this.ctx, root, () => ({ ...options, ...prefixRange(prefix) }))
  }

  async count (root: CID, range: CountRange = {}): Promise<number> {
    return count(this.ctx, root, range)
  }

  diff (a: CID, b: CID, options: AbortOptions = {}): AsyncIterable<DiffEntry> {
    return diff(this.ctx, a, b, options)
  }

  walk (root: CID, options: AbortOptions = {}): AsyncIterable<WalkedBlock> {
    return walk(this.ctx, root, options)
  }

  async verify (root: CID, options: ProllyOptions = {}): Promise<{ blocks: number, entries: number, depth: number }> {
    return verify(this.ctx, root, options)
  }

  async depth (root: CID, options: AbortOptions = {}): Promise<number> {
    return (await this.ctx.store.load(rootLink(root), options)).level + 1
  }

  reserveCache (nodes: number): () => void {
    return this.ctx.store.reserveCache(nodes)
  }

  withShape (shape: TreeShape): Prolly {
    return new DefaultProlly(this.ctx.store, this.stats, resolveShape(shape))
  }

  resetStats (): void {
    this.stats.blocksRead = 0
    this.stats.cacheHits = 0
    this.stats.blocksWritten = 0
  }
}

export function createProlly (components: ProllyComponents, init: ProllyInit = {}): Prolly {
  const blocks = components?.blocks
  if (typeof blocks?.get !== 'function' || typeof blocks.put !== 'function') {
    throw new InvalidConfigError('components.blocks must be a block store with get and put')
  }
  const shape = resolveShape(init)
  const maxNodeBytes = checkInteger('maxNodeBytes', init.maxNodeBytes ?? DEFAULT_MAX_NODE_BYTES, MIN_NODE_BYTES, MAX_NODE_BYTES_LIMIT)
  const cacheSize = checkInteger('cacheSize', init.cacheSize ?? DEFAULT_CACHE_SIZE, 0, Number.MAX_SAFE_INTEGER)
  const stats: ProllyStats = { blocksRead: 0, cacheHits: 0, blocksWritten: 0 }
  const store = new NodeStore({ blocks, cacheSize, maxNodeBytes, verifyBlocks: init.verifyBlocks ?? DEFAULT_VERIFY_BLOCKS, stats })
  return new DefaultProlly(store, stats, shape)
}
