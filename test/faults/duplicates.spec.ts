/**
 * Duplicate announcements, end to end: a `capdex indexer run` process and simulated providers on
 * real libp2p nodes. A record the indexer's listener already knows is ignored when re-announced in
 * another encoding; an update folded a second time changes nothing, whether it comes back from the
 * journal (the on-disk state a crash leaves between a durable head and the release of its journal
 * entries) or from the network after a restart: the head stays where it was.
 */
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeAnnouncement, encodeAnnouncement, providersTopic } from '@capdex/registry'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIndexer, startSimulatorNode, tempRepo } from '../../scripts/lib/simulation.js'
import { metric, metricsUntil, verifyHead } from './fixture.js'
import type { LongRunning } from '../../scripts/lib/capdex-process.js'
import type { IndexerHeadLine, SimulatorNode, TempRepo } from '../../scripts/lib/simulation.js'
import type { SimulatedPublish } from '../../scripts/lib/simulated-providers.js'

const NETWORK = 'faults-dup'
const STALE = '{reason="StaleRecordError"}'

describe('duplicate announcements', () => {
  let repo: TempRepo
  let indexer: LongRunning | undefined
  let http: string
  let bootstrap: string
  const nodes: SimulatorNode[] = []
  const saved: string[] = []

  beforeAll(async () => {
    repo = await tempRepo(NETWORK)
    // a long fold window leaves time to see the updates journaled before they are folded
    const started = await startIndexer(repo, { network: NETWORK, batchMs: 3000 })
    indexer = started.proc
    http = started.ready.http ?? ''
    bootstrap = started.bootstrap
  })

  afterAll(async () => {
    await indexer?.stop('SIGKILL')
    for (const n of nodes) await n.stop()
    await repo?.cleanup()
    for (const dir of saved) await rm(dir, { recursive: true, force: true })
  })

  it('ignores a re-announced record, and folding a journaled update twice leaves the head as it was', async () => {
    const sim = await startSimulatorNode({ network: NETWORK, bootstrap: [bootstrap], count: 3, seed: 'faults-dup', leaseMs: 600_000 })
    nodes.push(sim)
    const first: SimulatedPublish[] = []
    for (let i = 0; i < 3; i++) first.push(await sim.providers.heartbeat(i, { awaitPeer: true }))
    expect(first.every((p) => p.recipients > 0)).toBe(true)

    // journaled (acknowledged) and not folded yet: keep a copy of the journal as it is now
    await metricsUntil(http, (t) => metric(t, 'capdex_updates_accepted_total') === 3)
    const journal = join(repo.path, 'indexer', 'journal')
    const copy = await mkdtemp(join(tmpdir(), 'capdex-journal-copy-'))
    saved.push(copy)
    await cp(journal, copy, { recursive: true })
    expect((await readdir(copy)).length).toBeGreaterThan(0)

    const head = await indexer!.nextJson<IndexerHeadLine>((l) => l.event === 'head' && l.count === 3)
    expect(head).toMatchObject({ changed: 3, updates: 3 })

    // the same record again, announced without its manifest (other bytes, other message id): ignored as stale
    const bare = encodeAnnouncement({ record: decodeAnnouncement(first[0]!.announcement).record })
    expect((await sim.node.publish(providersTopic(NETWORK), bare)).recipients.length).toBe(1)
    let text = await metricsUntil(http, (t) => metric(t, 'capdex_updates_ignored_total', STALE) === 1)
    expect(metric(text, 'capdex_updates_accepted_total')).toBe(3)
    expect(metric(text, 'capdex_head_height')).toBe(head.height)

    // a crash after the head became durable and before the journal let go of its entries:
    // put the journal back as it was, and restart on it
    expect(await indexer!.stop('SIGTERM')).toBe(0)
    const before = await verifyHead(repo.path)
    expect(before?.cid.toString()).toBe(head.cid)
    await cp(copy, journal, { recursive: true })
    const restarted = await startIndexer(repo, { network: NETWORK, batchMs: 250 })
    indexer = restarted.proc
    http = restarted.ready.http ?? ''
    // the three updates were replayed and folded again before the ready line: same head
    expect(restarted.ready.head).toEqual({ cid: head.cid, height: head.height })
    text = await metricsUntil(http, (t) => (metric(t, 'capdex_folds_total') ?? 0) >= 1)
    expect(metric(text, 'capdex_updates_pending')).toBe(0)
    expect(metric(text, 'capdex_head_height')).toBe(head.height)
    expect((await readdir(journal)).filter((f) => f.endsWith('.log'))).toEqual([])

    // the identical announcement from a new peer after the restart: the new listener has not seen
    // it, so it is journaled and folded once more, and the head does not move
    const other = await startSimulatorNode({ network: NETWORK, bootstrap: [restarted.bootstrap], seed: 'faults-dup-other' })
    nodes.push(other)
    expect((await other.node.publishAndAwaitPeer(providersTopic(NETWORK), first[1]!.announcement)).recipients.length).toBe(1)
    text = await metricsUntil(http, (t) => metric(t, 'capdex_updates_accepted_total') === 1 && metric(t, 'capdex_updates_pending') === 0 && (metric(t, 'capdex_folds_total') ?? 0) >= 2)
    expect(metric(text, 'capdex_head_height')).toBe(head.height)
    await expect(fetch(`${http}/v1/head`).then(async (r) => r.json())).resolves.toMatchObject({ cid: head.cid, height: head.height })
    // a real update still moves the head, by exactly that provider
    await sim.node.dial(restarted.bootstrap)
    const update = await sim.providers.heartbeat(2, { awaitPeer: true })
    expect(update.recipients).toBe(1)
    const next = await indexer.nextJson<IndexerHeadLine>((l) => l.event === 'head')
    expect(next).toMatchObject({ height: head.height + 1, count: 3, changed: 1, updates: 1 })
    await expect(fetch(`${http}/v1/head`).then(async (r) => r.json())).resolves.toMatchObject({ cid: next.cid, height: next.height })

    expect(await indexer.stop('SIGTERM')).toBe(0)
    const after = await verifyHead(repo.path)
    expect(after?.cid.toString()).toBe(next.cid)
    expect([...(after?.sequences.entries() ?? [])].sort()).toEqual([...first.map((p, i) => [p.name, i === 2 ? 2n : 1n] as const)].sort())
  })
})
