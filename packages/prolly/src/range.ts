import { BatchIterator } from './batches.js'
import { SCAN_CACHED_LEAVES } from './constants.js'
import { rootLink } from './codec.js'
import { Cursor } from './cursor.js'
import { InvalidKeyError } from './errors.js'
import { compareBytes, lowerBound, prefixEnd, validateBound } from './keys.js'
import { throwIfAborted } from './store.js'
import type { LeafNode } from './codec.js'
import type { TreeContext } from './context.js'
import type { Entry, RangeOptions } from './index.js'
import type { CID } from 'multiformats/cid'

/** Reads [gte, lt) leaf by leaf through a cursor, one batch per leaf, in either direction. */
class RangeReader {
  private readonly gte: Uint8Array | undefined
  private readonly lt: Uint8Array | undefined
  private readonly reverse: boolean
  private left: number
  private cursor: Cursor | undefined
  private leaves = 0
  private done = false

  constructor (private readonly ctx: TreeContext, private readonly root: CID, private readonly options: RangeOptions) {
    this.gte = validateBound(options.gte)
    this.lt = validateBound(options.lt)
    this.reverse = options.reverse === true
    this.left = options.limit ?? Infinity
    if (this.left <= 0 || (this.gte !== undefined && this.lt !== undefined && compareBytes(this.gte, this.lt) >= 0)) {
      this.done = true
    }
  }

  async next (): Promise<Entry[] | undefined> {
    while (!this.done) {
      if (++this.leaves > SCAN_CACHED_LEAVES && this.cursor !== undefined) {
        this.cursor.cacheLeaves = false
      }
      const batch = this.reverse ? await this.backward() : await this.forward()
      if (batch.length > 0) {
        return batch
      }
    }
    return undefined
  }

  private async start (): Promise<Cursor> {
    const link = rootLink(this.root)
    return new Cursor(this.ctx.store, link, await this.ctx.store.load(link, this.options), this.options)
  }

  private async forward (): Promise<Entry[]> {
    let leaf: LeafNode
    let index = 0
    if (this.cursor === undefined) {
      this.cursor = await this.start()
      leaf = await this.cursor.seekLeaf(this.gte ?? 'first')
      index = this.gte === undefined ? 0 : lowerBound(leaf.keys, this.gte)
    } else {
      const nextKey = this.cursor.nextKey()
      if (nextKey === undefined || (this.lt !== undefined && compareBytes(nextKey, this.lt) >= 0)) {
        this.done = true
        return []
      }
      throwIfAborted(this.options.signal)
      leaf = (await this.cursor.nextLeaf())!
    }
    const batch: Entry[] = []
    for (; index < leaf.keys.length && this.left > 0; index++) {
      const key = leaf.keys.get(index)
      if (this.lt !== undefined && compareBytes(key, this.lt) >= 0) {
        this.done = true
        break
      }
      batch.push({ key, value: leaf.values.get(index) })
      this.left--
    }
    if (this.left === 0) {
      this.done = true
    }
    return batch
  }

  private async backward (): Promise<Entry[]> {
    let leaf: LeafNode
    let index: number
    if (this.cursor === undefined) {
      this.cursor = await this.start()
      leaf = await this.cursor.seekLeaf(this.lt ?? 'last')
      index = (this.lt === undefined ? leaf.keys.length : lowerBound(leaf.keys, this.lt)) - 1
    } else {
      throwIfAborted(this.options.signal)
      const previous = await this.cursor.previousLeaf()
      if (previous === undefined) {
        this.done = true
        return []
      }
      leaf = previous
      index = leaf.keys.length - 1
    }
    const batch: Entry[] = []
    for (; index >= 0 && this.left > 0; index--) {
      const key = leaf.keys.get(index)
      if (this.gte !== undefined && compareBytes(key, this.gte) < 0) {
        this.done = true
        break
      }
      batch.push({ key, value: leaf.values.get(index) })
      this.left--
    }
    // a leaf whose first key is at or below gte leaves nothing in range to its left
    if (this.left === 0 || (this.gte !== undefined && leaf.keys.length > 0 && leaf.keys.compare(0, this.gte) <= 0)) {
      this.done = true
    }
    return batch
  }
}

/**
 * Entries in [gte, lt), ascending or descending. `resolve` yields the options on the first read, so that bad
 * bounds fail on iteration, as every other read error does.
 */
export function range (ctx: TreeContext, root: CID, resolve: () => RangeOptions): AsyncIterableIterator<Entry> {
  let reader: RangeReader | undefined
  return new BatchIterator(async () => {
    reader ??= new RangeReader(ctx, root, resolve())
    return reader.next()
  })
}

/** Range bounds that select exactly the keys starting with `prefix`. */
export function prefixRange (prefix: Uint8Array): { gte: Uint8Array, lt?: Uint8Array } {
  const gte = validateBound(prefix)
  if (gte === undefined) {
    throw new InvalidKeyError('A prefix must be a Uint8Array')
  }
  const lt = prefixEnd(gte)
  return lt === undefined ? { gte } : { gte, lt }
}
