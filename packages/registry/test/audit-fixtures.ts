import { memoryBlockStore, prolly } from '@capdex/prolly'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRecord, nameFromPublicKey, verifyRecord } from '../src/records/index.js'
import { fold, writeSnapshot } from '../src/snapshot/index.js'
import { testManifest, testManifestCid } from './entries-fixtures.js'
import type { FoldResult, Snapshot, VerifiedUpdate } from '../src/snapshot/index.js'
import type { Manifest } from '@capdex/manifest'
import type { BlockStore, Prolly } from '@capdex/prolly'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Test fixtures for the audit specs: real Ed25519 keys and signed records, chains built by `fold`. */

export const T0 = Date.UTC(2024, 5, 1)
export const MINUTE = 60_000
export const HOUR = 60 * MINUTE
export const INDEXER = 'k51qzi5uqu5auditindexer'
export const NETWORK = 'test'

export interface World {
  blocks: BlockStore
  tree: Prolly
  components: { prolly: Prolly, blocks: BlockStore }
}

export function world (blocks: BlockStore = memoryBlockStore()): World {
  const tree = prolly({ blocks })
  return { blocks, tree, components: { prolly: tree, blocks } }
}

/** A fresh tree engine over the same blocks: a cold cache and zeroed stats. */
export function cold (w: World): World['components'] {
  return { prolly: prolly({ blocks: w.blocks }), blocks: w.blocks }
}

/** A provider with a real key; `publish` signs its next record (and a new manifest when `changes` are given). */
export interface TestProvider {
  key: Ed25519PrivateKey
  name: string
  sequence: number
  manifest: Manifest | undefined
  manifestCid: CID | undefined
}

export async function testProvider (): Promise<TestProvider> {
  const key = await generateKeyPair('Ed25519')
  return { key, name: nameFromPublicKey(key.publicKey), sequence: 0, manifest: undefined, manifestCid: undefined }
}

export interface PublishInit {
  now: number
  /** @default 10 minutes */
  lifetimeMs?: number
  /** a new manifest with these fields (the first publish always makes one) */
  changes?: Partial<Manifest>
}

/** The provider's next verified update: seq + 1, a new manifest (linked by `prev`) only when it changes. */
export async function publish (provider: TestProvider, init: PublishInit): Promise<VerifiedUpdate> {
  if (provider.manifest === undefined || init.changes !== undefined) {
    provider.manifest = testManifest({
      ...(provider.manifest ?? {}),
      provider: provider.name,
      gpus: provider.manifest?.gpus ?? [{ vendor: 'nvidia', model: 'H100', name: 'NVIDIA H100 80GB HBM3', vramMiB: 81920, formFactor: 'sxm', count: 8, available: 8, interconnect: 'nvlink' }],
      pricing: provider.manifest?.pricing ?? [{ unit: 'gpu-hour', amount: '2.10', currency: 'USD' }],
      ...init.changes,
      issuedAt: new Date(init.now).toISOString(),
      prev: provider.manifestCid ?? null
    })
    provider.manifestCid = testManifestCid(provider.manifest).cid
  }
  const { cid, bytes } = testManifestCid(provider.manifest)
  provider.sequence++
  const recordBytes = await createRecord(provider.key, cid, provider.sequence, { lifetimeMs: init.lifetimeMs ?? 10 * MINUTE, now: init.now })
  const record = await verifyRecord(provider.name, recordBytes, { now: init.now })
  return { record, manifest: provider.manifest, manifestCid: cid, seen: init.now, manifestBytes: bytes }
}

export interface Step {
  now: number
  updates: VerifiedUpdate[]
}

/** Folds the steps one after another from `previous` (or genesis). */
export async function chain (w: World, steps: Step[], previous: FoldResult | null = null, init: { indexer?: string, network?: string } = {}): Promise<FoldResult[]> {
  const results: FoldResult[] = []
  for (const step of steps) {
    previous = await fold(w.components, previous, step.updates, { now: step.now, network: init.network ?? NETWORK, indexer: init.indexer ?? INDEXER })
    results.push(previous)
  }
  return results
}

/** Writes a hand-made snapshot block (a tampered one) and returns its CID. */
export async function putSnapshot (w: World, snapshot: Snapshot): Promise<CID> {
  return (await writeSnapshot(snapshot, w.blocks)).cid
}

export async function collect<T> (source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) out.push(item)
  return out
}

/**
 * The story the audit specs read: five providers over five snapshots.
 * - h0 (T0): p0, p1, p2 appear
 * - h1 (T0+3m): p0 heartbeats, p1 changes its manifest (8 → 6 GPUs available, 2.10 → 1.95), p3 appears
 * - h2 (T0+15m): p0, p1, p3 heartbeat; p2's lease (T0+10m) has ended
 * - h3 (T0+25h): p0 heartbeats; p1, p2, p3 are pruned (their leases ended over 24 h ago)
 * - h4 (T0+25h+3m): p0 heartbeats, p2 comes back
 */
export interface Story {
  w: World
  providers: TestProvider[]
  heads: FoldResult[]
}

export async function story (): Promise<Story> {
  const w = world()
  const providers = await Promise.all([0, 1, 2, 3].map(async () => testProvider()))
  const [p0, p1, p2, p3] = providers as [TestProvider, TestProvider, TestProvider, TestProvider]
  const at = (minutes: number): number => T0 + minutes * MINUTE
  const heads = await chain(w, [
    { now: at(0), updates: [await publish(p0, { now: at(0) }), await publish(p1, { now: at(0) }), await publish(p2, { now: at(0) })] },
    {
      now: at(3),
      updates: [
        await publish(p0, { now: at(3) }),
        await publish(p1, { now: at(3), changes: { gpus: [{ vendor: 'nvidia', model: 'H100', name: 'NVIDIA H100 80GB HBM3', vramMiB: 81920, formFactor: 'sxm', count: 8, available: 6, interconnect: 'nvlink' }], pricing: [{ unit: 'gpu-hour', amount: '1.95', currency: 'USD' }] } }),
        await publish(p3, { now: at(3) })
      ]
    },
    { now: at(15), updates: [await publish(p0, { now: at(12) }), await publish(p1, { now: at(12) }), await publish(p3, { now: at(12) })] },
    { now: at(25 * 60), updates: [await publish(p0, { now: at(25 * 60) })] },
    { now: at(25 * 60 + 3), updates: [await publish(p0, { now: at(25 * 60 + 3) }), await publish(p2, { now: at(25 * 60 + 3) })] }
  ])
  return { w, providers, heads }
}
