import { memoryBlockStore, prolly } from '@capdex/prolly'
import { generateKeyPair } from '@libp2p/crypto/keys'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { attrKey, attrPrefix, attrValuePrefix, decodeAttrKey, decodeEntry } from '../src/entries/index.js'
import { createRecord, nameFromPublicKey, nameToBytes, verifyRecord } from '../src/records/index.js'
import { encodeSnapshot, expiredBetween, fold, liveCount, openSnapshot, snapshotTree } from '../src/snapshot/index.js'
import { readTestRecord, testManifest, testManifestCid, testName, testUpdate } from './entries-fixtures.js'
import type { FoldResult, VerifiedUpdate } from '../src/snapshot/index.js'
import type { BlockStore, Prolly } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'

const NOW = Date.UTC(2024, 5, 1)
const HOUR = 3_600_000
const INIT = { now: NOW, network: 'test', indexer: 'k51qzi5uqu5indexer' }

interface World { blocks: BlockStore, tree: Prolly, components: { prolly: Prolly, blocks: BlockStore, readRecord: typeof readTestRecord } }

function world (): World {
  const blocks = memoryBlockStore()
  const tree = prolly({ blocks })
  return { blocks, tree, components: { prolly: tree, blocks, readRecord: readTestRecord } }
}

/** Folds the batches one after another, starting at genesis. */
async function foldAll (w: World, batches: VerifiedUpdate[][], init = INIT): Promise<FoldResult> {
  let previous: { snapshot: FoldResult['snapshot'], cid: CID } | null = null
  let result: FoldResult | undefined
  for (const batch of batches.length === 0 ? [[]] : batches) {
    result = await fold(w.components, previous, batch, init)
    previous = result
  }
  return result!
}

async function keys (tree: Prolly, root: CID, prefix: Uint8Array): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const { key } of tree.prefix(root, prefix)) out.push(key)
  return out
}

