import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import fc from 'fast-check'
import { expect } from 'vitest'
import { listGpuModels } from '../src/index.js'
import type { Manifest } from '../src/index.js'

/**
 * Real SkyPilot catalogs, read in place from `../shared` beside the checkout (licence unconfirmed:
 * never copy them into the repo). `CAPDEX_GPU_OFFERS` points elsewhere.
 */
export const GPU_OFFERS_DIR = process.env.CAPDEX_GPU_OFFERS ?? join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data', 'gpu-offers')
export const HAS_GPU_OFFERS = existsSync(GPU_OFFERS_DIR)
if (!HAS_GPU_OFFERS) console.warn(`${GPU_OFFERS_DIR} is absent: tests over the real SkyPilot catalogs are skipped`)

/** The IPNS name of a made-up Ed25519 key whose 32 bytes are all `seed`. */
export function providerName (seed = 1): string {
  const key = new Uint8Array(36)
  key.set([0x08, 0x01, 0x12, 0x20])
  key.fill(seed, 4)
  return CID.createV1(0x72, createDigest(0x00, key)).toString(base36)
}

export const PREV = CID.parse('baguqeeraq3bavrfn3gwjlhxtmh3lmmnnrvo4tvc6pwitoqbgkuw2wwqqbb4a')

export function sampleManifest (): Manifest {
  return {
    schema: 'capdex.manifest.v1',
    provider: providerName(),
    issuedAt: '2025-01-01T00:00:00.000Z',
    prev: PREV,
    gpus: [{ vendor: 'nvidia', model: 'H100', name: 'NVIDIA H100 80GB HBM3', vramMiB: 81920, formFactor: 'sxm', count: 8, available: 6, interconnect: 'nvlink' }],
    cpu: { vendor: 'Intel', model: 'Xeon Platinum 8480+', cores: 112, threads: 224, arch: 'x86_64' },
    memory: { totalMiB: 2063916, availableMiB: 2003893 },
    storage: [{ kind: 'nvme', totalGiB: 32192, freeGiB: 28011 }],
    network: { uplinkMbps: 100000, downlinkMbps: 100000 },
    location: { country: 'DE', region: 'eu-central', lat: 50.11, lon: 8.68 },
    pricing: [{ unit: 'gpu-hour', amount: '2.10', currency: 'USD' }],
    status: 'available',
    endpoints: ['/dns4/gpu1.example.com/tcp/4001', 'https://gpu1.example.com/api'],
    attestations: []
  }
}

const gpuModels = listGpuModels()
const word = fc.stringMatching(/^[a-z0-9]{1,12}$/)

/** Random schema-valid manifests. */
export const manifestArbitrary: fc.Arbitrary<Manifest> = fc.record({
  schema: fc.constant('capdex.manifest.v1' as const),
  provider: fc.integer({ min: 0, max: 255 }).map(providerName),
  issuedAt: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }).map((date) => date.toISOString()),
  prev: fc.constantFrom(null, PREV),
  gpus: fc.array(fc.record({
    gpu: fc.constantFrom(...gpuModels),
    name: fc.string({ maxLength: 40 }),
    count: fc.integer({ min: 1, max: 16 }),
    free: fc.integer({ min: 0, max: 16 })
  }).map(({ gpu, name, count, free }) => ({
    vendor: gpu.vendor, model: gpu.model, name, vramMiB: gpu.vramMiB, formFactor: gpu.formFactor, count, available: Math.min(count, free), interconnect: gpu.interconnect
  })), { maxLength: 4 }),
  cpu: fc.record({ vendor: fc.string({ maxLength: 10 }), model: fc.string({ maxLength: 30 }), cores: fc.nat(512), extra: fc.nat(512), arch: fc.constantFrom('x86_64', 'arm64') })
    .map(({ extra, ...cpu }) => ({ ...cpu, threads: cpu.cores + extra })),
  memory: fc.record({ totalMiB: fc.nat(), used: fc.nat() }).map(({ totalMiB, used }) => ({ totalMiB, availableMiB: Math.max(0, totalMiB - used) })),
  storage: fc.array(fc.record({ kind: fc.constantFrom('nvme' as const, 'ssd' as const, 'hdd' as const, 'network' as const, 'other' as const), totalGiB: fc.nat(), freeGiB: fc.nat() })
    .map((claim) => ({ ...claim, freeGiB: Math.min(claim.freeGiB, claim.totalGiB) })), { maxLength: 3 }),
  network: fc.record({ uplinkMbps: fc.nat(), downlinkMbps: fc.nat() }),
  location: fc.record({
    country: fc.constantFrom('DE', 'US', 'JP', 'FI', 'BR'),
    region: fc.array(word, { maxLength: 3 }).map((parts) => parts.join('-')),
    // -0 encodes as 0, so it cannot round-trip by identity
    lat: fc.double({ min: -90, max: 90, noNaN: true }).map((lat) => lat + 0),
    lon: fc.double({ min: -180, max: 180, noNaN: true }).map((lon) => lon + 0)
  }, { requiredKeys: ['country', 'region'] }),
  pricing: fc.array(fc.record({
    unit: fc.constantFrom('gpu-hour' as const, 'instance-hour' as const),
    amount: fc.tuple(fc.nat(10_000), fc.nat(9999)).map(([whole, cents]) => `${whole}.${String(cents).padStart(4, '0')}`),
    currency: fc.constantFrom('USD', 'EUR', 'JPY')
  }), { maxLength: 3 }),
  status: fc.constantFrom('available' as const, 'busy' as const, 'draining' as const, 'offline' as const),
  endpoints: fc.array(word.map((host) => `/dns4/${host}.example/tcp/4001`), { maxLength: 3 }),
  attestations: fc.array(fc.constant(PREV), { maxLength: 2 })
})

/** Run `fn`, expect it to throw an error named `name`, and return that error. */
export function expectError<T = Error> (fn: () => unknown, name: string): T {
  let thrown: unknown
  try {
    fn()
  } catch (err) {
    thrown = err
  }
  expect(thrown, `expected ${name}`).toBeInstanceOf(Error)
  expect((thrown as Error).name).toBe(name)
  return thrown as T
}

export async function expectRejection<T = Error> (promise: Promise<unknown>, name: string): Promise<T> {
  const thrown: unknown = await promise.then(() => undefined, (err: unknown) => err)
  expect(thrown, `expected ${name}`).toBeInstanceOf(Error)
  expect((thrown as Error).name).toBe(name)
  return thrown as T
}
