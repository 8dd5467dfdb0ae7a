import * as dagJson from '@ipld/dag-json'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { encodeManifest, getGpuModel, manifestCid } from '@capdex/manifest'
import { memoryBlockStore, prolly } from '@capdex/prolly'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { compare } from 'uint8arrays/compare'
import { decodeEntry, entryUptime, pricePerGpuHour } from '../src/entries/index.js'
import { createRecord, nameFromPublicKey, nameToBytes, verifyRecord } from '../src/records/index.js'
import { fold } from '../src/snapshot/index.js'
import type { GpuClaim, Manifest, PricingClaim, ProviderStatus } from '@capdex/manifest'
import type { BlockStore, Prolly } from '@capdex/prolly'
import type { Ed25519PrivateKey } from '@libp2p/interface'

/** Test fixtures for the query specs: real keys, real signed records, real trees. */

export const NOW = Date.parse('2025-06-01T12:00:00Z')
export const MODELS = ['H100', 'A100-80GB', 'RTX4090', 'MI300X', 'L40S'] as const
export const REGIONS = ['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south'] as const
export const COUNTRIES = ['DE', 'FR', 'US', 'JP', 'IN'] as const
export const STATUSES: readonly ProviderStatus[] = ['available', 'busy', 'draining', 'offline']
export const AMOUNTS = ['0.50', '1.20', '2.50', '3.00', '10.00'] as const
export const CORES = [8, 16, 32, 64, 96, 128] as const
export const MEM_GIB = [64, 128, 256, 512, 1024] as const
export const UPLINKS = [1000, 10000, 25000, 100000] as const
export const ATTESTERS: CID[] = await Promise.all([0, 1, 2].map(async (i) => CID.createV1(dagJson.code, await sha256.digest(dagJson.encode({ attester: i })))))

export interface ProviderSpec {
  gpus: Array<{ model: typeof MODELS[number], count: number }>
  region: string
  country: string
  pricing: Array<Omit<PricingClaim, 'amount'> & { amount: string }>
  status: ProviderStatus
  cores: number
  memGiB: number
  uplink: number
  attestations: CID[]
  expired: boolean
}

export interface Provider {
  key: Ed25519PrivateKey
  name: string
  providerKey: Uint8Array
  manifest: Manifest
  manifestBytes: Uint8Array
  manifestCid: CID
  record: Uint8Array
  spec: ProviderSpec
  /** the `uptime` its entry implies, once folded (`entryUptime`) */
  uptime?: number
}

export function gpuClaim (model: string, count: number): GpuClaim {
  const table = getGpuModel(model)
  if (table === undefined) throw new Error(`fixture GPU ${model} is not in the table`)
  return { vendor: table.vendor, model: table.model, name: model, vramMiB: table.vramMiB, formFactor: table.formFactor, count, available: count, interconnect: table.interconnect }
}

export async function makeProvider (spec: ProviderSpec, key?: Ed25519PrivateKey): Promise<Provider> {
  key ??= await generateKeyPair('Ed25519')
  const name = nameFromPublicKey(key.publicKey)
  const manifest: Manifest = {
    schema: 'capdex.manifest.v1',
    provider: name,
    issuedAt: new Date(NOW - 3_600_000).toISOString(),
    prev: null,
    gpus: spec.gpus.map((g) => gpuClaim(g.model, g.count)),
    cpu: { vendor: 'amd', model: 'EPYC', cores: spec.cores, threads: spec.cores * 2, arch: 'x86_64' },
    memory: { totalMiB: spec.memGiB * 1024, availableMiB: spec.memGiB * 512 },
    storage: [{ kind: 'nvme', totalGiB: 1000, freeGiB: 500 }],
    network: { uplinkMbps: spec.uplink, downlinkMbps: spec.uplink },
    location: { country: spec.country, region: spec.region },
    pricing: spec.pricing,
    status: spec.status,
    endpoints: ['/dns4/example.com/tcp/4001'],
    attestations: spec.attestations
  }
  const manifestBytes = encodeManifest(manifest)
  const cid = manifestCid(manifestBytes)
  // expired leases ended an hour before NOW; live ones end an hour after it
  const record = await createRecord(key, cid, 1n, { lifetimeMs: 3_600_000, now: spec.expired ? NOW - 7_200_000 : NOW })
  return { key, name, providerKey: nameToBytes(name), manifest, manifestBytes, manifestCid: cid, record, spec }
}