describe('fold', () => {
  it('builds genesis with one entry per provider and its attribute keys', async () => {
    const w = world()
    const updates = [0, 1, 2].map((provider) => testUpdate({ provider, sequence: 1, validity: NOW + HOUR, variant: provider }))
    const result = await fold(w.components, null, updates, INIT)
    expect(result.snapshot).toMatchObject({ v: 1, height: 0, prev: null, count: 3, time: NOW, network: 'test' })
    expect(result.changed).toBe(3)
    expect(await w.tree.count(result.snapshot.providers)).toBe(3)
    const opened = await openSnapshot(result.cid, w.blocks)
    expect(opened.bytes).toEqual(encodeSnapshot(result.snapshot))
    expect(opened.providers.equals(result.snapshot.providers)).toBe(true)

    const entry = decodeEntry((await w.tree.get(result.snapshot.providers, nameToBytes(testName(1))))!)
    expect(entry.manifest.equals(updates[1]!.manifestCid)).toBe(true)
    expect(entry.seen).toBe(Date.parse(updates[1]!.manifest.issuedAt))
    // the manifest block was stored for clients
    expect(await w.blocks.get(updates[1]!.manifestCid)).toEqual(updates[1]!.manifestBytes)

    // provider 1 (variant 1) has two GPU models: one gpu key and one vram key each
    const pk = nameToBytes(testName(1))
    const gpuKeys = (await keys(w.tree, result.snapshot.attrs, attrPrefix('gpu'))).map(decodeAttrKey).filter((k) => k.providerKey.every((b, i) => b === pk[i]))
    expect(gpuKeys.map((k) => k.value).sort()).toEqual(['a100-40gb', 'l4'])
    const vramKeys = (await keys(w.tree, result.snapshot.attrs, attrPrefix('vram'))).map(decodeAttrKey).filter((k) => k.providerKey.every((b, i) => b === pk[i]))
    expect(vramKeys.map((k) => k.value).sort()).toEqual([24, 40])
    expect(await keys(w.tree, result.snapshot.attrs, attrValuePrefix('gpus', 4))).toEqual([attrKey('gpus', 4, pk)])
  })

  it('gives the same roots for the same final record set, whatever the order and batching', async () => {
    // a pool of updates: 4 providers × sequences 1..3 × two values × two byte variants
    const pool: VerifiedUpdate[] = []
    for (let provider = 0; provider < 4; provider++) {
      for (let sequence = 1; sequence <= 3; sequence++) {
        for (const variant of [0, 1]) {
          for (const salt of [0, 1]) {
            pool.push(testUpdate({ provider, sequence, validity: NOW + HOUR * sequence + salt * 1000, variant: variant + provider, salt }))
          }
        }
      }
    }
    const reference = new Map<string, { providers: string, attrs: string }>()
    await fc.assert(fc.asyncProperty(
      fc.subarray(pool.map((_, i) => i), { minLength: 1 }),
      fc.infiniteStream(fc.nat()),
      fc.array(fc.nat({ max: 6 }), { minLength: 1, maxLength: 4 }),
      async (chosen, shuffle, cuts) => {
        const set = chosen.join(',')
        // shuffle and split
        const order = [...chosen]
        const rand = shuffle[Symbol.iterator]()
        for (let i = order.length - 1; i > 0; i--) {
          const j = (rand.next().value as number) % (i + 1)
          ;[order[i], order[j]] = [order[j]!, order[i]!]
        }
        const batches: VerifiedUpdate[][] = []
        let at = 0
        for (const cut of cuts) {
          batches.push(order.slice(at, at + cut).map((i) => pool[i]!))
          at += cut
        }
        batches.push(order.slice(at).map((i) => pool[i]!))
        const result = await foldAll(world(), batches)
        const roots = { providers: result.snapshot.providers.toString(), attrs: result.snapshot.attrs.toString() }
        if (!reference.has(set)) {
          const single = await foldAll(world(), [chosen.map((i) => pool[i]!)])
          reference.set(set, { providers: single.snapshot.providers.toString(), attrs: single.snapshot.attrs.toString() })
        }
        expect(roots).toEqual(reference.get(set))
      }
    ), { numRuns: 40 })
  })

  it('changes nothing when an update is folded twice or a lower sequence arrives', async () => {
    const w = world()
    const v2 = testUpdate({ provider: 0, sequence: 2, validity: NOW + HOUR })
    const v1 = testUpdate({ provider: 0, sequence: 1, validity: NOW + 2 * HOUR, variant: 1 })
    const first = await fold(w.components, null, [v2], INIT)
    const again = await fold(w.components, first, [v2], { ...INIT, now: NOW + 1 })
    expect(again.changed).toBe(0)
    expect(again.snapshot.providers.equals(first.snapshot.providers)).toBe(true)
    expect(again.snapshot.attrs.equals(first.snapshot.attrs)).toBe(true)
    expect(again.snapshot.height).toBe(1)
    const lower = await fold(w.components, again, [v1], { ...INIT, now: NOW + 2 })
    expect(lower.changed).toBe(0)
    expect(lower.snapshot.providers.equals(first.snapshot.providers)).toBe(true)
    expect(lower.snapshot.attrs.equals(first.snapshot.attrs)).toBe(true)
    const inOneBatch = await fold(world().components, null, [v1, v2, v2], INIT)
    expect(inOneBatch.snapshot.attrs.equals(first.snapshot.attrs)).toBe(true)
  })

  it('replaces an entry and all of its old attribute keys on a newer record', async () => {
    const w = world()
    const v1 = testUpdate({ provider: 0, sequence: 1, validity: NOW + HOUR, variant: 1 })
    const v2 = testUpdate({ provider: 0, sequence: 2, validity: NOW + 2 * HOUR, variant: 2 })
    const first = await fold(w.components, null, [v1], INIT)
    const second = await fold(w.components, first, [v2], { ...INIT, now: NOW + 1 })
    expect(second).toMatchObject({ changed: 1, superseded: 1 })
    expect(second.snapshot.count).toBe(1)
    const fresh = await fold(world().components, null, [v2], INIT)
    expect(second.snapshot.attrs.equals(fresh.snapshot.attrs)).toBe(true)
    expect(await keys(w.tree, second.snapshot.attrs, attrValuePrefix('region', 'r1'))).toEqual([])
  })

  it('a heartbeat (same manifest, next sequence) only moves the expires key', async () => {
    const w = world()
    const beat = (sequence: number): VerifiedUpdate => {
      const u = testUpdate({ provider: 0, sequence: 1, validity: NOW + sequence * HOUR })
      return { ...u, record: { ...u.record, sequence: BigInt(sequence), bytes: Uint8Array.of(...u.record.bytes, sequence) } }
    }
    const reader: typeof readTestRecord = async (_name, bytes) => Promise.resolve(beat(bytes[bytes.length - 1]!).record)
    const components = { ...w.components, readRecord: reader }
    const first = await fold(components, null, [beat(1)], INIT)
    const second = await fold(components, first, [beat(2)], INIT)
    const changes = []
    for await (const d of w.tree.diff(first.snapshot.attrs, second.snapshot.attrs)) changes.push(decodeAttrKey(d.key))
    expect(changes.map((c) => [c.attr, c.value])).toEqual([['expires', NOW + HOUR], ['expires', NOW + 2 * HOUR]])
  })

  it('resolves equivocations the same way in any order, in a batch or against the tree, and reports both', async () => {
    const a = testUpdate({ provider: 0, sequence: 5, validity: NOW + HOUR, variant: 0 })
    const b = testUpdate({ provider: 0, sequence: 5, validity: NOW + HOUR, variant: 1 })
    const results: FoldResult[] = []
    for (const [x, y] of [[a, b], [b, a]] as const) {
      results.push(await fold(world().components, null, [x, y], INIT))
      const w = world()
      const first = await fold(w.components, null, [x], INIT)
      results.push(await fold(w.components, first, [y], INIT))
    }
    const roots = new Set(results.map((r) => `${r.snapshot.providers.toString()} ${r.snapshot.attrs.toString()}`))
    expect(roots.size).toBe(1)
    for (const r of results) {
      expect(r.equivocations).toHaveLength(1)
      const [first, second] = r.equivocations[0]!
      expect(new Set([first.value, second.value])).toEqual(new Set([a.record.value, b.record.value]))
    }
  })

  it('rejects an update whose record does not point to its manifest', async () => {
    const a = testUpdate({ provider: 0, sequence: 1, validity: NOW + HOUR, variant: 0 })
    const b = testUpdate({ provider: 0, sequence: 1, validity: NOW + HOUR, variant: 1 })
    await expect(fold(world().components, null, [{ ...a, manifestCid: b.manifestCid }], INIT)).rejects.toMatchObject({ name: 'InvalidFoldInputError' })
    await expect(fold(world().components, null, [{ ...a, manifestBytes: b.manifestBytes! }], INIT)).rejects.toMatchObject({ name: 'InvalidFoldInputError' })
  })

  it('rejects a time that goes backwards', async () => {
    const w = world()
    const first = await fold(w.components, null, [], INIT)
    await expect(fold(w.components, first, [], { ...INIT, now: NOW - 1 })).rejects.toMatchObject({ name: 'TimeWentBackwardsError' })
  })
})

