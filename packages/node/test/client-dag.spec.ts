import { prolly } from '@capdex/prolly'
import { encodeEntry, writeSnapshot } from '@capdex/registry'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkSnapshotDag, localBlockSource, snapshotDag } from '../src/index.js'
import { all, foldChain, makeProviders, tempRepo, updateFor } from './client-fixtures.js'
import { rejection } from './helpers.js'
import type { Chain, TestProvider, TestRepo } from './client-fixtures.js'

describe('snapshotDag', () => {
  let t: TestRepo
  let providers: TestProvider[]
  let chain: Chain

  beforeAll(async () => {
    t = await tempRepo()
    providers = await makeProviders(60)
    // two snapshots: 40 providers, then 20 more
    chain = await foldChain(t.blocks, [
      await Promise.all(providers.slice(0, 40).map(updateFor)),
      await Promise.all(providers.slice(40).map(updateFor))
    ])
  })

  afterAll(async () => { await t.close() })

  it('visits the snapshot, every node of its three trees and every manifest, once each, verified', async () => {
    const head = chain.heads[1]!
    const blocks = await all(snapshotDag({ blocks: localBlockSource({ blockstore: t.repo.blockstore }) }, head.cid))
    const tree = prolly({ blocks: t.blocks })
    const expected = new Set<string>([head.cid.toString()])
    for (const root of [head.snapshot.providers, head.snapshot.attrs, head.snapshot.history]) {
      for await (const node of tree.walk(root)) expected.add(node.cid.toString())
    }
    for (const p of providers) expected.add(p.manifestCid.toString())

    expect(new Set(blocks.map((b) => b.cid.toString()))).toEqual(expected)
    expect(blocks).toHaveLength(expected.size)
    expect(blocks[0]?.kind).toBe('snapshot')
    expect(blocks.filter((b) => b.kind === 'manifest')).toHaveLength(60)
    for (const block of blocks) {
      expect(block.cid.multihash.bytes).toEqual(CID.createV1(block.cid.code, await sha256.digest(block.bytes)).multihash.bytes)
    }
  })

  it('is deterministic: the same DAG gives the same sequence', async () => {
    const source = localBlockSource({ blockstore: t.repo.blockstore })
    const a = await all(snapshotDag({ blocks: source }, chain.heads[1]!.cid, { concurrency: 1 }))
    const b = await all(snapshotDag({ blocks: source }, chain.heads[1]!.cid, { concurrency: 32 }))
    expect(b.map((x) => x.cid.toString())).toEqual(a.map((x) => x.cid.toString()))
  })

  it('leaves older snapshots out by default and includes them, de-duplicated, with history', async () => {
    const source = localBlockSource({ blockstore: t.repo.blockstore })
    const [genesis, head] = chain.heads
    const own = await all(snapshotDag({ blocks: source }, head!.cid))
    expect(own.some((b) => b.cid.equals(genesis!.cid))).toBe(false)

    const withHistory = await all(snapshotDag({ blocks: source }, head!.cid, { history: true }))
    const ids = withHistory.map((b) => b.cid.toString())
    expect(ids).toContain(genesis!.cid.toString())
    expect(new Set(ids).size).toBe(ids.length)
    const genesisDag = await all(snapshotDag({ blocks: source }, genesis!.cid))
    const union = new Set([...own, ...genesisDag].map((b) => b.cid.toString()))
    expect(new Set(ids)).toEqual(union)
  })

  it('refuses a CID that is not a snapshot', async () => {
    const source = localBlockSource({ blockstore: t.repo.blockstore })
    // a manifest (DAG-JSON) and a tree node (DAG-CBOR, but not a snapshot)
    const manifest = await rejection(all(snapshotDag({ blocks: source }, providers[0]!.manifestCid)))
    expect(manifest.name).toBe('NotASnapshotError')
    const node = await rejection(all(snapshotDag({ blocks: source }, chain.heads[0]!.snapshot.providers)))
    expect(node.name).toBe('NotASnapshotError')
  })

  it('counts missing blocks without failing, and a missing tree node makes the count a lower bound', async () => {
    const other = await tempRepo()
    try {
      const head = chain.heads[0]!
      const source = localBlockSource({ blockstore: t.repo.blockstore })
      const blocks = await all(snapshotDag({ blocks: source }, head.cid))
      for (const block of blocks) await other.repo.blockstore.put(block.cid, block.bytes)
      const manifests = blocks.filter((b) => b.kind === 'manifest').slice(0, 3)
      for (const m of manifests) await other.repo.blockstore.delete(m.cid)

      const check = await checkSnapshotDag({ blocks: localBlockSource({ blockstore: other.repo.blockstore }) }, head.cid)
      expect(check).toMatchObject({ complete: false, missing: 3, exact: true, blocks: blocks.length - 3 })
      expect(check.missingCids.map(String).sort()).toEqual(manifests.map((m) => m.cid.toString()).sort())

      // without the providers root, nothing below it can be listed
      await other.repo.blockstore.delete(head.snapshot.providers)
      const partial = await checkSnapshotDag({ blocks: localBlockSource({ blockstore: other.repo.blockstore }) }, head.cid)
      expect(partial.exact).toBe(false)
      expect(partial.missing).toBeGreaterThanOrEqual(1)
    } finally {
      await other.close()
    }
  })

  it('fails on a block whose bytes do not match its CID', async () => {
    const other = await tempRepo()
    try {
      const head = chain.heads[0]!
      const blocks = await all(snapshotDag({ blocks: localBlockSource({ blockstore: t.repo.blockstore }) }, head.cid))
      for (const block of blocks) await other.repo.blockstore.put(block.cid, block.bytes)
      const victim = blocks.find((b) => b.kind === 'attrs')!
      // store other bytes under the victim's CID, bypassing every check
      await other.repo.blockstore.put(victim.cid, dagCbor.encode([0, [], []]))
      const err = await rejection(all(snapshotDag({ blocks: { get: async (cid) => {
        const parts: Uint8Array[] = []
        for await (const chunk of other.repo.blockstore.get(cid)) parts.push(chunk)
        return Buffer.concat(parts)
      } } }, head.cid)))
      expect(err.name).toBe('BlockHashMismatchError')
      expect(err.message).toContain(victim.cid.toString())
    } finally {
      await other.close()
    }
  })
})

