import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { expect } from 'vitest'
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
