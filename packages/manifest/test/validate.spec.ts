import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { ISO_3166_ALPHA2, isProviderName, isRfc3339, validateManifest } from '../src/index.js'
import { expectError, providerName, sampleManifest } from './helpers.js'
import type { InvalidManifestError, Manifest } from '../src/index.js'

type Mutation = (manifest: Manifest & Record<string, unknown>) => void

/** Apply `mutate` to a fresh valid manifest and expect InvalidManifestError at `path`. */
function rejects (mutate: Mutation, path: string): InvalidManifestError {
  const manifest = sampleManifest() as Manifest & Record<string, unknown>
  mutate(manifest)
  const err = expectError<InvalidManifestError>(() => validateManifest(manifest), 'InvalidManifestError')
  expect(err.path).toBe(path)
  expect(err.message).toContain(path)
  return err
}

const gpu = (manifest: Manifest): Record<string, unknown> => manifest.gpus[0] as unknown as Record<string, unknown>

describe('validateManifest', () => {
  it('returns a valid manifest unchanged', () => {
    const manifest = sampleManifest()
    expect(validateManifest(manifest)).toBe(manifest)
    expect(validateManifest({ ...manifest, prev: null, gpus: [], pricing: [], endpoints: [], location: { country: 'FI', region: '' } })).toBeDefined()
  })

  it('rejects wrong types', () => {
    rejects((m) => { (m.memory as unknown as Record<string, unknown>).totalMiB = '1024' }, 'memory.totalMiB')
    rejects((m) => { gpu(m).count = true }, 'gpus[0].count')
    rejects((m) => { m.gpus = {} as never }, 'gpus')
    rejects((m) => { m.cpu = [] as never }, 'cpu')
    rejects((m) => { m.endpoints = [42] as never }, 'endpoints[0]')
    rejects((m) => { m.location = new Map() as never }, 'location')
    rejects((m) => { m.location = CID.parse('bafkqaaa') as never }, 'location')
    rejects((m) => { (m.memory as unknown as Record<string, unknown>).totalMiB = 2n ** 60n }, 'memory.totalMiB')
    const err = expectError<InvalidManifestError>(() => validateManifest('manifest'), 'InvalidManifestError')
    expect(err.path).toBe('')
  })

  it('rejects unknown fields at any level', () => {
    rejects((m) => { m.extra = 1 }, 'extra')
    rejects((m) => { gpu(m).clockMHz = 1980 }, 'gpus[0].clockMHz')
    rejects((m) => { (m.location as unknown as Record<string, unknown>).city = 'Berlin' }, 'location.city')
    rejects((m) => { (m.pricing[0] as unknown as Record<string, unknown>).spot = true }, 'pricing[0].spot')
    rejects((m) => { (m.storage[0] as unknown as Record<string, unknown>).model = 'x' }, 'storage[0].model')
  })

  it('rejects missing fields', () => {
    rejects((m) => { delete (m as Partial<Manifest>).cpu }, 'cpu')
    rejects((m) => { delete (m.cpu as Partial<Manifest['cpu']>).arch }, 'cpu.arch')
    rejects((m) => { delete (m as Partial<Manifest>).prev }, 'prev')
  })

  it('rejects negative and fractional counts and sizes', () => {
    rejects((m) => { m.memory.totalMiB = -1 }, 'memory.totalMiB')
    rejects((m) => { m.cpu.cores = 1.5 }, 'cpu.cores')
    rejects((m) => { m.network.uplinkMbps = Number.NaN }, 'network.uplinkMbps')
    rejects((m) => { m.storage[0]!.totalGiB = Infinity }, 'storage[0].totalGiB')
    rejects((m) => { m.gpus[0]!.count = 0 }, 'gpus[0].count')
  })

  it('rejects impossible relations', () => {
    rejects((m) => { m.gpus[0]!.available = 9 }, 'gpus[0].available')
    rejects((m) => { m.memory.availableMiB = m.memory.totalMiB + 1 }, 'memory.availableMiB')
    rejects((m) => { m.storage[0]!.freeGiB = m.storage[0]!.totalGiB + 1 }, 'storage[0].freeGiB')
    rejects((m) => { m.cpu.threads = m.cpu.cores - 1 }, 'cpu.threads')
  })

  it('rejects unknown country codes', () => {
    for (const country of ['XX', 'de', 'EU', 'UK', 'DEU', '']) {
      rejects((m) => { m.location.country = country }, 'location.country')
    }
  })

  it('accepts ZZ, the unknown country', () => {
    expect(validateManifest({ ...sampleManifest(), location: { country: 'ZZ', region: '' } }).location.country).toBe('ZZ')
  })

  it('knows all 249 ISO 3166-1 alpha-2 codes', () => {
    expect(ISO_3166_ALPHA2).toHaveLength(249)
    expect(new Set(ISO_3166_ALPHA2).size).toBe(249)
    for (const country of ['AX', 'BQ', 'CW', 'SS', 'SX', 'KR', 'US', 'ZW']) {
      expect(validateManifest({ ...sampleManifest(), location: { country, region: '' } }).location.country).toBe(country)
    }
  })

  it('rejects bad currencies and amounts', () => {
    for (const currency of ['usd', 'US', 'USDT', '$']) rejects((m) => { m.pricing[0]!.currency = currency }, 'pricing[0].currency')
    for (const amount of ['2,10', '-1', '1e3', '02.10', '.5', '2.', '', ' 2.10', 2.1]) {
      rejects((m) => { (m.pricing[0] as unknown as Record<string, unknown>).amount = amount }, 'pricing[0].amount')
    }
    rejects((m) => { (m.pricing[0] as unknown as Record<string, unknown>).unit = 'hour' }, 'pricing[0].unit')
  })

  it('rejects bad timestamps', () => {
    for (const issuedAt of ['2025-13-01T00:00:00Z', '2025-02-29T00:00:00Z', '2025-04-31T00:00:00Z', '2025-01-01T24:00:00Z', '2025-01-01 00:00:00Z', '2025-01-01T00:00:00', 'yesterday', '2025-01-01T00:00:00+25:00']) {
      rejects((m) => { m.issuedAt = issuedAt }, 'issuedAt')
    }
    for (const good of ['2024-02-29T23:59:60.123+05:30', '2000-02-29T00:00:00z', '1999-12-31t23:59:59.999999999-08:00']) {
      expect(isRfc3339(good)).toBe(true)
    }
  })

  it('rejects provider names that are not Ed25519 IPNS names', async () => {
    const rsaLike = new Uint8Array(36)
    rsaLike.set([0x08, 0x00, 0x12, 0x20])
    const names = [
      'k51qzi5uqu5dnotreallyakey',
      '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA', // a peer id, not a CID
      CID.createV1(0x70, identity.digest(new Uint8Array(36))).toString(base36), // dag-pb codec
      CID.createV1(0x72, await sha256.digest(new Uint8Array(36))).toString(base36), // hashed key: not inlined
      CID.createV1(0x72, identity.digest(rsaLike)).toString(base36), // key type 0 (RSA)
      CID.createV1(0x72, identity.digest(new Uint8Array(36).fill(8))).toString(), // base32
      providerName().toUpperCase()
    ]
    for (const provider of names) {
      expect(isProviderName(provider)).toBe(false)
      rejects((m) => { m.provider = provider }, 'provider')
    }
    expect(isProviderName(providerName(7))).toBe(true)
    expect(providerName(7).startsWith('k51')).toBe(true)
  })

  it('rejects bad statuses, coordinates, regions, endpoints, schema, prev and attestations', () => {
    rejects((m) => { m.status = 'up' as never }, 'status')
    rejects((m) => { m.location.lat = 91 }, 'location.lat')
    rejects((m) => { m.location.lon = -180.5 }, 'location.lon')
    rejects((m) => { m.location.region = 'EU West' }, 'location.region')
    rejects((m) => { m.endpoints = ['not an address'] }, 'endpoints[0]')
    rejects((m) => { m.schema = 'capdex.manifest.v2' as never }, 'schema')
    rejects((m) => { m.prev = 'bafy…' as never }, 'prev')
    rejects((m) => { m.prev = CID.parse('bafkqaaa') }, 'prev')
    rejects((m) => { m.attestations = ['bafy…'] as never }, 'attestations[0]')
  })

  it('rejects GPU claims that disagree with the normalization table', () => {
    rejects((m) => { m.gpus[0]!.model = 'H100-SXM' }, 'gpus[0].model')
    rejects((m) => { m.gpus[0]!.vramMiB = 81559 }, 'gpus[0].vramMiB')
    rejects((m) => { m.gpus[0]!.vendor = 'amd' }, 'gpus[0].vendor')
    rejects((m) => { m.gpus[0]!.formFactor = 'socket' as never }, 'gpus[0].formFactor')
    rejects((m) => { m.gpus[0]!.interconnect = 'infiniband' as never }, 'gpus[0].interconnect')
  })

  it('caps list lengths', () => {
    rejects((m) => { m.gpus = Array.from({ length: 65 }, () => m.gpus[0]!) }, 'gpus')
    rejects((m) => { m.endpoints = Array.from({ length: 33 }, () => '/dns4/a/tcp/1') }, 'endpoints')
  })
})