describe('expiry', () => {
  it('flags expired entries, prunes them after the grace period, and lists them in expiredBetween', async () => {
    const w = world()
    const short = testUpdate({ provider: 0, sequence: 1, validity: NOW + 10 * 60_000 })
    const long = testUpdate({ provider: 1, sequence: 1, validity: NOW + 48 * HOUR })
    const genesis = await fold(w.components, null, [short, long], INIT)
    expect(await liveCount(w.components, genesis.snapshot, NOW)).toBe(2)

    // an hour later: provider 0's lease ended, but its entry stays (flagged), at no write cost
    const later = await fold(w.components, genesis, [], { ...INIT, now: NOW + HOUR })
    expect(later.changed).toBe(0)
    expect(later.snapshot.providers.equals(genesis.snapshot.providers)).toBe(true)
    expect(later.snapshot.count).toBe(2)
    expect(await liveCount(w.components, later.snapshot, NOW + HOUR)).toBe(1)
    const expired = []
    for await (const name of expiredBetween(w.components, genesis.snapshot, later.snapshot)) expired.push(name)
    expect(expired).toEqual([testName(0)])
    const none = []
    for await (const name of expiredBetween(w.components, later.snapshot, later.snapshot)) none.push(name)
    expect(none).toEqual([])

    // past the 24 h grace period: pruned
    const pruned = await fold(w.components, later, [], { ...INIT, now: NOW + 25 * HOUR })
    expect(pruned).toMatchObject({ changed: 1, pruned: 1 })
    expect(pruned.snapshot.count).toBe(1)
    expect(await w.tree.get(pruned.snapshot.providers, nameToBytes(testName(0)))).toBeUndefined()
    const onlyLong = await fold(world().components, null, [long], INIT)
    expect(pruned.snapshot.attrs.equals(onlyLong.snapshot.attrs)).toBe(true)
    expect(pruned.snapshot.providers.equals(onlyLong.snapshot.providers)).toBe(true)

    // an update that is already past the grace period never enters
    const stale = testUpdate({ provider: 2, sequence: 1, validity: NOW })
    const skipped = await fold(w.components, pruned, [stale], { ...INIT, now: NOW + 25 * HOUR })
    expect(skipped.changed).toBe(0)
    // a shorter grace period prunes sooner
    const early = await fold(w.components, genesis, [], { ...INIT, now: NOW + HOUR, pruneAfterMs: 0 })
    expect(early.pruned).toBe(1)
  })
})

