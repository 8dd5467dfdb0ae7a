/**
 * Runs the real `capdex` CLI as separate processes (no mocks): each gets its own $CAPDEX_HOME.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

export const ROOT = join(import.meta.dirname, '..', '..')
const BIN = join(ROOT, 'apps', 'cli', 'src', 'bin.ts')

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a TypeScript file of this repo (from source, through tsx) in a new Node process. */
function spawnScript (script: string, args: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--conditions=capdex-source', '--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env }
  })
}

function spawnCapdex (args: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawnScript(BIN, args, env)
}

/** Runs a capdex command to completion. */
export async function runCapdex (args: string[], env: Record<string, string>, input?: Uint8Array): Promise<RunResult> {
  const child = spawnCapdex(args, env)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  if (input != null) child.stdin.end(input)
  else child.stdin.end()
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => { resolve(c) }))
  return { code, stdout, stderr }
}

export interface LongRunning {
  child: ChildProcessWithoutNullStreams
  /** resolves with the next stdout JSON line matching `predicate` */
  nextJson<T = Record<string, unknown>>(predicate?: (value: T) => boolean, timeoutMs?: number): Promise<T>
  stderr(): string
  /** sends SIGTERM and resolves with the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts a long-running capdex command (e.g. `provider listen --json`) and reads its JSON lines. */
export function startCapdex (args: string[], env: Record<string, string>): LongRunning {
  return longRunning(spawnCapdex(args, env), ['capdex', ...args])
}

/** Starts a long-running TypeScript script of this repo (e.g. `scripts/lib/head-watcher.ts`) and reads its JSON lines. */
export function startScript (script: string, args: string[], env: Record<string, string> = {}): LongRunning {
  return longRunning(spawnScript(script, args, env), [script, ...args])
}

function longRunning (child: ChildProcessWithoutNullStreams, args: string[]): LongRunning {
  child.stdin.end()
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const lines: unknown[] = []
  const rawLines: string[] = []
  const waiters: Array<() => void> = []
  const exited = new Promise<number | null>((resolve) => child.on('close', (c) => { resolve(c); for (const w of waiters.splice(0)) w() }))
  createInterface({ input: child.stdout }).on('line', (line) => {
    rawLines.push(line)
    try { lines.push(JSON.parse(line)) } catch { /* human text */ }
    for (const w of waiters.splice(0)) w()
  })
  let cursor = 0
  return {
    child,
    async nextJson<T> (predicate: (value: T) => boolean = () => true, timeoutMs = 60_000): Promise<T> {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        while (cursor < lines.length) {
          const value = lines[cursor++] as T
          if (predicate(value)) return value
        }
        if (child.exitCode != null) throw new Error(`${args.join(' ')} exited (${child.exitCode}) before the expected line; stdout:\n${rawLines.join('\n')}\nstderr:\n${stderr}`)
        const remaining = deadline - Date.now()
        if (remaining <= 0) throw new Error(`timed out waiting for a line from ${args.join(' ')}; stderr:\n${stderr}`)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining)
          waiters.push(() => { clearTimeout(timer); resolve() })
        })
      }
    },
    stderr: () => stderr,
    async stop (signal = 'SIGTERM') {
      if (child.exitCode == null) child.kill(signal)
      return exited
    }
  }
}

/** A fresh temporary $CAPDEX_HOME, removed by `cleanup`. */
export async function tempHome (prefix = 'capdex-e2e-'): Promise<{ env: Record<string, string>, path: string, cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, env: { CAPDEX_HOME: path }, cleanup: async () => { await rm(path, { recursive: true, force: true }) } }
}
