import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { describe, expect, it } from 'vitest'
import { ChunkRules } from '../src/chunker.js'
import { fromHeliaBlockstore, memoryBlockStore, prolly } from '../src/index.js'
import { absentCid, bytes, caught, collect, putRaw, sequentialEntries } from './fixtures.js'
import type { BlockStore, Prolly } from '../src/index.js'

const FANOUT = 8

function setup (init: { maxNodeBytes?: number } = {}): { blocks: BlockStore, tree: Prolly } {
  const blocks = memoryBlockStore()
  return { blocks, tree: prolly({ blocks }, { targetFanout: FANOUT, ...init }) }
}

/** Every way of reading the whole tree must fail the same way. */
async function everyReadFails (tree: Prolly, root: CID, name: string, check: (err: Error & { cid?: CID, reason?: string }) => void): Promise<void> {
  const reads: Array<() => Promise<unknown>> = [
    async () => tree.verify(root),
    async () => collect(tree.walk(root)),
    async () => collect(tree.range(root)),
    async () => collect(tree.diff(root, await tree.empty()))
  ]
  for (const read of reads) {
    const err = await caught(read)
    expect(err.name).toBe(name)
    check(err)
  }
}

/** Keys none of which is a boundary at levels 0 and 1, so hand-made nodes fail only for the reason under test. */
function quietKeys (count: number): Uint8Array[] {
  const rules = new ChunkRules({ targetFanout: FANOUT, leafFanout: FANOUT }, 65_536)
  const keys: Uint8Array[] = []
  for (let i = 0; keys.length < count; i++) {
    const key = bytes(`q${String(i).padStart(4, '0')}`)
    if (!rules.isBoundary(0, key) && !rules.isBoundary(1, key)) {
      keys.push(key)
    }
  }
  return keys
}

const value = new Uint8Array([7])

describe('bad blocks', () => {
  it('rejects a block whose bytes do not hash to its CID, naming it', async () => {
    const { blocks, tree } = setup()
    const root = await tree.build(sequentialEntries(500))
    const [, leafBlock] = (await collect(tree.walk(root))).filter((block) => block.level === 0)
    const tampered = Uint8Array.from(leafBlock!.bytes)
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1
    await blocks.put(leafBlock!.cid, tampered)
    const fresh = prolly({ blocks }, { targetFanout: FANOUT })
    await everyReadFails(fresh, root, 'InvalidBlockError', (err) => {
      expect(err.cid!.toString()).toBe(leafBlock!.cid.toString())
      expect(err.message).toContain(leafBlock!.cid.toString())
    })
  })

  it('leaves the hash to verify and walk when verifyBlocks is off', async () => {
    const { blocks, tree } = setup()
    const entries = sequentialEntries(500)
    const root = await tree.build(entries)
    const [leafBlock] = (await collect(tree.walk(root))).filter((block) => block.level === 0)
    // same length, one value byte changed: still a well-formed node
    const tampered = Uint8Array.from(leafBlock!.bytes)
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1
    await blocks.put(leafBlock!.cid, tampered)
    const trusting = prolly({ blocks }, { targetFanout: FANOUT, verifyBlocks: false })
    expect(await trusting.get(root, entries[0]!.key)).toBeDefined()
    expect((await caught(async () => trusting.verify(root))).name).toBe('InvalidBlockError')
    expect((await caught(async () => collect(trusting.walk(root)))).name).toBe('InvalidBlockError')
  })

  it('fails fast on a missing block when the store is offline, naming it', async () => {
    const { blocks, tree } = setup()
    const missing = absentCid()
    const err = await caught(async () => tree.get(missing, bytes('a')))
    expect(err.name).toBe('MissingBlockError')
    expect(err.cid!.toString()).toBe(missing.toString())
    const root = await putRaw(blocks, [1, [bytes('a'), bytes('b')], [await putRaw(blocks, [0, [bytes('a')], [value]]), missing], [1, 1]])
    await everyReadFails(tree, root, 'MissingBlockError', (failure) => { expect(failure.cid!.toString()).toBe(missing.toString()) })
    expect((await caught(async () => tree.count(root, { gte: bytes('b') }))).name).toBe('MissingBlockError')
  })

  it('gives up on a block that never arrives once the caller aborts, even if the store ignores the signal', async () => {
    const { blocks, tree: builder } = setup()
    const root = await builder.build(sequentialEntries(10))
    const controller = new AbortController()
    const hanging: BlockStore = {
      get: async () => {
        controller.abort()
        return new Promise<Uint8Array>(() => {})
      },
      put: async (cid, block) => blocks.put(cid, block)
    }
    const tree = prolly({ blocks: hanging })
    const err = await caught(async () => tree.get(root, bytes('a'), { signal: controller.signal }))
    expect(err.name).toBe('AbortError')
    expect(err.cid!.toString()).toBe(root.toString())
    // a timeout signal works the same way
    const timedOut = await caught(async () => collect(tree.range(root, { signal: AbortSignal.timeout(10) })))
    expect(timedOut.name).toBe('AbortError')
  })

  it('maps a helia store\'s NotFoundError to MissingBlockError and honours the signal while it waits', async () => {
    const tree = prolly({ blocks: fromHeliaBlockstore(new MemoryBlockstore()) })
    const missing = absentCid(3)
    const err = await caught(async () => tree.get(missing, bytes('a')))
    expect(err.name).toBe('MissingBlockError')
    expect(err.cid!.toString()).toBe(missing.toString())
    const waiting = prolly({
      blocks: fromHeliaBlockstore({
        get: async function * (_cid, options) {
          await new Promise((_resolve, reject) => options?.signal?.addEventListener('abort', () => { reject(new Error('aborted')) }))
          yield new Uint8Array()
        },
        put: () => {}
      })
    })
    const aborted = await caught(async () => waiting.get(missing, bytes('a'), { signal: AbortSignal.timeout(10) }))
    expect(aborted.name).toBe('AbortError')
  })
})

