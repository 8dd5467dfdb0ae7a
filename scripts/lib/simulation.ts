/**
 * The simulation: one `capdex indexer run` process, M `capdex provider publish --watch` processes
 * (each with its own repo, detecting from recorded hardware fixtures in rotation) and K simulated
 * provider keys behind one libp2p node in this process. Everything on 127.0.0.1, real repos on
 * disk, real signatures. `scripts/simulate.ts` is its command line; tests and benchmarks use the
 * parts they need.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createCapdexNode, initRepo, openRepo } from '@capdex/node'
import { providersTopic } from '@capdex/registry'
import { ROOT, startCapdex } from './capdex-process.js'
import { simulatedProviders } from './simulated-providers.js'
import type { LongRunning } from './capdex-process.js'
import type { SimulatedProviders, SimulatedProvidersInit } from './simulated-providers.js'
import type { CapdexNode, IndexerHeadEvent, Repo } from '@capdex/node'

export const FIXTURES_DIR = join(ROOT, 'packages', 'manifest', 'test', 'fixtures')
/** recorded hardware, used in rotation by the provider processes */
export const HARDWARE_FIXTURES: readonly string[] = ['h100-sxm-server.json', 'mi300x-server.json', 'rtx4090-desktop.json', 'cpu-only-server.json', 'unknown-gpu-workstation.json']
const LOCATIONS: ReadonlyArray<readonly [string, string, string]> = [['DE', 'eu-central', '2.10'], ['FR', 'eu-west', '1.95'], ['US', 'us-east', '2.40'], ['JP', 'ap-northeast', '2.70']]

/** `capdex indexer run --json`'s first line. */
export interface IndexerReady {
  event: 'ready'
  name: string
  peerId: string
  multiaddrs: string[]
  http: string | null
  network: string
  head: { cid: string, height: number } | null
}

/** `capdex indexer run --json`'s line per durable head: the indexer's head event, as JSON. */
export type IndexerHeadLine = { event: 'head', cid: string } & Omit<IndexerHeadEvent, 'cid' | 'sequence'>

export interface TempRepo {
  path: string
  env: Record<string, string>
  cleanup(): Promise<void>
}

/** A new repo (network `network`) in a fresh temp directory: `env` points `capdex` at it. */
export async function tempRepo (network: string, prefix = 'capdex-sim-'): Promise<TempRepo> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const path = join(dir, 'repo')
  await initRepo(path, { network })
  return { path, env: { CAPDEX_HOME: path }, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** `500ms`, `30s`, `2m`, `1h` (a bare number is ms), as the capdex CLI reads durations. */
export function durationMs (text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (match === null) throw new RangeError(`invalid duration '${text}': use a number with ms, s, m or h`)
  return Math.round(Number(match[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 'ms'] ?? 1))
}

/** The TCP multiaddr (with `/p2p/`) to bootstrap to. */
export function tcpAddress (multiaddrs: readonly string[]): string {
  const addr = multiaddrs.find((m) => m.includes('/tcp/') && m.includes('/p2p/'))
  if (addr === undefined) throw new Error(`no TCP address among ${multiaddrs.join(', ')}`)
  return addr
}

/** Calls `listener` with every JSON line the process prints (besides `nextJson`'s own reading). */
export function onJsonLine (proc: LongRunning, listener: (value: Record<string, unknown>) => void): void {
  createInterface({ input: proc.child.stdout }).on('line', (line) => {
    let value: unknown
    try { value = JSON.parse(line) } catch { return }
    if (value !== null && typeof value === 'object') listener(value as Record<string, unknown>)
  })
}

/** VmRSS of a process in bytes (Linux), or undefined when it is gone. */
export async function rssOf (pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) * 1024
  } catch {
    return undefined
  }
}

export interface IndexerInit {
  network: string
  /** @default 250 */
  batchMs?: number
  /** a fixed listen port (kept across restarts) @default 0 */
  port?: number
  extraArgs?: string[]
}

/** Starts `capdex indexer run --json --http 127.0.0.1:0` on `repo` and waits for its ready line. */
export async function startIndexer (repo: Pick<TempRepo, 'env'>, init: IndexerInit): Promise<{ proc: LongRunning, ready: IndexerReady, bootstrap: string }> {
  const proc = startCapdex(['indexer', 'run', '--json', '--http', '127.0.0.1:0', '--listen', `/ip4/127.0.0.1/tcp/${init.port ?? 0}`, '--network', init.network, '--batch-ms', String(init.batchMs ?? 250), ...(init.extraArgs ?? [])], repo.env)
  try {
    const ready = await proc.nextJson<IndexerReady>((l) => l.event === 'ready', 120_000)
    return { proc, ready, bootstrap: tcpAddress(ready.multiaddrs) }
  } catch (err) {
    await proc.stop('SIGKILL')
    throw err
  }
}

export interface SimulatorNode {
  node: CapdexNode
  repo: Repo
  providers: SimulatedProviders
  stop(): Promise<void>
}

export interface SimulatorNodeInit extends Omit<SimulatedProvidersInit, 'count'> {
  network: string
  bootstrap: string[]
  /** simulated keys @default 0 */
  count?: number
  /** wait until this many peers (the indexer) are subscribed to the providers topic @default 1 */
  minTopicPeers?: number
  /** @default 60000 */
  timeoutMs?: number
}

