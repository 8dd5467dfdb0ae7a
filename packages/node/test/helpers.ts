import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach } from 'vitest'
import { createCapdexNode, openRepo } from '../src/index.js'
import type { CapdexNode, CapdexNodeInit, Repo } from '../src/index.js'
import type { Manifest } from '@capdex/manifest'

export const NETWORK = 'test'

/** A fresh temp directory; `remove()` deletes it. */
export async function tempDir (prefix = 'capdex-node-'): Promise<{ dir: string, remove: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  return { dir, remove: async () => { await fs.rm(dir, { recursive: true, force: true }) } }
}

export interface TestPeer {
  node: CapdexNode
  repo: Repo
  dir: string
  stop(): Promise<void>
}

/** A node on 127.0.0.1 port 0 over a repo in a temp dir. */
export async function startPeer (init: CapdexNodeInit = {}): Promise<TestPeer> {
  const { dir, remove } = await tempDir()
  const repo = await openRepo(path.join(dir, 'repo'), { create: true, init: { network: NETWORK } })
  const node = await createCapdexNode({ repo }, { network: NETWORK, ...init })
  return {
    node,
    repo,
    dir,
    stop: async () => {
      await node.stop()
      await repo.close()
      await remove()
    }
  }
}

export async function connect (a: CapdexNode, b: CapdexNode): Promise<void> {
  const addr = b.multiaddrs()[0]
  if (addr == null) {
    throw new Error('peer has no listen address')
  }
  await a.dial(addr)
}

/**
 * Resolves once `check()` holds, re-checking whenever `target` emits one of `events`
 * (no sleeps); rejects after `timeoutMs`.
 */
export async function until (check: () => boolean, target: EventTarget, events: string[], timeoutMs = 5000): Promise<void> {
  if (check()) {
    return
  }
  await new Promise<void>((resolve, reject) => {
    const onEvent = (): void => {
      if (check()) {
        cleanup()
        resolve()
      }
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`condition not met within ${timeoutMs} ms`))
    }, timeoutMs)
    const cleanup = (): void => {
      clearTimeout(timer)
      for (const event of events) target.removeEventListener(event, onEvent)
    }
    for (const event of events) target.addEventListener(event, onEvent)
  })
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejection (promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

/** A promise with its resolver, to wait for a callback. */
export function deferred<T> (): { promise: Promise<T>, resolve(value: T): void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => { resolve = r })
  return { promise, resolve }
}

/** Races a promise against a bounded timeout. */
export async function within<T> (promise: Promise<T>, timeoutMs = 5000, what = 'event'): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => { reject(new Error(`${what} did not happen within ${timeoutMs} ms`)) }, timeoutMs)
      })
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** A valid manifest; the provider service fills in `provider` and `prev`. */
export function sampleManifest (overrides: Partial<Manifest> = {}): Manifest {
  return {
    schema: 'capdex.manifest.v1',
    provider: 'k51qzi5uqu5dgutdk6i1ynyzgkqngpha5xpgia3a5qqp4jsh0u4csozksxel3r',
    issuedAt: new Date().toISOString(),
    prev: null,
    gpus: [],
    cpu: { vendor: 'AMD', model: 'EPYC 9654', cores: 96, threads: 192, arch: 'x86_64' },
    memory: { totalMiB: 1024 * 1024, availableMiB: 512 * 1024 },
    storage: [{ kind: 'nvme', totalGiB: 4000, freeGiB: 3000 }],
    network: { uplinkMbps: 10_000, downlinkMbps: 10_000 },
    location: { country: 'DE', region: 'eu-central' },
    pricing: [{ unit: 'instance-hour', amount: '2.10', currency: 'USD' }],
    status: 'available',
    endpoints: [],
    attestations: [],
    ...overrides
  }
}

/** A `startPeer` whose peers stop after each test of the enclosing `describe`. */
export function peersStoppedAfterEach (): (init?: CapdexNodeInit) => Promise<TestPeer> {
  const peers: TestPeer[] = []
  afterEach(async () => {
    await Promise.all(peers.splice(0).map(async p => { await p.stop() }))
  })
  return async (init = {}) => {
    const p = await startPeer(init)
    peers.push(p)
    return p
  }
}
