import { attrRange, encodeEntry, nameFromBytes } from '../src/index.js'
import { auditDiff, auditLog, checkConsistency, compareHeads, formatFieldChange, locateAt, parseAt, providerTimeline, resolveAt, verifySnapshot } from '../src/audit/index.js'
import { fold } from '../src/snapshot/index.js'
import { chain, cold, collect, HOUR, INDEXER, MINUTE, NETWORK, publish, putSnapshot, story, T0, testProvider, world } from './audit-fixtures.js'
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Story } from './audit-fixtures.js'
import type { FoldResult } from '../src/snapshot/index.js'

let shared: Promise<Story> | undefined
async function theStory (): Promise<Story> {
  shared ??= story()
  return shared
}

describe('audit log', () => {
  it('lists the chain newest first with per-snapshot counts', async () => {
    const { w, heads } = await theStory()
    const log = await collect(auditLog(cold(w), heads[4]!.cid, { limit: 10 }))
    expect(log.map((e) => e.height)).toEqual([4, 3, 2, 1, 0])
    expect(log.map((e) => e.cid.toString())).toEqual(heads.map((h) => h.cid.toString()).reverse())
    const [h4, h3, h2, h1, h0] = log
    expect(h0).toMatchObject({ added: 3, removed: 0, changed: 0, renewed: 0, expired: 0, count: 3, live: 3 })
    expect(h1).toMatchObject({ added: 1, changed: 1, renewed: 1, removed: 0, expired: 0, count: 4, live: 4 })
    expect(h2).toMatchObject({ added: 0, changed: 0, renewed: 3, expired: 1, count: 4, live: 3 })
    expect(h3).toMatchObject({ removed: 3, renewed: 1, added: 0, count: 1, live: 1 })
    expect(h4).toMatchObject({ added: 1, renewed: 1, count: 2, live: 2 })
  })

  it('stops at the limit and diffs the last listed snapshot against its predecessor', async () => {
    const { w, heads } = await theStory()
    const log = await collect(auditLog(cold(w), heads[4]!.cid, { limit: 2 }))
    expect(log.map((e) => e.height)).toEqual([4, 3])
    expect(log[1]).toMatchObject({ removed: 3 })
    expect(await collect(auditLog(cold(w), heads[1]!.cid, { limit: 2 }))).toHaveLength(2)
  })
})

describe('audit diff', () => {
  it('reports added, changed (field by field), renewed and expired providers', async () => {
    const { w, heads, providers } = await theStory()
    const run = auditDiff(cold(w), heads[0]!.cid, heads[1]!.cid)
    const changes = await collect(run)
    const byProvider = new Map(changes.map((c) => [c.provider, c]))
    expect(byProvider.get(providers[3]!.name)?.kind).toBe('added')
    expect(byProvider.get(providers[0]!.name)?.kind).toBe('renewed')
    const changed = byProvider.get(providers[1]!.name)!
    expect(changed.kind).toBe('changed')
    expect(changed.before?.sequence).toBe(1n)
    expect(changed.after?.sequence).toBe(2n)
    expect(changed.fields?.map(formatFieldChange)).toEqual(expect.arrayContaining(['gpus[0].available 8 → 6', 'pricing[0].amount 2.10 → 1.95']))
    expect(changed.fields?.some((f) => f.path === 'prev')).toBe(false)
    expect(run.summary).toMatchObject({ added: 1, changed: 1, renewed: 1, removed: 0, expired: 0 })

    const later = auditDiff(cold(w), heads[1]!.cid, heads[2]!.cid)
    const expired = (await collect(later)).filter((c) => c.kind === 'expired')
    expect(expired.map((c) => c.provider)).toEqual([providers[2]!.name])
    expect(later.summary).toMatchObject({ expired: 1, renewed: 3 })

    const removed = await collect(auditDiff(cold(w), heads[2]!.cid, heads[3]!.cid))
    expect(removed.filter((c) => c.kind === 'removed').map((c) => c.provider).sort()).toEqual([providers[1]!.name, providers[2]!.name, providers[3]!.name].sort())
  })

  it('touches at most 3 × changes × depth tree blocks', async () => {
    const w = world()
    const fake = CID.createV1(0x0129, await sha256.digest(Uint8Array.of(1)))
    const keyOf = (i: number): Uint8Array => {
      const raw = new Uint8Array(32)
      new DataView(raw.buffer).setUint32(0, i * 2654435761 >>> 0)
      raw[31] = i & 0xff
      return Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...raw])
    }
    const keys = Array.from({ length: 6000 }, (_, i) => keyOf(i)).sort((a, b) => Buffer.compare(a, b))
    const value = (seen: number): Uint8Array => encodeEntry({ record: new Uint8Array(300).fill(seen & 0xff), manifest: fake, seen })
    const base = await w.tree.build(keys.map((key) => ({ key, value: value(1) })))
    const changed = keys.filter((_, i) => i % 600 === 0)
    const next = (await w.tree.mutate(base, changed.map((key) => ({ op: 'put' as const, key, value: value(2) })))).root
    const attrs = await w.tree.empty()
    const history = await w.tree.empty()
    const snap = async (providers: CID, height: number): Promise<CID> => {
      return putSnapshot(w, { v: 1, network: NETWORK, height, time: T0 + height, prev: height === 0 ? null : CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), providers, attrs, count: keys.length, indexer: INDEXER, history })
    }
    const a = await snap(base, 0)
    const b = await snap(next, 1)
    const c = cold(w)
    const run = auditDiff(c, a, b, { fields: false })
    const changes = await collect(run)
    expect(changes).toHaveLength(changed.length)
    expect(changes.every((ch) => ch.kind === 'renewed')).toBe(true)
    expect(changes.map((ch) => ch.provider)).toEqual(changed.map((k) => nameFromBytes(k)))
    expect(run.summary.depth).toBeGreaterThanOrEqual(3)
    expect(run.summary.diffBlocks).toBeGreaterThan(0)
    expect(run.summary.diffBlocks).toBeLessThanOrEqual(3 * changed.length * run.summary.depth)
  })
})

