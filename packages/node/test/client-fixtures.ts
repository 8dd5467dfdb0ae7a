/**
 * Fixtures for the client specs: real Ed25519 keys, real signed records and manifests, real
 * prolly trees folded into snapshots in a real on-disk repo.
 */
import path from 'node:path'
import { encodeManifest, getGpuModel, manifestCid } from '@capdex/manifest'
import { fromHeliaBlockstore, prolly } from '@capdex/prolly'
import { createRecord, fold, nameFromPublicKey, verifyRecord } from '@capdex/registry'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { openRepo } from '../src/index.js'
import { NETWORK, tempDir } from './helpers.js'
import type { Repo } from '../src/index.js'
import type { Manifest, ProviderStatus } from '@capdex/manifest'
import type { BlockStore } from '@capdex/prolly'
import type { FoldResult, Snapshot, VerifiedUpdate } from '@capdex/registry'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export const NOW = Date.now()

export interface ProviderSpec {
  model: string
  count: number
  region: string
  country: string
  /** USD per GPU-hour */
  price: string
  status?: ProviderStatus
  /** the lease ended an hour ago */
  expired?: boolean
}

export interface TestProvider {
  key: Ed25519PrivateKey
  name: string
  manifest: Manifest
  manifestBytes: Uint8Array
  manifestCid: CID
  record: Uint8Array
  spec: ProviderSpec
}

export async function makeProvider (spec: ProviderSpec, key?: Ed25519PrivateKey): Promise<TestProvider> {
  key ??= await generateKeyPair('Ed25519')
  const name = nameFromPublicKey(key.publicKey)
  const gpu = getGpuModel(spec.model)
  if (gpu === undefined) throw new Error(`no GPU ${spec.model} in the table`)
  const manifest: Manifest = {
    schema: 'capdex.manifest.v1',
    provider: name,
    issuedAt: new Date(NOW - 60_000).toISOString(),
    prev: null,
    gpus: [{ vendor: gpu.vendor, model: gpu.model, name: spec.model, vramMiB: gpu.vramMiB, formFactor: gpu.formFactor, count: spec.count, available: spec.count, interconnect: gpu.interconnect }],
    cpu: { vendor: 'amd', model: 'EPYC', cores: 64, threads: 128, arch: 'x86_64' },
    memory: { totalMiB: 512 * 1024, availableMiB: 256 * 1024 },
    storage: [{ kind: 'nvme', totalGiB: 1000, freeGiB: 500 }],
    network: { uplinkMbps: 10_000, downlinkMbps: 10_000 },
    location: { country: spec.country, region: spec.region },
    pricing: [{ unit: 'gpu-hour', amount: spec.price, currency: 'USD' }],
    status: spec.status ?? 'available',
    endpoints: ['/dns4/example.com/tcp/4001'],
    attestations: []
  }
  const manifestBytes = encodeManifest(manifest)
  const cid = manifestCid(manifestBytes)
  const record = await createRecord(key, cid, 1n, { lifetimeMs: 3_600_000, now: spec.expired === true ? NOW - 7_200_000 : NOW })
  return { key, name, manifest, manifestBytes, manifestCid: cid, record, spec }
}

const REGIONS = [['eu-west', 'FR'], ['eu-central', 'DE'], ['us-east', 'US'], ['ap-south', 'IN']] as const
const MODELS = ['H100', 'A100-80GB', 'RTX4090', 'L40S'] as const

/** `n` providers with varied specs; every fifth one has an expired lease. */
export async function makeProviders (n: number, offset = 0): Promise<TestProvider[]> {
  return Promise.all(Array.from({ length: n }, async (_, j) => {
    const i = j + offset
    const [region, country] = REGIONS[i % REGIONS.length]!
    return makeProvider({ model: MODELS[i % MODELS.length]!, count: [1, 2, 4, 8][i % 4]!, region, country, price: (1 + (i % 7) * 0.5).toFixed(2), expired: i % 5 === 4 })
  }))
}

export async function updateFor (p: TestProvider): Promise<VerifiedUpdate> {
  return {
    record: await verifyRecord(p.name, p.record, { allowExpired: true }),
    manifest: p.manifest,
    manifestCid: p.manifestCid,
    manifestBytes: p.manifestBytes,
    seen: NOW
  }
}

export interface Chain {
  indexerKey: Ed25519PrivateKey
  indexer: string
  heads: FoldResult[]
}

/**
 * Folds each batch on top of the previous head (or `from`), one snapshot per batch, into `blocks`.
 * Times rise by a second per snapshot.
 */
export async function foldChain (blocks: BlockStore, batches: VerifiedUpdate[][], init: { indexerKey?: Ed25519PrivateKey, from?: { cid: CID, snapshot: Snapshot }, time?: number } = {}): Promise<Chain> {
  const indexerKey = init.indexerKey ?? await generateKeyPair('Ed25519')
  const indexer = nameFromPublicKey(indexerKey.publicKey)
  const tree = prolly({ blocks })
  const heads: FoldResult[] = []
  let previous = init.from ?? null
  let time = init.time ?? NOW
  for (const batch of batches) {
    const result = await fold({ prolly: tree, blocks }, previous, batch, { now: time, network: NETWORK, indexer })
    heads.push(result)
    previous = { cid: result.cid, snapshot: result.snapshot }
    time += 1000
  }
  return { indexerKey, indexer, heads }
}

/** The indexer's record for a head: `/ipfs/<snapshot cid>`. */
export async function indexerRecord (chain: Pick<Chain, 'indexerKey'>, head: CID, sequence: number): Promise<Uint8Array> {
  return createRecord(chain.indexerKey, head, sequence, { lifetimeMs: 3_600_000 })
}

export interface TestRepo {
  repo: Repo
  dir: string
  blocks: BlockStore
  close(): Promise<void>
}

/** A real repo in a temp dir, with no node. */
export async function tempRepo (): Promise<TestRepo> {
  const { dir, remove } = await tempDir('capdex-client-')
  const repo = await openRepo(path.join(dir, 'repo'), { create: true, init: { network: NETWORK } })
  return {
    repo,
    dir,
    blocks: fromHeliaBlockstore(repo.blockstore),
    close: async () => {
      await repo.close()
      await remove()
    }
  }
}

/** Every CID (by multihash) in a blockstore. */
export async function storedBlocks (repo: Pick<Repo, 'blockstore'>): Promise<Set<string>> {
  const all = new Set<string>()
  for await (const { cid } of repo.blockstore.getAll()) all.add(Buffer.from(cid.multihash.bytes).toString('base64'))
  return all
}

export function mh (cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString('base64')
}

/** Every value of an async iterable, in order. */
export async function all<T> (iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const value of iterable) out.push(value)
  return out
}
