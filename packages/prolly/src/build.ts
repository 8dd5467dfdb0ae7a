import { CustomProgressEvent } from 'progress-events'
import { Chunker } from './chunker.js'
import { encodeNode, leafNode, linkCid } from './codec.js'
import { UnsortedEntriesError } from './errors.js'
import { compareBytes, validateKey, validateValue } from './keys.js'
import { throwIfAborted } from './store.js'
import type { LevelItem } from './chunker.js'
import type { ChildRef, Link } from './codec.js'
import type { TreeContext } from './context.js'
import type { Entry, ProllyOptions } from './index.js'
import type { CID } from 'multiformats/cid'

interface LevelState {
  chunker: Chunker
  /** nodes closed on this level so far */
  emitted: number
  /** the level's first node, passed up only once a second one shows the level is not the root */
  held: ChildRef | undefined
}

export interface BuiltTree {
  root: Link
  level: number
}

/**
 * Streams items into a tree bottom-up. Each level keeps only its open chunk, so memory is O(depth × node size)
 * whatever the number of entries. `baseLevel` 0 takes entries; a higher base takes child references, which is how
 * mutate grows a tree above its old root.
 */
export class TreeBuilder {
  /** blocks written */
  blocks = 0
  /** items taken at the base level */
  items = 0
  private readonly base: LevelState
  private readonly branches: LevelState[] = []

  constructor (private readonly ctx: TreeContext, private readonly baseLevel: number, private readonly options: ProllyOptions = {}) {
    this.base = { chunker: new Chunker(baseLevel, ctx.rules), emitted: 0, held: undefined }
  }

  /** Takes the next item (an entry on level 0, a child reference above); returns a promise only when a node closed and is being written. */
  add (item: LevelItem): Promise<void> | undefined {
    this.items++
    this.base.chunker.push(item)
    return this.base.chunker.ready ? this.closeChunks(this.baseLevel, this.base) : undefined
  }

  /** Closes every open chunk and returns the root: the first level that ended up with a single node. */
  async finish (): Promise<BuiltTree> {
    this.base.chunker.flush()
    await this.closeChunks(this.baseLevel, this.base)
    if (this.base.emitted === 0) {
      return { root: await this.write(leafNode([], [])), level: 0 }
    }
    if (this.base.emitted === 1) {
      return { root: this.base.held!.link, level: this.baseLevel }
    }
    for (let level = this.baseLevel + 1; ; level++) {
      const state = this.branchLevel(level)
      state.chunker.flush()
      await this.closeChunks(level, state)
      if (state.emitted === 1) {
        return { root: state.held!.link, level }
      }
    }
  }

  private branchLevel (level: number): LevelState {
    const index = level - this.baseLevel - 1
    let state = this.branches[index]
    if (state === undefined) {
      state = { chunker: new Chunker(level, this.ctx.rules), emitted: 0, held: undefined }
      this.branches[index] = state
    }
    return state
  }

  private async closeChunks (level: number, state: LevelState): Promise<void> {
    for (let node = state.chunker.take(); node !== undefined; node = state.chunker.take()) {
      const ref = { key: node.keys.get(0), link: await this.write(node), count: node.count }
      if (level === 0) {
        this.options.onProgress?.(new CustomProgressEvent('prolly:build:chunk', { entries: this.items, blocks: this.blocks }))
      }
      state.emitted++
      if (state.emitted === 1) {
        state.held = ref
        continue
      }
      const parent = this.branchLevel(level + 1)
      if (state.held !== undefined) {
        parent.chunker.push(state.held)
        state.held = undefined
      }
      parent.chunker.push(ref)
      await this.closeChunks(level + 1, parent)
    }
  }

  private async write (node: Parameters<typeof encodeNode>[0]): Promise<Link> {
    const block = encodeNode(node)
    await this.ctx.store.put(block, this.options, block.node)
    this.blocks++
    return block.cid.bytes
  }
}

/** Builds a tree from entries sorted strictly ascending by key, holding only one open node per level. */
export async function build (ctx: TreeContext, entries: Iterable<Entry> | AsyncIterable<Entry>, options: ProllyOptions = {}): Promise<CID> {
  const builder = new TreeBuilder(ctx, 0, options)
  let previous: Uint8Array | undefined
  const take = (entry: Entry): Promise<void> | undefined => {
    const key = validateKey(entry.key)
    const value = validateValue(entry.value)
    ctx.rules.checkEntry(key, value)
    if (previous !== undefined && compareBytes(previous, key) >= 0) {
      throw new UnsortedEntriesError(`Entry ${builder.items} is not greater than the entry before it`)
    }
    previous = key
    return builder.add({ key, value })
  }
  if (Symbol.iterator in entries) {
    // a synchronous source is read without a turn of the event loop per entry; the signal is checked on each write
    for (const entry of entries) {
      const writing = take(entry)
      if (writing !== undefined) {
        await writing
      }
    }
  } else {
    for await (const entry of entries) {
      throwIfAborted(options.signal)
      await take(entry)
    }
  }
  throwIfAborted(options.signal)
  return linkCid((await builder.finish()).root)
}
