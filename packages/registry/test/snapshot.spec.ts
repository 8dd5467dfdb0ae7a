import { memoryBlockStore, prolly } from '@capdex/prolly'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { decodeEntry, encodeEntry } from '../src/entries/index.js'
import {
  decodeSnapshot, encodeSnapshot, findAtTime, findByHeight, fold, openSnapshot, provesExtension, snapshotCid
} from '../src/snapshot/index.js'
import { readTestRecord } from './entries-fixtures.js'
import type { FoldResult, Snapshot } from '../src/snapshot/index.js'

const ROOT = CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
const GENESIS: Snapshot = { v: 1, network: 'test', height: 0, time: 1000, prev: null, providers: ROOT, attrs: ROOT, count: 0, indexer: 'k51indexer', history: ROOT }

describe('entry encoding', () => {
  const entry = { record: Uint8Array.of(1, 2, 3), manifest: ROOT, seen: 1_700_000_000_000 }

  it('round-trips', () => {
    expect(decodeEntry(encodeEntry(entry))).toEqual(entry)
  })

  it('writes exactly what @ipld/dag-cbor writes, and reads back only that', () => {
    const entries = fc.record({
      record: fc.uint8Array({ maxLength: 700 }),
      seen: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.maxSafeNat()),
      lease: fc.option(fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 9 }).map((runs) => runs.length % 2 === 0 ? [...runs, 1] : runs), { nil: undefined }),
      v0: fc.boolean()
    })
    const V0 = CID.parse('QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB')
    fc.assert(fc.property(entries, fc.integer({ min: 0, max: 5000 }), ({ record, seen, lease, v0 }, end) => {
      const manifest = v0 ? V0 : ROOT
      const fields = { record, manifest, seen }
      const value = lease === undefined ? fields : { ...fields, lease: { end, runs: lease } }
      const bytes = encodeEntry(value)
      expect(bytes).toEqual(dagCbor.encode(lease === undefined ? fields : { ...fields, lease: [end, ...lease] }))
      expect(decodeEntry(bytes)).toEqual(value)
    }), { numRuns: 200 })
    // non-minimal heads, indefinite lengths and trailing bytes
    const good = encodeEntry(entry)
    expect(() => decodeEntry(Uint8Array.of(...good, 0))).toThrow(expect.objectContaining({ name: 'InvalidEntryError' }))
    expect(() => decodeEntry(Uint8Array.of(0xb8, 3, ...good.subarray(1)))).toThrow(expect.objectContaining({ name: 'InvalidEntryError' }))
    expect(() => decodeEntry(Uint8Array.of(0xbf, ...good.subarray(1), 0xff))).toThrow(expect.objectContaining({ name: 'InvalidEntryError' }))
    expect(() => decodeEntry(good.subarray(0, good.length - 1))).toThrow(expect.objectContaining({ name: 'InvalidEntryError' }))
  })

  it('rejects extra or missing keys and wrong types', () => {
    const bad = [
      { ...entry, extra: 1 },
      { record: entry.record, manifest: ROOT },
      { ...entry, seen: -1 },
      { ...entry, seen: 1.5 },
      { ...entry, record: 'bytes' },
      { ...entry, manifest: ROOT.toString() },
      [entry.record, ROOT, 1]
    ]
    for (const value of bad) {
      expect(() => decodeEntry(dagCbor.encode(value))).toThrow(expect.objectContaining({ name: 'InvalidEntryError' }))
    }
    expect(() => decodeEntry(Uint8Array.of(0xff))).toThrow(expect.objectContaining({ name: 'InvalidEntryError' }))
    expect(() => decodeEntry(new Uint8Array(17 * 1024))).toThrow(expect.objectContaining({ name: 'InvalidEntryError' }))
  })
})

describe('snapshot encoding', () => {
  it('round-trips and has a DAG-CBOR sha2-256 CID', async () => {
    const bytes = encodeSnapshot(GENESIS)
    expect(decodeSnapshot(bytes)).toEqual(GENESIS)
    const cid = await snapshotCid(bytes)
    expect(cid.code).toBe(dagCbor.code)
    expect(cid.multihash.code).toBe(sha256.code)
  })

  it('rejects anything else as NotASnapshotError', () => {
    const bad: unknown[] = [
      { ...GENESIS, extra: true },
      { ...GENESIS, v: 2 },
      { ...GENESIS, prev: ROOT },
      { ...GENESIS, height: 1 },
      { ...GENESIS, count: -1 },
      { ...GENESIS, network: 7 },
      { ...GENESIS, history: undefined },
      'snapshot',
      [GENESIS]
    ]
    for (const value of bad) {
      const bytes = dagCbor.encode(JSON.parse(JSON.stringify(value, (k, v: unknown) => v instanceof CID ? { '/': v.toString() } : v)) as unknown)
      expect(() => decodeSnapshot(bytes)).toThrow(expect.objectContaining({ name: 'NotASnapshotError' }))
    }
    for (const value of bad.slice(0, 4)) {
      expect(() => decodeSnapshot(dagCbor.encode(value))).toThrow(expect.objectContaining({ name: 'NotASnapshotError' }))
    }
    expect(() => decodeSnapshot(Uint8Array.of(0xa0, 0x00))).toThrow(expect.objectContaining({ name: 'NotASnapshotError' }))
  })

  it('openSnapshot re-hashes the block', async () => {
    const blocks = memoryBlockStore()
    const bytes = encodeSnapshot(GENESIS)
    const cid = await snapshotCid(bytes)
    await blocks.put(cid, bytes)
    expect((await openSnapshot(cid, blocks)).snapshot).toEqual(GENESIS)
    const other = encodeSnapshot({ ...GENESIS, time: 2000 })
    const lying = { get: async () => Promise.resolve(other), put: async () => Promise.resolve() }
    await expect(openSnapshot(cid, lying)).rejects.toMatchObject({ name: 'NotASnapshotError' })
    await expect(openSnapshot(CID.createV1(0x55, cid.multihash), blocks)).rejects.toMatchObject({ name: 'NotASnapshotError' })
  })
})

