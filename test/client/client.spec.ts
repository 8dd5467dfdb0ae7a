/**
 * End to end across processes, no mocks: a real `capdex indexer run` (libp2p + HTTP gateway), two
 * providers that publish to it, and clients that resolve its head, pin the snapshot over bitswap
 * and over the gateway, query it offline, export it as a CAR (checked with the third-party
 * `ipfs-car` CLI), import it elsewhere, refuse tampered CARs and collect garbage.
 */
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { getGpuModel } from '@capdex/manifest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, runCapdex, startCapdex, tempHome } from '../../scripts/lib/capdex-process.js'
import type { LongRunning, RunResult } from '../../scripts/lib/capdex-process.js'

type Home = Awaited<ReturnType<typeof tempHome>>

interface Ready { event: 'ready', name: string, peerId: string, multiaddrs: string[], http: string }
interface Head { event: 'head', cid: string, height: number, count: number }

const NETWORK = 'e2e-client'

function lines (run: RunResult): Array<Record<string, unknown>> {
  return run.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
}

function last (run: RunResult): Record<string, unknown> {
  const all = lines(run)
  const value = all[all.length - 1]
  if (value == null) throw new Error(`no JSON output; stderr:\n${run.stderr}`)
  return value
}

async function ok (args: string[], home: Home): Promise<RunResult> {
  const run = await runCapdex(args, home.env)
  expect(run.code, `capdex ${args.join(' ')}\n${run.stdout}\n${run.stderr}`).toBe(0)
  return run
}

