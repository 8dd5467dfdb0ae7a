import { createRecord, nameFromPublicKey, providersTopic } from '@capdex/registry'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { SCORE_THRESHOLDS } from '../src/index.js'
import { connect, deferred, NETWORK, rejection, peersStoppedAfterEach, until, within } from './helpers.js'
import type { PeerId } from '@libp2p/interface'

const RAW = 0x55
const TOPIC = providersTopic(NETWORK)

async function rawCid (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(RAW, await sha256.digest(bytes))
}

describe('capdex node', () => {
  const peer = peersStoppedAfterEach()

  describe('pubsub', () => {
    it('publishAndAwaitPeer delivers to a subscriber', async () => {
      const [a, b] = await Promise.all([peer(), peer()])
      const received = deferred<{ data: Uint8Array, from: PeerId }>()
      b.node.subscribe(TOPIC, { onMessage: (data, from) => { received.resolve({ data, from }) } })
      await connect(a.node, b.node)

      const data = new TextEncoder().encode('hello')
      const { recipients } = await a.node.publishAndAwaitPeer(TOPIC, data, { timeoutMs: 5000 })
      expect(recipients.map(String)).toContain(b.node.peerId.toString())
      const got = await within(received.promise, 5000, 'delivery')
      expect(got.data).toEqual(data)
      expect(got.from.equals(a.node.peerId)).toBe(true)
    })

    it('publishAndAwaitPeer fails with NoPeersError when nobody subscribes', async () => {
      const [a, b] = await Promise.all([peer(), peer()])
      await connect(a.node, b.node)
      const started = Date.now()
      const err = await rejection(a.node.publishAndAwaitPeer(TOPIC, new Uint8Array([1]), { timeoutMs: 300 }))
      expect(err.name).toBe('NoPeersError')
      expect(err.message).toContain(`no peers subscribed to ${TOPIC}`.replace('no', 'No'))
      expect(Date.now() - started).toBeLessThan(3000)
      expect((await rejection(a.node.publish(TOPIC, new Uint8Array([2])))).name).toBe('NoPeersError')
    })

    it('refuses topics outside the network', async () => {
      const a = await peer()
      expect(() => a.node.subscribe('capdex/other/providers/1', { onMessage: () => {} })).toThrow(expect.objectContaining({ name: 'TopicNotAllowedError' }))
      const unsubscribe = a.node.subscribe(TOPIC, { onMessage: () => {} })
      expect(() => a.node.subscribe(TOPIC, { onMessage: () => {} })).toThrow(expect.objectContaining({ name: 'AlreadySubscribedError' }))
      unsubscribe()
      a.node.subscribe(TOPIC, { onMessage: () => {} })
    })

    it('a validator Reject pushes the sender below the graylist threshold', async () => {
      const [a, b] = await Promise.all([peer(), peer()])
      const validated = deferred<undefined>()
      let delivered = false
      b.node.subscribe(TOPIC, {
        validate: () => { validated.resolve(undefined); return 'reject' },
        onMessage: () => { delivered = true }
      })
      await connect(a.node, b.node)
      expect(b.node.peerScore(a.node.peerId)).toBeGreaterThanOrEqual(0)

      await a.node.publishAndAwaitPeer(TOPIC, new TextEncoder().encode('forged'), { timeoutMs: 5000 })
      await within(validated.promise, 5000, 'validation')
      const pubsub = b.node.libp2p.services.pubsub
      await until(() => b.node.peerScore(a.node.peerId) < SCORE_THRESHOLDS.graylistThreshold, pubsub, ['gossipsub:heartbeat'])
      expect(delivered).toBe(false)
    })

    it('ignores messages over the per-peer validation budget and counts them', async () => {
      const [a, b] = await Promise.all([peer(), peer({ validationBudget: { burst: 1, ratePerSecond: 0 } })])
      const seen: string[] = []
      b.node.subscribe(TOPIC, { onMessage: (data) => { seen.push(new TextDecoder().decode(data)) } })
      await connect(a.node, b.node)

      await a.node.publishAndAwaitPeer(TOPIC, new TextEncoder().encode('one'), { timeoutMs: 5000 })
      await a.node.publish(TOPIC, new TextEncoder().encode('two'))
      await until(() => b.node.validationBudget.overBudgetFor(a.node.peerId) === 1, b.node.libp2p.services.pubsub, ['gossipsub:heartbeat', 'gossipsub:message'])
      expect(seen).toEqual(['one'])
      expect(b.node.validationBudget.stats().overBudget).toBe(1)
      // Ignore is not a penalty
      expect(b.node.peerScore(a.node.peerId)).toBeGreaterThanOrEqual(0)
    })
  })

  describe('blocks', () => {
    it('fetches a block over bitswap and verifies it', async () => {
      const [a, b] = await Promise.all([peer(), peer()])
      await connect(b.node, a.node)
      const bytes = new TextEncoder().encode('a block held by a')
      const cid = await a.node.putBlock(bytes, RAW)
      expect(cid.equals(await rawCid(bytes))).toBe(true)

      expect(await b.node.getVerifiedBlock(cid, { timeoutMs: 5000 })).toEqual(bytes)
      expect(await b.repo.blockstore.has(cid)).toBe(true)
      expect(await b.node.getVerifiedBlock(cid, { offline: true })).toEqual(bytes)
    })

    it('detects a corrupt local block, deletes it and refetches it', async () => {
      const [a, b] = await Promise.all([peer(), peer()])
      await connect(b.node, a.node)
      const bytes = new TextEncoder().encode('the real bytes')
      const cid = await a.node.putBlock(bytes, RAW)
      // blockstore-fs stores whatever it is given under the CID
      await b.repo.blockstore.put(cid, new TextEncoder().encode('bit rot'))

      expect(await b.node.getVerifiedBlock(cid, { timeoutMs: 5000 })).toEqual(bytes)
      expect(await b.node.getVerifiedBlock(cid, { offline: true })).toEqual(bytes)
    })

    it('fails with BlockHashMismatchError for a corrupt block offline, naming the CID', async () => {
      const a = await peer()
      const cid = await rawCid(new TextEncoder().encode('the real bytes'))
      await a.repo.blockstore.put(cid, new TextEncoder().encode('bit rot'))
      const err = await rejection(a.node.getVerifiedBlock(cid, { offline: true }))
      expect(err.name).toBe('BlockHashMismatchError')
      expect(err.message).toContain(cid.toString())
      expect(await a.repo.blockstore.has(cid)).toBe(false)
    })

    it('fails fast with BlockNotFoundError for a missing block offline', async () => {
      const a = await peer()
      const cid = await rawCid(new TextEncoder().encode('nobody has this'))
      const started = Date.now()
      const err = await rejection(a.node.getVerifiedBlock(cid, { offline: true, timeoutMs: 60_000 }))
      expect(err.name).toBe('BlockNotFoundError')
      expect(err.message).toContain(cid.toString())
      expect(Date.now() - started).toBeLessThan(1000)
    })

    it('fails with BlockFetchTimeoutError when no peer has the block', async () => {
      const [a, b] = await Promise.all([peer(), peer()])
      await connect(a.node, b.node)
      const cid = await rawCid(new TextEncoder().encode('nobody has this'))
      const err = await rejection(a.node.getVerifiedBlock(cid, { timeoutMs: 300 }))
      expect(err.name).toBe('BlockFetchTimeoutError')
      expect(err.message).toContain(cid.toString())
    })

    it('enforces the size cap', async () => {
      const a = await peer()
      const bytes = new Uint8Array(2048).fill(7)
      const cid = await a.node.putBlock(bytes, RAW)
      expect((await rejection(a.node.getVerifiedBlock(cid, { offline: true, maxBytes: 1024 }))).name).toBe('BlockTooLargeError')
      expect((await rejection(a.node.putBlock(bytes, RAW, { maxBytes: 1024 }))).name).toBe('BlockTooLargeError')
    })
  })

  describe('IPNS records', () => {
    it('stores the newest record and serves it over /capdex/ipns-record/1.0.0', async () => {
      const [a, b] = await Promise.all([peer(), peer()])
      await connect(b.node, a.node)
      const key = await generateKeyPair('Ed25519')
      const name = nameFromPublicKey(key.publicKey)
      const value = await rawCid(new TextEncoder().encode('manifest'))
      const first = await createRecord(key, value, 1n, { lifetimeMs: 60_000 })
      const second = await createRecord(key, value, 2n, { lifetimeMs: 60_000 })

      expect((await a.node.putRecord(name, second)).sequence).toBe(2n)
      expect((await rejection(a.node.putRecord(name, first))).name).toBe('StaleRecordError')
      expect(await a.node.getRecord(name)).toEqual(second)

      const fetched = await b.node.fetchRecord(a.node.peerId, name)
      expect(fetched.sequence).toBe(2n)
      expect(fetched.valueCid?.equals(value)).toBe(true)

      const other = nameFromPublicKey((await generateKeyPair('Ed25519')).publicKey)
      const err = await rejection(b.node.fetchRecord(a.node.peerId, other))
      expect(err.name).toBe('RecordNotFoundError')
      expect(err.message).toContain(other)
    })
  })
})
