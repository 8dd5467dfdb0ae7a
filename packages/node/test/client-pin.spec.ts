import { mkdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import path from 'node:path'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bitswapBlockSource, checkSnapshotDag, exportCar, gatewayClient, localBlockSource, openIndex, pinStore, snapshotDag, storingBlockSource } from '../src/index.js'
import { all, foldChain, makeProviders, mh, NOW, storedBlocks, tempRepo, updateFor } from './client-fixtures.js'
import { connect, rejection, startPeer } from './helpers.js'
import type { Chain, TestProvider, TestRepo } from './client-fixtures.js'
import type { TestPeer } from './helpers.js'
import type { PinProgressEvents, Repo } from '../src/index.js'
import type { BlockStore } from '@capdex/prolly'
import type { Server } from 'node:http'

async function dagCids (repo: Pick<Repo, 'blockstore'>, cid: CID, history = false): Promise<string[]> {
  const out: string[] = []
  for await (const block of snapshotDag({ blocks: localBlockSource({ blockstore: repo.blockstore }) }, cid, { history })) out.push(mh(block.cid))
  return out
}

async function chainIn (blocks: BlockStore, providers: TestProvider[]): Promise<Chain> {
  return foldChain(blocks, [
    await Promise.all(providers.slice(0, 20).map(updateFor)),
    await Promise.all(providers.slice(20).map(updateFor))
  ])
}

describe('pin over bitswap', () => {
  const peers: TestPeer[] = []
  afterEach(async () => { await Promise.all(peers.splice(0).map(async (p) => { await p.stop() })) })

  it('fetches the whole snapshot DAG from a peer, checks it, pins it and reports progress', async () => {
    const [a, b] = await Promise.all([startPeer(), startPeer()])
    peers.push(a, b)
    const { fromHeliaBlockstore } = await import('@capdex/prolly')
    const chain = await chainIn(fromHeliaBlockstore(a.repo.blockstore), await makeProviders(30))
    const head = chain.heads[1]!
    await connect(b.node, a.node)

    const events: PinProgressEvents[] = []
    const pin = await pinStore({ repo: b.repo }).add(head.cid, {
      source: bitswapBlockSource({ node: b.node }, { timeoutMs: 10_000 }),
      onProgress: (event) => { events.push(event) }
    })

    const expected = await dagCids(a.repo, head.cid)
    expect(pin).toMatchObject({ kind: 'snapshot', history: false, blocks: expected.length })
    expect(pin.cid.equals(head.cid)).toBe(true)
    const stored = await storedBlocks(b.repo)
    for (const id of expected) expect(stored.has(id)).toBe(true)
    // the older snapshot was not fetched
    expect(stored.has(mh(chain.heads[0]!.cid))).toBe(false)

    const progress = events.filter((e) => e.type === 'node:pin:block').map((e) => e.detail as { blocks: number, bytes: number, fetched: number })
    expect(progress).toHaveLength(expected.length)
    expect(progress.at(-1)).toMatchObject({ blocks: expected.length, bytes: pin.bytes, fetched: expected.length })
    expect(progress.every((p, i) => i === 0 || (p.blocks > progress[i - 1]!.blocks && p.bytes > progress[i - 1]!.bytes))).toBe(true)

    const listed = []
    for await (const p of pinStore({ repo: b.repo }).ls()) listed.push(p.cid.toString())
    expect(listed).toEqual([head.cid.toString()])
    expect((await checkSnapshotDag({ blocks: localBlockSource({ blockstore: b.repo.blockstore }) }, head.cid)).complete).toBe(true)

    // with --history the older snapshot comes too
    const full = await pinStore({ repo: b.repo }).add(head.cid, { source: bitswapBlockSource({ node: b.node }), history: true })
    expect(full.history).toBe(true)
    expect(full.blocks).toBe((await dagCids(a.repo, head.cid, true)).length)
    expect((await storedBlocks(b.repo)).has(mh(chain.heads[0]!.cid))).toBe(true)
  })

  it('queries a snapshot it does not hold, fetching only the blocks the query touches', async () => {
    const [a, b] = await Promise.all([startPeer(), startPeer()])
    peers.push(a, b)
    const { fromHeliaBlockstore } = await import('@capdex/prolly')
    const providers = await makeProviders(30)
    const chain = await chainIn(fromHeliaBlockstore(a.repo.blockstore), providers)
    const head = chain.heads[1]!
    await connect(b.node, a.node)
    const blocks = storingBlockSource({ blockstore: b.repo.blockstore }, bitswapBlockSource({ node: b.node }))
    const index = await openIndex({ blocks }, head.cid)
    const results = await all(index.query('gpu=H100', { now: NOW }))
    const expected = providers.filter((p) => p.spec.model === 'H100' && p.spec.expired !== true).map((p) => p.name).sort()
    expect(results.map((r) => r.provider).sort()).toEqual(expected)
    expect(blocks.fetched).toBeGreaterThan(0)
    expect(blocks.fetched).toBeLessThan((await dagCids(a.repo, head.cid)).length)
  })

  it('refuses a CID that is not a snapshot, and pins nothing', async () => {
    const [a, b] = await Promise.all([startPeer(), startPeer()])
    peers.push(a, b)
    const { fromHeliaBlockstore } = await import('@capdex/prolly')
    const providers = await makeProviders(3)
    const chain = await chainIn(fromHeliaBlockstore(a.repo.blockstore), providers)
    await connect(b.node, a.node)
    const source = bitswapBlockSource({ node: b.node })
    // a manifest (DAG-JSON), and a tree node (DAG-CBOR, fetched, then refused)
    expect((await rejection(pinStore({ repo: b.repo }).add(providers[0]!.manifestCid, { source }))).name).toBe('NotASnapshotError')
    expect((await rejection(pinStore({ repo: b.repo }).add(chain.heads[0]!.snapshot.attrs, { source }))).name).toBe('NotASnapshotError')
    const pins = []
    for await (const p of pinStore({ repo: b.repo }).ls()) pins.push(p)
    expect(pins).toEqual([])
  })
})

