/**
 * `capdex import skypilot` as a real process, on small synthetic catalogs (no shared data needed):
 * exit codes for bad input, rejected rows as JSON lines, and announcing every row to a listener
 * in a second process, which verifies each one.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCapdex, startCapdex, tempHome } from '../../scripts/lib/capdex-process.js'

const HEADER = 'InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo,SpotPrice'
const CATALOG = [
  HEADER,
  'gpu_8x_h100_sxm5,H100,8,208,1800,23.92,us-east-1,,',
  'gpu_1x_a10,A10,1,30,200,0.75,us-west-1,,',
  'gpu_1x_quantum,QuantumX9000,1,8,32,1.00,us-east-1,,',
  'gpu_1x_a10,A10,1,30,200,0.75,europe-south-1,,'
].join('\n') + '\n'

interface Line { event?: string, line?: number, reason?: string, imported?: number, rejected?: number, published?: number, recipients?: string[], error?: { name: string, exitCode: number } }

function lines (stdout: string): Line[] {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Line)
}

describe('capdex import skypilot (processes)', () => {
  let broker: Awaited<ReturnType<typeof tempHome>>
  let catalog: string

  beforeAll(async () => {
    broker = await tempHome('capdex-import-')
    expect((await runCapdex(['init', '--json'], broker.env)).code).toBe(0)
    catalog = join(broker.path, 'lambda.csv')
    await writeFile(catalog, CATALOG)
  })

  afterAll(async () => {
    await broker?.cleanup()
  })

  it('exits with BAD_INPUT (3) on a missing file, an empty file and a file with no recognizable header', async () => {
    const empty = join(broker.path, 'empty.csv')
    const headerless = join(broker.path, 'prices.csv')
    await writeFile(empty, '')
    await writeFile(headerless, 'name,price\nfoo,1\n')
    const cases: Array<[string, string]> = [
      [join(broker.path, 'missing.csv'), 'UnreadableCsvError'],
      [empty, 'MissingCsvColumnError'],
      [headerless, 'MissingCsvColumnError']
    ]
    for (const [file, name] of cases) {
      const run = await runCapdex(['import', 'skypilot', file, '--fold', '--json'], broker.env)
      expect(run.code, run.stderr).toBe(3)
      expect(lines(run.stdout).at(-1)).toMatchObject({ error: { name, exitCode: 3 } })
    }
  })

  it('reports rejected rows with their lines, folds the rest, and fails only when nothing imports', async () => {
    const run = await runCapdex(['import', 'skypilot', catalog, '--fold', '--json'], broker.env)
    expect(run.code, run.stderr).toBe(0)
    const out = lines(run.stdout)
    expect(out.filter((l) => l.event === 'rejected').map((l) => [l.line, l.reason])).toEqual([
      [4, 'unknown accelerator "QuantumX9000"'],
      [5, 'region "europe-south-1" names no country']
    ])
    expect(out.at(-1)).toMatchObject({ event: 'imported', imported: 2, rejected: 2, count: 2 })

    const hopeless = join(broker.path, 'hopeless.csv')
    await writeFile(hopeless, `${HEADER}\ngpu_1x_quantum,QuantumX9000,1,8,32,1.00,us-east-1,,\n`)
    const none = await runCapdex(['import', 'skypilot', hopeless, '--fold', '--json'], broker.env)
    expect(none.code).toBe(3)
    expect(lines(none.stdout).map((l) => l.event ?? l.error?.name)).toEqual(['rejected', 'InvalidCatalogError'])
  })

  it('fails with NETWORK (5) when no peer listens, and announces every row to one that does', async () => {
    const lonely = await runCapdex(['import', 'skypilot', catalog, '--timeout', '1s', '--json'], broker.env)
    expect(lonely.code).toBe(5)
    expect(lines(lonely.stdout).at(-1)).toMatchObject({ error: { name: 'NoPeersError' } })

    const listenerHome = await tempHome('capdex-import-listener-')
    expect((await runCapdex(['init', '--json'], listenerHome.env)).code).toBe(0)
    const listener = startCapdex(['provider', 'listen', '--json', '--listen', '/ip4/127.0.0.1/tcp/0'], listenerHome.env)
    try {
      const ready = await listener.nextJson<{ event: string, multiaddrs: string[] }>((l) => l.event === 'listening')
      const bootstrap = ready.multiaddrs.find((m) => m.includes('/tcp/')) ?? ''
      const run = await runCapdex(['import', 'skypilot', catalog, '--bootstrap', bootstrap, '--json'], broker.env)
      expect(run.code, run.stderr).toBe(0)
      const summary = lines(run.stdout).at(-1)
      expect(summary).toMatchObject({ event: 'imported', imported: 2, published: 2 })
      expect(summary?.recipients).toHaveLength(1)
      const heard = new Set<string>()
      while (heard.size < 2) {
        const a = await listener.nextJson<{ event: string, provider: string, verified: boolean }>((l) => l.event === 'announcement')
        expect(a.verified).toBe(true)
        heard.add(a.provider)
      }
    } finally {
      expect(await listener.stop()).toBe(0)
      await listenerHome.cleanup()
    }
  })
})
