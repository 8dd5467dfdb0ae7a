/**
 * `pnpm bench:freshness`: on loopback, the time from `publish` to the update being visible in a
 * head that a separate client process has heard. Ends with a line `BENCH freshness {json}`.
 *
 * Processes: `capdex indexer run` (its own repo, fold window 250 ms); this process, which runs
 * 100 real providers as 100 separate libp2p nodes, each with its own repo and key, detecting a
 * recorded hardware fixture and heartbeating with `providerService().publishOnce` (processes are
 * too heavy on 2 cores: they share this process's event loop), plus 10,000 simulated provider keys
 * behind one more node (`scripts/lib/simulated-providers.ts`); and the client,
 * `scripts/lib/head-watcher.ts`: a separate process with its own node that follows the index topic,
 * checks each head's record, fetches the snapshot over bitswap and diffs its providers tree,
 * verifying every record it reports.
 *
 * An update counts once the client has fetched and diffed a head that holds it (or a later record
 * of the same provider). Publish times are taken just before signing, so they include signing.
 * The simulated keys make their first heartbeats over one interval (the index fills up), then the
 * measurement runs for `--duration`; publishes in that window are measured.
 *
 * Usage: `pnpm bench:freshness [--providers 100] [--simulated 10000] [--interval 3m]
 *   [--provider-interval 10s] [--duration 60s] [--batch-ms 250] [--trace file.json]` (`--trace`
 * writes every measured update's stages and all the indexer's head lines, and the indexer's
 * debug log to `file.json.indexer.log`)
 */
