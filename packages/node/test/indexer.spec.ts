import fs from 'node:fs/promises'
import path from 'node:path'
import { encodeManifest, manifestCid } from '@capdex/manifest'
import { createRecord, decodeSnapshot, encodeAnnouncement, indexTopic, nameFromPublicKey, providersTopic, verifyAnnouncement, verifyRecord } from '@capdex/registry'
import * as dagCbor from '@ipld/dag-cbor'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { NextToLast } from 'blockstore-fs/sharding'
import { createIPNSRecordWithExpiration, marshalIPNSRecord } from 'ipns'
import { afterEach, describe, expect, it } from 'vitest'
import { createCapdexNode, INDEXER_VALIDATION_BUDGET, indexerService, openRepo, providerService, SCORE_THRESHOLDS } from '../src/index.js'
import { connect, NETWORK, rejection, sampleManifest, startPeer, tempDir, until, within } from './helpers.js'
import type { CapdexNode, IndexerEventMap, IndexerEvents, IndexerService, IndexerServiceInit, IndexerStartOptions, Repo } from '../src/index.js'
import type { TestPeer } from './helpers.js'
import type { Manifest } from '@capdex/manifest'
import type { CID } from 'multiformats/cid'

type Detail<K extends keyof IndexerEventMap> = IndexerEventMap[K]['detail']

/** Records every event of one type and lets a test wait until the record satisfies a check. */
function recorder<K extends keyof IndexerEventMap> (events: IndexerEvents, type: K): { seen: Array<Detail<K>>, until(check: (seen: Array<Detail<K>>) => boolean, timeoutMs?: number): Promise<void> } {
  const seen: Array<Detail<K>> = []
  const waiters: Array<() => void> = []
  events.addEventListener(type, (evt) => {
    seen.push(evt.detail)
    for (const wake of waiters.splice(0)) wake()
  })
  return {
    seen,
    async until (check, timeoutMs = 10_000) {
      while (!check(seen)) {
        await within(new Promise<void>((resolve) => { waiters.push(resolve) }), timeoutMs, `${type} event`)
      }
    }
  }
}

interface RunningIndexer {
  repo: Repo
  node: CapdexNode
  service: IndexerService
  verdicts: ReturnType<typeof recorder<'verdict'>>
  heads: ReturnType<typeof recorder<'head'>>
  batches: ReturnType<typeof recorder<'batch'>>
  accepted: ReturnType<typeof recorder<'accepted'>>
  close(): Promise<void>
}

/** An indexer over `<dir>/indexer` (reopened when it exists) on a node with the indexer's validation budget. */
async function startIndexer (dir: string, init: IndexerServiceInit = {}, options: IndexerStartOptions = {}): Promise<RunningIndexer> {
  const repo = await openRepo(path.join(dir, 'indexer'), { create: true, init: { network: NETWORK } })
  const node = await createCapdexNode({ repo }, { network: NETWORK, validationBudget: INDEXER_VALIDATION_BUDGET })
  const service = indexerService({ node, repo }, { batchMs: 50, ...init })
  const running: RunningIndexer = {
    repo,
    node,
    service,
    verdicts: recorder(service.events, 'verdict'),
    heads: recorder(service.events, 'head'),
    batches: recorder(service.events, 'batch'),
    accepted: recorder(service.events, 'accepted'),
    close: async () => {
      await service.stop()
      await node.stop()
      await repo.close()
    }
  }
  await service.start(options)
  return running
}

interface Signed {
  name: string
  cid: CID
  record: Uint8Array
  manifest: Uint8Array
  /** the announcement with the manifest inlined */
  announcement: Uint8Array
}

/** A record signed with a key of `peer` for a manifest of that key. */
async function signed (peer: TestPeer, init: { keyName?: string, sequence?: bigint, lifetimeMs?: number, now?: number, manifest?: Partial<Manifest> } = {}): Promise<Signed> {
  const key = await peer.repo.getOrCreateKey(init.keyName ?? 'provider')
  const name = nameFromPublicKey(key.publicKey)
  const manifest = encodeManifest(sampleManifest({ ...init.manifest, provider: name }))
  const cid = manifestCid(manifest)
  const record = await createRecord(key, cid, init.sequence ?? 1n, { lifetimeMs: init.lifetimeMs ?? 60_000, ...(init.now != null ? { now: init.now } : {}) })
  return { name, cid, record, manifest, announcement: encodeAnnouncement({ record, manifest }) }
}