describe('hostile trees fail verify with InvalidNodeError naming the node', () => {
  const expectInvalid = async (tree: Prolly, root: CID, reason: string, cid?: CID): Promise<void> => {
    const err = await caught(async () => tree.verify(root))
    expect(err.name).toBe('InvalidNodeError')
    expect(err.reason).toBe(reason)
    if (cid !== undefined) {
      expect(err.cid!.toString()).toBe(cid.toString())
      expect(err.message).toContain(cid.toString())
    }
  }

  it('rejects keys out of order within a node and across nodes', async () => {
    const { blocks, tree } = setup()
    const [a, b, c, d] = quietKeys(4)
    const unsorted = await putRaw(blocks, [0, [b, a], [value, value]])
    await expectInvalid(tree, unsorted, 'order', unsorted)
    expect((await caught(async () => tree.get(unsorted, a!))).name).toBe('InvalidNodeError')
    const left = await putRaw(blocks, [0, [a, c], [value, value]])
    const right = await putRaw(blocks, [0, [b, d], [value, value]])
    await expectInvalid(tree, await putRaw(blocks, [1, [a, b], [left, right], [2, 2]]), 'order', right)
  })

  it('rejects a child whose first key differs from its parent\'s, and a block linked twice', async () => {
    const { blocks, tree } = setup()
    const [a, b, c, d] = quietKeys(4)
    const left = await putRaw(blocks, [0, [a, b], [value, value]])
    const right = await putRaw(blocks, [0, [c, d], [value, value]])
    await expectInvalid(tree, await putRaw(blocks, [1, [a, b], [left, right], [2, 2]]), 'order', right)
    await expectInvalid(tree, await putRaw(blocks, [1, [a, c], [left, left], [2, 2]]), 'order', left)
  })

  it('rejects children at the wrong level', async () => {
    const { blocks, tree } = setup()
    const [a, b, c, d] = quietKeys(4)
    const left = await putRaw(blocks, [0, [a, b], [value, value]])
    const right = await putRaw(blocks, [0, [c, d], [value, value]])
    const root = await putRaw(blocks, [2, [a, c], [left, right], [2, 2]])
    await expectInvalid(tree, root, 'level', left)
    const err = await caught(async () => tree.get(root, a!))
    expect(err.name).toBe('InvalidNodeError')
    expect(err.reason).toBe('level')
  })

  it('rejects wrong subtree counts', async () => {
    const { blocks, tree } = setup()
    const [a, b, c, d] = quietKeys(4)
    const left = await putRaw(blocks, [0, [a, b], [value, value]])
    const right = await putRaw(blocks, [0, [c, d], [value, value]])
    await expectInvalid(tree, await putRaw(blocks, [1, [a, c], [left, right], [2, 5]]), 'count', right)
  })

  it('rejects nodes over the size bound before decoding them', async () => {
    const { blocks, tree } = setup({ maxNodeBytes: 16_384 })
    const big = await putRaw(blocks, [0, [bytes('a')], [new Uint8Array(20_000)]])
    await expectInvalid(tree, big, 'size', big)
    expect((await caught(async () => tree.get(big, bytes('a')))).name).toBe('InvalidNodeError')
  })

  it('rejects an empty non-root leaf, a link that is not a dag-cbor sha2-256 CID, and such a root', async () => {
    const { blocks, tree } = setup()
    const [a, b, c] = quietKeys(3)
    const empty = await putRaw(blocks, [0, [], []])
    const full = await putRaw(blocks, [0, [b, c], [value, value]])
    await expectInvalid(tree, await putRaw(blocks, [1, [a, b], [empty, full], [1, 2]]), 'empty', empty)
    const raw = CID.createV1(0x55, Digest.create(0x12, new Uint8Array(32)))
    await expectInvalid(tree, await putRaw(blocks, [1, [a, b], [raw, full], [1, 2]]), 'link')
    await expectInvalid(tree, raw, 'link', raw)
  })

  it('rejects chunk boundaries that are not canonical', async () => {
    const { blocks, tree } = setup()
    const rules = new ChunkRules({ targetFanout: FANOUT, leafFanout: FANOUT }, 65_536)
    const [a, b, c, d] = quietKeys(4)
    // split where no boundary is: the left leaf ends without a boundary key and far below the size bound
    const left = await putRaw(blocks, [0, [a, b], [value, value]])
    const right = await putRaw(blocks, [0, [c, d], [value, value]])
    await expectInvalid(tree, await putRaw(blocks, [1, [a, c], [left, right], [2, 2]]), 'boundary', left)
    // a boundary key inside a node
    let boundaryKey = bytes('b0')
    for (let i = 0; !rules.isBoundary(0, boundaryKey) || compareKey(boundaryKey, c!) >= 0 || compareKey(boundaryKey, b!) <= 0; i++) {
      boundaryKey = Uint8Array.from([...b!, i & 0xff, i >> 8])
    }
    const merged = await putRaw(blocks, [0, [a, b, boundaryKey, c], [value, value, value, value]])
    await expectInvalid(tree, merged, 'boundary', merged)
    // a root branch with a single child should have been that child
    await expectInvalid(tree, await putRaw(blocks, [1, [a], [left], [2]]), 'level')
    // a real tree checked against other chunking parameters
    const other = prolly({ blocks }, { targetFanout: 4 })
    const root = await other.build(sequentialEntries(300))
    await expectInvalid(tree, root, 'boundary')
    // a tree whose leaves were cut at another fan-out than its branches, checked against uniform chunking, and back
    const smallLeaves = tree.withShape({ targetFanout: FANOUT, leafFanout: 2 })
    const smallLeavesRoot = await smallLeaves.build(sequentialEntries(300))
    await expectInvalid(tree, smallLeavesRoot, 'boundary')
    const uniform = await tree.build(sequentialEntries(300))
    await expectInvalid(smallLeaves, uniform, 'boundary')
  })
})

