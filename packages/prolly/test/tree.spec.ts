import { describe, expect, it } from 'vitest'
import { ChunkRules } from '../src/chunker.js'
import { cidOf } from '../src/codec.js'
import { memoryBlockStore, prolly } from '../src/index.js'
import { applyOps, bytes, collect, hex, modelOf, plain, sequentialEntries, sortedEntries } from './fixtures.js'
import type { Entry, Operation, ProllyInit } from '../src/index.js'

const tree = (init: ProllyInit = {}) => prolly({ blocks: memoryBlockStore() }, { targetFanout: 8, ...init })

describe('build', () => {
  it('streams from an async iterable to the same root as from an array, reporting progress per leaf', async () => {
    const entries = sequentialEntries(2000)
    const t = tree()
    async function * stream (): AsyncGenerator<Entry> {
      for (const entry of entries) {
        // hand over each entry on its own turn, as a network or file source would
        yield await Promise.resolve(entry)
      }
    }
    const events: Array<{ entries: number, blocks: number }> = []
    const streamed = await t.build(stream(), { onProgress: (event) => { if (event.type === 'prolly:build:chunk') events.push(event.detail) } })
    expect(streamed.toString()).toBe((await t.build(entries)).toString())
    expect(events.length).toBeGreaterThan(100)
    expect(events.at(-1)!.entries).toBeLessThanOrEqual(2000)
    expect(events.map((event) => event.entries)).toEqual([...events.map((event) => event.entries)].sort((a, b) => a - b))
    const { entries: count, depth } = await t.verify(streamed)
    expect(count).toBe(2000)
    expect(depth).toBe(await t.depth(streamed))
    expect(depth).toBeGreaterThanOrEqual(3)
  })

  it('cuts leaves at leafFanout and branches at targetFanout; withShape shares the store, cache and stats', async () => {
    const entries = sequentialEntries(4000)
    const t = tree({ targetFanout: 32 })
    const shaped = t.withShape({ targetFanout: 32, leafFanout: 4 })
    const root = await shaped.build(entries)
    const blocks = await collect(shaped.walk(root))
    const leaves = blocks.filter((block) => block.level === 0).length
    const branches = blocks.filter((block) => block.level === 1).length
    // 4,000 entries at 4 per leaf is about 1,000 leaves, at 32 per branch about 31 branches above them
    expect(leaves).toBeGreaterThan(700)
    expect(leaves).toBeLessThan(1400)
    expect(leaves / branches).toBeGreaterThan(20)
    expect(await shaped.verify(root)).toMatchObject({ entries: 4000 })
    // reads do not depend on the shape, and reads through either engine count in the one set of stats
    t.resetStats()
    expect(await t.get(root, entries[1234]!.key)).toEqual(entries[1234]!.value)
    expect(shaped.stats).toBe(t.stats)
    expect(t.stats.blocksRead + t.stats.cacheHits).toBeGreaterThan(0)
    // a mutation through the shaped engine gives the root of building the result in that shape
    const ops: Operation[] = [{ op: 'delete', key: entries[10]!.key }, { op: 'put', key: bytes('zz'), value: bytes('v') }]
    const { root: mutated } = await shaped.mutate(root, ops)
    expect(mutated.toString()).toBe((await shaped.build(sortedEntries(applyOps(modelOf(entries), ops)))).toString())
    expect((await t.build(entries)).toString()).not.toBe(root.toString())
  })

  it('gives the empty tree for no entries', async () => {
    const t = tree()
    const root = await t.build([])
    expect(root.toString()).toBe((await t.empty()).toString())
    expect(await t.get(root, bytes('a'))).toBeUndefined()
    expect(await collect(t.range(root))).toEqual([])
    expect(await collect(t.range(root, { reverse: true }))).toEqual([])
    expect(await t.count(root)).toBe(0)
    expect(await t.depth(root)).toBe(1)
    expect(await t.verify(root)).toEqual({ blocks: 1, entries: 0, depth: 1 })
    expect(await t.mutate(root, [{ op: 'delete', key: bytes('a') }])).toEqual({ root, written: 0 })
  })

  it('forces splits at maxNodeBytes when no key is a boundary, and the result still verifies and mutates canonically', async () => {
    const maxNodeBytes = 16_384
    const rules = new ChunkRules({ targetFanout: 8, leafFanout: 8 }, maxNodeBytes)
    // keys that are never leaf boundaries: only the size bound can cut the leaves
    const keys: Uint8Array[] = []
    for (let i = 0; keys.length < 120; i++) {
      const key = bytes(`k${String(i).padStart(5, '0')}`)
      if (!rules.isBoundary(0, key)) {
        keys.push(key)
      }
    }
    const entries = keys.map((key, i) => ({ key, value: new Uint8Array(1500).fill(i) }))
    const t = tree({ maxNodeBytes })
    const root = await t.build(entries)
    const blocks = await collect(t.walk(root))
    const leaves = blocks.filter((block) => block.level === 0)
    expect(leaves.length).toBeGreaterThanOrEqual(12)
    for (const block of blocks) {
      expect(block.bytes.length).toBeLessThanOrEqual(maxNodeBytes)
    }
    expect((await t.verify(root)).entries).toBe(120)
    // growing one value shifts every forced split to its right
    const ops: Operation[] = [{ op: 'put', key: keys[3]!, value: new Uint8Array(6000) }, { op: 'delete', key: keys[50]! }]
    const { root: next } = await t.mutate(root, ops)
    expect(next.toString()).toBe((await t.build(sortedEntries(applyOps(modelOf(entries), ops)))).toString())
  })
})