/** A deterministic PRNG (mulberry32), so random fixtures are the same on every run. */
export function random (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function randomSpec (rand: () => number): ProviderSpec {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
  const models = [...new Set(Array.from({ length: Math.floor(rand() * 3) }, () => pick(MODELS)))]
  return {
    gpus: models.map((model) => ({ model, count: pick([1, 2, 4, 8]) })),
    region: pick(REGIONS),
    country: pick(COUNTRIES),
    pricing: Array.from({ length: Math.floor(rand() * 3) }, () => ({ unit: pick(['gpu-hour', 'instance-hour'] as const), amount: pick(AMOUNTS), currency: rand() < 0.8 ? 'USD' : 'EUR' })),
    status: pick(STATUSES),
    cores: pick(CORES),
    memGiB: pick(MEM_GIB),
    uplink: pick(UPLINKS),
    attestations: ATTESTERS.filter(() => rand() < 0.3),
    expired: rand() < 0.2
  }
}

export interface Fixture {
  blocks: BlockStore
  prolly: Prolly
  providers: Provider[]
  opened: { cid: CID, snapshot: { providers: CID, attrs: CID, count: number } }
}

/** Folds the providers into a genesis snapshot, over a fresh memory block store unless given one. */
export async function buildFixture (providers: Provider[], blocks: BlockStore = memoryBlockStore()): Promise<Fixture> {
  const tree = prolly({ blocks })
  const updates = await Promise.all(providers.map(async (p) => ({
    record: await verifyRecord(p.name, p.record, { now: NOW, allowExpired: true }),
    manifest: p.manifest,
    manifestCid: p.manifestCid,
    manifestBytes: p.manifestBytes,
    seen: NOW
  })))
  const { cid, snapshot } = await fold({ prolly: tree, blocks }, null, updates, { now: NOW, network: 'test', indexer: providers[0]?.name ?? 'k51' })
  for (const p of providers) {
    const value = await tree.get(snapshot.providers, p.providerKey)
    const uptime = value === undefined ? undefined : entryUptime(decodeEntry(value))
    if (uptime !== undefined) p.uptime = uptime
  }
  return { blocks, prolly: tree, providers, opened: { cid, snapshot } }
}

export function byProviderKey (a: Provider, b: Provider): number {
  return compare(a.providerKey, b.providerKey)
}

/**
 * The query semantics written out a second time, straight from the manifest and independent of
 * src/query: ANY value matches a positive op, NO value matches `!=` / `notin`; strings compare
 * lower-case; `~` is a glob.
 */
export function naiveValues (p: Provider, field: string): Array<string | number> {
  const m = p.manifest
  switch (field) {
    case 'gpu': return m.gpus.map((g) => g.model.toLowerCase())
    case 'gpus': return [m.gpus.reduce((n, g) => n + g.count, 0)]
    case 'vram': return m.gpus.map((g) => g.vramMiB / 1024)
    case 'region': return [m.location.region.toLowerCase()]
    case 'country': return [m.location.country.toLowerCase()]
    case 'price': { const price = pricePerGpuHour(m); return price === undefined ? [] : [price] }
    case 'status': return [m.status]
    case 'cpu': return [m.cpu.cores]
    case 'mem': return [m.memory.totalMiB / 1024]
    case 'uplink': return [m.network.uplinkMbps]
    case 'provider': return [p.name]
    case 'uptime': return p.uptime === undefined ? [] : [p.uptime]
    case 'attested-by': return m.attestations.map((a) => a.toString().toLowerCase())
    default: throw new Error(`no naive field ${field}`)
  }
}

export interface NaiveTerm {
  field: string
  op: string
  values: Array<string | number>
}

export function naiveMatch (p: Provider, terms: NaiveTerm[]): boolean {
  return terms.every(({ field, op, values }) => {
    const have = naiveValues(p, field)
    const v = values[0] as string | number
    const norm = (x: string | number): string | number => typeof x === 'string' && field !== 'provider' ? x.toLowerCase() : x
    switch (op) {
      case '=': return have.some((h) => h === norm(v))
      case '!=': return !have.some((h) => h === norm(v))
      case 'in': return have.some((h) => values.map(norm).includes(h))
      case 'notin': return !have.some((h) => values.map(norm).includes(h))
      case '<': return have.some((h) => h < v)
      case '<=': return have.some((h) => h <= v)
      case '>': return have.some((h) => h > v)
      case '>=': return have.some((h) => h >= v)
      case '~': {
        const re = new RegExp(`^${String(norm(v)).replace(/[.+^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's')
        return have.some((h) => typeof h === 'string' && re.test(h))
      }
      default: throw new Error(`no naive op ${op}`)
    }
  })
}

export function termText ({ field, op, values }: NaiveTerm): string {
  const fmt = (x: string | number): string => typeof x === 'number' ? String(x) : `"${x}"`
  return op === 'in' || op === 'notin' ? `${field} ${op} [${values.map(fmt).join(',')}]` : `${field}${op}${fmt(values[0] as string | number)}`
}