function compareKey (x: Uint8Array, y: Uint8Array): number {
  return Buffer.compare(x, y)
}

describe('bad keys, values, batches and options', () => {
  const tooLong = new Uint8Array(4097)

  it('rejects keys over 4 KiB and keys that are not Uint8Arrays, wherever a key goes in', async () => {
    const { tree } = setup()
    const root = await tree.build(sequentialEntries(10))
    const cases: Array<[() => Promise<unknown>, string]> = [
      [async () => tree.build([{ key: tooLong, value }]), 'KeyTooLargeError'],
      [async () => tree.build([{ key: 'a' as unknown as Uint8Array, value }]), 'InvalidKeyError'],
      [async () => tree.mutate(root, [{ op: 'put', key: tooLong, value }]), 'KeyTooLargeError'],
      [async () => tree.mutate(root, [{ op: 'delete', key: [1, 2] as unknown as Uint8Array }]), 'InvalidKeyError'],
      [async () => tree.get(root, tooLong), 'KeyTooLargeError'],
      [async () => tree.get(root, null as unknown as Uint8Array), 'InvalidKeyError'],
      [async () => collect(tree.range(root, { gte: 'a' as unknown as Uint8Array })), 'InvalidKeyError'],
      [async () => collect(tree.prefix(root, 7 as unknown as Uint8Array)), 'InvalidKeyError'],
      [async () => tree.count(root, { lt: {} as unknown as Uint8Array }), 'InvalidKeyError']
    ]
    for (const [run, name] of cases) {
      expect((await caught(run)).name).toBe(name)
    }
    // exactly 4 KiB is fine
    const max = await tree.build([{ key: new Uint8Array(4096).fill(1), value }])
    expect(await tree.get(max, new Uint8Array(4096).fill(1))).toEqual(value)
  })

  it('rejects bad values, unsorted input and unknown operations', async () => {
    const { tree } = setup({ maxNodeBytes: 16_384 })
    const root = await tree.build(sequentialEntries(10))
    const cases: Array<[() => Promise<unknown>, string]> = [
      [async () => tree.build([{ key: bytes('a'), value: 'x' as unknown as Uint8Array }]), 'InvalidValueError'],
      [async () => tree.mutate(root, [{ op: 'put', key: bytes('a'), value: undefined as unknown as Uint8Array }]), 'InvalidValueError'],
      [async () => tree.build([{ key: bytes('a'), value: new Uint8Array(16_384) }]), 'ValueTooLargeError'],
      [async () => tree.mutate(root, [{ op: 'put', key: bytes('a'), value: new Uint8Array(16_384) }]), 'ValueTooLargeError'],
      [async () => tree.build([{ key: bytes('b'), value }, { key: bytes('a'), value }]), 'UnsortedEntriesError'],
      [async () => tree.build([{ key: bytes('a'), value }, { key: bytes('a'), value }]), 'UnsortedEntriesError'],
      [async () => tree.mutate(root, [{ op: 'upsert', key: bytes('a') } as unknown as { op: 'delete', key: Uint8Array }]), 'InvalidOperationError']
    ]
    for (const [run, name] of cases) {
      expect((await caught(run)).name).toBe(name)
    }
  })

  it('stops a build when the signal aborts', async () => {
    const { tree } = setup()
    const controller = new AbortController()
    controller.abort()
    expect((await caught(async () => tree.build(sequentialEntries(10), { signal: controller.signal }))).name).toBe('AbortError')
  })

  it('rejects unusable options and components', () => {
    const blocks = memoryBlockStore()
    const cases: Array<() => unknown> = [
      () => prolly({ blocks }, { targetFanout: 1 }),
      () => prolly({ blocks }, { targetFanout: 2.5 }),
      () => prolly({ blocks }, { leafFanout: 0 }),
      () => prolly({ blocks }, { leafFanout: 70_000 }),
      () => prolly({ blocks }).withShape({ leafFanout: 1.5 }),
      () => prolly({ blocks }).withShape({ targetFanout: 1 }),
      () => prolly({ blocks }, { maxNodeBytes: 1024 }),
      () => prolly({ blocks }, { maxNodeBytes: 4 * 1024 * 1024 }),
      () => prolly({ blocks }, { cacheSize: -1 }),
      () => prolly({ blocks: {} as unknown as BlockStore })
    ]
    for (const create of cases) {
      expect(create).toThrow(expect.objectContaining({ name: 'InvalidConfigError' }))
    }
  })
})