describe('reads', () => {
  const entries = sequentialEntries(3000)
  const t = tree()
  const rootPromise = t.build(entries)

  it('gets every key and nothing else', async () => {
    const root = await rootPromise
    for (const entry of entries) {
      expect(hex((await t.get(root, entry.key))!)).toBe(hex(entry.value))
    }
    for (const absent of ['', 'a', 'key-000000a', 'key-0015', 'key-002999z', 'zzz']) {
      expect(await t.get(root, bytes(absent))).toBeUndefined()
    }
  })

  it('ranges with bounds, direction and limit', async () => {
    const root = await rootPromise
    const keys = async (options: Parameters<typeof t.range>[1]) => (await collect(t.range(root, options))).map((entry) => new TextDecoder().decode(entry.key))
    expect(await keys({ gte: bytes('key-000010'), lt: bytes('key-000013') })).toEqual(['key-000010', 'key-000011', 'key-000012'])
    expect(await keys({ gte: bytes('key-000010'), lt: bytes('key-000013'), reverse: true })).toEqual(['key-000012', 'key-000011', 'key-000010'])
    expect(await keys({ gte: bytes('key-0029985'), reverse: true })).toEqual(['key-002999'])
    expect(await keys({ lt: bytes('key-000002') })).toEqual(['key-000000', 'key-000001'])
    expect(await keys({ limit: 2, reverse: true })).toEqual(['key-002999', 'key-002998'])
    expect(await keys({ limit: 0 })).toEqual([])
    expect(await keys({ gte: bytes('key-000013'), lt: bytes('key-000010') })).toEqual([])
    expect(plain(await collect(t.range(root)))).toEqual(plain(entries))
    expect(plain(await collect(t.range(root, { reverse: true })))).toEqual(plain([...entries].reverse()))
  })

  it('lists a prefix, including prefixes ending in 0xff', async () => {
    const root = await rootPromise
    const found = await collect(t.prefix(root, bytes('key-00012')))
    expect(found.map((entry) => new TextDecoder().decode(entry.key))).toEqual(Array.from({ length: 10 }, (_, i) => `key-00012${i}`))
    expect((await collect(t.prefix(root, bytes('key-00012'), { reverse: true, limit: 1 })))[0]!.key).toEqual(bytes('key-000129'))
    const edge = tree()
    const edgeRoot = await edge.build([
      { key: Uint8Array.from([0xfe, 0xff]), value: new Uint8Array() },
      { key: Uint8Array.from([0xff]), value: new Uint8Array() },
      { key: Uint8Array.from([0xff, 0xff, 0x01]), value: new Uint8Array() }
    ])
    expect((await collect(edge.prefix(edgeRoot, Uint8Array.from([0xff])))).length).toBe(2)
    expect((await collect(edge.prefix(edgeRoot, Uint8Array.from([0xfe, 0xff])))).length).toBe(1)
    expect((await collect(edge.prefix(edgeRoot, new Uint8Array())))).toHaveLength(3)
  })

  it('counts a range in O(depth) blocks from the subtree counts', async () => {
    const root = await rootPromise
    const cold = prolly({ blocks: memoryBlockStore() }, { targetFanout: 8, cacheSize: 0 })
    const coldRoot = await cold.build(entries)
    const depth = await cold.depth(coldRoot)
    cold.resetStats()
    expect(await cold.count(coldRoot, { gte: bytes('key-000100'), lt: bytes('key-002500') })).toBe(2400)
    expect(cold.stats.blocksRead).toBeLessThanOrEqual(2 * depth + 1)
    expect(await t.count(root)).toBe(3000)
    expect(await t.count(root, { gte: bytes('key-0029995') })).toBe(0)
    expect(await t.count(root, { lt: bytes('key-000000') })).toBe(0)
    expect(await t.count(root, { gte: bytes('b'), lt: bytes('a') })).toBe(0)
  })

  it('walks every block once, each hashing to its CID', async () => {
    const root = await rootPromise
    const blocks = await collect(t.walk(root))
    expect(blocks[0]!.cid.toString()).toBe(root.toString())
    expect(new Set(blocks.map((block) => block.cid.toString())).size).toBe(blocks.length)
    for (const block of blocks) {
      expect(cidOf(block.bytes).toString()).toBe(block.cid.toString())
    }
    expect(blocks.length).toBe((await t.verify(root)).blocks)
    expect(blocks[0]!.level + 1).toBe(await t.depth(root))
  })

  it('serves repeated reads from the decoded-node cache, and reads depth blocks per get without it', async () => {
    const root = await rootPromise
    await t.get(root, entries[5]!.key)
    t.resetStats()
    await t.get(root, entries[5]!.key)
    expect(t.stats.blocksRead).toBe(0)
    expect(t.stats.cacheHits).toBe(await t.depth(root))
    const cold = prolly({ blocks: memoryBlockStore() }, { targetFanout: 8, cacheSize: 0 })
    const coldRoot = await cold.build(entries)
    cold.resetStats()
    await cold.get(coldRoot, entries[5]!.key)
    await cold.get(coldRoot, entries[5]!.key)
    expect(cold.stats).toEqual({ blocksRead: 2 * await t.depth(root), cacheHits: 0, blocksWritten: 0 })
  })
})

