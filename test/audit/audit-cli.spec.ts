/**
 * End to end, the real `capdex audit` CLI (separate processes, no mocks) over a signed snapshot
 * chain built into a temporary repo: log, diff, provider, verify (good and tampered), consistency
 * (with equivocation evidence kept in the repo), compare, and time travel.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCapdex, tempHome } from '../../scripts/lib/capdex-process.js'
import { buildAuditChain, INDEXER, T0 } from './fixture.js'
import type { AuditChain } from './fixture.js'
import type { RunResult } from '../../scripts/lib/capdex-process.js'

type Home = Awaited<ReturnType<typeof tempHome>>

function jsonLines (run: RunResult): Array<Record<string, unknown>> {
  return run.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
}

function lastLine (run: RunResult): string {
  return run.stdout.trim().split('\n').pop() ?? ''
}

describe('capdex audit (separate processes, offline)', () => {
  let home: Home
  let chain: AuditChain
  const audit = async (...args: string[]): Promise<RunResult> => runCapdex(['audit', ...args, '--offline'], home.env)
  const cid = (i: number): string => chain.heads[i]!.cid.toString()

  beforeAll(async () => {
    home = await tempHome('capdex-e2e-audit-')
    chain = await buildAuditChain(home.path)
  })

  afterAll(async () => {
    await home?.cleanup()
  })

  it('log: the trusted head chain, newest first, with what changed', async () => {
    const run = await audit('log', '--json')
    expect(run.code, run.stderr).toBe(0)
    const entries = jsonLines(run)
    expect(entries.map((e) => e.height)).toEqual([2, 1, 0])
    expect(entries.map((e) => e.cid)).toEqual([cid(2), cid(1), cid(0)])
    expect(entries[1]).toMatchObject({ changed: 1, renewed: 1, added: 0, live: 2 })
    expect(entries[2]).toMatchObject({ added: 2, count: 2 })

    const human = await audit('log', cid(1), '--limit', '1')
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toContain(cid(1))
    expect(human.stdout).not.toContain(cid(0))
    expect(human.stdout).toMatch(/HEIGHT\s+TIME\s+CID\s+LIVE/)
  })

  it('diff: field-level changes between two snapshots', async () => {
    const run = await audit('diff', cid(0), cid(1))
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain(`~ changed ${chain.providers[1]!}`)
    expect(run.stdout).toContain('gpus[0].available 8 → 6')
    expect(run.stdout).toContain('pricing[0].amount 2.10 → 1.95')
    expect(lastLine(run)).toMatch(/^0 added, 0 removed, 1 changed, 1 renewed, 0 expired; read \d+ tree blocks/)
  })

  it('provider: a timeline, the manifest chain and uptime', async () => {
    const run = await audit('provider', chain.providers[1]!, '--json')
    expect(run.code, run.stderr).toBe(0)
    const timeline = JSON.parse(run.stdout) as { events: Array<{ kind: string, height: number }>, manifests: unknown[], uptime: { observed: number }, snapshots: number }
    expect(timeline.events.map((e) => [e.kind, e.height])).toEqual([['appeared', 0], ['changed', 1]])
    expect(timeline.manifests).toHaveLength(2)
    expect(timeline.snapshots).toBe(3)
    expect(timeline.uptime.observed).toBeGreaterThan(0)
  })

  it('verify: OK for the chain, deep; exit 6 with a one-line verdict for a tampered snapshot', async () => {
    const good = await audit('verify', cid(2), '--deep')
    expect(good.code, good.stderr).toBe(0)
    expect(lastLine(good)).toMatch(new RegExp(`^OK: ${cid(2)} at height 2: 2 entries`))

    const bad = await audit('verify', chain.tampered.toString())
    expect(bad.code).toBe(6)
    expect(lastLine(bad)).toBe(`FAILED: 1 problem in ${chain.tampered.toString()}`)
    expect(bad.stderr).toContain('problem [attrs-extra]')
    expect(bad.stderr).toContain('gpu=b200')
  })

  it('consistency: proves extension, and keeps both heads as evidence on equivocation', async () => {
    const good = await audit('consistency', cid(0), cid(2))
    expect(good.code, good.stderr).toBe(0)
    expect(good.stdout).toMatch(new RegExp(`^OK: ${cid(2)} \\(height 2\\) extends ${cid(0)} \\(height 0\\)`))

    const fork = chain.fork.cid.toString()
    const bad = await audit('consistency', fork, cid(2))
    expect(bad.code).toBe(6)
    expect(bad.stdout).toContain(`EQUIVOCATION: indexer ${INDEXER} published two snapshots at height 2`)
    expect(bad.stdout).toContain(fork)
    expect(bad.stdout).toContain(cid(2))
    const evidence = JSON.parse(await readFile(join(home.path, 'evidence', INDEXER, 'height-2.json'), 'utf8')) as { snapshots: Array<{ cid: string, block?: string }> }
    expect(evidence.snapshots.map((s) => s.cid)).toEqual([fork, cid(2)])
    expect(evidence.snapshots.every((s) => typeof s.block === 'string')).toBe(true)
  })

  it('compare: what one head holds that the other does not', async () => {
    const run = await audit('compare', cid(2), cid(2), '--json')
    expect(run.code, run.stderr).toBe(0)
    expect(jsonLines(run)).toEqual([expect.objectContaining({ event: 'summary', identical: true })])
    const differ = await audit('compare', cid(2), chain.fork.cid.toString(), '--json')
    expect(differ.code, differ.stderr).toBe(0)
    const summary = jsonLines(differ).at(-1)
    expect(summary).toMatchObject({ identical: false, onlyA: 0, onlyB: 0, different: 2 })
  })

  it('at: time travel through the history tree, and a clear error before the first snapshot', async () => {
    const then = await audit('at', new Date(T0 + 4 * 60_000).toISOString(), '--json')
    expect(then.code, then.stderr).toBe(0)
    expect(JSON.parse(then.stdout)).toMatchObject({ cid: cid(1), height: 1 })
    const before = await audit('at', '2024-05-31T00:00:00Z')
    expect(before.code).toBe(7)
    expect(before.stderr).toContain('BeforeFirstSnapshotError: 2024-05-31T00:00:00.000Z is before the first snapshot of this chain (height 0 at 2024-06-01T00:00:00.000Z)')
    const nonsense = await audit('at', 'last tuesday')
    expect(nonsense.code).toBe(3)
  })
})
