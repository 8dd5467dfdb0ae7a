/**
 * The indexer killed with SIGKILL at random points while it folds, 20 times, end to end: a
 * `capdex indexer run` process on one repo, restarted after each kill, and 40 simulated providers
 * behind one libp2p node heartbeating every second. After each kill, before the restart, the
 * repo's head opens and `prolly.verify` passes on its providers, attrs and history trees; every
 * provider sequence in that head or in the journal is owed to the next head. At the end the final
 * head holds each provider at the last sequence the simulator delivered after the last restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededRandom } from '../../scripts/lib/simulated-providers.js'
import { startIndexer, startSimulatorNode, tempRepo } from '../../scripts/lib/simulation.js'
import { journaledSequences, metric, metricsUntil, storedUntil, verifyHead } from './fixture.js'
import type { LongRunning } from '../../scripts/lib/capdex-process.js'
import type { IndexerHeadLine, SimulatorNode, TempRepo } from '../../scripts/lib/simulation.js'

const NETWORK = 'faults-kill'
const KILLS = 20
const KEYS = 40

describe('indexer SIGKILL during folds', () => {
  let repo: TempRepo
  let sim: SimulatorNode | undefined
  let indexer: LongRunning | undefined

  beforeAll(async () => {
    repo = await tempRepo(NETWORK)
  })

  afterAll(async () => {
    await indexer?.stop('SIGKILL')
    await sim?.stop()
    await repo?.cleanup()
  })

  it(`restarts ${KILLS} times on a head that verifies, and loses no acknowledged update`, async () => {
    const random = seededRandom(20_240_601)
    /** the least sequence each provider must reach in the final head */
    const owed = new Map<string, bigint>()
    const owe = (sequences: Map<string, bigint>): void => {
      for (const [name, sequence] of sequences) if (sequence > (owed.get(name) ?? 0n)) owed.set(name, sequence)
    }
    let lastHeight = -1
    let verifiedHeads = 0
    let http = ''
    let killsWithJournal = 0
    /** what the simulator delivered to the current indexer process */
    const delivered = new Map<string, bigint>()

    for (let kill = 0; kill <= KILLS; kill++) {
      const started = await startIndexer(repo, { network: NETWORK, batchMs: 50 })
      indexer = started.proc
      http = started.ready.http ?? ''
      delivered.clear()
      // a restart comes up on the head it recorded last, or on a newer one folded from the journal
      if (started.ready.head !== null) expect(started.ready.head.height).toBeGreaterThanOrEqual(lastHeight)
      if (sim === undefined) {
        sim = await startSimulatorNode({ network: NETWORK, bootstrap: [started.bootstrap], count: KEYS, seed: 'faults-kill', intervalMs: 1000, jitter: 0.5, rampMs: 1000, leaseMs: 600_000, churn: 0, changeRate: 0.2 })
        sim.providers.onPublish((p) => {
          if (p.recipients === 0) return
          delivered.set(p.name, p.sequence)
        })
        sim.providers.start()
      } else {
        await sim.node.dial(started.bootstrap)
      }
      if (kill === KILLS) break

      // folds are running: kill at a random point of the next ones (the delay is the fault, not a wait)
      await indexer.nextJson<IndexerHeadLine>((l) => l.event === 'head', 60_000)
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 400)))
      expect(await indexer.stop('SIGKILL')).toBe(null)

      const head = await verifyHead(repo.path)
      expect(head, `a head after kill ${kill + 1}`).toBeDefined()
      expect(head!.blocks).toBeGreaterThan(0)
      verifiedHeads++
      lastHeight = head!.snapshot.height
      owe(head!.sequences)
      const journaled = await journaledSequences(repo.path)
      if (journaled.size > 0) killsWithJournal++
      owe(journaled)
    }
    expect(verifiedHeads).toBe(KILLS)
    // some kills must have caught acknowledged updates not yet in a head
    expect(killsWithJournal).toBeGreaterThan(0)

    // one more round of heartbeats reaches the last indexer, then the simulator stops. The indexer
    // has validated (and stored) each provider's last delivered record, then journaled and folded
    // what it accepted. Counting deliveries is not enough: the verifier's workers can finish a
    // provider's next heartbeat before the one it replaces (seen under load), which is then ignored
    // as stale, and gossip can hand a restarted indexer messages from before it started.
    await new Promise<void>((resolve) => {
      const off = sim!.providers.onPublish(() => {
        if (delivered.size === KEYS) { off(); resolve() }
      })
    })
    await sim!.providers.stop()
    await storedUntil(http, delivered)
    const text = await metricsUntil(http, (t) => metric(t, 'capdex_updates_pending') === 0, { expecting: 'no update pending' })
    expect(metric(text, 'capdex_updates_accepted_total')).toBeGreaterThan(0)
    expect(metric(text, 'capdex_fold_errors_total')).toBe(0)
    expect(await indexer!.stop('SIGTERM')).toBe(0)

    const final = await verifyHead(repo.path)
    expect(final).toBeDefined()
    expect(final!.sequences.size).toBe(KEYS)
    for (const [name, sequence] of owed) expect(final!.sequences.get(name), `${name} lost an acknowledged update`).toBeGreaterThanOrEqual(sequence)
    for (const [name, sequence] of delivered) expect(final!.sequences.get(name), `${name}'s last delivered update`).toBe(sequence)
  }, 360_000)
})