describe('mutate and diff', () => {
  it('rewrites exactly one path for a value update, and diff reads only the changed paths', async () => {
    const entries = sequentialEntries(3000)
    const t = tree({ cacheSize: 0 })
    const root = await t.build(entries)
    const depth = await t.depth(root)
    const { root: next, written } = await t.mutate(root, [{ op: 'put', key: entries[1234]!.key, value: bytes('changed') }])
    expect(written).toBe(depth)
    t.resetStats()
    const changes = await collect(t.diff(root, next))
    expect(changes.map((change) => [hex(change.key), hex(change.before!), hex(change.after!)])).toEqual([[hex(entries[1234]!.key), hex(entries[1234]!.value), hex(bytes('changed'))]])
    expect(t.stats.blocksRead).toBe(2 * depth)
  })

  it('counts as written exactly the blocks the new tree holds that the old one did not', async () => {
    const entries = sequentialEntries(2000)
    const t = tree()
    const root = await t.build(entries)
    const ops: Operation[] = [
      ...entries.filter((_, i) => i % 97 === 0).map((entry): Operation => ({ op: 'delete', key: entry.key })),
      ...entries.filter((_, i) => i % 89 === 1).map((entry): Operation => ({ op: 'put', key: entry.key, value: bytes('v2') })),
      ...Array.from({ length: 30 }, (_, i): Operation => ({ op: 'put', key: bytes(`key-000500-${i}`), value: bytes('new') }))
    ]
    t.resetStats()
    const { root: next, written } = await t.mutate(root, ops)
    const before = new Set((await collect(t.walk(root))).map((block) => block.cid.toString()))
    const fresh = (await collect(t.walk(next))).filter((block) => !before.has(block.cid.toString()))
    expect(written).toBe(fresh.length)
    expect(t.stats.blocksWritten).toBe(written)
  })

  it('applies a batch in order: the last operation on a key wins, and a no-op batch writes nothing', async () => {
    const entries = sequentialEntries(500)
    const t = tree()
    const root = await t.build(entries)
    const key = entries[10]!.key
    const { root: next } = await t.mutate(root, [
      { op: 'put', key, value: bytes('first') },
      { op: 'delete', key },
      { op: 'put', key, value: bytes('last') }
    ])
    expect(await t.get(next, key)).toEqual(bytes('last'))
    const { root: deleted } = await t.mutate(root, [{ op: 'put', key, value: bytes('x') }, { op: 'delete', key }])
    expect(await t.get(deleted, key)).toBeUndefined()
    expect(await t.mutate(root, [{ op: 'put', key, value: entries[10]!.value }, { op: 'delete', key: bytes('absent') }])).toEqual({ root, written: 0 })
    expect(await t.mutate(root, [])).toEqual({ root, written: 0 })
  })

  it('shrinks to the empty tree when everything is deleted, and grows back', async () => {
    const entries = sequentialEntries(700)
    const t = tree()
    const root = await t.build(entries)
    const events: string[] = []
    const { root: empty } = await t.mutate(root, entries.map((entry): Operation => ({ op: 'delete', key: entry.key })), { onProgress: (event) => events.push(event.type) })
    expect(empty.toString()).toBe((await t.empty()).toString())
    expect(events).toContain('prolly:mutate:level')
    const { root: again } = await t.mutate(empty, entries.map((entry): Operation => ({ op: 'put', ...entry })))
    expect(again.toString()).toBe(root.toString())
  })

  it('reports verify progress per block', async () => {
    const t = tree()
    const root = await t.build(sequentialEntries(300))
    let last = 0
    const result = await t.verify(root, { onProgress: (event) => { if (event.type === 'prolly:verify:block') last = event.detail.blocks } })
    expect(last).toBe(result.blocks)
  })
})
