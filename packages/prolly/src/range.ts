import { Cursor } from './cursor.js'
import { InvalidKeyError } from './errors.js'
import { compareBytes, lowerBound, prefixEnd, validateBound } from './keys.js'
import { throwIfAborted } from './store.js'
import type { TreeContext } from './context.js'
import type { Entry, RangeOptions } from './index.js'
import type { CID } from 'multiformats/cid'

/** Entries in [gte, lt), ascending or descending, leaf by leaf through a cursor. */
export async function * range (ctx: TreeContext, root: CID, options: RangeOptions = {}): AsyncGenerator<Entry> {
  const gte = validateBound(options.gte)
  const lt = validateBound(options.lt)
  let left = options.limit ?? Infinity
  if (left <= 0 || (gte !== undefined && lt !== undefined && compareBytes(gte, lt) >= 0)) {
    return
  }
  const cursor = new Cursor(ctx.store, root, await ctx.store.load(root, options), options)

  if (options.reverse !== true) {
    let leaf = await cursor.seekLeaf(gte ?? 'first')
    let index = gte === undefined ? 0 : lowerBound(leaf.keys, gte)
    for (;;) {
      for (; index < leaf.keys.length; index++) {
        const key = leaf.keys[index]!
        if (lt !== undefined && compareBytes(key, lt) >= 0) {
          return
        }
        yield { key, value: leaf.values[index]! }
        if (--left === 0) {
          return
        }
      }
      const nextKey = cursor.nextKey()
      if (nextKey === undefined || (lt !== undefined && compareBytes(nextKey, lt) >= 0)) {
        return
      }
      throwIfAborted(options.signal)
      leaf = (await cursor.nextLeaf())!
      index = 0
    }
  }

  let leaf = await cursor.seekLeaf(lt ?? 'last')
  let index = (lt === undefined ? leaf.keys.length : lowerBound(leaf.keys, lt)) - 1
  for (;;) {
    for (; index >= 0; index--) {
      const key = leaf.keys[index]!
      if (gte !== undefined && compareBytes(key, gte) < 0) {
        return
      }
      yield { key, value: leaf.values[index]! }
      if (--left === 0) {
        return
      }
    }
    // this leaf's first key is the smallest it holds: at or below gte, nothing to the left is in range
    if (gte !== undefined && leaf.keys.length > 0 && compareBytes(leaf.keys[0]!, gte) <= 0) {
      return
    }
    throwIfAborted(options.signal)
    const previous = await cursor.previousLeaf()
    if (previous === undefined) {
      return
    }
    leaf = previous
    index = leaf.keys.length - 1
  }
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
