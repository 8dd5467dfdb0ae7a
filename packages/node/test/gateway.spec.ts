import fs from 'node:fs/promises'
import path from 'node:path'
import { prolly } from '@capdex/prolly'
import { decodeSnapshot, verifyRecord } from '@capdex/registry'
import { CarReader } from '@ipld/car/reader'
import { NextToLast } from 'blockstore-fs/sharding'
import { sha256 } from 'multiformats/hashes/sha2'
import { equals } from 'uint8arrays/equals'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpGateway, INDEXER_VALIDATION_BUDGET, indexerService, parseHostPort, providerService } from '../src/index.js'
import { connect, rejection, sampleManifest, startPeer, within } from './helpers.js'
import type { HttpGateway, IndexerHeadEvent, IndexerService } from '../src/index.js'
import type { TestPeer } from './helpers.js'
import type { CID } from 'multiformats/cid'

async function hashesTo (cid: CID, bytes: Uint8Array): Promise<boolean> {
  return equals((await sha256.digest(bytes)).bytes, cid.multihash.bytes)
}

describe('http gateway', () => {
  let indexerPeer: TestPeer
  let provider: TestPeer
  let indexer: IndexerService
  let gateway: HttpGateway
  let base: string
  const manifests: CID[] = []
  const heads: IndexerHeadEvent[] = []
  const waiters: Array<() => void> = []

  async function headCount (count: number): Promise<void> {
    while (heads.at(-1)?.count !== count) {
      await within(new Promise<void>((resolve) => { waiters.push(resolve) }), 10_000, `head with ${count} entries`)
    }
  }

  async function publish (keyName: string): Promise<void> {
    const published = await providerService({ node: provider.node, repo: provider.repo }, { keyName }).publishOnce({ manifest: sampleManifest(), lifetimeMs: 60_000 })
    manifests.push(published.manifestCid)
  }

  async function get (pathname: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${base}${pathname}`, init)
  }

  function blockFile (cid: CID): string {
    const { dir, file } = new NextToLast().encode(cid)
    return path.join(indexerPeer.repo.path, 'blocks', dir, file)
  }

  beforeAll(async () => {
    indexerPeer = await startPeer({ validationBudget: INDEXER_VALIDATION_BUDGET })
    provider = await startPeer()
    indexer = indexerService({ node: indexerPeer.node, repo: indexerPeer.repo }, { batchMs: 20 })
    indexer.events.addEventListener('head', ({ detail }) => {
      heads.push(detail)
      for (const wake of waiters.splice(0)) wake()
    })
    await indexer.start()
    gateway = httpGateway({ node: indexerPeer.node, indexer }, { ...parseHostPort('127.0.0.1:0'), repairTimeoutMs: 500 })
    base = await gateway.start()
    await connect(provider.node, indexerPeer.node)
    await publish('provider')
    await publish('provider-2')
    await headCount(2)
  })

  afterAll(async () => {
    await gateway?.stop()
    await indexer?.stop()
    await provider?.stop()
    await indexerPeer?.stop()
  })

  it('serves a raw block, chosen by ?format or by Accept, that hashes to its CID', async () => {
    const cid = indexer.head()!.cid
    for (const res of [await get(`/ipfs/${cid.toString()}?format=raw`), await get(`/ipfs/${cid.toString()}`, { headers: { Accept: 'application/vnd.ipld.raw' } })]) {
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('application/vnd.ipld.raw')
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${cid.toString()}.bin"`)
      expect(res.headers.get('etag')).toBe(`"${cid.toString()}.raw"`)
      const bytes = new Uint8Array(await res.arrayBuffer())
      expect(await hashesTo(cid, bytes)).toBe(true)
      expect(decodeSnapshot(bytes).count).toBe(2)
    }
    const head = await get(`/ipfs/${cid.toString()}?format=raw`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe(String((await (await get(`/ipfs/${cid.toString()}?format=raw`)).arrayBuffer()).byteLength))
    expect((await get(`/ipfs/${cid.toString()}?format=raw`, { headers: { 'If-None-Match': `"${cid.toString()}.raw"` } })).status).toBe(304)
  })

  it('serves a snapshot as a CARv1 holding its trees and manifests, every block hashing to its CID', async () => {
    const { cid, snapshot } = indexer.head()!
    const res = await get(`/ipfs/${cid.toString()}?format=car`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.ipld.car; version=1; order=unk; dups=n')
    const car = await CarReader.fromBytes(new Uint8Array(await res.arrayBuffer()))
    expect((await car.getRoots()).map(String)).toEqual([cid.toString()])
    const received = new Set<string>()
    for await (const block of car.blocks()) {
      expect(await hashesTo(block.cid, block.bytes)).toBe(true)
      expect(received.has(block.cid.toString())).toBe(false)
      received.add(block.cid.toString())
    }

    const tree = prolly({ blocks: { get: async (c) => indexerPeer.node.getVerifiedBlock(c, { offline: true }), put: async () => {} } })
    const expected = new Set([cid.toString(), ...manifests.map(String)])
    for (const root of [snapshot.providers, snapshot.attrs, snapshot.history]) {
      for await (const block of tree.walk(root)) expected.add(block.cid.toString())
    }
    expect(received).toEqual(expected)

    const single = await CarReader.fromBytes(new Uint8Array(await (await get(`/ipfs/${cid.toString()}?format=car&dag-scope=block`)).arrayBuffer()))
    expect((await single.getRoots()).map(String)).toEqual([cid.toString()])
    const only: string[] = []
    for await (const block of single.cids()) only.push(block.toString())
    expect(only).toEqual([cid.toString()])
  })

  it('adds earlier snapshots to the CAR only with history=true', async () => {
    const previous = indexer.head()!.cid
    await publish('provider-3')
    await headCount(3)
    const { cid } = indexer.head()!
    const cids = async (query: string): Promise<string[]> => {
      const car = await CarReader.fromBytes(new Uint8Array(await (await get(`/ipfs/${cid.toString()}?format=car${query}`)).arrayBuffer()))
      const out: string[] = []
      for await (const block of car.cids()) out.push(block.toString())
      return out
    }
    expect(await cids('')).not.toContain(previous.toString())
    expect(await cids('&history=true')).toContain(previous.toString())
  })

  it('serves the indexer\'s IPNS record, its head and its metrics', async () => {
    const head = indexer.head()!
    const record = await get(`/ipns/${indexer.name}?format=ipns-record`)
    expect(record.status).toBe(200)
    expect(record.headers.get('content-type')).toBe('application/vnd.ipfs.ipns-record')
    const verified = await verifyRecord(indexer.name, new Uint8Array(await record.arrayBuffer()))
    expect(verified.valueCid?.equals(head.cid)).toBe(true)
    expect((await get(`/ipns/${indexer.name}`, { headers: { Accept: 'application/vnd.ipfs.ipns-record' } })).status).toBe(200)

    const status = await (await get('/v1/head')).json() as Record<string, unknown>
    expect(status).toEqual({ cid: head.cid.toString(), height: head.snapshot.height, time: head.snapshot.time, count: head.snapshot.count, live: head.snapshot.count, indexer: indexer.name, network: head.snapshot.network })

    const metrics = await get('/metrics')
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const text = await metrics.text()
    expect(text).toContain(`capdex_updates_accepted_total ${head.snapshot.count}`)
    expect(text).toContain(`capdex_head_height ${head.snapshot.height}`)
    expect(text).toContain(`capdex_providers_live ${head.snapshot.count}`)
    expect(text).toMatch(/^capdex_fold_seconds_count [1-9]/m)
    expect(text).toContain('# TYPE capdex_updates_rejected_total counter')
  })

  it('answers bad requests with 400, missing blocks with 404 (412 if only-if-cached), other methods with 405', async () => {
    const cid = indexer.head()!.cid.toString()
    const missing = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    expect((await get('/ipfs/not-a-cid?format=raw')).status).toBe(400)
    expect((await get(`/ipfs/${cid}`)).status).toBe(400)
    expect((await get(`/ipfs/${cid}?format=tar`)).status).toBe(400)
    expect((await get(`/ipfs/${cid}/providers?format=car`)).status).toBe(400)
    expect((await get(`/ipfs/${cid}?format=car&car-version=2`)).status).toBe(400)
    expect((await get(`/ipns/${indexer.name}`)).status).toBe(400)
    expect((await get('/ipns/not-a-name?format=ipns-record')).status).toBe(400)
    expect((await get(`/ipfs/${missing}?format=raw`)).status).toBe(404)
    expect((await get(`/ipfs/${missing}?format=car`)).status).toBe(404)
    expect((await get(`/ipfs/${missing}?format=raw`, { headers: { 'Cache-Control': 'only-if-cached' } })).status).toBe(412)
    expect((await get('/ipns/k51qzi5uqu5dgutdk6i1ynyzgkqngpha5xpgia3a5qqp4jsh0u4csozksxel3r?format=ipns-record')).status).toBe(404)
    expect((await get('/elsewhere')).status).toBe(404)
    const post = await get('/v1/head', { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
  })

  it('never serves a corrupt block: repairs it from a peer that holds it, else 502 and a cut CAR stream', async () => {
    const { cid, snapshot } = indexer.head()!
    // the provider holds a copy of the providers root; nobody else holds the attrs root
    const good = await provider.node.getVerifiedBlock(snapshot.providers, { timeoutMs: 5000 })
    for (const target of [snapshot.providers, snapshot.attrs]) {
      const file = blockFile(target)
      const bytes = await fs.readFile(file)
      bytes[bytes.byteLength - 1] = (bytes[bytes.byteLength - 1] ?? 0) ^ 0xff
      await fs.writeFile(file, bytes)
    }

    const repaired = await get(`/ipfs/${snapshot.providers.toString()}?format=raw`)
    expect(repaired.status).toBe(200)
    expect(new Uint8Array(await repaired.arrayBuffer())).toEqual(good)

    const lost = await get(`/ipfs/${snapshot.attrs.toString()}?format=raw`)
    expect(lost.status).toBe(502)
    expect(await indexerPeer.repo.blockstore.has(snapshot.attrs)).toBe(false)

    // the snapshot block is fine, so the CAR starts; the attrs root is gone, so it must not end as if whole
    const car = await get(`/ipfs/${cid.toString()}?format=car`)
    expect(car.status).toBe(200)
    const err = await rejection(car.arrayBuffer())
    expect(err.name).toBe('TypeError')
  })
})
