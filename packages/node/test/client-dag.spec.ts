import { prolly } from '@capdex/prolly'
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
