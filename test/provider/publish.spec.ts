/**
 * End to end, two capdex processes on 127.0.0.1: a provider publishes its manifest, and a listener
 * validates the record, gets the manifest (inline, or over bitswap when too big to inline) and
 * checks that it hashes to the record's value.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCapdex, startCapdex, tempHome } from '../../scripts/lib/capdex-process.js'
import type { LongRunning } from '../../scripts/lib/capdex-process.js'

interface Listening { event: 'listening', peerId: string, multiaddrs: string[] }
interface Heard { event: 'announcement', provider: string, sequence: string, manifest: string, verified: boolean }
interface Published { event: 'published', name: string, manifest: string, sequence: string, recipients: string[] }

describe('provider publish → listener (two processes)', () => {
  let provider: Awaited<ReturnType<typeof tempHome>>
  let listenerHome: Awaited<ReturnType<typeof tempHome>>
  let listener: LongRunning
  let bootstrap: string

  beforeAll(async () => {
    provider = await tempHome()
    listenerHome = await tempHome()
    expect((await runCapdex(['init', '--json'], provider.env)).code).toBe(0)
    expect((await runCapdex(['init', '--json'], listenerHome.env)).code).toBe(0)
    listener = startCapdex(['provider', 'listen', '--json', '--listen', '/ip4/127.0.0.1/tcp/0'], listenerHome.env)
    const ready = await listener.nextJson<Listening>((l) => l.event === 'listening')
    bootstrap = ready.multiaddrs.find((m) => m.includes('/tcp/')) ?? ''
    expect(bootstrap).toContain('/p2p/')
  })

  afterAll(async () => {
    expect(await listener?.stop()).toBe(0)
    await provider?.cleanup()
    await listenerHome?.cleanup()
  })

  it('publishes a detected manifest that the listener verifies (inline manifest)', async () => {
    const run = await runCapdex(['provider', 'publish', '--json', '--bootstrap', bootstrap, '--country', 'DE', '--region', 'eu-central', '--price', '2.10/gpu-hour', '--lease', '10m'], provider.env)
    expect(run.code, run.stderr).toBe(0)
    const published = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as Published
    expect(published.sequence).toBe('1')
    expect(published.recipients.length).toBeGreaterThanOrEqual(1)
    const heard = await listener.nextJson<Heard>((h) => h.event === 'announcement' && h.sequence === '1')
    expect(heard).toMatchObject({ provider: published.name, manifest: published.manifest, verified: true })
  })

  it('fetches a manifest too big to inline over bitswap', async () => {
    // a provider of its own: bitswap does not yet re-ask a peer that reconnects under the same peer
    // id (a known issue, see docs/decisions.md), and the prev chain is covered by provider.spec.ts
    const bigProvider = await tempHome()
    try {
      expect((await runCapdex(['init'], bigProvider.env)).code).toBe(0)
      // a valid manifest of ~28 KiB: over the 16 KiB inline limit, under the 64 KiB cap
      const detected = await runCapdex(['provider', 'detect', '--json', '--country', 'FR', '--region', 'eu-west'], bigProvider.env)
      expect(detected.code, detected.stderr).toBe(0)
      const manifest = JSON.parse(detected.stdout) as Record<string, unknown>
      manifest.endpoints = Array.from({ length: 30 }, (_, i) => `https://node-${i}.example.net/${'x'.repeat(900)}`)
      const file = join(bigProvider.path, 'big-manifest.json')
      await writeFile(file, JSON.stringify(manifest))
      expect((await readFile(file)).byteLength).toBeGreaterThan(16 * 1024)

      // --watch keeps the provider online to serve the block over bitswap
      const watcher = startCapdex(['provider', 'publish', '--json', '--watch', '--interval', '15s', '--lease', '1m', '--manifest', file, '--bootstrap', bootstrap], bigProvider.env)
      const published = await watcher.nextJson<Published>((p) => p.event === 'published')
      const heard = await listener.nextJson<Heard>((h) => h.event === 'announcement' && h.manifest === published.manifest, 90_000)
      expect(heard).toMatchObject({ provider: published.name, manifest: published.manifest, verified: true })
      expect(await watcher.stop('SIGINT')).toBe(0)
    } finally {
      await bigProvider.cleanup()
    }
  })

  it('fails with a clear "no peers" error and a network exit code when nobody listens', async () => {
    const lonely = await tempHome()
    try {
      expect((await runCapdex(['init'], lonely.env)).code).toBe(0)
      const run = await runCapdex(['provider', 'publish', '--json', '--country', 'DE', '--region', 'eu-central', '--timeout', '2s'], lonely.env)
      expect(run.code).toBe(5)
      expect(JSON.parse(run.stdout.trim())).toMatchObject({ error: { name: 'NoPeersError' } })
    } finally {
      await lonely.cleanup()
    }
  })
})