type GatewayMode = 'ok' | 'truncated-car' | 'lying'

/** A small HTTP trustless gateway over a repo (raw, car and ipns-record responses). */
async function serveGateway (repo: Repo, mode: GatewayMode): Promise<{ url: string, server: Server, requests: string[] }> {
  const requests: string[] = []
  const source = localBlockSource({ blockstore: repo.blockstore })
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost')
      requests.push(`${url.pathname}${url.search}`)
      const match = /^\/ipfs\/([^/]+)$/.exec(url.pathname)
      if (match == null) { res.writeHead(404).end(); return }
      const cid = CID.parse(match[1]!)
      if (url.searchParams.get('format') === 'car') {
        const chunks: Uint8Array[] = []
        for await (const chunk of exportCar({ blocks: source }, cid)) chunks.push(chunk)
        const car = Buffer.concat(chunks)
        res.writeHead(200, { 'content-type': 'application/vnd.ipld.car' })
        res.end(mode === 'truncated-car' ? car.subarray(0, Math.floor(car.length / 2)) : car)
        return
      }
      try {
        let bytes = await source.get(cid)
        if (mode === 'lying' && cid.code !== 0x71) bytes = new TextEncoder().encode('{"forged":true}')
        res.writeHead(200, { 'content-type': 'application/vnd.ipld.raw' }).end(bytes)
      } catch {
        res.writeHead(404).end()
      }
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address == null || typeof address === 'string') throw new Error('no address')
  return { url: `http://127.0.0.1:${address.port}`, server, requests }
}

