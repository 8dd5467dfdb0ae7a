import { once } from 'node:events'
import { createServer } from 'node:net'
import { prolly } from '@capdex/prolly'
import { createRecord, nameFromPublicKey, openSnapshot, publicKeyFromName, query, verifyRecord } from '@capdex/registry'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { localBlockSource, openIndex, pinStore, snapshotDag } from '../src/index.js'
import { all, foldChain, makeProviders, tempRepo, updateFor, NOW } from './client-fixtures.js'
import { rejection, within } from './helpers.js'
import type { Chain, TestProvider, TestRepo } from './client-fixtures.js'
import type { IncompleteSnapshotError } from '../src/index.js'
import type { QueryRejection, QueryResult } from '@capdex/registry'

/** Network resources this process holds: listening sockets, connections, pending DNS. */
function networkResources (): number {
  return process.getActiveResourcesInfo().filter((r) => /^(TCP|UDP|Pipe|GetAddrInfo|TLS)/.test(r)).length
}

describe('offline query', () => {
  let t: TestRepo
  let providers: TestProvider[]
  let victim: TestProvider
  let chain: Chain

  beforeAll(async () => {
    t = await tempRepo()
    providers = await makeProviders(40)
    // one entry (a live H100 provider) whose record is signed by the wrong key
    victim = providers.find((p) => p.spec.model === 'H100' && p.spec.expired !== true)!
    const wrongKey = await generateKeyPair('Ed25519')
    const forgedBytes = await createRecord(wrongKey, victim.manifestCid, 1n, { lifetimeMs: 3_600_000 })
    const wrong = await verifyRecord(nameFromPublicKey(wrongKey.publicKey), forgedBytes)
    const updates = await Promise.all(providers.filter((p) => p !== victim).map(updateFor))
    // filed under the victim's name and key, as a lying indexer would: only the signature gives it away
    updates.push({ record: { ...wrong, name: victim.name, publicKey: publicKeyFromName(victim.name) }, manifest: victim.manifest, manifestCid: victim.manifestCid, manifestBytes: victim.manifestBytes, seen: NOW })
    chain = await foldChain(t.blocks, [updates])
  })

  afterAll(async () => { await t.close() })

  it('runs with networking disabled: no node, no socket, every result verified, forged entry named and left out', async () => {
    const before = networkResources()
    const head = chain.heads[0]!
    const rejected: QueryRejection[] = []
    const index = await openIndex({ blocks: localBlockSource({ blockstore: t.repo.blockstore }), pins: pinStore({ repo: t.repo }) }, head.cid, { offline: true })
    expect(index.completeness).toBe('checked')
    const run = index.query('gpu=H100', { now: NOW, onRejected: (r) => { rejected.push(r) } })
    const results = await all(run)

    const expected = providers.filter((p) => p.spec.model === 'H100' && p.spec.expired !== true && p !== victim).map((p) => p.name).sort()
    expect(results.map((r) => r.provider).sort()).toEqual(expected)
    expect(results.every((r) => !r.expired && r.record.name === r.provider && r.record.valueCid?.equals(r.manifestCid) === true)).toBe(true)
    expect(rejected).toEqual([expect.objectContaining({ provider: victim.name, reason: 'invalid-record' })])
    expect(run.summary.rejected).toBe(1)
    expect(run.plan?.driver.kind).toBeDefined()
    expect(networkResources()).toBe(before)
    // control: the probe does see a listening socket
    const server = createServer().listen(0, '127.0.0.1')
    await once(server, 'listening')
    expect(networkResources()).toBeGreaterThan(before)
    await new Promise((resolve) => server.close(resolve))
  })

  it('leaves expired entries out unless asked, and sorts and limits', async () => {
    const source = localBlockSource({ blockstore: t.repo.blockstore })
    const index = await openIndex({ blocks: source }, chain.heads[0]!.cid, { offline: true })
    const live = await all(index.query('gpus>=1', { now: NOW }))
    const withExpired = await all(index.query('gpus>=1', { now: NOW, includeExpired: true }))
    const expiredNames = providers.filter((p) => p.spec.expired === true).map((p) => p.name)
    expect(live.some((r) => expiredNames.includes(r.provider))).toBe(false)
    expect(withExpired.filter((r) => r.expired).map((r) => r.provider).sort()).toEqual(expiredNames.sort())

    const cheapest = await all(index.query('gpus>=1', { now: NOW, sort: 'price', limit: 5 }))
    expect(cheapest).toHaveLength(5)
    const prices = cheapest.map((r: QueryResult) => Number(r.manifest.pricing[0]!.amount))
    expect(prices).toEqual([...prices].sort((a, b) => a - b))
  })

  it('fails fast with IncompleteSnapshotError naming how many blocks are missing', async () => {
    const other = await tempRepo()
    try {
      const head = chain.heads[0]!
      const blocks = await all(snapshotDag({ blocks: localBlockSource({ blockstore: t.repo.blockstore }) }, head.cid))
      for (const block of blocks) await other.repo.blockstore.put(block.cid, block.bytes)
      const gone = blocks.filter((b) => b.kind === 'manifest').slice(0, 4)
      for (const b of gone) await other.repo.blockstore.delete(b.cid)

      const err = await within(rejection(openIndex({ blocks: localBlockSource({ blockstore: other.repo.blockstore }) }, head.cid, { offline: true })), 10_000, 'the error') as IncompleteSnapshotError
      expect(err.name).toBe('IncompleteSnapshotError')
      expect(err.missing).toBe(4)
      expect(err.message).toContain('4 blocks missing')
      expect(err.message).toContain(head.cid.toString())

      // a pinned snapshot skips the walk; a block lost behind gc's back still ends as IncompleteSnapshotError
      for (const b of gone) await other.repo.blockstore.put(b.cid, b.bytes)
      const pins = pinStore({ repo: other.repo })
      await pins.add(head.cid)
      await other.repo.blockstore.delete(gone[0]!.cid)
      const index = await openIndex({ blocks: localBlockSource({ blockstore: other.repo.blockstore }), pins }, head.cid, { offline: true })
      expect(index.completeness).toBe('pinned')
      const rejected: QueryRejection[] = []
      const late = await within(rejection(all(index.query('gpus>=0', { now: NOW, includeExpired: true, onRejected: (r) => { rejected.push(r) } }))), 10_000, 'the error') as IncompleteSnapshotError
      expect(late.name).toBe('IncompleteSnapshotError')
      expect(late.missing).toBe(1)
      // a gap in this repo is not blamed on the indexer
      expect(rejected.filter((r) => r.reason === 'missing-manifest')).toEqual([])
    } finally {
      await other.close()
    }
  })

  it('refuses a CID that is not a snapshot', async () => {
    const source = localBlockSource({ blockstore: t.repo.blockstore })
    expect((await rejection(openIndex({ blocks: source }, providers[0]!.manifestCid, { offline: true }))).name).toBe('NotASnapshotError')
    expect((await rejection(openIndex({ blocks: source }, chain.heads[0]!.snapshot.attrs))).name).toBe('NotASnapshotError')
  })

  it('@capdex/registry exposes openSnapshot and query as an AsyncIterable for embedding', async () => {
    const opened = await openSnapshot(chain.heads[0]!.cid, t.blocks)
    const run = query({ prolly: prolly({ blocks: t.blocks }), blocks: t.blocks }, opened, 'gpu=H100 gpus>=1', { now: NOW, sort: 'price' })
    expect(typeof run[Symbol.asyncIterator]).toBe('function')
    const results = await all(run)
    expect(results.length).toBeGreaterThan(0)
    expect(results.every((r) => r.manifest.gpus.some((g) => g.model === 'H100'))).toBe(true)
  })
})
