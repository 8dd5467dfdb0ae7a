import { encodeManifest, manifestCid } from '@capdex/manifest'
import { createRecord, encodeAnnouncement, nameFromPublicKey, providersTopic } from '@capdex/registry'
import { describe, expect, it } from 'vitest'
import { announcementListener, providerService, SCORE_THRESHOLDS } from '../src/index.js'
import { connect, deferred, NETWORK, rejection, sampleManifest, peersStoppedAfterEach, until, within } from './helpers.js'
import type { ProviderPublished, ReceivedAnnouncement } from '../src/index.js'

/** Collects announcements and lets a test wait for the n-th one. */
function inbox (): { onAnnouncement: (a: ReceivedAnnouncement) => void, next: () => Promise<ReceivedAnnouncement> } {
  const queue: ReceivedAnnouncement[] = []
  const waiting: Array<(a: ReceivedAnnouncement) => void> = []
  return {
    onAnnouncement: (a) => {
      const resolve = waiting.shift()
      if (resolve != null) resolve(a)
      else queue.push(a)
    },
    next: async () => {
      const a = queue.shift()
      if (a != null) return a
      return within(new Promise<ReceivedAnnouncement>((resolve) => { waiting.push(resolve) }), 5000, 'announcement')
    }
  }
}

describe('provider service', () => {
  const peer = peersStoppedAfterEach()

  it('publishes a manifest chain end to end', async () => {
    const [provider, indexer] = await Promise.all([peer(), peer()])
    const heard = inbox()
    const listener = announcementListener({ node: indexer.node }, { onAnnouncement: heard.onAnnouncement })
    await connect(provider.node, indexer.node)
    const service = providerService({ node: provider.node, repo: provider.repo })
    const name = await service.name()

    const first = await service.publishOnce({ manifest: sampleManifest(), lifetimeMs: 60_000 })
    expect(first.name).toBe(name)
    expect(first.sequence).toBe(1n)
    expect(first.reused).toBe(false)
    expect(first.recipients.map(String)).toContain(indexer.node.peerId.toString())
    expect(first.validity.getTime()).toBeGreaterThan(Date.now() + 50_000)

    const a1 = await heard.next()
    expect(a1.name).toBe(name)
    expect(a1.record.sequence).toBe(1n)
    expect(a1.manifestCid.equals(first.manifestCid)).toBe(true)
    expect(a1.manifest.provider).toBe(name)
    expect(a1.manifest.prev).toBeNull()
    expect(a1.from.equals(provider.node.peerId)).toBe(true)

    const second = await service.publishOnce({ manifest: sampleManifest({ status: 'busy' }), lifetimeMs: 60_000 })
    expect(second.sequence).toBe(2n)
    const a2 = await heard.next()
    expect(a2.record.sequence).toBe(2n)
    expect(a2.manifest.status).toBe('busy')
    expect(a2.manifest.prev?.equals(first.manifestCid)).toBe(true)

    // the listener stored the record and the manifest: it can serve both
    const stored = await provider.node.fetchRecord(indexer.node.peerId, name)
    expect(stored.sequence).toBe(2n)
    expect(await indexer.node.getVerifiedBlock(second.manifestCid, { offline: true })).toEqual(a2.manifestBytes)
    expect(listener.stats()).toEqual({ accepted: 2, rejected: 0, ignored: 0, validating: 0 })
    listener.stop()
  })

  it('fails with NoPeersError when nobody listens, and still stores the record', async () => {
    const provider = await peer()
    const service = providerService({ node: provider.node, repo: provider.repo })
    const err = await rejection(service.publishOnce({ manifest: sampleManifest(), timeoutMs: 200 }))
    expect(err.name).toBe('NoPeersError')
    expect(err.message).toContain(providersTopic(NETWORK))
    expect(await provider.node.getRecord(await service.name())).toBeInstanceOf(Uint8Array)
  })

  it('fails with MissingManifestError without a manifest or detect', async () => {
    const provider = await peer()
    const service = providerService({ node: provider.node, repo: provider.repo })
    expect((await rejection(service.publishOnce())).name).toBe('MissingManifestError')
  })

  it('watch heartbeats with seq+1, re-signs an unchanged manifest, and stops on abort', async () => {
    const [provider, indexer] = await Promise.all([peer(), peer()])
    const heard = inbox()
    announcementListener({ node: indexer.node }, { onAnnouncement: heard.onAnnouncement })
    await connect(provider.node, indexer.node)
    const service = providerService({ node: provider.node, repo: provider.repo })

    const controller = new AbortController()
    const published: ProviderPublished[] = []
    const watching = service.watch({
      intervalMs: 50,
      lifetimeMs: 60_000,
      detect: async () => Promise.resolve(sampleManifest()),
      signal: controller.signal,
      onPublished: (result) => {
        published.push(result)
        if (published.length === 2) controller.abort()
      }
    })
    await within(watching, 10_000, 'watch ending')
    expect(published.map(p => p.sequence)).toEqual([1n, 2n])
    expect(published[1]?.reused).toBe(true)
    expect(published[1]?.manifestCid.equals(published[0]!.manifestCid)).toBe(true)
    expect((await heard.next()).record.sequence).toBe(1n)
    expect((await heard.next()).record.sequence).toBe(2n)
  })

  it('watch logs a heartbeat nobody hears and keeps going', async () => {
    const provider = await peer()
    const service = providerService({ node: provider.node, repo: provider.repo })
    const controller = new AbortController()
    const unheard: Error[] = []
    await within(service.watch({
      intervalMs: 20,
      lifetimeMs: 60_000,
      timeoutMs: 50,
      detect: async () => Promise.resolve(sampleManifest()),
      signal: controller.signal,
      onUnheard: (err) => {
        unheard.push(err)
        if (unheard.length === 2) controller.abort()
      }
    }), 10_000, 'watch ending')
    expect(unheard.map(e => e.name)).toEqual(['NoPeersError', 'NoPeersError'])
    expect((await rejection(service.watch({ intervalMs: 1000, lifetimeMs: 1000, detect: async () => Promise.resolve(sampleManifest()) }))).name).toBe('InvalidOptionError')
  })

  it('the listener rejects a forged announcement and the relayer is graylisted', async () => {
    const [attacker, indexer] = await Promise.all([peer(), peer()])
    const heard = inbox()
    const listener = announcementListener({ node: indexer.node }, { onAnnouncement: heard.onAnnouncement })
    await connect(attacker.node, indexer.node)

    // a validly signed record whose inline manifest is not the one it names
    const key = await attacker.repo.getOrCreateKey('provider')
    const name = nameFromPublicKey(key.publicKey)
    const real = encodeManifest(sampleManifest({ provider: name }))
    const fake = encodeManifest(sampleManifest({ provider: name, status: 'offline' }))
    const record = await createRecord(key, manifestCid(real), 1n, { lifetimeMs: 60_000 })
    await attacker.node.publishAndAwaitPeer(providersTopic(NETWORK), encodeAnnouncement({ record, manifest: fake }), { timeoutMs: 5000 })

    await until(() => listener.stats().rejected === 1, indexer.node.libp2p.services.pubsub, ['gossipsub:heartbeat'])
    await until(() => indexer.node.peerScore(attacker.node.peerId) < SCORE_THRESHOLDS.graylistThreshold, indexer.node.libp2p.services.pubsub, ['gossipsub:heartbeat'])
    expect(listener.stats().accepted).toBe(0)
    expect(await indexer.node.getRecord(name)).toBeUndefined()
  })

  it('the listener ignores an expired announcement without penalty', async () => {
    const [provider, indexer] = await Promise.all([peer(), peer()])
    const listener = announcementListener({ node: indexer.node }, { onAnnouncement: () => {}, now: () => Date.now() + 120_000 })
    await connect(provider.node, indexer.node)
    const service = providerService({ node: provider.node, repo: provider.repo })
    await service.publishOnce({ manifest: sampleManifest(), lifetimeMs: 60_000 })
    await until(() => listener.stats().ignored === 1, indexer.node.libp2p.services.pubsub, ['gossipsub:heartbeat'])
    expect(indexer.node.peerScore(provider.node.peerId)).toBeGreaterThanOrEqual(0)
  })

  it('a listener on another node fetches a manifest that was not inlined over bitswap', async () => {
    const [provider, indexer] = await Promise.all([peer(), peer()])
    const heard = deferred<ReceivedAnnouncement>()
    announcementListener({ node: indexer.node }, { onAnnouncement: (a) => { heard.resolve(a) } })
    await connect(provider.node, indexer.node)

    const key = await provider.repo.getOrCreateKey('provider')
    const name = nameFromPublicKey(key.publicKey)
    const bytes = encodeManifest(sampleManifest({ provider: name }))
    const cid = await provider.node.putBlock(bytes, manifestCid(bytes).code)
    const record = await createRecord(key, cid, 1n, { lifetimeMs: 60_000 })
    await provider.node.publishAndAwaitPeer(providersTopic(NETWORK), encodeAnnouncement({ record }), { timeoutMs: 5000 })

    const got = await within(heard.promise, 5000, 'announcement')
    expect(got.manifestCid.equals(cid)).toBe(true)
    expect(got.manifestBytes).toEqual(bytes)
  })
})