describe('audit provider', () => {
  it('tells when a provider appeared, changed, expired, was removed and came back', async () => {
    const { w, heads, providers } = await theStory()
    const p2 = await providerTimeline(cold(w), heads[4]!.cid, providers[2]!.name)
    expect(p2.events.map((e) => [e.kind, e.height])).toEqual([['appeared', 0], ['expired', 2], ['removed', 3], ['returned', 4]])
    expect(p2).toMatchObject({ snapshots: 5, complete: true, live: true })
    expect(p2.current?.sequence).toBe(2n)

    const p1 = await providerTimeline(cold(w), heads[2]!.cid, providers[1]!.name)
    expect(p1.events.map((e) => e.kind)).toEqual(['appeared', 'changed'])
    expect(p1.events[1]!.fields?.map(formatFieldChange)).toEqual(expect.arrayContaining(['gpus[0].available 8 → 6']))
    expect(p1.renewals).toBe(1)
    // its own manifest chain: the newest manifest, then the one its prev links to
    expect(p1.manifests).toHaveLength(2)
    expect(p1.manifests[0]!.fields.map(formatFieldChange)).toEqual(expect.arrayContaining(['pricing[0].amount 2.10 → 1.95']))
    expect(p1.manifestChainStop).toBeUndefined()
  })

  it('measures uptime over the window, and indexes it as the uptime attribute', async () => {
    const { w, heads, providers } = await theStory()
    const p0 = await providerTimeline(cold(w), heads[2]!.cid, providers[0]!.name, { windowMs: 20 * MINUTE })
    // p0 held leases from T0 to T0+22m; the window is [T0-5m, T0+15m]: 15 of 20 minutes
    expect(p0.uptime.observed).toBeCloseTo(15 / 20, 5)
    expect(p0.uptime.indexed).toBeGreaterThanOrEqual(0)

    // a provider that heartbeats every 3 minutes for 10 days reaches a third of the 30-day window
    const w2 = world()
    const p = await testProvider()
    let previous: FoldResult | null = null
    for (let t = 0; t < 10 * 24 * 60; t += 180) {
      const updates = []
      for (let m = t; m < t + 180; m += 3) updates.push(await publish(p, { now: T0 + m * MINUTE }))
      previous = await fold(w2.components, previous, updates, { now: T0 + (t + 177) * MINUTE, network: NETWORK, indexer: INDEXER })
    }
    const timeline = await providerTimeline(cold(w2), previous!.cid, p.name, { limit: 2 })
    expect(timeline.uptime.indexed).toBe(0.33)
    const matches = await collect(w2.tree.range(previous!.snapshot.attrs, attrRange('uptime', { gte: 0.33 })))
    expect(matches).toHaveLength(1)
  }, 120_000)
})

