import { encodeManifest, manifestCid } from '@capdex/manifest'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { nameFromBytes, publicKeyFromName } from '../src/records/index.js'
import type { VerifiedRecord } from '../src/records/index.js'
import type { RecordReader, VerifiedUpdate } from '../src/snapshot/index.js'
import type { Manifest } from '@capdex/manifest'

/** Test fixtures for the entries, fold and snapshot specs: plain objects, no signatures. */
export function testManifest (overrides: Partial<Manifest> = {}): Manifest {
  return {
    schema: 'capdex.manifest.v1',
    provider: testName(0),
    issuedAt: '2024-01-01T00:00:00.000Z',
    prev: null,
    gpus: [{ vendor: 'nvidia', model: 'H100', name: 'NVIDIA H100 80GB HBM3', vramMiB: 81920, formFactor: 'sxm', count: 8, available: 8, interconnect: 'nvlink' }],
    cpu: { vendor: 'amd', model: 'EPYC 9654', cores: 96, threads: 192, arch: 'x86_64' },
    memory: { totalMiB: 1024 * 1024, availableMiB: 900 * 1024 },
    storage: [{ kind: 'nvme', totalGiB: 7680, freeGiB: 7000 }],
    network: { uplinkMbps: 10000, downlinkMbps: 10000 },
    location: { country: 'DE', region: 'eu-central' },
    pricing: [{ unit: 'gpu-hour', amount: '2.50', currency: 'USD' }],
    status: 'available',
    endpoints: ['/dns4/example.com/tcp/4001'],
    attestations: [],
    ...overrides
  }
}

/** A valid Ed25519 IPNS name from a small integer (the raw key is derived, not a real key pair). */
export function testName (i: number): string {
  const raw = new Uint8Array(32)
  new DataView(raw.buffer).setUint32(0, i + 1)
  raw[31] = 0x5a
  return nameFromBytes(Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...raw]))
}

export function testManifestCid (manifest: Manifest): { cid: CID, bytes: Uint8Array } {
  const bytes = encodeManifest(manifest)
  return { cid: manifestCid(bytes), bytes }
}

export interface TestRecordInit {
  name: string
  sequence: number
  validity: number
  manifestCid: CID
  /** varies the bytes without changing the value */
  salt?: number
}

/** A VerifiedRecord whose bytes are a DAG-CBOR rendering of its fields (no signature at this layer). */
export function testRecord (init: TestRecordInit): VerifiedRecord {
  const value = `/ipfs/${init.manifestCid.toString()}`
  return {
    name: init.name,
    publicKey: publicKeyFromName(init.name),
    value,
    valueCid: init.manifestCid,
    sequence: BigInt(init.sequence),
    validity: new Date(init.validity),
    ttlNs: 300_000_000_000n,
    bytes: dagCbor.encode({ name: init.name, value, sequence: init.sequence, validity: init.validity, salt: init.salt ?? 0 })
  }
}

/** Reads back records made by `testRecord`, standing in for `verifyRecord(…, { allowExpired: true })`. */
export const readTestRecord: RecordReader = (name, bytes) => {
  const fields = dagCbor.decode<{ name: string, value: string, sequence: number, validity: number, salt: number }>(bytes)
  const manifestCid = CID.parse(fields.value.slice('/ipfs/'.length))
  if (fields.name !== name) return Promise.reject(new Error('name mismatch'))
  return Promise.resolve(testRecord({ name, sequence: fields.sequence, validity: fields.validity, manifestCid, salt: fields.salt }))
}

export interface TestUpdateInit {
  provider: number
  sequence: number
  validity: number
  /** picks one of a few manifest variants */
  variant?: number
  salt?: number
}

/** A VerifiedUpdate with manifest bytes, for a provider number and sequence. */
export function testUpdate (init: TestUpdateInit): VerifiedUpdate {
  const name = testName(init.provider)
  const variant = init.variant ?? 0
  const models = [['H100', 81920], ['A100-40GB', 40960], ['RTX4090', 24576]] as const
  const [model, vramMiB] = models[variant % models.length] ?? models[0]
  const manifest = testManifest({
    provider: name,
    issuedAt: new Date(Date.UTC(2024, 0, 1) + init.sequence * 60_000).toISOString(),
    gpus: [
      { vendor: 'nvidia', model, name: model, vramMiB, formFactor: 'pcie', count: 1 + variant, available: 1, interconnect: 'pcie' },
      ...(variant % 2 === 1 ? [{ vendor: 'nvidia' as const, model: 'L4', name: 'NVIDIA L4', vramMiB: 24576, formFactor: 'pcie' as const, count: 2, available: 2, interconnect: 'pcie' as const }] : [])
    ],
    location: { country: variant % 2 === 0 ? 'DE' : 'US', region: `r${variant}` },
    pricing: [{ unit: 'instance-hour', amount: `${(variant + 1) * 3}`, currency: 'USD' }]
  })
  const { cid, bytes } = testManifestCid(manifest)
  const record = testRecord({ name, sequence: init.sequence, validity: init.validity, manifestCid: cid, salt: init.salt ?? 0 })
  return { record, manifest, manifestCid: cid, seen: 12345, manifestBytes: bytes }
}
