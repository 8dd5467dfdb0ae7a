/**
 * End to end, three capdex processes on 127.0.0.1: `capdex indexer run` with its HTTP gateway, and
 * two `capdex provider publish` runs bootstrapped to it. The indexer folds both announcements into
 * one head, reports it on stdout, serves it on /v1/head, and shuts down cleanly on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCapdex, startCapdex, tempHome } from '../../scripts/lib/capdex-process.js'
import type { LongRunning } from '../../scripts/lib/capdex-process.js'

interface Ready { event: 'ready', name: string, peerId: string, multiaddrs: string[], http: string | null }
interface Head { event: 'head', cid: string, height: number, time: number, count: number, live: number, written: number, foldMs: number }
interface Published { event: 'published', name: string, sequence: string, recipients: string[] }

describe('capdex indexer run (three processes)', () => {
  const homes: Array<Awaited<ReturnType<typeof tempHome>>> = []
  let indexer: LongRunning | undefined
  let ready: Ready

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const home = await tempHome()
      homes.push(home)
      const init = await runCapdex(['init', '--network', 'e2e', '--json'], home.env)
      expect(init.code, init.stderr).toBe(0)
    }
    indexer = startCapdex(['indexer', 'run', '--json', '--http', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--batch-ms', '250'], homes[0]!.env)
    ready = await indexer.nextJson<Ready>((line) => line.event === 'ready')
  })

  afterAll(async () => {
    await indexer?.stop()
    for (const home of homes) await home.cleanup()
  })

  it('prints a ready line, folds two providers into a head line, and /v1/head agrees', async () => {
    expect(ready.name).toMatch(/^k51/)
    expect(ready.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const bootstrap = ready.multiaddrs.find((m) => m.includes('/tcp/') && m.includes('/p2p/'))
    expect(bootstrap).toBeDefined()

    const runs = await Promise.all(homes.slice(1).map(async (home, i) => runCapdex(['provider', 'publish', '--json', '--bootstrap', bootstrap!, '--country', 'DE', '--region', `eu-${i}`, '--price', '2.10/gpu-hour'], home.env)))
    const published = runs.map((run) => {
      expect(run.code, run.stderr).toBe(0)
      return JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as Published
    })
    expect(published.every((p) => p.recipients.includes(ready.peerId))).toBe(true)

    const head = await indexer!.nextJson<Head>((line) => line.event === 'head' && line.count === 2)
    expect(head).toMatchObject({ count: 2, live: 2 })
    expect(head.written).toBeGreaterThan(0)
    expect(head.foldMs).toBeGreaterThan(0)

    const status = await (await fetch(`${ready.http!}/v1/head`)).json() as Record<string, unknown>
    expect(status).toMatchObject({ cid: head.cid, height: head.height, time: head.time, count: 2, live: 2, indexer: ready.name, network: 'e2e' })
    const metrics = await (await fetch(`${ready.http!}/metrics`)).text()
    expect(metrics).toContain('capdex_updates_accepted_total 2')
  })

  it('exits 0 on SIGTERM', async () => {
    expect(await indexer!.stop('SIGTERM')).toBe(0)
  })
})
