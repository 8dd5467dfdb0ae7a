import * as dagJson from '@ipld/dag-json'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { MANIFEST_MAX_BYTES, decodeManifest, encodeManifest, listGpuModels, manifestCid } from '../src/index.js'
import { PREV, expectError, manifestArbitrary, sampleManifest } from './helpers.js'
import type { InvalidManifestError, Manifest, ManifestTooLargeError } from '../src/index.js'

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
const bytesOf = (value: string): Uint8Array => new TextEncoder().encode(value)

describe('encodeManifest / decodeManifest', () => {
  it('round-trips through canonical DAG-JSON', () => {
    const manifest = sampleManifest()
    const bytes = encodeManifest(manifest)
    expect(decodeManifest(bytes)).toEqual(manifest)
    expect(dagJson.encode(dagJson.decode(bytes))).toEqual(bytes)
  })

  it('writes keys sorted, without whitespace, and prev as a link', () => {
    const json = text(encodeManifest(sampleManifest()))
    expect(json.startsWith('{"attestations":[],"cpu":{"arch":"x86_64","cores":112,')).toBe(true)
    expect(json).toContain(`"prev":{"/":"${PREV.toString()}"}`)
    expect(json).not.toMatch(/\s"|":\s/)
  })

  it('decodes prev back into a CID', () => {
    const decoded = decodeManifest(encodeManifest(sampleManifest()))
    expect(CID.asCID(decoded.prev)?.equals(PREV)).toBe(true)
  })

  it('refuses to encode an invalid manifest', () => {
    const manifest = { ...sampleManifest(), extra: true }
    const err = expectError<InvalidManifestError>(() => encodeManifest(manifest), 'InvalidManifestError')
    expect(err.path).toBe('extra')
  })

  it('refuses to encode a manifest over 64 KiB', () => {
    const [model] = listGpuModels()
    const manifest: Manifest = {
      ...sampleManifest(),
      gpus: Array.from({ length: 64 }, (_, i) => ({
        vendor: model!.vendor, model: model!.model, name: `${i}`.padEnd(256, 'x'), vramMiB: model!.vramMiB, formFactor: 'sxm', count: 1, available: 1, interconnect: 'none'
      })),
      storage: Array.from({ length: 64 }, () => ({ kind: 'nvme', totalGiB: 3576, freeGiB: 3576 })),
      endpoints: Array.from({ length: 32 }, (_, i) => `https://example.com/${i}/`.padEnd(1024, 'y')),
      pricing: Array.from({ length: 16 }, () => ({ unit: 'gpu-hour', amount: '2.10', currency: 'USD' })),
      attestations: Array.from({ length: 64 }, () => PREV)
    }
    const err = expectError<ManifestTooLargeError>(() => encodeManifest(manifest), 'ManifestTooLargeError')
    expect(err.size).toBeGreaterThan(MANIFEST_MAX_BYTES)
  })

  it('rejects a 10 MB input by size, before parsing it', () => {
    // not even JSON: a parse would fail differently, so the size check must come first
    const huge = new Uint8Array(10 * 1024 * 1024).fill(0x7b)
    const err = expectError<ManifestTooLargeError>(() => decodeManifest(huge), 'ManifestTooLargeError')
    expect(err.size).toBe(huge.length)
    expect(err.limit).toBe(MANIFEST_MAX_BYTES)
  })

  it('applies the size cap inclusively', () => {
    expectError(() => decodeManifest(new Uint8Array(MANIFEST_MAX_BYTES + 1).fill(0x20)), 'ManifestTooLargeError')
    expectError(() => decodeManifest(new Uint8Array(MANIFEST_MAX_BYTES).fill(0x20)), 'MalformedManifestError')
  })

  it('rejects unsorted keys', () => {
    const json = text(encodeManifest(sampleManifest()))
    const unsorted = json.replace('{"attestations":[],', '{').replace(/}$/, ',"attestations":[]}')
    expect(dagJson.decode(bytesOf(unsorted))).toBeDefined() // valid DAG-JSON, just not canonical
    expectError(() => decodeManifest(bytesOf(unsorted)), 'NonCanonicalManifestError')
  })

  it('rejects duplicate keys', () => {
    const json = text(encodeManifest(sampleManifest()))
    const duplicated = json.replace('"status":"available"', '"status":"available","status":"busy"')
    expectError(() => decodeManifest(bytesOf(duplicated)), 'NonCanonicalManifestError')
  })

  it('rejects whitespace and alternative number forms', () => {
    const manifest = sampleManifest()
    expectError(() => decodeManifest(bytesOf(JSON.stringify(JSON.parse(text(encodeManifest(manifest))), null, 2))), 'NonCanonicalManifestError')
    const json = text(encodeManifest(manifest))
    expectError(() => decodeManifest(bytesOf(json.replace('"count":8', '"count":8.0'))), 'NonCanonicalManifestError')
    expectError(() => decodeManifest(bytesOf(json.replace('"count":8', '"count":8e0'))), 'NonCanonicalManifestError')
    expectError(() => decodeManifest(bytesOf(json.replace('"status":"available"', '"status":"\\u0061vailable"'))), 'NonCanonicalManifestError')
  })

  it('rejects bytes that are not DAG-JSON', () => {
    expectError(() => decodeManifest(bytesOf('{"schema":')), 'MalformedManifestError')
    expectError(() => decodeManifest(bytesOf('')), 'MalformedManifestError')
    expectError(() => decodeManifest(bytesOf('{"prev":{"/":"not a cid"}}')), 'MalformedManifestError')
  })

  it('validates canonical bytes after decoding', () => {
    const bytes = dagJson.encode({ ...sampleManifest(), memory: { totalMiB: -1, availableMiB: 0 } })
    const err = expectError<InvalidManifestError>(() => decodeManifest(bytes), 'InvalidManifestError')
    expect(err.path).toBe('memory.totalMiB')
  })
})

describe('manifestCid', () => {
  it('is a CIDv1 with the dag-json codec and a sha2-256 of the bytes', async () => {
    const bytes = encodeManifest(sampleManifest())
    const cid = manifestCid(bytes)
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x0129)
    expect(cid.multihash.code).toBe(0x12)
    const expected = CID.createV1(dagJson.code, await sha256.digest(bytes))
    expect(cid.equals(expected)).toBe(true)
    expect(cid.toString()).toBe(expected.toString())
  })
})

describe('properties', () => {
  it('decode(encode(m)) is m, and encode(decode(bytes)) is bytes', () => {
    fc.assert(fc.property(manifestArbitrary, (manifest) => {
      const bytes = encodeManifest(manifest)
      const decoded = decodeManifest(bytes)
      expect(decoded).toEqual(manifest)
      expect(encodeManifest(decoded)).toEqual(bytes)
      expect(manifestCid(bytes).equals(manifestCid(encodeManifest(decoded)))).toBe(true)
    }), { numRuns: 200 })
  })

  it('a mutated byte is rejected by name or decodes to a manifest that re-encodes to the same bytes', () => {
    const named = new Set(['MalformedManifestError', 'NonCanonicalManifestError', 'InvalidManifestError'])
    fc.assert(fc.property(manifestArbitrary, fc.nat(), fc.integer({ min: 0x20, max: 0x7e }), (manifest, at, byte) => {
      const bytes = encodeManifest(manifest).slice()
      bytes[at % bytes.length] = byte
      try {
        expect(encodeManifest(decodeManifest(bytes))).toEqual(bytes)
      } catch (err) {
        expect(named.has((err as Error).name)).toBe(true)
      }
    }), { numRuns: 300 })
  })
})