async function announce (from: TestPeer, data: Uint8Array): Promise<void> {
  await from.node.publishAndAwaitPeer(providersTopic(NETWORK), data, { timeoutMs: 5000 })
}

/** The file blockstore-fs keeps a block in. */
function blockFile (repo: Repo, cid: CID): string {
  const { dir, file } = new NextToLast().encode(cid)
  return path.join(repo.path, 'blocks', dir, file)
}

async function corrupt (repo: Repo, cid: CID): Promise<void> {
  const file = blockFile(repo, cid)
  const bytes = await fs.readFile(file)
  bytes[0] = (bytes[0] ?? 0) ^ 0xff
  await fs.writeFile(file, bytes)
}

describe('indexer service', () => {
  const cleanups: Array<() => Promise<void>> = []

  async function peer (...args: Parameters<typeof startPeer>): Promise<TestPeer> {
    const p = await startPeer(...args)
    cleanups.push(async () => { await p.stop() })
    return p
  }

  async function workdir (): Promise<string> {
    const { dir, remove } = await tempDir('capdex-indexer-')
    cleanups.push(remove)
    return dir
  }

  async function indexer (dir: string, init?: IndexerServiceInit, options?: IndexerStartOptions): Promise<RunningIndexer> {
    const running = await startIndexer(dir, init, options)
    cleanups.push(async () => { await running.close() })
    return running
  }

  afterEach(async () => {
    // newest first: indexers and peers before the directories they live in
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  it('folds announcements into a durable head, publishes it under its IPNS name and on the index topic, and serves its blocks over bitswap', async () => {
    const ix = await indexer(await workdir())
    const provider = await peer()
    const heardHeads: Uint8Array[] = []
    provider.node.subscribe(indexTopic(NETWORK), { onMessage: (data) => { heardHeads.push(data) } })
    await connect(provider.node, ix.node)

    const first = providerService({ node: provider.node, repo: provider.repo })
    const second = providerService({ node: provider.node, repo: provider.repo }, { keyName: 'provider-2' })
    await first.publishOnce({ manifest: sampleManifest(), lifetimeMs: 60_000 })
    await second.publishOnce({ manifest: sampleManifest({ status: 'busy' }), lifetimeMs: 60_000 })
    await ix.heads.until(heads => heads.at(-1)?.count === 2)

    const head = ix.service.head()
    expect(head?.snapshot.count).toBe(2)
    expect(head?.snapshot.indexer).toBe(ix.service.name)
    expect(ix.heads.seen.at(-1)).toMatchObject({ count: 2, live: 2, height: head?.snapshot.height })
    expect(ix.heads.seen.at(-1)?.written).toBeGreaterThan(0)

    // the head pointer names it, and the journal is empty again
    const pointer = JSON.parse(await fs.readFile(path.join(ix.repo.path, 'indexer', 'head.json'), 'utf8')) as { cid: string, height: number }
    expect(pointer).toMatchObject({ cid: head?.cid.toString(), height: head?.snapshot.height })
    expect(await fs.readdir(path.join(ix.repo.path, 'indexer', 'journal'))).toEqual([])

    // its IPNS record, fetched and verified by a peer, points at the head
    const record = await provider.node.fetchRecord(ix.node.peerId, ix.service.name)
    expect(record.valueCid?.equals(head!.cid)).toBe(true)

    // the head was announced on the index topic
    await until(() => heardHeads.length > 0, provider.node.libp2p.services.pubsub, ['gossipsub:heartbeat', 'gossipsub:message'])
    const { record: announced } = await verifyAnnouncement(heardHeads.at(-1)!)
    expect(announced.name).toBe(ix.service.name)

    // and any peer can fetch the snapshot over bitswap
    const bytes = await provider.node.getVerifiedBlock(head!.cid, { timeoutMs: 5000 })
    expect(decodeSnapshot(bytes)).toMatchObject({ count: 2, indexer: ix.service.name })

    const metrics = await ix.service.metrics()
    expect(metrics).toMatchObject({ accepted: 2, headCount: 2, providersLive: 2, pending: 0, foldErrors: 0 })
    expect(metrics.foldSeconds.count).toBeGreaterThanOrEqual(1)
  })

  it('rejects or ignores every bad announcement, with the reason counted, and penalizes the senders of invalid ones', async () => {
    const ix = await indexer(await workdir())
    const alice = await peer()
    const relay = await peer()
    await connect(relay.node, ix.node)

    const valid = await signed(alice)
    const rsa = await generateKeyPair('RSA', 1024)
    const forged = marshalIPNSRecord(await createIPNSRecordWithExpiration(rsa, `/ipfs/${valid.cid.toString()}`, 1n, new Date(Date.now() + 60_000).toISOString(), { v1Compatible: true }))
    const tampered = valid.record.slice()
    // flip a byte of signatureV2: protobuf field 8 (0x42, 64 bytes), right before data (field 9, 0x4a,
    // a 1- or 2-byte length), the last field
    const endsAfterData = (at: number): boolean => {
      const [low = 0, high = 0] = tampered.subarray(at + 1, at + 3)
      return low < 0x80 ? at + 2 + low === tampered.byteLength : at + 3 + ((low & 0x7f) | (high << 7)) === tampered.byteLength
    }
    const signatureAt = tampered.findIndex((b, i) => b === 0x42 && tampered[i + 1] === 0x40 && tampered[i + 66] === 0x4a && endsAfterData(i + 66))
    expect(signatureAt).toBeGreaterThan(0)
    tampered[signatureAt + 10] = (tampered[signatureAt + 10] ?? 0) ^ 0xff
    // bob signs alice's manifest with his own key: it counts for bob, whose name the manifest does not carry
    const bob = await signed(relay)
    const bobKey = await relay.repo.getOrCreateKey('provider')
    const bobForAlice = await createRecord(bobKey, valid.cid, 1n, { lifetimeMs: 60_000 })
    const notAManifest = new TextEncoder().encode('{"schema":"nope"}')
    const schemaBreaking = await createRecord(bobKey, manifestCid(notAManifest), 2n, { lifetimeMs: 60_000 })

    const invalid: Array<[reason: string, data: Uint8Array]> = [
      ['InvalidAnnouncementError', Uint8Array.from({ length: 200 }, (_, i) => (i * 37) % 251)],
      ['InvalidAnnouncementError', valid.announcement.subarray(0, valid.announcement.byteLength - 7)],
      ['AnnouncementTooLargeError', dagCbor.encode({ record: valid.record, manifest: new Uint8Array(1024 * 1024) })],
      ['SignatureVerificationError', encodeAnnouncement({ record: tampered, manifest: valid.manifest })],
      ['UnsupportedKeyTypeError', encodeAnnouncement({ record: forged, manifest: valid.manifest })],
      ['manifest-provider', encodeAnnouncement({ record: bobForAlice, manifest: valid.manifest })],
      ['ManifestMismatchError', encodeAnnouncement({ record: bob.record, manifest: valid.manifest })],
      ['InvalidManifestError', encodeAnnouncement({ record: schemaBreaking, manifest: notAManifest })]
    ]
    // a Reject graylists its sender, so each invalid message comes from its own peer
    const attackers = await Promise.all(invalid.map(async () => peer({ maxMessageBytes: 2 * 1024 * 1024 })))
    await Promise.all(attackers.map(async (attacker, i) => {
      // dialed from the indexer: libp2p rate-limits inbound connections per host (5/s)
      await connect(ix.node, attacker.node)
      await announce(attacker, invalid[i]![1])
    }))
    await ix.verdicts.until(seen => seen.filter(v => v.verdict === 'reject').length === invalid.length)
    const rejected = ix.verdicts.seen.filter(v => v.verdict === 'reject').map(v => v.reason).sort()
    expect(rejected).toEqual(invalid.map(([reason]) => reason).sort())

    // ignored without penalty: expired beyond the 5 min tolerance, a replayed lower sequence
    const expired = await signed(alice, { keyName: 'expired', lifetimeMs: 60_000, now: Date.now() - 10 * 60_000 })
    await announce(relay, expired.announcement)
    await ix.verdicts.until(seen => seen.some(v => v.reason === 'RecordExpiredError'))
    const seq2 = await signed(alice, { sequence: 2n })
    await announce(relay, valid.announcement)
    await ix.accepted.until(seen => seen.length === 1)
    await announce(relay, seq2.announcement)
    await ix.accepted.until(seen => seen.length === 2)
    // the same seq-1 record again, encoded differently so gossipsub does not drop it as a duplicate
    await announce(relay, encodeAnnouncement({ record: valid.record }))
    await ix.verdicts.until(seen => seen.some(v => v.reason === 'StaleRecordError'))

    // only alice's genuine records, relayed by another peer, made it in, under alice's name
    await ix.heads.until(heads => heads.length > 0 && ix.service.head()?.snapshot.count === 1)
    expect(ix.accepted.seen.map(a => [a.name, a.sequence])).toEqual([[valid.name, 1n], [valid.name, 2n]])
    expect(ix.accepted.seen.every(a => a.from.equals(relay.node.peerId))).toBe(true)

    const metrics = await ix.service.metrics()
    expect(metrics.rejected).toEqual({ InvalidAnnouncementError: 2, AnnouncementTooLargeError: 1, SignatureVerificationError: 1, UnsupportedKeyTypeError: 1, 'manifest-provider': 1, ManifestMismatchError: 1, InvalidManifestError: 1 })
    expect(metrics.ignored).toMatchObject({ RecordExpiredError: 1, StaleRecordError: 1 })
    const pubsub = ix.node.libp2p.services.pubsub
    await until(() => attackers.every(a => ix.node.peerScore(a.node.peerId) < SCORE_THRESHOLDS.graylistThreshold), pubsub, ['gossipsub:heartbeat'])
    expect(ix.node.peerScore(relay.node.peerId)).toBeGreaterThanOrEqual(0)
  })

  it('drops an announcement whose manifest never resolves after a bounded wait, and adds nothing', async () => {
    const ix = await indexer(await workdir(), { manifestTimeoutMs: 300 })
    const relay = await peer()
    await connect(relay.node, ix.node)
    const nobodyHasIt = await signed(relay)
    await announce(relay, encodeAnnouncement({ record: nobodyHasIt.record }))
    await ix.verdicts.until(seen => seen.length === 1)
    expect(ix.verdicts.seen[0]).toMatchObject({ verdict: 'ignore', reason: 'BlockFetchTimeoutError' })
    expect(ix.service.head()).toBeUndefined()
    expect(await ix.service.metrics()).toMatchObject({ accepted: 0, pending: 0, ignored: { BlockFetchTimeoutError: 1 } })
  })

  it('folding an update twice changes nothing: a duplicate is ignored, and one replayed after a restart leaves the head where it is', async () => {
    const dir = await workdir()
    const first = await startIndexer(dir)
    const relay = await peer()
    await connect(relay.node, first.node)
    const update = await signed(relay)
    await announce(relay, update.announcement)
    await first.heads.until(heads => heads.length === 1)
    const head = first.service.head()!

    // the same record, encoded differently: stale
    await announce(relay, encodeAnnouncement({ record: update.record }))
    await first.verdicts.until(seen => seen.some(v => v.reason === 'StaleRecordError'))
    await first.close()

    // a fresh process has forgotten what it saw, so the same announcement is accepted and folded again
    const second = await indexer(dir)
    expect(second.service.head()?.cid.equals(head.cid)).toBe(true)
    const again = await peer()
    await connect(again.node, second.node)
    await announce(again, update.announcement)
    await second.batches.until(batches => batches.length === 1)
    expect(second.batches.seen[0]).toMatchObject({ updates: 1, changed: 0, moved: false })
    expect(second.heads.seen).toEqual([])
    expect(second.service.head()?.cid.equals(head.cid)).toBe(true)
    expect((await second.service.metrics()).accepted).toBe(1)
  })

  it('replays the journal after an unclean stop, ignoring a torn tail, and folds it before taking announcements', async () => {
    const dir = await workdir()
    const first = await startIndexer(dir, { batchMs: 600_000 })
    const relay = await peer()
    await connect(relay.node, first.node)
    const update = await signed(relay)
    await announce(relay, update.announcement)
    await first.accepted.until(seen => seen.length === 1)
    // stopped with the update acknowledged but not folded, as a kill would leave it
    await first.close()
    const journal = path.join(dir, 'indexer', 'indexer', 'journal')
    const segments = await fs.readdir(journal)
    expect(segments).toHaveLength(1)
    // a crash mid-append leaves a torn entry at the tail
    await fs.appendFile(path.join(journal, segments[0]!), Uint8Array.of(0, 0, 1, 0, 9, 9))

    const progress: Array<{ done: number, total: number }> = []
    const second = await indexer(dir, {}, {
      onProgress: (evt) => { if (evt.type === 'node:indexer:catchup') progress.push(evt.detail) }
    })
    expect(second.service.head()?.snapshot.count).toBe(1)
    expect(second.heads.seen).toHaveLength(1)
    expect(progress).toEqual([{ done: 0, total: 1 }, { done: 1, total: 1 }])
    expect(await fs.readdir(journal)).toEqual([])
    const stored = await second.node.getRecord(second.service.name)
    expect((await verifyRecord(second.service.name, stored!)).valueCid?.equals(second.service.head()!.cid)).toBe(true)
  })

  it('falls back to the head log when head.json is lost or corrupt', async () => {
    const dir = await workdir()
    const first = await startIndexer(dir)
    const relay = await peer()
    await connect(relay.node, first.node)
    await announce(relay, (await signed(relay)).announcement)
    await first.heads.until(heads => heads.length === 1)
    const head = first.service.head()!
    await first.close()

    const headFile = path.join(dir, 'indexer', 'indexer', 'head.json')
    await fs.writeFile(headFile, '{"v":1,"cid":"bafy')
    const second = await startIndexer(dir)
    expect(second.service.head()?.cid.equals(head.cid)).toBe(true)
    await second.close()

    await fs.rm(headFile)
    const third = await indexer(dir)
    expect(third.service.head()?.cid.equals(head.cid)).toBe(true)
  })

  it('follows the clock-skew tolerance: leases and issue times within 5 min are accepted, beyond are ignored, and fold time never goes back', async () => {
    let offset = 0
    const ix = await indexer(await workdir(), { now: () => Date.now() + offset })
    const relay = await peer()
    await connect(relay.node, ix.node)

    // the indexer's clock runs 2 min ahead: a 1 min lease looks 1 min expired, within tolerance
    offset = 2 * 60_000
    const late = await signed(relay, { keyName: 'late', lifetimeMs: 60_000 })
    await announce(relay, late.announcement)
    await ix.heads.until(heads => heads.length === 1)
    expect(ix.heads.seen[0]).toMatchObject({ count: 1, live: 0 })

    // 7 min ahead: expired by 6 min, beyond tolerance
    offset = 7 * 60_000
    await announce(relay, (await signed(relay, { keyName: 'too-late', lifetimeMs: 60_000 })).announcement)
    await ix.verdicts.until(seen => seen.some(v => v.reason === 'RecordExpiredError'))

    // a manifest issued 10 min ahead of the indexer's clock is not taken; 4 min ahead is
    offset = 0
    const issued = (ms: number): Partial<Manifest> => ({ issuedAt: new Date(Date.now() + ms).toISOString() })
    await announce(relay, (await signed(relay, { keyName: 'future', manifest: issued(10 * 60_000) })).announcement)
    await ix.verdicts.until(seen => seen.some(v => v.reason === 'issued-in-future'))
    await announce(relay, (await signed(relay, { keyName: 'ahead', manifest: issued(4 * 60_000) })).announcement)
    await ix.heads.until(heads => heads.length === 2)

    // the indexer's clock steps back 10 min: the next head does not go back in time
    offset = -10 * 60_000
    await announce(relay, (await signed(relay, { keyName: 'behind', manifest: issued(-10 * 60_000) })).announcement)
    await ix.heads.until(heads => heads.length === 3)
    const [h0, h1, h2] = ix.heads.seen
    expect(ix.heads.seen.map(h => h.count)).toEqual([1, 2, 3])
    expect(h1!.time).toBeGreaterThanOrEqual(h0!.time)
    expect(h2!.time).toBe(h1!.time)
    expect((await ix.service.metrics()).ignored).toEqual({ RecordExpiredError: 1, 'issued-in-future': 1 })
  })

  it('never serves a corrupt block over bitswap, and repairs one it needs from a peer that holds it', async () => {
    const ix = await indexer(await workdir())
    const provider = await peer()
    const other = await peer()
    await connect(provider.node, ix.node)
    await connect(other.node, ix.node)
    await announce(provider, (await signed(provider)).announcement)
    await ix.heads.until(heads => heads.length === 1)
    const { snapshot } = ix.service.head()!
    const head = ix.service.head()!
    // the provider keeps a copy of the providers root; nobody else has the snapshot block
    await provider.node.getVerifiedBlock(snapshot.providers, { timeoutMs: 5000 })

    await corrupt(ix.repo, head.cid)
    const err = await rejection(other.node.getVerifiedBlock(head.cid, { timeoutMs: 1000 }))
    expect(err.name).toBe('BlockFetchTimeoutError')
    // found corrupt when bitswap read it, and deleted rather than sent
    expect(await ix.repo.blockstore.has(head.cid)).toBe(false)

    // the next fold reads the corrupt providers root, deletes it and fetches it again from the provider
    await corrupt(ix.repo, snapshot.providers)
    await announce(provider, (await signed(provider, { keyName: 'provider-2' })).announcement)
    await ix.heads.until(heads => heads.length === 2, 20_000)
    expect(ix.heads.seen.at(-1)).toMatchObject({ count: 2, height: 1 })
    expect((await ix.service.metrics()).foldErrors).toBe(0)
  })
})