/** A libp2p node in this process (own temp repo) carrying K simulated provider keys, connected to `bootstrap`. */
export async function startSimulatorNode (init: SimulatorNodeInit): Promise<SimulatorNode> {
  const dir = await mkdtemp(join(tmpdir(), 'capdex-simulator-'))
  const repo = await openRepo(join(dir, 'repo'), { create: true, init: { network: init.network } })
  let node: CapdexNode | undefined
  try {
    node = await createCapdexNode({ repo }, { network: init.network, bootstrap: init.bootstrap })
    if ((init.minTopicPeers ?? 1) > 0) {
      await node.waitForTopicPeers(providersTopic(init.network), { min: init.minTopicPeers ?? 1, signal: AbortSignal.timeout(init.timeoutMs ?? 60_000) })
    }
  } catch (err) {
    await node?.stop()
    await repo.close()
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  const { network: _network, bootstrap: _bootstrap, count, minTopicPeers: _min, timeoutMs: _timeout, ...rest } = init
  const providers = simulatedProviders({ node }, { ...rest, count: count ?? 0 })
  const started = node
  return {
    node: started,
    repo,
    providers,
    stop: async () => {
      await providers.stop()
      await started.stop()
      await repo.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

export interface ProviderProcessInit {
  network: string
  bootstrap: string
  /** index into the fixtures and locations (rotation) */
  index: number
  /** e.g. '30s' */
  interval: string
  /** e.g. '2m' */
  lease: string
}

/** `capdex provider publish --watch` with its own repo, detecting a recorded machine. */
export async function startProviderProcess (init: ProviderProcessInit): Promise<{ proc: LongRunning, repo: TempRepo }> {
  const repo = await tempRepo(init.network, 'capdex-sim-provider-')
  const fixture = join(FIXTURES_DIR, HARDWARE_FIXTURES[init.index % HARDWARE_FIXTURES.length]!)
  const [country, region, price] = LOCATIONS[init.index % LOCATIONS.length]!
  const proc = startCapdex(['provider', 'publish', '--json', '--watch', '--interval', init.interval, '--lease', init.lease, '--system-snapshot', fixture,
    '--country', country, '--region', region, '--price', `${price}/gpu-hour`, '--bootstrap', init.bootstrap, '--network', init.network], repo.env)
  return { proc, repo }
}

export interface SimulationInit {
  /** real `capdex provider publish --watch` processes @default 0 */
  providers?: number
  /** simulated keys behind one node @default 0 */
  simulated?: number
  /** @default 'sim' */
  network?: string
  /** heartbeat interval, ms @default 30000 */
  intervalMs?: number
  /** lease, ms @default 120000 */
  leaseMs?: number
  /** indexer fold window @default 250 */
  batchMs?: number
  /** simulated keys' seed @default random */
  seed?: string
  /** churn per heartbeat of the simulated keys @default 0.01 */
  churn?: number
  /** announcements/s of the simulated keys together @default 800 */
  maxRatePerSecond?: number
}

export interface Simulation {
  indexer: LongRunning
  ready: IndexerReady
  bootstrap: string
  indexerRepo: TempRepo
  simulator: SimulatorNode | undefined
  providers: LongRunning[]
  stop(): Promise<void>
}

function durationText (ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

/** Starts the indexer, then the provider processes and the simulator node bootstrapped to it. */
export async function startSimulation (init: SimulationInit): Promise<Simulation> {
  const network = init.network ?? 'sim'
  const intervalMs = init.intervalMs ?? 30_000
  const leaseMs = init.leaseMs ?? 120_000
  const indexerRepo = await tempRepo(network, 'capdex-sim-indexer-')
  const started: Array<() => Promise<unknown>> = [async () => { await indexerRepo.cleanup() }]
  const stopAll = async (): Promise<void> => {
    for (const stop of started.splice(0).reverse()) {
      try { await stop() } catch { /* best effort on the way down */ }
    }
  }
  try {
    const { proc: indexer, ready, bootstrap } = await startIndexer(indexerRepo, { network, ...(init.batchMs !== undefined ? { batchMs: init.batchMs } : {}) })
    started.push(async () => indexer.stop())
    const providers: LongRunning[] = []
    for (let i = 0; i < (init.providers ?? 0); i++) {
      const { proc, repo } = await startProviderProcess({ network, bootstrap, index: i, interval: durationText(intervalMs), lease: durationText(leaseMs) })
      providers.push(proc)
      started.push(async () => { await proc.stop('SIGINT'); await repo.cleanup() })
    }
    let simulator: SimulatorNode | undefined
    if ((init.simulated ?? 0) > 0) {
      simulator = await startSimulatorNode({
        network,
        bootstrap: [bootstrap],
        count: init.simulated ?? 0,
        intervalMs,
        leaseMs,
        ...(init.seed !== undefined ? { seed: init.seed } : {}),
        ...(init.churn !== undefined ? { churn: init.churn } : {}),
        ...(init.maxRatePerSecond !== undefined ? { maxRatePerSecond: init.maxRatePerSecond } : {})
      })
      const running = simulator
      started.push(async () => running.stop())
      simulator.providers.start()
    }
    return { indexer, ready, bootstrap, indexerRepo, simulator, providers, stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}