describe('pin from a trustless gateway', () => {
  let origin: TestRepo
  let chain: Chain
  const servers: Server[] = []

  beforeAll(async () => {
    origin = await tempRepo()
    chain = await chainIn(origin.blocks, await makeProviders(25))
  })
  afterAll(async () => { await origin.close() })
  afterEach(async () => { await Promise.all(servers.splice(0).map(async (s) => { await new Promise((resolve) => s.close(resolve)) })) })

  it('takes the CAR, re-hashes every block and pins', async () => {
    const gw = await serveGateway(origin.repo, 'ok')
    servers.push(gw.server)
    const t = await tempRepo()
    try {
      const head = chain.heads[1]!
      const pin = await pinStore({ repo: t.repo }).add(head.cid, { source: gatewayClient({ url: gw.url }) })
      expect(pin.blocks).toBe((await dagCids(origin.repo, head.cid)).length)
      expect(gw.requests.filter((r) => r.includes('format=raw'))).toEqual([])
      expect((await checkSnapshotDag({ blocks: localBlockSource({ blockstore: t.repo.blockstore }) }, head.cid)).complete).toBe(true)
    } finally {
      await t.close()
    }
  })

  it('fetches what a truncated CAR left out block by block', async () => {
    const gw = await serveGateway(origin.repo, 'truncated-car')
    servers.push(gw.server)
    const t = await tempRepo()
    try {
      const head = chain.heads[1]!
      const events: string[] = []
      const pin = await pinStore({ repo: t.repo }).add(head.cid, { source: gatewayClient({ url: gw.url }), onProgress: (e) => { events.push(e.type) } })
      expect(events).toContain('node:pin:prefetch-failed')
      expect(gw.requests.filter((r) => r.includes('format=raw')).length).toBeGreaterThan(0)
      expect(pin.blocks).toBe((await dagCids(origin.repo, head.cid)).length)
    } finally {
      await t.close()
    }
  })

  it('refuses blocks a lying gateway sends and records no pin', async () => {
    const gw = await serveGateway(origin.repo, 'lying')
    servers.push(gw.server)
    const t = await tempRepo()
    try {
      const head = chain.heads[1]!
      // no CAR: make the client take every block raw
      const client = gatewayClient({ url: gw.url })
      const err = await rejection(pinStore({ repo: t.repo }).add(head.cid, { source: { get: client.get.bind(client) } }))
      expect(err.name).toBe('BlockHashMismatchError')
      expect(await pinStore({ repo: t.repo }).get(head.cid)).toBeUndefined()
    } finally {
      await t.close()
    }
  })
})

describe('pins ls/rm and gc', () => {
  it('never removes a pinned block; removes the rest; honours the other roots', async () => {
    const t = await tempRepo()
    try {
      const providers = await makeProviders(30)
      const chain = await chainIn(t.blocks, providers)
      const [genesis, head] = chain.heads
      const pins = pinStore({ repo: t.repo })
      // junk: blocks nothing points to
      const junk: CID[] = []
      for (let i = 0; i < 5; i++) {
        const bytes = new TextEncoder().encode(`junk ${i}`)
        const cid = CID.createV1(0x55, await sha256.digest(bytes))
        await t.repo.blockstore.put(cid, bytes)
        junk.push(cid)
      }
      await pins.add(head!.cid)
      const pinned = await dagCids(t.repo, head!.cid)

      const dry = await pins.gc({ dryRun: true })
      expect(dry.removed).toBeGreaterThan(junk.length)
      expect((await storedBlocks(t.repo)).has(mh(junk[0]!))).toBe(true)

      const result = await pins.gc()
      expect(result.removed).toBe(dry.removed)
      const after = await storedBlocks(t.repo)
      for (const id of pinned) expect(after.has(id)).toBe(true)
      for (const cid of junk) expect(after.has(mh(cid))).toBe(false)
      // the unpinned genesis snapshot is gone, its own blocks with it
      expect(after.has(mh(genesis!.cid))).toBe(false)
      expect(after.size).toBe(pinned.length)
      expect((await checkSnapshotDag({ blocks: localBlockSource({ blockstore: t.repo.blockstore }) }, head!.cid)).complete).toBe(true)

      // a stored IPNS record keeps its value; the indexer head file keeps its DAG
      const provider = providers[0]!
      await t.repo.datastore.put(new Key(`/capdex/ipns/${provider.name}`), provider.record)
      await mkdir(path.join(t.repo.path, 'indexer'), { recursive: true })
      await writeFile(path.join(t.repo.path, 'indexer', 'head.json'), JSON.stringify({ v: 1, cid: head!.cid.toString(), height: 1, previous: null }))

      const removed = await pins.rm(head!.cid)
      expect(removed.cid.equals(head!.cid)).toBe(true)
      expect((await rejection(pins.rm(head!.cid))).name).toBe('PinNotFoundError')
      const kept = await pins.gc()
      expect(kept.removed).toBe(0)

      // with no roots left but the record, only its manifest stays
      await writeFile(path.join(t.repo.path, 'indexer', 'head.json'), '{ not json')
      const refused = await rejection(pins.gc())
      expect(refused.name).toBe('InvalidGcRootError')
      expect((await storedBlocks(t.repo)).size).toBe(pinned.length)
      await rm(path.join(t.repo.path, 'indexer', 'head.json'))
      await pins.gc()
      expect([...await storedBlocks(t.repo)]).toEqual([mh(provider.manifestCid)])
    } finally {
      await t.close()
    }
  })
})
