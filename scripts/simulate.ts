/**
 * `pnpm simulate`: one `capdex indexer run` process, M `capdex provider publish --watch` processes
 * and K simulated providers (K Ed25519 keys behind one libp2p node in this process) that heartbeat
 * and churn, all on 127.0.0.1 with real repos and signatures. Runs for `--duration`, then stops
 * everything (SIGINT/SIGTERM stop it earlier).
 *
 * Usage: `pnpm simulate [--providers M] [--simulated K] [--duration 60s] [--interval 30s] [--lease 2m]
 *   [--batch-ms 250] [--churn 0.01] [--rate 800] [--seed S] [--stats-every 5s] [--json]`
 *
 * With `--json` it prints the indexer's ready line, `{ event: 'head', … }` per head the indexer
 * reports, `{ event: 'stats', … }` every `--stats-every`, and `{ event: 'done', … }` at the end.
 */
import { parseArgs } from 'node:util'
import { INDEXER_VALIDATION_BUDGET } from '@capdex/node'
import { durationMs, onJsonLine, rssOf, startSimulation } from './lib/simulation.js'
import type { IndexerHeadLine } from './lib/simulation.js'

const { values } = parseArgs({
  options: {
    providers: { type: 'string', default: '2' },
    simulated: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '60s' },
    interval: { type: 'string', default: '30s' },
    lease: { type: 'string', default: '2m' },
    'batch-ms': { type: 'string', default: '250' },
    churn: { type: 'string', default: '0.01' },
    rate: { type: 'string', default: String(Math.floor(INDEXER_VALIDATION_BUDGET.ratePerSecond * 0.8)) },
    seed: { type: 'string' },
    network: { type: 'string', default: 'sim' },
    'stats-every': { type: 'string', default: '5s' },
    json: { type: 'boolean', default: false }
  },
  strict: true
})

function count (text: string, flag: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`--${flag} must be a non-negative integer, got '${text}'`)
  return n
}

const providers = count(values.providers, 'providers')
const simulated = count(values.simulated, 'simulated')
const durationMsTotal = durationMs(values.duration)
const intervalMs = durationMs(values.interval)
const leaseMs = durationMs(values.lease)
const rate = Number(values.rate)
const json = values.json
if (rate > INDEXER_VALIDATION_BUDGET.ratePerSecond) {
  console.error(`warning: --rate ${rate}/s is over the indexer's per-peer validation budget (${INDEXER_VALIDATION_BUDGET.ratePerSecond}/s): announcements over it are ignored`)
}
if (simulated / (intervalMs / 1000) > rate) {
  console.error(`warning: ${simulated} keys every ${values.interval} need ${Math.round(simulated / (intervalMs / 1000))} announcements/s, over --rate ${rate}/s: heartbeats will run late`)
}

const print = (event: Record<string, unknown>, human: string): void => {
  console.log(json ? JSON.stringify(event, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v) : human)
}

const stopping = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { stopping.abort() })

const sim = await startSimulation({
  providers,
  simulated,
  network: values.network,
  intervalMs,
  leaseMs,
  batchMs: count(values['batch-ms'], 'batch-ms'),
  churn: Number(values.churn),
  maxRatePerSecond: rate,
  ...(values.seed !== undefined ? { seed: values.seed } : {})
})
print({ ...sim.ready }, `indexer ${sim.ready.name} on ${sim.ready.network}, ${sim.bootstrap}, http ${sim.ready.http ?? 'off'}\n${providers} provider process(es), ${simulated} simulated key(s) behind peer ${sim.simulator?.node.peerId.toString() ?? '-'}`)

let last: IndexerHeadLine | undefined
let heads = 0
onJsonLine(sim.indexer, (line) => {
  if (line.event !== 'head') return
  last = line as unknown as IndexerHeadLine
  heads++
  print(line, `head ${last.height} ${last.cid}: ${last.count} providers (${last.live} live), ${last.updates} update(s), ${last.written} blocks, ${last.foldMs} ms`)
})
let published = 0
for (const p of sim.providers) {
  onJsonLine(p, (line) => { if (line.event === 'published') published++ })
}

const started = performance.now()
const stats = async (): Promise<Record<string, unknown>> => ({
  event: 'stats',
  seconds: Math.round((performance.now() - started) / 100) / 10,
  heads,
  head: last === undefined ? null : { height: last.height, count: last.count, live: last.live, written: last.written, foldMs: last.foldMs },
  providerHeartbeats: published,
  simulated: sim.simulator?.providers.stats() ?? null,
  indexerRssMiB: Math.round(((await rssOf(sim.indexer.child.pid)) ?? 0) / 1048576),
  simulatorRssMiB: Math.round(process.memoryUsage.rss() / 1048576)
})
const describe = (s: Record<string, unknown>): string => `${String(s.seconds)} s: ${heads} heads, last ${last === undefined ? 'none' : `${last.count} providers (${last.live} live)`}, ${published} provider heartbeats, simulated ${JSON.stringify(s.simulated)}, indexer RSS ${String(s.indexerRssMiB)} MiB`

const every = durationMs(values['stats-every'])
const timer = setInterval(() => { void stats().then((s) => { print(s, describe(s)) }) }, every)
try {
  await new Promise<void>((resolve) => {
    const done = setTimeout(resolve, durationMsTotal)
    stopping.signal.addEventListener('abort', () => { clearTimeout(done); resolve() }, { once: true })
  })
} finally {
  clearInterval(timer)
  const s = await stats()
  print({ ...s, event: 'done' }, `done: ${describe(s)}`)
  await sim.stop()
}
