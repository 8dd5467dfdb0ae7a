import { readFile } from 'node:fs/promises'
import { createSystemInfoSource, detectManifest, loadOverrides, mergeOverrides, parseOverrideFlags, systemInfoFromSnapshot, validateManifest } from '@capdex/manifest'
import { announcementListener, providerService } from '@capdex/node'
import { nameFromPublicKey } from '@capdex/registry'
import * as dagJson from '@ipld/dag-json'
import { collect, contextFor, withNetworkOptions } from '../context.js'
import { openNodeSession, untilAborted } from '../node-session.js'
import { parseDuration } from '../output.js'
import type { NetworkOptions } from '../context.js'
import type { Manifest, ManifestOverrides, SystemInfoSnapshot } from '@capdex/manifest'
import type { ProviderPublished } from '@capdex/node'
import type { Command } from 'commander'

interface OverrideOptions {
  config?: string
  systemSnapshot?: string
  country?: string
  region?: string
  lat?: string
  lon?: string
  price?: string[]
  status?: string
  endpoint?: string[]
  uplink?: string
  downlink?: string
}

function withOverrideOptions (command: Command): Command {
  return command
    .option('--config <file>', 'JSON file with operator overrides (location, pricing, status, endpoints, network)')
    .option('--system-snapshot <file>', 'detect from a recorded systeminformation snapshot (JSON) instead of this machine')
    .option('--country <cc>', 'ISO 3166-1 alpha-2 country code')
    .option('--region <slug>', 'region slug, e.g. eu-west')
    .option('--lat <deg>', 'latitude')
    .option('--lon <deg>', 'longitude')
    .option('--price <amount[/unit][ currency]>', 'price, e.g. 2.10/gpu-hour (repeatable)', collect, [])
    .option('--status <status>', 'available | busy | draining | offline')
    .option('--endpoint <multiaddr|url>', 'endpoint (repeatable)', collect, [])
    .option('--uplink <mbps>', 'uplink bandwidth in Mbps')
    .option('--downlink <mbps>', 'downlink bandwidth in Mbps')
}

async function overridesFrom (opts: OverrideOptions, signal: AbortSignal): Promise<ManifestOverrides> {
  const fromFile = opts.config != null ? await loadOverrides(opts.config, { signal }) : {}
  const fromFlags = parseOverrideFlags({
    ...(opts.country != null ? { country: opts.country } : {}),
    ...(opts.region != null ? { region: opts.region } : {}),
    ...(opts.lat != null ? { lat: opts.lat } : {}),
    ...(opts.lon != null ? { lon: opts.lon } : {}),
    ...(opts.price != null && opts.price.length > 0 ? { price: opts.price } : {}),
    ...(opts.status != null ? { status: opts.status } : {}),
    ...(opts.endpoint != null && opts.endpoint.length > 0 ? { endpoint: opts.endpoint } : {}),
    ...(opts.uplink != null ? { uplinkMbps: opts.uplink } : {}),
    ...(opts.downlink != null ? { downlinkMbps: opts.downlink } : {})
  })
  // flags win over the file
  return mergeOverrides(fromFile, fromFlags)
}

/** Detects this machine's manifest (or a recorded machine's) for `provider`, with operator overrides applied. */
async function detect (provider: string, overrides: ManifestOverrides, systemSnapshot: string | undefined, warn: (text: string) => void, signal: AbortSignal): Promise<Manifest> {
  const system = systemSnapshot != null
    ? systemInfoFromSnapshot(JSON.parse(await readFile(systemSnapshot, 'utf8')) as SystemInfoSnapshot)
    : await createSystemInfoSource()
  const { manifest, warnings } = await detectManifest({ system }, { provider, overrides }, { signal })
  for (const warning of warnings) warn(warning)
  return manifest
}

/** Reads a manifest file (DAG-JSON or plain JSON); `provider` and `prev` are set by the publisher. */
async function readManifestFile (file: string, provider: string): Promise<Manifest> {
  const bytes = await readFile(file)
  const value: unknown = dagJson.decode(bytes)
  if (value == null || typeof value !== 'object') return validateManifest(value)
  return validateManifest({ ...value, provider })
}

function describePublished (p: ProviderPublished): string {
  return `published ${p.name}\n  manifest  ${p.manifestCid.toString()}\n  sequence  ${p.sequence}\n  validity  ${p.validity.toISOString()}\n  heard by  ${p.recipients.length} peer(s)`
}