describe('fold with signed records', () => {
  it('reads stored records back through verifyRecord by default', async () => {
    const key = await generateKeyPair('Ed25519')
    const name = nameFromPublicKey(key.publicKey)
    const signed = async (sequence: number, region: string): Promise<VerifiedUpdate> => {
      const manifest = testManifest({ provider: name, location: { country: 'FR', region } })
      const { cid, bytes } = testManifestCid(manifest)
      const record = await verifyRecord(name, await createRecord(key, cid, sequence, { lifetimeMs: HOUR, now: NOW }), { now: NOW })
      return { record, manifest, manifestCid: cid, seen: NOW, manifestBytes: bytes }
    }
    const w = world()
    const components = { prolly: w.tree, blocks: w.blocks }
    const first = await fold(components, null, [await signed(1, 'eu-west')], INIT)
    const second = await fold(components, first, [await signed(2, 'eu-south')], INIT)
    expect(second).toMatchObject({ changed: 1, superseded: 1 })
    const stale = await fold(components, second, [await signed(1, 'eu-west')], INIT)
    expect(stale.changed).toBe(0)
    expect(await keys(w.tree, stale.snapshot.attrs, attrValuePrefix('region', 'eu-west'))).toEqual([])
    expect(await keys(w.tree, stale.snapshot.attrs, attrValuePrefix('region', 'eu-south'))).toHaveLength(1)
  })
})

describe('fold cost', () => {
  it('writes only the paths to changed keys', async () => {
    const w = world()
    const many = Array.from({ length: 300 }, (_, provider) => testUpdate({ provider, sequence: 1, validity: NOW + HOUR, variant: provider % 3 }))
    const base = await fold(w.components, null, many, INIT)
    const total = (await snapshotTree(w.tree, 'providers').verify(base.snapshot.providers)).blocks + (await snapshotTree(w.tree, 'attrs').verify(base.snapshot.attrs)).blocks
    const depth = Math.max(await w.tree.depth(base.snapshot.providers), await w.tree.depth(base.snapshot.attrs))
    const next = await fold(w.components, base, [testUpdate({ provider: 7, sequence: 2, validity: NOW + 2 * HOUR, variant: 2 })], INIT)
    expect(next.changed).toBe(1)
    // providers path + a few attrs paths (one per changed attribute) + history path + the snapshot
    expect(next.written).toBeLessThan(total / 2)
    expect(next.written).toBeLessThanOrEqual(depth * 10 + 1)
  })

  it('cuts the providers tree into small leaves under default branches, and the attribute tree at the default fan-out', async () => {
    const w = world()
    const many = Array.from({ length: 300 }, (_, provider) => testUpdate({ provider, sequence: 1, validity: NOW + HOUR, variant: provider % 3 }))
    const { snapshot } = await fold(w.components, null, many, INIT)
    const leaves = async (root: CID): Promise<{ leaves: number, entries: number }> => {
      let count = 0
      for await (const block of w.tree.walk(root)) if (block.level === 0) count++
      return { leaves: count, entries: await w.tree.count(root) }
    }
    const providers = await leaves(snapshot.providers)
    const attrs = await leaves(snapshot.attrs)
    // about 8 entries per providers leaf, about 32 per attribute leaf
    expect(providers.entries / providers.leaves).toBeLessThan(14)
    expect(attrs.entries / attrs.leaves).toBeGreaterThan(16)
    // the shapes are part of the format: the default shape does not verify the providers tree
    await expect(w.tree.verify(snapshot.providers)).rejects.toMatchObject({ name: 'InvalidNodeError', reason: 'boundary' })
    await expect(snapshotTree(w.tree, 'providers').verify(snapshot.providers)).resolves.toMatchObject({ entries: 300 })
  })
})

describe('fold cache reservation', () => {
  it('asks the tree engine for room for the providers it updates, and gives it back, also when the fold fails', async () => {
    const w = world()
    const reservations: number[] = []
    let released = 0
    const recording: Prolly = Object.assign(Object.create(w.tree) as Prolly, {
      reserveCache: (nodes: number) => {
        reservations.push(nodes)
        const release = w.tree.reserveCache(nodes)
        return () => { released++; release() }
      }
    })
    const components = { ...w.components, prolly: recording }
    const batch = Array.from({ length: 20 }, (_, provider) => testUpdate({ provider, sequence: 1, validity: NOW + HOUR }))
    await fold(components, null, batch, INIT)
    expect(reservations).toEqual([60])
    expect(released).toBe(1)

    const controller = new AbortController()
    controller.abort()
    await expect(fold(components, null, batch, INIT, { signal: controller.signal })).rejects.toThrow()
    expect(released).toBe(reservations.length)
  })
})
