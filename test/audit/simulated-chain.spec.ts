/**
 * The audit commands against a chain built by the simulator: a real indexer process folds the
 * heartbeats of churning simulated providers (some let their lease lapse and come back) into a chain
 * of snapshots. Then `capdex audit` runs offline over the indexer's own repo.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCapdex } from '../../scripts/lib/capdex-process.js'
import { startSimulation } from '../../scripts/lib/simulation.js'
import type { RunResult } from '../../scripts/lib/capdex-process.js'
import type { Simulation } from '../../scripts/lib/simulation.js'

interface HeadLine { event: string, cid: string, height: number, count: number }

const jsonLines = (run: RunResult): Array<Record<string, unknown>> =>
  run.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)

describe('audit over a simulated chain with churn', () => {
  let sim: Simulation
  let first: HeadLine
  let last: HeadLine
  const audit = async (...args: string[]): Promise<RunResult> => runCapdex(['audit', ...args, '--offline'], sim.indexerRepo.env)

  beforeAll(async () => {
    // 30 keys heartbeating every 2 s on a 5 s lease, a fifth of them going silent now and then
    sim = await startSimulation({ simulated: 30, intervalMs: 2_000, leaseMs: 5_000, churn: 0.2, batchMs: 250, seed: 'audit-e2e' })
    first = await sim.indexer.nextJson<HeadLine>((l) => l.event === 'head', 60_000)
    last = await sim.indexer.nextJson<HeadLine>((l) => l.event === 'head' && l.height >= first.height + 8, 120_000)
    // stop the indexer process (its repo stays for the audit) and the simulated providers
    expect(await sim.indexer.stop()).toBe(0)
    await sim.simulator?.stop()
  })

  afterAll(async () => {
    await sim?.stop()
    await sim?.indexerRepo.cleanup()
  })

  it('logs the chain newest first with per-snapshot counts', async () => {
    const run = await audit('log', last.cid, '--json')
    expect(run.code, run.stderr).toBe(0)
    const heights = jsonLines(run).map((l) => l.height).filter((h): h is number => typeof h === 'number')
    expect(heights[0]).toBe(last.height)
    expect(heights).toEqual([...heights].sort((a, b) => b - a))
    expect(heights.length).toBe(last.height + 1)
  })

  it('verifies the whole chain deeply', async () => {
    const run = await audit('verify', last.cid, '--deep')
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(run.stdout).toMatch(/^OK: /m)
  })

  it('diffs the first and last heads, and follows one provider through its timeline', async () => {
    const diff = await audit('diff', first.cid, last.cid, '--json')
    expect(diff.code, diff.stderr).toBe(0)
    const names = jsonLines(diff).map((l) => l.provider).filter((p): p is string => typeof p === 'string' && p.startsWith('k51'))
    expect(names.length).toBeGreaterThan(0)
    const timeline = await audit('provider', names[0] ?? '', '--head', last.cid, '--json')
    expect(timeline.code, timeline.stdout + timeline.stderr).toBe(0)
    expect(timeline.stdout).toContain(names[0])
  })

  it('proves the last head extends the first', async () => {
    const run = await audit('consistency', first.cid, last.cid)
    expect(run.code, run.stdout + run.stderr).toBe(0)
  })
})