export function registerProvider (program: Command, signal: AbortSignal): void {
  const provider = program.command('provider').description('detect this machine and publish its signed capability manifest')

  withOverrideOptions(provider.command('detect'))
    .description('detect this machine\'s hardware and print the capability manifest it would publish')
    .option('--provider <k51…>', 'provider name to put in the manifest (default: the repo\'s provider key, or a throwaway one)')
    .action(async (opts: OverrideOptions & { provider?: string }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const name = opts.provider ?? await providerNameOrThrowaway(repoPath, signal)
      const manifest = await detect(name, await overridesFrom(opts, signal), opts.systemSnapshot, (w) => { out.warn(w) }, signal)
      out.result(manifest, () => JSON.stringify(JSON.parse(new TextDecoder().decode(dagJson.encode(manifest))), null, 2))
    })

  withNetworkOptions(withOverrideOptions(provider.command('publish')))
    .description('write the manifest block, sign the IPNS record (seq+1) and announce it; --watch keeps heartbeating')
    .option('--manifest <file>', 'publish this manifest (JSON) instead of detecting')
    .option('--watch', 'keep re-detecting and heartbeating until SIGINT/SIGTERM')
    .option('--interval <duration>', 'heartbeat interval with --watch', '3m')
    .option('--lease <duration>', 'record validity: the liveness lease', '10m')
    .option('--timeout <duration>', 'how long to wait for a subscribed peer', '10s')
    .action(async (opts: OverrideOptions & NetworkOptions & { manifest?: string, watch?: boolean, interval: string, lease: string, timeout: string }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const lifetimeMs = parseDuration(opts.lease)
      const intervalMs = parseDuration(opts.interval)
      const timeoutMs = parseDuration(opts.timeout)
      const overrides = await overridesFrom(opts, signal)
      const session = await openNodeSession(repoPath, opts, signal)
      try {
        const service = providerService({ node: session.node, repo: session.repo }, {})
        const name = await service.name({ signal })
        const current = async (): Promise<Manifest> => opts.manifest != null
          ? readManifestFile(opts.manifest, name)
          : detect(name, overrides, opts.systemSnapshot, (w) => { out.warn(w) }, signal)
        out.info(`provider ${name} on ${session.node.network}, peer ${session.node.peerId.toString()}`)
        if (opts.watch === true) {
          await service.watch({
            intervalMs,
            lifetimeMs,
            timeoutMs,
            detect: current,
            signal,
            onPublished: (p) => { out.event(publishedJson(p), () => describePublished(p)) },
            onUnheard: (err) => { out.warn(`heartbeat reached no peer: ${err.message}`) }
          })
          out.info('stopped')
        } else {
          const published = await service.publishOnce({ manifest: await current(), lifetimeMs, timeoutMs, signal })
          out.result(publishedJson(published), () => describePublished(published))
        }
      } finally {
        await session.close()
      }
    })

  withNetworkOptions(provider.command('listen'))
    .description('print every verified provider announcement heard on the network (until SIGINT/SIGTERM)')
    .option('--count <n>', 'exit after this many verified announcements')
    .action(async (opts: NetworkOptions & { count?: string }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const session = await openNodeSession(repoPath, opts, signal)
      const stop = new AbortController()
      const done = AbortSignal.any([signal, stop.signal])
      let heard = 0
      try {
        const listener = announcementListener({ node: session.node }, {
          onAnnouncement: (a) => {
            heard++
            const event = {
              event: 'announcement',
              provider: a.name,
              sequence: a.record.sequence,
              validity: a.record.validity,
              manifest: a.manifestCid,
              gpus: a.manifest.gpus.map((g) => `${g.count}x${g.model}`),
              from: a.from.toString(),
              verified: true
            }
            out.event(event, () => `verified announcement from ${a.name}\n  sequence ${event.sequence}, valid until ${a.record.validity.toISOString()}\n  manifest ${a.manifestCid.toString()} (hash checked)\n  gpus     ${event.gpus.join(', ') || 'none'}, cpu ${a.manifest.cpu.model}, relayed by ${event.from}`)
            if (opts.count != null && heard >= Number(opts.count)) stop.abort()
          }
        })
        out.event({ event: 'listening', peerId: session.node.peerId.toString(), multiaddrs: session.node.multiaddrs().map(String), network: session.node.network },
          () => `listening on ${session.node.network} as ${session.node.peerId.toString()}\n${session.node.multiaddrs().map((m) => `  ${m.toString()}`).join('\n')}`)
        await untilAborted(done)
        listener.stop()
      } finally {
        await session.close()
      }
    })
}

async function providerNameOrThrowaway (repoPath: string | undefined, signal: AbortSignal): Promise<string> {
  const { openRepo } = await import('@capdex/node')
  try {
    const repo = await openRepo(repoPath, { signal })
    try {
      return nameFromPublicKey((await repo.getOrCreateKey(repo.config.keys.provider, { signal })).publicKey)
    } finally {
      await repo.close()
    }
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'RepoNotFoundError') throw err
    // no repo yet: detection still works, with a throwaway name (publish needs `capdex init`)
    const { generateKeyPair } = await import('@libp2p/crypto/keys')
    return nameFromPublicKey((await generateKeyPair('Ed25519')).publicKey)
  }
}

function publishedJson (p: ProviderPublished): Record<string, unknown> {
  return { event: 'published', name: p.name, manifest: p.manifestCid, sequence: p.sequence, validity: p.validity, recipients: p.recipients.map(String), reused: p.reused }
}