describe('time travel', () => {
  it('resolves a time, a height or a CID to the snapshot current then', async () => {
    const { w, heads } = await theStory()
    const head = heads[4]!.cid
    expect((await resolveAt(cold(w), head, new Date(T0 + 4 * MINUTE).toISOString())).equals(heads[1]!.cid)).toBe(true)
    expect((await resolveAt(cold(w), head, new Date(T0 + 3 * MINUTE).toISOString())).equals(heads[1]!.cid)).toBe(true)
    expect((await resolveAt(cold(w), head, '2099-01-01')).equals(head)).toBe(true)
    expect((await resolveAt(cold(w), head, '2')).equals(heads[2]!.cid)).toBe(true)
    expect((await locateAt(cold(w), head, heads[3]!.cid.toString())).height).toBe(3)
    expect(parseAt('2024-06-01T00:00:00Z')).toEqual({ kind: 'time', time: T0 })
  })

  it('fails clearly before the first snapshot, on nonsense and on a foreign CID', async () => {
    const { w, heads } = await theStory()
    const head = heads[4]!.cid
    const before = resolveAt(cold(w), head, new Date(T0 - HOUR).toISOString())
    await expect(before).rejects.toMatchObject({ name: 'BeforeFirstSnapshotError' })
    await expect(before).rejects.toThrow(/before the first snapshot of this chain \(height 0 at 2024-06-01T00:00:00.000Z\)/)
    await expect(resolveAt(cold(w), head, 'yesterday')).rejects.toMatchObject({ name: 'InvalidAtError' })
    await expect(resolveAt(cold(w), head, '9')).rejects.toMatchObject({ name: 'SnapshotNotFoundError' })
    const other = await chain(w, [{ now: T0, updates: [] }], null, { indexer: 'k51qzi5uqu5other' })
    await expect(resolveAt(cold(w), head, other[0]!.cid.toString())).rejects.toMatchObject({ name: 'SnapshotNotFoundError' })
  })

  it('finds a snapshot of a long chain in O(log n) blocks', async () => {
    const w = world()
    const results = await chain(w, Array.from({ length: 300 }, (_, i) => ({ now: T0 + i * MINUTE, updates: [] })))
    const head = results.at(-1)!
    const depth = await w.tree.depth(head.snapshot.history)
    for (const i of [0, 1, 150, 298]) {
      for (const at of [String(i), new Date(T0 + i * MINUTE + 30_000).toISOString()]) {
        const c = cold(w)
        expect((await resolveAt(c, head.cid, at)).equals(results[i]!.cid)).toBe(true)
        expect(c.prolly.stats.blocksRead).toBeLessThanOrEqual(2 * depth)
      }
    }
  })
})

describe('audit consistency', () => {
  it('proves that a newer head extends an older one', async () => {
    const { w, heads } = await theStory()
    const c = cold(w)
    const proof = await checkConsistency(c, heads[1]!.cid, heads[4]!.cid)
    expect(proof).toMatchObject({ distance: 3, indexer: INDEXER, network: NETWORK })
    expect(proof.old.cid.equals(heads[1]!.cid)).toBe(true)
    expect(proof.blocks).toBeLessThanOrEqual(2 + 2 * await c.prolly.depth(heads[4]!.snapshot.history))
    expect((await checkConsistency(cold(w), heads[4]!.cid, heads[4]!.cid)).distance).toBe(0)
    await expect(checkConsistency(cold(w), heads[4]!.cid, heads[1]!.cid)).rejects.toMatchObject({ name: 'NotExtendingError', reason: 'older' })
    const other = await chain(w, [{ now: T0, updates: [] }, { now: T0 + 1, updates: [] }], null, { indexer: 'k51qzi5uqu5other' })
    await expect(checkConsistency(cold(w), other[0]!.cid, heads[4]!.cid)).rejects.toMatchObject({ name: 'NotExtendingError', reason: 'other-chain' })
  })

  it('finds equivocation: two different snapshots at one height, both kept as evidence', async () => {
    const { w, heads, providers } = await theStory()
    // a fork at height 2: the indexer signs a second h2 that omits p3
    const forkUpdates = [await publish(providers[0]!, { now: T0 + 14 * MINUTE })]
    const [fork] = await chain(w, [{ now: T0 + 15 * MINUTE, updates: forkUpdates }], heads[1])
    expect(fork!.snapshot.height).toBe(2)
    expect(fork!.cid.equals(heads[2]!.cid)).toBe(false)

    for (const [old, head] of [[fork!.cid, heads[4]!.cid], [fork!.cid, heads[2]!.cid]] as const) {
      const err = await checkConsistency(cold(w), old, head).catch((e: unknown) => e)
      expect(err).toMatchObject({ name: 'EquivocationEvidenceError' })
      const { evidence } = err as { evidence: { height: number, indexer: string, a: { cid: CID, bytes?: Uint8Array }, b: { cid: CID, bytes?: Uint8Array } } }
      expect(evidence).toMatchObject({ height: 2, indexer: INDEXER })
      expect(evidence.a.cid.equals(fork!.cid)).toBe(true)
      expect(evidence.b.cid.equals(heads[2]!.cid)).toBe(true)
      expect(evidence.a.bytes).toBeInstanceOf(Uint8Array)
      expect(evidence.b.bytes).toBeInstanceOf(Uint8Array)
    }
  })
})