describe('history', () => {
  const LENGTH = 200
  const T0 = Date.UTC(2024, 0, 1)

  async function chain (network = 'test'): Promise<{ blocks: ReturnType<typeof memoryBlockStore>, results: FoldResult[] }> {
    const blocks = memoryBlockStore()
    const tree = prolly({ blocks })
    const results: FoldResult[] = []
    let previous: FoldResult | null = null
    for (let i = 0; i < LENGTH; i++) {
      // uneven gaps; two snapshots may share a time
      const time = T0 + i * 60_000 + (i % 7 === 3 ? -60_000 : 0)
      previous = await fold({ prolly: tree, blocks, readRecord: readTestRecord }, previous, [], { now: time, network, indexer: 'k51indexer' })
      results.push(previous)
    }
    return { blocks, results }
  }

  it('finds any height and time in O(log n) blocks', async () => {
    const { blocks, results } = await chain()
    const head = results.at(-1)!
    for (const height of [0, 1, 57, 123, 198, 199]) {
      const cold = prolly({ blocks })
      const hit = await findByHeight({ prolly: cold, blocks }, head.cid, height)
      expect(hit.cid.equals(results[height]!.cid)).toBe(true)
      expect(hit.time).toBe(results[height]!.snapshot.time)
      expect(cold.stats.blocksRead).toBeLessThanOrEqual(await cold.depth(head.snapshot.history))
    }
    const depth = await prolly({ blocks }).depth(head.snapshot.history)
    expect(depth).toBeLessThanOrEqual(4)

    for (let i = 0; i < LENGTH; i += 13) {
      const target = results[i]!.snapshot
      const cold = prolly({ blocks })
      // the latest snapshot at or before the time: ties go to the greater height
      const expected = results.filter((r) => r.snapshot.time <= target.time + 30_000).at(-1)!
      const hit = await findAtTime({ prolly: cold, blocks }, head.cid, target.time + 30_000)
      expect(hit.height).toBe(expected.snapshot.height)
      expect(hit.cid.equals(expected.cid)).toBe(true)
      expect(cold.stats.blocksRead).toBeLessThanOrEqual(2 * depth)
    }
    expect((await findAtTime({ prolly: prolly({ blocks }), blocks }, head.cid, Date.now())).cid.equals(head.cid)).toBe(true)
    await expect(findAtTime({ prolly: prolly({ blocks }), blocks }, head.cid, T0 - 1)).rejects.toMatchObject({ name: 'BeforeFirstSnapshotError' })
    await expect(findByHeight({ prolly: prolly({ blocks }), blocks }, head.cid, LENGTH)).rejects.toMatchObject({ name: 'SnapshotNotFoundError' })
  })

  it('proves that a head extends an earlier snapshot, and not a foreign one', async () => {
    const { blocks, results } = await chain()
    const tree = prolly({ blocks })
    const head = results.at(-1)!.cid
    expect(await provesExtension({ prolly: tree, blocks }, head, head)).toBe(true)
    expect(await provesExtension({ prolly: tree, blocks }, head, results[42]!.cid)).toBe(true)
    expect(await provesExtension({ prolly: tree, blocks }, results[42]!.cid, head)).toBe(false)

    const foreign = await fold({ prolly: tree, blocks, readRecord: readTestRecord }, null, [], { now: T0 + 5, network: 'test', indexer: 'k51other' })
    expect(await provesExtension({ prolly: tree, blocks }, head, foreign.cid)).toBe(false)
    const fork = await fold({ prolly: tree, blocks, readRecord: readTestRecord }, results[10]!, [], { now: T0 + 11 * 60_000 + 1, network: 'test', indexer: 'k51indexer' })
    expect(await provesExtension({ prolly: tree, blocks }, head, fork.cid)).toBe(false)
  })
})