/** Runs the ipfs-car CLI from npm (a third party) on a CAR file, with the workspace's Node. */
async function ipfsCar (args: string[]): Promise<string> {
  const bin = join(ROOT, 'node_modules', '.bin', 'ipfs-car')
  const child = spawn(bin, args, { cwd: ROOT, env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` } })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  expect(code, `ipfs-car ${args.join(' ')}: ${stderr}`).toBe(0)
  return stdout
}

describe('client: resolve → pin → offline query → export/import (separate processes)', () => {
  let indexerHome: Home
  let indexer: LongRunning
  let ready: Ready
  let bootstrap: string
  const providers: Home[] = []
  let client: Home
  let head: Head

  /** A provider publishes a manifest with `gpus` (detected hardware otherwise). */
  async function publish (home: Home, country: string, region: string, gpus?: { model: string, count: number }): Promise<void> {
    const detected = await ok(['provider', 'detect', '--json', '--country', country, '--region', region, '--price', '2.50/gpu-hour'], home)
    const manifest = JSON.parse(detected.stdout) as Record<string, unknown>
    if (gpus != null) {
      const g = getGpuModel(gpus.model)!
      manifest.gpus = [{ vendor: g.vendor, model: g.model, name: gpus.model, vramMiB: g.vramMiB, formFactor: g.formFactor, count: gpus.count, available: gpus.count, interconnect: g.interconnect }]
    }
    const file = join(home.path, 'manifest.json')
    await writeFile(file, JSON.stringify(manifest))
    await ok(['provider', 'publish', '--json', '--manifest', file, '--bootstrap', bootstrap, '--lease', '1h'], home)
  }

  beforeAll(async () => {
    indexerHome = await tempHome('capdex-e2e-indexer-')
    await ok(['init', '--json', '--network', NETWORK], indexerHome)
    indexer = startCapdex(['indexer', 'run', '--json', '--http', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--batch-ms', '100'], indexerHome.env)
    ready = await indexer.nextJson<Ready>((l) => l.event === 'ready')
    bootstrap = ready.multiaddrs.find((m) => m.includes('/tcp/')) ?? ''
    expect(bootstrap).toContain('/p2p/')

    for (let i = 0; i < 2; i++) {
      const home = await tempHome('capdex-e2e-provider-')
      await ok(['init', '--json', '--network', NETWORK], home)
      providers.push(home)
    }
    await publish(providers[0]!, 'DE', 'eu-central', { model: 'H100', count: 8 })
    await publish(providers[1]!, 'FR', 'eu-west')
    head = await indexer.nextJson<Head>((h) => h.event === 'head' && h.count >= 2, 60_000)

    client = await tempHome('capdex-e2e-client-')
    await ok(['init', '--json', '--network', NETWORK], client)
  })

  afterAll(async () => {
    expect(await indexer?.stop()).toBe(0)
    for (const home of [indexerHome, client, ...providers]) await home?.cleanup()
  })

  it('resolves the head over libp2p, remembers the indexer and trusts it', async () => {
    const run = await ok(['index', 'resolve', '--json', '--indexer', ready.name, '--bootstrap', bootstrap], client)
    expect(last(run)).toMatchObject({ event: 'head', indexer: ready.name, cid: head.cid, height: head.height, proof: 'first-use' })
    // the indexer is remembered; the same head again is "unchanged"
    const again = await ok(['index', 'resolve', '--json', '--bootstrap', bootstrap], client)
    expect(last(again)).toMatchObject({ cid: head.cid, proof: 'unchanged' })
    const human = await ok(['index', 'resolve', '--bootstrap', bootstrap], client)
    expect(human.stdout.trim()).toBe(head.cid)
  })

  it('pins latest over bitswap, then queries offline with no network', async () => {
    const pin = await ok(['pin', 'latest', '--json', '--bootstrap', bootstrap], client)
    const pinned = last(pin)
    expect(pinned).toMatchObject({ event: 'pinned', cid: head.cid, history: false })
    expect(pinned.blocks as number).toBeGreaterThan(3)

    const ls = lines(await ok(['pins', 'ls', '--json'], client))
    expect(ls.map((p) => p.cid)).toEqual([head.cid])

    const query = await ok(['query', 'gpu=H100 gpus>=8', '--offline', '--json'], client)
    const out = lines(query)
    const results = out.filter((l) => l.event === 'result')
    expect(results).toHaveLength(1)
    expect((results[0]!.manifest as { location: { country: string } }).location.country).toBe('DE')
    expect(out.at(-1)).toMatchObject({ event: 'summary', snapshot: head.cid, results: 1, rejected: [] })

    const table = await ok(['query', 'gpus>=0', '--offline', '--sort', 'country', '--explain'], client)
    expect(table.stdout).toMatch(/PROVIDER\s+GPU\s+GPUS\s+VRAM\s+PRICE\s+REGION\s+COUNTRY\s+STATUS\s+EXPIRES/)
    expect(table.stdout).toContain('driver:')
    expect(table.stdout).toContain('blocks read')
    expect(table.stdout.indexOf(' DE ')).toBeLessThan(table.stdout.indexOf(' FR '))
  })

  it('exports a CAR that ipfs-car lists with the same root and block count, and imports it elsewhere', async () => {
    const file = join(client.path, 'snapshot.car')
    const exported = last(await ok(['snapshot', 'export', 'latest', file, '--json'], client))
    expect(exported).toMatchObject({ event: 'exported', cid: head.cid })

    const roots = (await ipfsCar(['roots', file])).trim().split('\n')
    expect(roots).toEqual([head.cid])
    const blocks = (await ipfsCar(['blocks', file])).trim().split('\n')
    expect(blocks).toHaveLength(exported.blocks as number)
    expect(blocks[0]).toBe(head.cid)

    const other = await tempHome('capdex-e2e-import-')
    try {
      await ok(['init', '--json', '--network', NETWORK], other)
      // nothing local yet: an offline query fails fast, naming the missing blocks
      const empty = await runCapdex(['query', 'gpus>=0', '--offline', '--json', '--at', head.cid], other.env)
      expect(empty.code).toBe(7)
      expect(last(empty)).toMatchObject({ error: { name: 'IncompleteSnapshotError' } })

      // a CAR with one flipped byte, and a truncated one, are refused and store nothing
      const car = await readFile(file)
      const flipped = Buffer.from(car)
      flipped[car.length - 20] = flipped[car.length - 20]! ^ 0xff
      await writeFile(join(other.path, 'flipped.car'), flipped)
      const bad = await runCapdex(['snapshot', 'import', join(other.path, 'flipped.car'), '--json'], other.env)
      expect(bad.code).toBe(6)
      expect(last(bad)).toMatchObject({ error: { name: 'CarBlockMismatchError' } })
      await writeFile(join(other.path, 'short.car'), car.subarray(0, car.length - 20))
      const short = await runCapdex(['snapshot', 'import', join(other.path, 'short.car'), '--json'], other.env)
      expect(short.code).toBe(3)
      expect(last(short)).toMatchObject({ error: { name: 'TruncatedCarError' } })
      expect(lines(await ok(['pins', 'ls', '--json'], other))).toEqual([])

      const imported = last(await ok(['snapshot', 'import', file, '--json'], other))
      expect(imported).toMatchObject({ event: 'imported', root: head.cid, blocks: exported.blocks, pinned: true })
      const query = lines(await ok(['query', 'gpu=H100', '--offline', '--json'], other))
      expect(query.filter((l) => l.event === 'result')).toHaveLength(1)
    } finally {
      await other.cleanup()
    }
  })

  it('pins from the indexer\'s HTTP trustless gateway, without libp2p', async () => {
    const other = await tempHome('capdex-e2e-gateway-')
    try {
      await ok(['init', '--json', '--network', NETWORK], other)
      const resolved = last(await ok(['index', 'resolve', '--json', '--indexer', ready.name, '--gateway', ready.http], other))
      expect(resolved).toMatchObject({ cid: head.cid, source: 'gateway', proof: 'first-use' })
      const pinned = last(await ok(['pin', 'latest', '--json', '--gateway', ready.http], other))
      expect(pinned).toMatchObject({ event: 'pinned', cid: head.cid })
      const query = lines(await ok(['query', 'country=FR', '--offline', '--json'], other))
      expect(query.filter((l) => l.event === 'result')).toHaveLength(1)
    } finally {
      await other.cleanup()
    }
  })

  it('follows the indexer to a new head that extends the trusted one', async () => {
    const home = await tempHome('capdex-e2e-provider-')
    providers.push(home)
    await ok(['init', '--json', '--network', NETWORK], home)
    await publish(home, 'US', 'us-east', { model: 'A100-80GB', count: 4 })
    const next = await indexer.nextJson<Head>((h) => h.event === 'head' && h.count >= 3, 60_000)
    const resolved = last(await ok(['index', 'resolve', '--json', '--bootstrap', bootstrap], client))
    expect(resolved).toMatchObject({ cid: next.cid, height: next.height, previous: { cid: head.cid } })
    expect(['history', 'prev-walk']).toContain(resolved.proof)
  })

  it('gc keeps pinned blocks and frees them once unpinned', async () => {
    const kept = last(await ok(['gc', '--json'], client))
    expect(kept).toMatchObject({ event: 'gc' })
    const offline = lines(await ok(['query', 'gpus>=0', '--offline', '--json', '--at', head.cid], client))
    expect(offline.at(-1)).toMatchObject({ event: 'summary', results: 2 })

    await ok(['pins', 'rm', head.cid, '--json'], client)
    const freed = last(await ok(['gc', '--json'], client))
    expect(freed.removed as number).toBeGreaterThan(0)
    const gone = await runCapdex(['query', 'gpus>=0', '--offline', '--json', '--at', head.cid], client.env)
    expect(gone.code).toBe(7)
  })
})