import { readFile, rm, mkdtemp, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { detectManifest, systemInfoFromSnapshot } from '@capdex/manifest'
import { createCapdexNode, openRepo, providerService } from '@capdex/node'
import { startScript } from '../lib/capdex-process.js'
import { FIXTURES_DIR, HARDWARE_FIXTURES, durationMs, onJsonLine, rssOf, startIndexer, startSimulatorNode, tempRepo } from '../lib/simulation.js'
import type { IndexerHeadLine } from '../lib/simulation.js'
import type { Manifest, SystemInfoSnapshot } from '@capdex/manifest'
import type { CapdexNode, Repo } from '@capdex/node'

const { values } = parseArgs({
  options: {
    providers: { type: 'string', default: '100' },
    simulated: { type: 'string', default: '10000' },
    interval: { type: 'string', default: '3m' },
    'provider-interval': { type: 'string', default: '10s' },
    duration: { type: 'string', default: '60s' },
    'batch-ms': { type: 'string', default: '250' },
    lease: { type: 'string', default: '3m' },
    trace: { type: 'string' }
  },
  strict: true
})
const PROVIDERS = Number(values.providers)
const SIMULATED = Number(values.simulated)
const INTERVAL_MS = durationMs(values.interval)
const PROVIDER_INTERVAL_MS = durationMs(values['provider-interval'])
const DURATION_MS = durationMs(values.duration)
const LEASE_MS = durationMs(values.lease)
const NETWORK = 'bench-fresh'

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const mib = (bytes: number): number => Math.round(bytes / 1048576)
function percentile (sorted: number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

// ---- what was published, and when it became visible ------------------------------------------------

interface Pending { sequence: bigint, at: number, kind: 'provider' | 'simulated', measured: boolean }
/** with `--trace`: each measured update's publish time and stages */
const traced: Array<{ at: number, kind: Pending['kind'] } & Stages> = []
const pending = new Map<string, Pending[]>()
const latencies: Record<'provider' | 'simulated', number[]> = { provider: [], simulated: [] }
const heardLatencies: number[] = []
/** per measured update, the stages of its latency (ms): see `Stages` */
const stages: Stages[] = []
/** per head the client processed in the window: blocks it fetched, and ms from hearing it to its diff */
const clientHeads: Array<{ fetched: number, ms: number }> = []
let measuring = false

/**
 * Where an update's time went: publish → the fold of the head the client showed it in started
 * (gossip to the indexer, validation, journal, batch window, earlier folds), → that head's
 * announcement was heard by the client (fold, durable head, IPNS record, gossip), → the client
 * opened its snapshot block, → the client had diffed it.
 */
interface Stages { toFold: number, toHeard: number, toOpened: number, toVisible: number }

/** The client's line for a processed head. */
interface ClientHead { time: number, heardAt: number, openedAt: number, visibleAt: number, fetched: number }

function published (name: string, sequence: bigint, at: number, kind: Pending['kind']): void {
  let list = pending.get(name)
  if (list === undefined) pending.set(name, list = [])
  list.push({ sequence, at, kind, measured: measuring })
}

function visible (name: string, sequence: bigint, head: ClientHead): void {
  const list = pending.get(name)
  if (list === undefined) return
  let i = 0
  for (; i < list.length && list[i]!.sequence <= sequence; i++) {
    const p = list[i]!
    if (!p.measured) continue
    latencies[p.kind].push(head.visibleAt - p.at)
    heardLatencies.push(head.heardAt - p.at)
    const st = { toFold: head.time - p.at, toHeard: head.heardAt - head.time, toOpened: head.openedAt - head.heardAt, toVisible: head.visibleAt - head.openedAt }
    stages.push(st)
    if (values.trace !== undefined) traced.push({ at: p.at, kind: p.kind, ...st })
  }
  list.splice(0, i)
}

// ---- the real providers: separate nodes in this process ------------------------------------------------

interface RealProvider { node: CapdexNode, repo: Repo, manifest: Manifest, publish(): Promise<void> }

async function realProvider (i: number, dir: string, bootstrap: string): Promise<RealProvider> {
  const repo = await openRepo(join(dir, `provider-${i}`), { create: true, init: { network: NETWORK } })
  const node = await createCapdexNode({ repo }, { network: NETWORK, bootstrap: [bootstrap] })
  const service = providerService({ node, repo })
  const fixture = JSON.parse(await readFile(join(FIXTURES_DIR, HARDWARE_FIXTURES[i % HARDWARE_FIXTURES.length]!), 'utf8')) as SystemInfoSnapshot
  const provider = await service.name()
  const { manifest } = await detectManifest({ system: systemInfoFromSnapshot(fixture) }, {
    provider,
    overrides: { location: { country: 'DE', region: `eu-central-${i % 3}` }, pricing: [{ unit: 'gpu-hour', amount: (1.5 + (i % 20) / 10).toFixed(2), currency: 'USD' }] }
  })
  return {
    node,
    repo,
    manifest,
    publish: async () => {
      const at = Date.now()
      const result = await service.publishOnce({ manifest, lifetimeMs: LEASE_MS, timeoutMs: 10_000, reuseUnchanged: true })
      published(result.name, result.sequence, at, 'provider')
    }
  }
}

// ---- main -----------------------------------------------------------------------------------------

console.log(`bench:freshness: ${PROVIDERS} providers (separate nodes, every ${values['provider-interval']}) + ${fmt(SIMULATED)} simulated keys (every ${values.interval}), fold window ${values['batch-ms']} ms, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
const indexerRepo = await tempRepo(NETWORK, 'capdex-fresh-indexer-')
const dir = await mkdtemp(join(tmpdir(), 'capdex-fresh-'))
const cleanups: Array<() => Promise<unknown>> = [async () => indexerRepo.cleanup(), async () => rm(dir, { recursive: true, force: true })]
try {
  // with --trace, the indexer's debug log (timings of each fold) goes next to the trace
  const indexerEnv = values.trace !== undefined ? { env: { ...indexerRepo.env, DEBUG: 'capdex:indexer' } } : indexerRepo
  const { proc: indexer, ready, bootstrap } = await startIndexer(indexerEnv, { network: NETWORK, batchMs: Number(values['batch-ms']) })
  cleanups.push(async () => indexer.stop())
  /** the indexer's head lines, with when this process read each (about when it was announced) */
  const heads: Array<IndexerHeadLine & { seenAt: number }> = []
  onJsonLine(indexer, (l) => { if (l.event === 'head') heads.push({ ...(l as unknown as IndexerHeadLine), seenAt: Date.now() }) })

  const client = startScript('scripts/lib/head-watcher.ts', ['--network', NETWORK, '--bootstrap', bootstrap, '--indexer', ready.name])
  cleanups.push(async () => client.stop())
  await client.nextJson((l: { event: string }) => l.event === 'ready', 120_000)
  let clientErrors = 0
  onJsonLine(client, (l) => {
    if (l.event === 'error') clientErrors++
    if (l.event !== 'head' || l.baseline === true) return
    const head = l as unknown as ClientHead
    if (measuring) clientHeads.push({ fetched: head.fetched, ms: head.visibleAt - head.heardAt })
    for (const [name, sequence] of l.updates as Array<[string, string]>) visible(name, BigInt(sequence), head)
  })

  const setupStart = performance.now()
  const providers: RealProvider[] = []
  for (let i = 0; i < PROVIDERS; i += 10) {
    providers.push(...await Promise.all(Array.from({ length: Math.min(10, PROVIDERS - i) }, async (_, j) => realProvider(i + j, dir, bootstrap))))
  }
  cleanups.push(async () => { for (const p of providers) { await p.node.stop(); await p.repo.close() } })
  const sim = await startSimulatorNode({ network: NETWORK, bootstrap: [bootstrap], count: SIMULATED, seed: 'bench-freshness', intervalMs: INTERVAL_MS, leaseMs: LEASE_MS, jitter: 0.2, churn: 0.01 })
  cleanups.push(async () => sim.stop())
  sim.providers.onPublish((p) => { if (p.recipients > 0) published(p.name, p.sequence, p.at, 'simulated') })
  console.log(`${PROVIDERS} provider nodes and ${fmt(SIMULATED)} simulated keys ready in ${fmt((performance.now() - setupStart) / 1000, 1)} s`)

  // everyone heartbeats: providers on their own timers (interval ± 20%), the simulated keys on theirs
  let running = true
  let providerErrors = 0
  const loops = providers.map(async (p, i) => {
    let due = performance.now() + (PROVIDER_INTERVAL_MS * i) / providers.length
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())))
      if (!running) break
      await p.publish().catch(() => { providerErrors++ })
      due += PROVIDER_INTERVAL_MS * (0.8 + 0.4 * Math.random())
    }
  })
  sim.providers.start()

  let rssMax = 0
  const sampling = setInterval(() => { void rssOf(indexer.child.pid).then((rss) => { rssMax = Math.max(rssMax, rss ?? 0) }) }, 1000)
  const phase = async (ms: number, label: string): Promise<void> => {
    const end = performance.now() + ms
    while (performance.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, end - performance.now())))
      const last = heads.at(-1)
      console.log(`  ${label}: ${fmt((ms - (end - performance.now())) / 1000, 0)} s, head ${last?.height ?? '-'} with ${fmt(last?.count ?? 0)} providers, ${fmt(latencies.provider.length + latencies.simulated.length)} measured, indexer RSS ${mib((await rssOf(indexer.child.pid)) ?? 0)} MiB, simulator lag ${fmt(sim.providers.stats().lagMs)} ms`)
    }
  }
  await phase(INTERVAL_MS, 'warm-up (the index fills)')
  const headsBefore = heads.length
  measuring = true
  await phase(DURATION_MS, 'measuring')
  measuring = false
  // stragglers: publishes of the window not yet visible get up to 15 s more
  const drainEnd = performance.now() + 15_000
  const unseen = (): number => [...pending.values()].reduce((n, list) => n + list.filter((p) => p.measured).length, 0)
  while (unseen() > 0 && performance.now() < drainEnd) await new Promise((resolve) => setTimeout(resolve, 250))
  running = false
  clearInterval(sampling)
  await sim.providers.stop()
  await Promise.all(loops)

  const window = heads.slice(headsBefore)
  const all = [...latencies.provider, ...latencies.simulated].sort((a, b) => a - b)
  const providerSorted = [...latencies.provider].sort((a, b) => a - b)
  const heard = [...heardLatencies].sort((a, b) => a - b)
  const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
  const stageSummary = (p: number): Stages => {
    const of = (key: keyof Stages): number => percentile(stages.map((s) => s[key]).sort((a, b) => a - b), p)
    return { toFold: of('toFold'), toHeard: of('toHeard'), toOpened: of('toOpened'), toVisible: of('toVisible') }
  }
  const rss = (await rssOf(indexer.child.pid)) ?? 0
  const result = {
    providers: PROVIDERS,
    simulated: SIMULATED,
    updates: all.length,
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    maxMs: all.at(-1) ?? null,
    providersP50Ms: percentile(providerSorted, 50),
    providersP99Ms: percentile(providerSorted, 99),
    heardP50Ms: percentile(heard, 50),
    heardP99Ms: percentile(heard, 99),
    stagesP50Ms: stageSummary(50),
    stagesP99Ms: stageSummary(99),
    clientHeads: clientHeads.length,
    clientFetchedPerHead: Math.round(avg(clientHeads.map((h) => h.fetched)) * 10) / 10,
    clientMsPerHead: Math.round(avg(clientHeads.map((h) => h.ms))),
    unseen: unseen(),
    updatesPerSecond: Math.round(all.length / (DURATION_MS / 1000)),
    heads: window.length,
    headCount: heads.at(-1)?.count ?? 0,
    blocksPerFold: Math.round(avg(window.map((h) => h.written)) * 10) / 10,
    updatesPerFold: Math.round(avg(window.map((h) => h.updates)) * 10) / 10,
    foldMs: Math.round(avg(window.map((h) => h.foldMs))),
    indexerRssMiB: mib(rss),
    indexerRssMaxMiB: mib(rssMax),
    benchRssMiB: mib(process.memoryUsage.rss()),
    providerErrors,
    clientErrors,
    loadavg: Math.round(loadavg()[0]! * 10) / 10
  }
  console.log(`\n${fmt(result.updates)} updates published in the ${fmt(DURATION_MS / 1000)} s window (${result.updatesPerSecond}/s), ${result.unseen} not seen by the client`)
  console.log(`  publish → visible at the client: p50 ${fmt(result.p50Ms)} ms, p99 ${fmt(result.p99Ms)} ms, max ${fmt(result.maxMs ?? Number.NaN)} ms (real providers only: p50 ${fmt(result.providersP50Ms)} ms, p99 ${fmt(result.providersP99Ms)} ms)`)
  console.log(`  publish → head announcement heard: p50 ${fmt(result.heardP50Ms)} ms, p99 ${fmt(result.heardP99Ms)} ms`)
  const stageLine = (st: Stages): string => `publish → fold start ${fmt(st.toFold)}, → heard ${fmt(st.toHeard)}, → snapshot opened ${fmt(st.toOpened)}, → diffed ${fmt(st.toVisible)}`
  console.log(`  stages (ms, each percentile on its own): p50 ${stageLine(result.stagesP50Ms)}; p99 ${stageLine(result.stagesP99Ms)}`)
  console.log(`  client: ${result.clientHeads} heads processed, ${result.clientFetchedPerHead} blocks fetched and ${result.clientMsPerHead} ms from heard to diffed per head`)
  console.log(`  ${result.heads} heads (${fmt(result.headCount)} providers): ${result.updatesPerFold} updates, ${result.blocksPerFold} blocks written and ${result.foldMs} ms per fold`)
  console.log(`  indexer RSS ${result.indexerRssMiB} MiB (max ${result.indexerRssMaxMiB} MiB); this process (${PROVIDERS + 1} nodes) ${result.benchRssMiB} MiB`)
  console.log('targets: p50 ≤ 1000 ms, p99 ≤ 3000 ms (IPNI\'s published time-to-queryable p50: 7–9 s)')
  if (values.trace !== undefined) {
    await writeFile(values.trace, JSON.stringify({ result, updates: traced, heads }))
    await writeFile(`${values.trace}.indexer.log`, indexer.stderr())
  }
  console.log(`BENCH freshness ${JSON.stringify(result)}`)
} finally {
  for (const cleanup of cleanups.reverse()) {
    try { await cleanup() } catch { /* best effort */ }
  }
}