describe('snapshotDag over forged and slow sources', () => {
  let t: TestRepo
  let chain: Chain

  beforeAll(async () => {
    t = await tempRepo()
    chain = await foldChain(t.blocks, [await Promise.all((await makeProviders(30)).map(updateFor))])
  })

  afterAll(async () => { await t.close() })

  /** A manifest-like block (DAG-JSON), stored or not. */
  async function manifestBlock (name: string, store: boolean): Promise<CID> {
    const bytes = new TextEncoder().encode(JSON.stringify({ name }))
    const cid = CID.createV1(0x0129, await sha256.digest(bytes))
    if (store) await t.blocks.put(cid, bytes)
    return cid
  }

  /** A snapshot like the chain's genesis whose providers tree holds `values` under keys 0, 1, 2… */
  async function snapshotWith (values: Uint8Array[]): Promise<CID> {
    const providers = await prolly({ blocks: t.blocks }).build(values.map((value, i) => ({ key: Uint8Array.of(i), value })))
    return (await writeSnapshot({ ...chain.heads[0]!.snapshot, providers }, t.blocks)).cid
  }

  it('asks for the manifest of an entry that does not decode only as far as it is there', async () => {
    const valid = await manifestBlock('valid', true)
    const forgedHere = await manifestBlock('forged, stored', true)
    const forgedGone = await manifestBlock('forged, not stored', false)
    const validGone = await manifestBlock('valid, not stored', false)
    const entry = (manifest: CID): Uint8Array => encodeEntry({ record: Uint8Array.of(1), manifest, seen: 1 })
    // not an entry: an extra key; the manifest link is still there to read
    const forged = (manifest: CID): Uint8Array => dagCbor.encode({ record: Uint8Array.of(1), manifest, seen: 1, extra: true })
    const source = localBlockSource({ blockstore: t.repo.blockstore })

    const head = await snapshotWith([entry(valid), forged(forgedHere), forged(forgedGone)])
    const check = await checkSnapshotDag({ blocks: source }, head)
    expect(check).toMatchObject({ complete: true, missing: 0 })
    const ids = (await all(snapshotDag({ blocks: source }, head))).map((b) => b.cid.toString())
    expect(ids).toContain(valid.toString())
    expect(ids).not.toContain(forgedGone.toString())

    // a valid entry's manifest is missing, even when a forged entry names it too
    const broken = await snapshotWith([forged(validGone), entry(validGone)])
    expect(await checkSnapshotDag({ blocks: source }, broken)).toMatchObject({ complete: false, missing: 1, missingCids: [validGone] })
  })

  it('refuses a tree node that is not a prolly node, naming it', async () => {
    const cases: Array<[string, Uint8Array]> = [
      ['a leaf value that is not bytes', dagCbor.encode([0, [Uint8Array.of(1)], ['text']])],
      ['trailing bytes', Uint8Array.from([...dagCbor.encode([0, [], []]), 0])],
      ['an indefinite-length array', Uint8Array.of(0x9f, 0x00, 0x80, 0x80, 0xff)],
      ['a branch link to a raw block', dagCbor.encode([1, [Uint8Array.of(1)], [CID.createV1(0x55, await sha256.digest(Uint8Array.of(1)))], [1]])],
      ['a truncated node', dagCbor.encode([0, [Uint8Array.of(1)], [Uint8Array.of(2)]]).subarray(0, 5)]
    ]
    for (const [what, bytes] of cases) {
      const node = CID.createV1(dagCbor.code, await sha256.digest(bytes))
      await t.blocks.put(node, bytes)
      const head = (await writeSnapshot({ ...chain.heads[0]!.snapshot, attrs: node }, t.blocks)).cid
      const err = await rejection(all(snapshotDag({ blocks: localBlockSource({ blockstore: t.repo.blockstore }) }, head)))
      expect(err.name, what).toBe('InvalidNodeError')
      expect(err.message, what).toContain(node.toString())
    }
  })

  it('keeps `concurrency` fetches in flight, and a slow block does not hold up the rest', async () => {
    const head = chain.heads[0]!.cid
    const local = localBlockSource({ blockstore: t.repo.blockstore })
    const dag = await all(snapshotDag({ blocks: local }, head))
    const expected = dag.map((b) => b.cid.toString())
    // the first manifest, with the other 29 queued behind it
    const slow = dag.find((b) => b.kind === 'manifest')!.cid.toString()
    let inflight = 0
    let most = 0
    let fetchedWhileSlow = 0
    let slowPending = false
    const source = {
      get: async (cid: CID) => {
        inflight++
        most = Math.max(most, inflight)
        if (slowPending) fetchedWhileSlow++
        try {
          if (cid.toString() === slow) {
            slowPending = true
            await new Promise((resolve) => setTimeout(resolve, 50))
            slowPending = false
          } else {
            await new Promise((resolve) => setImmediate(resolve))
          }
          return await local.get(cid)
        } finally {
          inflight--
        }
      }
    }
    const blocks = await all(snapshotDag({ blocks: source }, head, { concurrency: 4 }))
    expect(blocks.map((b) => b.cid.toString())).toEqual(expected)
    expect(most).toBe(4)
    // a window of 4 from the head would have fetched 3 more at most
    expect(fetchedWhileSlow).toBeGreaterThan(4)
  })
})
