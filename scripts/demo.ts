/**
 * `pnpm demo`: the whole capdex loop with real processes on 127.0.0.1, each with its own repo.
 *
 * 1. an indexer starts (gossipsub, bitswap and an HTTP trustless gateway);
 * 2. a listener prints every verified provider announcement it hears;
 * 3. four providers publish signed manifests: this machine, plus recorded 8×H100, 8×MI300X and RTX 4090 servers;
 * 4. the indexer folds them into a snapshot and prints the head CID;
 * 5. a client resolves the head, checks it, pins the snapshot, queries it offline and exports a CAR;
 * 6. the client audits the chain offline: the log of snapshots, and a deep verification.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, runCapdex, startCapdex } from './lib/capdex-process.js'
import type { LongRunning, RunResult } from './lib/capdex-process.js'

const NETWORK = 'demo'
const FIXTURES = join(ROOT, 'packages', 'manifest', 'test', 'fixtures')

const PROVIDERS = [
  { label: 'this machine', args: ['--country', 'DE', '--region', 'eu-central', '--price', '0.20/instance-hour'] },
  { label: '8×H100 SXM server (recorded)', args: ['--system-snapshot', join(FIXTURES, 'h100-sxm-server.json'), '--country', 'US', '--region', 'us-east', '--price', '2.10/gpu-hour'] },
  { label: '8×MI300X server (recorded)', args: ['--system-snapshot', join(FIXTURES, 'mi300x-server.json'), '--country', 'FI', '--region', 'eu-north', '--price', '1.80/gpu-hour'] },
  { label: 'RTX 4090 desktop (recorded)', args: ['--system-snapshot', join(FIXTURES, 'rtx4090-desktop.json'), '--country', 'FR', '--region', 'eu-west', '--price', '0.35/gpu-hour'] }
]

const step = (text: string): void => { console.log(`\n== ${text}`) }
const indent = (text: string): string => text.trimEnd().split('\n').map((l) => `   ${l}`).join('\n')

function ok (run: RunResult, what: string): RunResult {
  if (run.code !== 0) throw new Error(`${what} failed (exit ${run.code}):\n${run.stdout}\n${run.stderr}`)
  return run
}

const lastJson = <T>(run: RunResult): T => JSON.parse(run.stdout.trim().split('\n').pop() ?? 'null') as T

const base = await mkdtemp(join(tmpdir(), 'capdex-demo-'))
const home = (name: string): Record<string, string> => ({ CAPDEX_HOME: join(base, name) })
const running: LongRunning[] = []

try {
  console.log(`capdex demo: every process below is a real capdex CLI with its own repo under ${base}`)

  step('1. indexer: capdex indexer run')
  ok(await runCapdex(['init', '--network', NETWORK], home('indexer')), 'indexer init')
  const indexer = startCapdex(['indexer', 'run', '--json', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0'], home('indexer'))
  running.push(indexer)
  const ready = await indexer.nextJson<{ event: string, name: string, peerId: string, multiaddrs: string[], http: string }>((l) => l.event === 'ready')
  const bootstrap = ready.multiaddrs[0] ?? ''
  console.log(indent(`name     ${ready.name}\npeer     ${ready.peerId}\naddress  ${bootstrap}\ngateway  ${ready.http}`))

  step('2. listener: capdex provider listen (prints verified announcements)')
  ok(await runCapdex(['init', '--network', NETWORK], home('listener')), 'listener init')
  const listener = startCapdex(['provider', 'listen', '--json', '--bootstrap', bootstrap], home('listener'))
  running.push(listener)
  await listener.nextJson((l: { event: string }) => l.event === 'listening')
  console.log(indent('listening'))

  step('3. providers: capdex provider publish')
  const names: string[] = []
  for (const [i, provider] of PROVIDERS.entries()) {
    const env = home(`provider-${i}`)
    ok(await runCapdex(['init', '--network', NETWORK], env), 'provider init')
    const published = lastJson<{ name: string, manifest: string, sequence: string, recipients: string[] }>(
      ok(await runCapdex(['provider', 'publish', '--json', '--bootstrap', bootstrap, ...provider.args], env), `publish ${provider.label}`))
    names.push(published.name)
    console.log(indent(`${provider.label}\n  name ${published.name}\n  manifest ${published.manifest}, seq ${published.sequence}, heard by ${published.recipients.length} peer(s)`))
  }
  for (let i = 0; i < PROVIDERS.length; i++) {
    const heard = await listener.nextJson<{ event: string, provider: string, manifest: string, gpus: string[] }>((l) => l.event === 'announcement')
    console.log(indent(`verified announcement: ${heard.provider.slice(0, 16)}… manifest ${heard.manifest.slice(0, 16)}… gpus ${heard.gpus.join(', ') || 'none'}`))
  }

  step('4. indexer folds the announcements into a snapshot')
  const head = await indexer.nextJson<{ event: string, cid: string, height: number, count: number, written: number, foldMs: number }>((l) => l.event === 'head' && l.count >= PROVIDERS.length, 60_000)
  console.log(indent(`head CID ${head.cid}\nheight ${head.height}, providers ${head.count}, blocks written ${head.written}, fold ${head.foldMs} ms`))

  step('5. client: resolve → pin → offline query → export')
  const client = home('client')
  ok(await runCapdex(['init', '--network', NETWORK], client), 'client init')
  const resolved = ok(await runCapdex(['index', 'resolve', '--indexer', ready.name, '--bootstrap', bootstrap], client), 'index resolve')
  console.log(indent(`$ capdex index resolve --indexer ${ready.name.slice(0, 12)}…\n${resolved.stdout}`))
  // --history also pins the earlier snapshots reached through prev, so the audit below runs offline
  const pinned = ok(await runCapdex(['pin', 'latest', '--history', '--bootstrap', bootstrap], client), 'pin')
  console.log(indent(`$ capdex pin latest --history\n${pinned.stdout}`))
  for (const query of [['gpu=H100 gpus>=8'], ['vram>=24 price<=2.5', '--sort', 'price'], ['country in [DE,FR,FI] status=available']]) {
    const result = ok(await runCapdex(['query', '--offline', ...query], client), `query ${query.join(' ')}`)
    console.log(indent(`$ capdex query --offline '${query[0]}'${query.length > 1 ? ` ${query.slice(1).join(' ')}` : ''}\n${result.stdout}`))
  }
  const car = join(base, 'snapshot.car')
  ok(await runCapdex(['snapshot', 'export', 'latest', car], client), 'snapshot export')
  console.log(indent(`$ capdex snapshot export latest snapshot.car\nwrote ${(await stat(car)).size} bytes (CARv1, root ${head.cid.slice(0, 16)}…)`))

  step('6. audit: the chain, then every block, signature and invariant')
  const log = ok(await runCapdex(['audit', 'log', head.cid, '--offline'], client), 'audit log')
  console.log(indent(`$ capdex audit log --offline\n${log.stdout}`))
  const verified = ok(await runCapdex(['audit', 'verify', head.cid, '--deep', '--offline'], client), 'audit verify')
  console.log(indent(`$ capdex audit verify --deep --offline\n${verified.stdout}`))

  console.log(`\ndemo finished: ${names.length} providers, head ${head.cid}`)
} finally {
  for (const process of running.reverse()) await process.stop()
  await rm(base, { recursive: true, force: true })
}
