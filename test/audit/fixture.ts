/**
 * Builds a small signed snapshot chain straight into a repo's blockstore, in-process (the keys
 * come from the repo's keychain, the records are real Ed25519 IPNS records), for the audit CLI
 * tests to read back with `capdex audit … --offline`.
 */
import { encodeManifest, manifestCid } from '@capdex/manifest'
import { openRepo, trustStore } from '@capdex/node'
import { fromHeliaBlockstore, prolly } from '@capdex/prolly'
import { attrKey, createRecord, fold, nameFromPublicKey, nameToBytes, verifyRecord, writeSnapshot } from '@capdex/registry'
import type { Manifest } from '@capdex/manifest'
import type { FoldResult, VerifiedUpdate } from '@capdex/registry'
import type { CID } from 'multiformats/cid'

export const T0 = Date.UTC(2024, 5, 1)
const MINUTE = 60_000
export const NETWORK = 'e2e-audit'
export const INDEXER = 'k51qzi5uqu5dauditindexere2e'

function manifestFor (provider: string, issuedAt: number, available: number, amount: string, prev: CID | null): Manifest {
  return {
    schema: 'capdex.manifest.v1',
    provider,
    issuedAt: new Date(issuedAt).toISOString(),
    prev,
    gpus: [{ vendor: 'nvidia', model: 'H100', name: 'NVIDIA H100 80GB HBM3', vramMiB: 81920, formFactor: 'sxm', count: 8, available, interconnect: 'nvlink' }],
    cpu: { vendor: 'amd', model: 'EPYC 9654', cores: 96, threads: 192, arch: 'x86_64' },
    memory: { totalMiB: 1024 * 1024, availableMiB: 512 * 1024 },
    storage: [{ kind: 'nvme', totalGiB: 7680, freeGiB: 6000 }],
    network: { uplinkMbps: 10000, downlinkMbps: 10000 },
    location: { country: 'DE', region: 'eu-central' },
    pricing: [{ unit: 'gpu-hour', amount, currency: 'USD' }],
    status: 'available',
    endpoints: ['/dns4/gpu.example.net/tcp/4001'],
    attestations: []
  }
}

export interface AuditChain {
  /** h0 … h2, oldest first */
  heads: FoldResult[]
  /** a second snapshot at height 2, off h1: equivocation */
  fork: FoldResult
  /** h2 with an attrs key no entry implies */
  tampered: CID
  providers: string[]
}

/**
 * Three snapshots, two providers: both appear at h0; at h1 provider 1 lowers its availability
 * (8 → 6) and price (2.10 → 1.95); at h2 both heartbeat. The trust store holds h2 as the
 * indexer's trusted head and the indexer as the default.
 */
export async function buildAuditChain (repoPath: string): Promise<AuditChain> {
  const repo = await openRepo(repoPath, { create: true })
  try {
    const blocks = fromHeliaBlockstore(repo.blockstore)
    const components = { prolly: prolly({ blocks }), blocks }
    const keys = [await repo.getOrCreateKey('audit-p0'), await repo.getOrCreateKey('audit-p1')]
    const names = keys.map((k) => nameFromPublicKey(k.publicKey))
    const sequences = [0, 0]
    const manifests: Array<Manifest | undefined> = [undefined, undefined]
    const update = async (i: number, now: number, change?: { available: number, amount: string }): Promise<VerifiedUpdate> => {
      const previous = manifests[i]
      if (previous === undefined || change !== undefined) {
        manifests[i] = manifestFor(names[i]!, now, change?.available ?? 8, change?.amount ?? '2.10', previous === undefined ? null : manifestCid(encodeManifest(previous)))
      }
      const bytes = encodeManifest(manifests[i]!)
      const cid = manifestCid(bytes)
      const record = await createRecord(keys[i]!, cid, ++sequences[i]!, { lifetimeMs: 10 * MINUTE, now })
      return { record: await verifyRecord(names[i]!, record, { now }), manifest: manifests[i]!, manifestCid: cid, seen: now, manifestBytes: bytes }
    }
    const init = (now: number): { now: number, network: string, indexer: string } => ({ now, network: NETWORK, indexer: INDEXER })
    const h0 = await fold(components, null, [await update(0, T0), await update(1, T0)], init(T0))
    const h1 = await fold(components, h0, [await update(0, T0 + 3 * MINUTE), await update(1, T0 + 3 * MINUTE, { available: 6, amount: '1.95' })], init(T0 + 3 * MINUTE))
    const h2 = await fold(components, h1, [await update(0, T0 + 6 * MINUTE), await update(1, T0 + 6 * MINUTE)], init(T0 + 6 * MINUTE))
    const fork = await fold(components, h1, [], init(T0 + 6 * MINUTE))
    const extra = (await components.prolly.mutate(h2.snapshot.attrs, [{ op: 'put', key: attrKey('gpu', 'b200', nameToBytes(names[0]!)), value: new Uint8Array(0) }])).root
    const tampered = (await writeSnapshot({ ...h2.snapshot, attrs: extra }, blocks)).cid

    const trust = trustStore({ datastore: repo.datastore })
    await trust.set({ indexer: INDEXER, cid: h2.cid, height: h2.snapshot.height, time: h2.snapshot.time })
    await trust.setDefaultIndexer(INDEXER)
    return { heads: [h0, h1, h2], fork, tampered, providers: names }
  } finally {
    await repo.close()
  }
}
