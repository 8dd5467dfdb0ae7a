/**
 * A flood, end to end: a `capdex indexer run` process; a flooder process (its own libp2p node)
 * sending invalid announcements as fast as it can, up to 10,000/s for 10 s (garbage, and real
 * records with forged signatures); honest simulated providers heartbeating through it; and a
 * client node following the heads. The flooder's gossipsub score at the indexer falls below the
 * graylist threshold and the indexer hangs up on it and refuses it back, so honest updates become
 * visible in heads the client hears within the freshness target (p99 ≤ 3 s), the indexer's RSS
 * stays bounded, and the final head verifies and holds every honest update.
 */
import { SCORE_THRESHOLDS } from '@capdex/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startScript } from '../../scripts/lib/capdex-process.js'
import { watchHeads } from '../../scripts/lib/head-watcher.js'
import { rssOf, startIndexer, startSimulatorNode, tempRepo } from '../../scripts/lib/simulation.js'
import { metric, verifyHead } from './fixture.js'
import type { LongRunning } from '../../scripts/lib/capdex-process.js'
import type { HeadWatcher, WatchedHead } from '../../scripts/lib/head-watcher.js'
import type { IndexerReady, SimulatorNode, TempRepo } from '../../scripts/lib/simulation.js'

const NETWORK = 'faults-flood'
const HONEST = 5
const RATE = 10_000
const SECONDS = 10
/** the freshness target: p99 of publish → visible at the client */
const FRESH_MS = 3000
const RSS_BOUND = 1024 * 1024 * 1024

describe('a flood of invalid announcements', () => {
  let repo: TempRepo
  let indexer: LongRunning | undefined
  let ready: IndexerReady
  let bootstrap: string
  let flooder: LongRunning | undefined
  let watcher: HeadWatcher | undefined
  const nodes: SimulatorNode[] = []

  beforeAll(async () => {
    repo = await tempRepo(NETWORK)
    const started = await startIndexer(repo, { network: NETWORK, batchMs: 250 })
    indexer = started.proc
    ready = started.ready
    bootstrap = started.bootstrap
  })

  afterAll(async () => {
    await flooder?.stop('SIGKILL')
    await watcher?.stop()
    for (const n of nodes) await n.stop()
    await indexer?.stop('SIGKILL')
    await repo?.cleanup()
  })

  it('keeps honest updates fresh, RSS bounded, and graylists the flooder', async ({ annotate }) => {
    const honest = await startSimulatorNode({ network: NETWORK, bootstrap: [bootstrap], count: HONEST, seed: 'faults-flood', leaseMs: 600_000 })
    nodes.push(honest)
    const client = await startSimulatorNode({ network: NETWORK, bootstrap: [bootstrap] })
    nodes.push(client)

    /** publish time of each honest (name, sequence), and when the client saw it in a head */
    const published = new Map<string, { at: number, visibleAt?: number }>()
    const waiters: Array<() => void> = []
    const heads: WatchedHead[] = []
    watcher = watchHeads({ node: client.node }, {
      indexer: ready.name,
      onHead: (head) => {
        heads.push(head)
        for (const [name, sequence] of head.updates) {
          for (let s = sequence; s > 0n; s--) {
            const p = published.get(`${name}/${s}`)
            if (p === undefined || p.visibleAt !== undefined) break
            p.visibleAt = head.visibleAt
          }
        }
        for (const w of waiters.splice(0)) w()
      }
    })
    const allVisible = async (timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs
      while ([...published.values()].some((p) => p.visibleAt === undefined)) {
        const remaining = deadline - Date.now()
        if (remaining <= 0) throw new Error(`honest updates not visible: ${[...published].filter(([, p]) => p.visibleAt === undefined).map(([k]) => k).join(', ')}`)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining)
          waiters.push(() => { clearTimeout(timer); resolve() })
        })
      }
    }
    /** the last sequence of each honest provider that reached the indexer */
    const delivered = new Map<string, bigint>()
    const beat = async (i: number, awaitPeer = false): Promise<void> => {
      const p = await honest.providers.heartbeat(i, { awaitPeer })
      if (p.recipients === 0) return
      published.set(`${p.name}/${p.sequence}`, { at: p.at })
      delivered.set(p.name, p.sequence)
    }

    // a baseline head the client has heard, before the flood
    for (let i = 0; i < HONEST; i++) await beat(i, true)
    await new Promise<void>((resolve) => { waiters.push(resolve) })
    const baseline = heads.length
    published.clear()
    for (let i = 0; i < HONEST; i++) await beat(i, true)
    await allVisible(30_000)
    expect(heads.length).toBeGreaterThan(baseline)

    // the flood, with honest heartbeats every 400 ms and the indexer's RSS sampled through it
    flooder = startScript('scripts/lib/flooder.ts', ['--network', NETWORK, '--bootstrap', bootstrap, '--rate', String(RATE), '--seconds', String(SECONDS)])
    const { peerId: flooderPeer } = await flooder.nextJson<{ event: 'ready', peerId: string }>((l) => l.event === 'ready', 60_000)
    published.clear()
    let rssMax = 0
    let turn = 0
    const pacing = setInterval(() => { void beat(turn++ % HONEST) }, 400)
    const sampling = setInterval(() => { void rssOf(indexer!.child.pid).then((rss) => { rssMax = Math.max(rssMax, rss ?? 0) }) }, 250)
    let done: { event: 'done', sent: number, failed: number, seconds: number, rate: number, disconnects: number, connections: number }
    try {
      done = await flooder.nextJson<typeof done>((l) => l.event === 'done', 120_000)
    } finally {
      clearInterval(pacing)
      clearInterval(sampling)
    }
    expect(done.sent).toBeGreaterThan(0)
    await allVisible(30_000)
    const latencies = [...published.values()].map((p) => p.visibleAt! - p.at).sort((a, b) => a - b)
    const p50 = latencies[Math.floor(latencies.length / 2)]!
    const max = latencies[latencies.length - 1]!
    const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!
    await annotate(`flooder sent ${done.sent} invalid announcements in ${done.seconds} s (${done.rate}/s, target ${RATE}/s) before it was cut off (${done.failed} more reached no peer); ${latencies.length} honest updates visible at the client after p50 ${p50} ms, p99 ${p99} ms, max ${max} ms (target p99 ≤ ${FRESH_MS} ms); indexer RSS max ${Math.round(rssMax / 1048576)} MiB`)
    expect(latencies.length).toBeGreaterThanOrEqual(10)
    expect(p99, `honest updates took ${latencies.join(', ')} ms`).toBeLessThanOrEqual(FRESH_MS)
    // hung up on, and refused when it dialed back
    expect(done.disconnects).toBeGreaterThanOrEqual(1)
    expect(done.connections).toBe(0)
    expect(rssMax).toBeGreaterThan(0)
    expect(rssMax).toBeLessThan(RSS_BOUND)

    const text = await (await fetch(`${ready.http!}/metrics`)).text()
    const score = metric(text, 'capdex_peer_score', `{peer="${flooderPeer}"}`)
    expect(score, text).toBeDefined()
    expect(score!).toBeLessThan(SCORE_THRESHOLDS.graylistThreshold)
    expect(metric(text, 'capdex_fold_errors_total')).toBe(0)

    // the head is whole and holds every honest provider's last update
    expect(await indexer!.stop('SIGTERM')).toBe(0)
    const head = await verifyHead(repo.path)
    expect(head?.sequences).toEqual(delivered)
  }, 240_000)
})