describe('audit compare', () => {
  it('gives identical roots for the same records folded in another order, and names what one indexer omits', async () => {
    const providers = await Promise.all([0, 1, 2, 3, 4, 5].map(async () => testProvider()))
    const updates = []
    for (const [i, p] of providers.entries()) {
      for (let beat = 0; beat < 3; beat++) updates.push(await publish(p, { now: T0 + (i + beat * 3) * MINUTE }))
    }
    const blocks = world().blocks
    const a = world(blocks)
    const b = world(blocks)
    const [headA] = await chain(a, [{ now: T0 + HOUR, updates }])
    const reversed = [...updates].reverse()
    const headsB = await chain(b, [{ now: T0 + 10 * MINUTE, updates: reversed.slice(0, 7) }, { now: T0 + HOUR, updates: reversed.slice(7) }])
    const headB = headsB.at(-1)!
    expect(headA!.snapshot.providers.equals(headB.snapshot.providers)).toBe(true)
    expect(headA!.snapshot.attrs.equals(headB.snapshot.attrs)).toBe(true)
    const same = compareHeads(cold(a), headA!.cid, headB.cid)
    expect(await collect(same)).toEqual([])
    expect(same.summary).toMatchObject({ providersEqual: true, attrsEqual: true, onlyA: 0, onlyB: 0 })

    // an indexer that omits provider 4 and missed provider 5's last heartbeat
    const omitting = updates.filter((u) => u.record.name !== providers[4]!.name && !(u.record.name === providers[5]!.name && u.record.sequence === 3n))
    const [headC] = await chain(world(blocks), [{ now: T0 + HOUR, updates: omitting }], null, { indexer: 'k51qzi5uqu5other' })
    const run = compareHeads(cold(a), headA!.cid, headC!.cid)
    const differences = await collect(run)
    expect(differences.map((d) => [d.kind, d.provider])).toEqual(expect.arrayContaining([['only-a', providers[4]!.name], ['different', providers[5]!.name]]))
    expect(differences).toHaveLength(2)
    expect(differences.find((d) => d.kind === 'different')?.a?.sequence).toBe(3n)
    expect(run.summary).toMatchObject({ onlyA: 1, onlyB: 0, different: 1, providersEqual: false })
  })
})

describe('audit verify', () => {
  it('verifies a good chain, deep, with a one-line verdict', async () => {
    const { w, heads } = await theStory()
    const events: string[] = []
    const report = await verifySnapshot(cold(w), heads[4]!.cid, { deep: true, onProgress: (e) => { events.push(e.type) } })
    expect(report.problems).toEqual([])
    expect(report).toMatchObject({ ok: true, deep: true, snapshots: 5, height: 4, problemCount: 0 })
    expect(report.historyEntries).toBe(8)
    expect(report.entries).toBeGreaterThanOrEqual(2)
    expect(report.verdict).toMatch(/^OK: /)
    expect(events).toContain('registry:audit:snapshot')
    expect(events).toContain('registry:audit:chain')

    const shallow = await verifySnapshot(cold(w), heads[2]!.cid)
    expect(shallow).toMatchObject({ ok: true, deep: false, snapshots: 2, entries: 4 })
    expect(shallow.attrKeys).toBeGreaterThan(4 * 10)
  })
})
