import { hash } from 'node:crypto'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { describe, expect, it } from 'vitest'
import { BatchIterator } from '../src/batches.js'
import { NodeCache } from '../src/cache.js'
import { leafNode } from '../src/codec.js'
import { SaltedHash32 } from '../src/hash.js'
import { memoryBlockStore, prolly } from '../src/index.js'
import { collect, sequentialEntries } from './fixtures.js'

/** a node link (a node CID's bytes) with this digest */
const cidWith = (digest: Uint8Array): Uint8Array => CID.createV1(0x71, Digest.create(0x12, digest)).bytes

describe('SaltedHash32', () => {
  it('equals the first four bytes of node:crypto sha256(salt ‖ data), across the one- and two-block limits', () => {
    const hasher = new SaltedHash32()
    fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 200 }), (salt, data) => {
      const expected = hash('sha256', Buffer.concat([Uint8Array.of(salt), data]), 'buffer').readUInt32BE(0)
      expect(hasher.digest(salt, data)).toBe(expected)
    }), { numRuns: 500 })
    for (let length = 0; length <= 140; length++) {
      const data = new Uint8Array(length).fill(0xa5)
      expect(hasher.digest(3, data)).toBe(hash('sha256', Buffer.concat([Uint8Array.of(3), data]), 'buffer').readUInt32BE(0))
    }
  })
})

describe('NodeCache', () => {
  const node = leafNode([], [])

  it('treats a link that shares the 30-bit slot but not the digest as a miss', () => {
    const cache = new NodeCache(4)
    const first = new Uint8Array(32).fill(1)
    const second = Uint8Array.from(first)
    second[31] = 2
    cache.set(cidWith(first), node)
    expect(cache.get(cidWith(first))).toBe(node)
    expect(cache.get(cidWith(second))).toBeUndefined()
  })

  it('holds at most its capacity, giving recently read entries a second chance', () => {
    const cache = new NodeCache(3)
    const cids = Array.from({ length: 5 }, (_, i) => cidWith(new Uint8Array(32).fill(i * 16 + 1)))
    cache.set(cids[0]!, node)
    cache.set(cids[1]!, node)
    cache.set(cids[2]!, node)
    cache.get(cids[0]!)
    cache.set(cids[3]!, node)
    // cids[0] was read, so cids[1] went instead
    expect(cache.get(cids[0]!)).toBe(node)
    expect(cache.get(cids[1]!)).toBeUndefined()
    cache.set(cids[4]!, node)
    expect(cids.filter((cid) => cache.get(cid) !== undefined)).toHaveLength(3)
    // the clock hand resumes where it stopped, across many evictions, reservations and a clear
    const churn = new NodeCache(50)
    const hot = cidWith(new Uint8Array(32).fill(255))
    churn.set(hot, node)
    const release = churn.reserve(100)
    for (let i = 0; i < 2000; i++) {
      if (i === 1000) release()
      churn.get(hot)
      const digest = new Uint8Array(32)
      new DataView(digest.buffer).setUint32(0, i * 7919 + 1)
      churn.set(cidWith(digest), node)
      expect(churn.get(hot)).toBe(node)
    }
    churn.clear()
    expect(churn.get(hot)).toBeUndefined()
    churn.set(hot, node)
    expect(churn.get(hot)).toBe(node)
    const disabled = new NodeCache(0)
    disabled.set(cids[0]!, node)
    expect(disabled.get(cids[0]!)).toBeUndefined()
  })
})

describe('BatchIterator', () => {
  it('hands out every batch in order and stops reading when the consumer breaks off', async () => {
    let fills = 0
    const batches = [[1, 2], [3], [4, 5]]
    const iterator = new BatchIterator(async () => Promise.resolve(batches[fills++]))
    const seen: number[] = []
    for await (const item of iterator) {
      seen.push(item)
      if (item === 3) {
        break
      }
    }
    expect(seen).toEqual([1, 2, 3])
    expect(fills).toBe(2)
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
  })

  it('lets a range be abandoned midway without reading further leaves', async () => {
    const tree = prolly({ blocks: memoryBlockStore() }, { targetFanout: 8, cacheSize: 0 })
    const root = await tree.build(sequentialEntries(2000))
    tree.resetStats()
    for await (const _entry of tree.range(root)) {
      break
    }
    expect(tree.stats.blocksRead).toBe(await tree.depth(root))
    expect(await collect(tree.range(root, { limit: 3 }))).toHaveLength(3)
  })

  it('holds more nodes while a cache reservation is open, and shrinks back when it is released', async () => {
    const tree = prolly({ blocks: memoryBlockStore() }, { targetFanout: 8, cacheSize: 2 })
    const entries = sequentialEntries(2000)
    const root = await tree.build(entries)
    const keys = entries.filter((_, i) => i % 40 === 0).map((entry) => entry.key)
    const readAll = async (): Promise<number> => {
      tree.resetStats()
      for (const key of keys) await tree.get(root, key)
      return tree.stats.blocksRead
    }
    const release = tree.reserveCache(10_000)
    expect(await readAll()).toBeGreaterThan(keys.length)
    expect(await readAll()).toBe(0)
    release()
    // releasing twice gives nothing back twice
    release()
    expect(await readAll()).toBeGreaterThan(keys.length)
    // a negative or fractional reservation is no reservation (or a whole one)
    const none = tree.reserveCache(-5)
    expect(await readAll()).toBeGreaterThan(keys.length)
    none()
    // a disabled cache stays disabled
    const uncached = prolly({ blocks: memoryBlockStore() }, { cacheSize: 0 })
    const small = await uncached.build(entries)
    uncached.reserveCache(10_000)
    uncached.resetStats()
    await uncached.get(small, keys[1]!)
    await uncached.get(small, keys[1]!)
    expect(uncached.stats.cacheHits).toBe(0)
  })
})
