import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { generateKeyPair } from '@libp2p/crypto/keys'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  ANNOUNCEMENT_INLINE_MANIFEST_MAX, ANNOUNCEMENT_MAX_SIZE, announcementMessageId, createRecord, decodeAnnouncement,
  encodeAnnouncement, indexTopic, nameFromPublicKey, providersTopic, RECORD_MAX_SIZE, recordVerifier, verifyAnnouncement
} from '../src/records/index.js'
import { DAG_JSON_CODEC } from '../src/records/constants.js'
import { rejectionName, reencode, thrownName } from './fixtures/ipns/helpers.js'
import type { Ed25519PrivateKey } from '@libp2p/interface'

const NOW = Date.parse('2025-06-01T12:00:00Z')
const LEASE_MS = 10 * 60_000

let provider: Ed25519PrivateKey
let relay: Ed25519PrivateKey
let manifest: Uint8Array
let manifestCid: CID
let record: Uint8Array

beforeAll(async () => {
  provider = await generateKeyPair('Ed25519')
  relay = await generateKeyPair('Ed25519')
  manifest = new TextEncoder().encode(JSON.stringify({ schema: 'capdex.manifest.v1', provider: nameFromPublicKey(provider.publicKey) }))
  manifestCid = CID.createV1(DAG_JSON_CODEC, await sha256.digest(manifest))
  record = await createRecord(provider, manifestCid, 1n, { lifetimeMs: LEASE_MS, now: NOW })
})

describe('announcement codec', () => {
  it('round-trips { record, manifest } as DAG-CBOR', () => {
    const bytes = encodeAnnouncement({ record, manifest })
    expect(dagCbor.decode(bytes)).toEqual({ record, manifest })
    expect(decodeAnnouncement(bytes)).toEqual({ record, manifest })
    expect(decodeAnnouncement(encodeAnnouncement({ record }))).toEqual({ record })
  })

  it('inlines a manifest of at most 16 KiB and leaves a larger one out', () => {
    const largest = new Uint8Array(ANNOUNCEMENT_INLINE_MANIFEST_MAX).fill(0x20)
    expect(decodeAnnouncement(encodeAnnouncement({ record, manifest: largest })).manifest).toEqual(largest)
    const tooLarge = new Uint8Array(ANNOUNCEMENT_INLINE_MANIFEST_MAX + 1).fill(0x20)
    expect(decodeAnnouncement(encodeAnnouncement({ record, manifest: tooLarge }))).toEqual({ record })
  })

  it('refuses to encode an oversized or empty record', () => {
    expect(thrownName(() => encodeAnnouncement({ record: new Uint8Array(RECORD_MAX_SIZE + 1) }))).toBe('RecordTooLargeError')
    expect(thrownName(() => encodeAnnouncement({ record: new Uint8Array(0) }))).toBe('InvalidAnnouncementError')
  })

  it('rejects more than 1 MiB before decoding (AnnouncementTooLargeError)', () => {
    // Garbage, so a decode attempt would have failed differently.
    expect(thrownName(() => decodeAnnouncement(new Uint8Array(ANNOUNCEMENT_MAX_SIZE + 1).fill(0xff)))).toBe('AnnouncementTooLargeError')
    const huge = dagCbor.encode({ record, manifest: new Uint8Array(ANNOUNCEMENT_MAX_SIZE) })
    expect(thrownName(() => decodeAnnouncement(huge))).toBe('AnnouncementTooLargeError')
  })

  it('rejects every truncation with InvalidAnnouncementError', () => {
    const bytes = encodeAnnouncement({ record, manifest })
    for (let length = 0; length < bytes.byteLength; length++) {
      expect(thrownName(() => decodeAnnouncement(bytes.subarray(0, length))), `truncated to ${length}`).toBe('InvalidAnnouncementError')
    }
  })

  it('rejects garbage with InvalidAnnouncementError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (garbage) => {
      let decoded
      try {
        decoded = decodeAnnouncement(garbage)
      } catch (err) {
        expect(['InvalidAnnouncementError', 'RecordTooLargeError']).toContain((err as Error).name)
        return
      }
      // Random bytes that happen to be a valid announcement must round-trip.
      expect(encodeAnnouncement(decoded)).toEqual(garbage)
    }), { numRuns: 500 })
  })

  it('decodes strictly: exact keys, right types, canonical form, size caps', () => {
    const invalid: Array<[string, Uint8Array]> = [
      ['extra key', dagCbor.encode({ record, manifest, name: new Uint8Array(38) })],
      ['missing record', dagCbor.encode({ manifest })],
      ['record as string', dagCbor.encode({ record: 'abc' })],
      ['empty record', dagCbor.encode({ record: new Uint8Array(0) })],
      ['manifest as a CID', dagCbor.encode({ record, manifest: manifestCid })],
      ['manifest null', dagCbor.encode({ record, manifest: null })],
      ['manifest over 64 KiB', dagCbor.encode({ record, manifest: new Uint8Array(64 * 1024 + 1) })],
      ['an array', dagCbor.encode([record])],
      ['bare bytes', dagCbor.encode(record)],
      ['trailing bytes', new Uint8Array([...encodeAnnouncement({ record }), 0x00])],
      // { manifest, record }: the keys out of DAG-CBOR order.
      ['keys out of order', new Uint8Array([0xa2, 0x68, ...new TextEncoder().encode('manifest'), 0x41, 0x00, 0x66, ...new TextEncoder().encode('record'), 0x41, 0x01])],
      // { record } with its one-byte length written in two bytes.
      ['non-minimal length', new Uint8Array([0xa1, 0x78, 0x06, ...new TextEncoder().encode('record'), 0x41, 0x01])]
    ]
    for (const [label, bytes] of invalid) {
      expect(thrownName(() => decodeAnnouncement(bytes)), label).toBe('InvalidAnnouncementError')
    }
    expect(thrownName(() => decodeAnnouncement(dagCbor.encode({ record: new Uint8Array(RECORD_MAX_SIZE + 1) })))).toBe('RecordTooLargeError')
  })

  it('message id is the sha256 of the data', () => {
    const bytes = encodeAnnouncement({ record, manifest })
    const id = announcementMessageId(bytes)
    expect(id).toEqual(new Uint8Array(createHash('sha256').update(bytes).digest()))
    expect(id.constructor).toBe(Uint8Array)
  })

  it('names the topics, and refuses network names that would break them', () => {
    expect(providersTopic('mainnet')).toBe('capdex/mainnet/providers/1')
    expect(indexTopic('test-net.2')).toBe('capdex/test-net.2/index/1')
    for (const network of ['', 'a/b', 'white space', 'x'.repeat(65)]) {
      expect(thrownName(() => providersTopic(network)), network).toBe('InvalidNetworkNameError')
    }
  })
})

describe('verifyAnnouncement', () => {
  it('verifies the record under the key it embeds, and hands back the inline manifest', async () => {
    const verified = await verifyAnnouncement(encodeAnnouncement({ record, manifest }), { now: NOW })
    expect(verified.record.name).toBe(nameFromPublicKey(provider.publicKey))
    expect(verified.record.valueCid?.equals(manifestCid)).toBe(true)
    expect(verified.manifestBytes).toEqual(manifest)
    expect(await verifyAnnouncement(encodeAnnouncement({ record }), { now: NOW })).not.toHaveProperty('manifestBytes')
  })

  it('a record for A relayed by B verifies against A; naming the relay B fails', async () => {
    const bytes = encodeAnnouncement({ record })
    await expect(verifyAnnouncement(bytes, { now: NOW, name: nameFromPublicKey(provider.publicKey) })).resolves.toHaveProperty('record.name', nameFromPublicKey(provider.publicKey))
    expect(await rejectionName(verifyAnnouncement(bytes, { now: NOW, name: nameFromPublicKey(relay.publicKey) }))).toBe('PublicKeyMismatchError')

    const bare = await createRecord(provider, manifestCid, 1n, { lifetimeMs: LEASE_MS, now: NOW, embedPublicKey: false })
    expect(await rejectionName(verifyAnnouncement(encodeAnnouncement({ record: bare }), { now: NOW, name: nameFromPublicKey(relay.publicKey) }))).toBe('SignatureVerificationError')
    await expect(verifyAnnouncement(encodeAnnouncement({ record: bare }), { now: NOW, name: nameFromPublicKey(provider.publicKey) })).resolves.toHaveProperty('record.sequence', 1n)
  })

  it('needs a name when the record embeds no key', async () => {
    const bare = await createRecord(provider, manifestCid, 1n, { lifetimeMs: LEASE_MS, now: NOW, embedPublicKey: false })
    expect(await rejectionName(verifyAnnouncement(encodeAnnouncement({ record: bare }), { now: NOW }))).toBe('InvalidAnnouncementError')
  })

  it('rejects an inline manifest the record does not name (ManifestMismatchError)', async () => {
    const other = new TextEncoder().encode('{"schema":"capdex.manifest.v1"}')
    expect(await rejectionName(verifyAnnouncement(encodeAnnouncement({ record, manifest: other }), { now: NOW }))).toBe('ManifestMismatchError')
    const pathRecord = await createRecord(provider, '/ipns/example.com', 2n, { lifetimeMs: LEASE_MS, now: NOW })
    expect(await rejectionName(verifyAnnouncement(encodeAnnouncement({ record: pathRecord, manifest }), { now: NOW }))).toBe('ManifestMismatchError')
  })

  it('rejects expired, forged and malformed announcements with named errors', async () => {
    expect(await rejectionName(verifyAnnouncement(encodeAnnouncement({ record, manifest }), { now: NOW + LEASE_MS }))).toBe('RecordExpiredError')
    await expect(verifyAnnouncement(encodeAnnouncement({ record }), { now: NOW + LEASE_MS, allowExpired: true })).resolves.toHaveProperty('record.sequence', 1n)
    // The relay signs, but claims the provider's key.
    const forged = reencode(await createRecord(relay, manifestCid, 2n, { lifetimeMs: LEASE_MS, now: NOW }), { pubKey: provider.publicKey.toMultihash().digest })
    expect(await rejectionName(verifyAnnouncement(encodeAnnouncement({ record: forged, manifest }), { now: NOW }))).toBe('SignatureVerificationError')
    expect(await rejectionName(verifyAnnouncement(new Uint8Array([0xa1, 0x66]), { now: NOW }))).toBe('InvalidAnnouncementError')
    expect(await rejectionName(verifyAnnouncement(new Uint8Array(ANNOUNCEMENT_MAX_SIZE + 1), { now: NOW }))).toBe('AnnouncementTooLargeError')
  })

  it('a verifier with a one-entry key cache still verifies many names', async () => {
    const verifier = recordVerifier({ keyCacheSize: 1 })
    for (let i = 0; i < 3; i++) {
      const key = await generateKeyPair('Ed25519')
      const bytes = await createRecord(key, manifestCid, 1n, { lifetimeMs: LEASE_MS, now: NOW })
      await expect(verifier.verifyAnnouncement(encodeAnnouncement({ record: bytes }), { now: NOW })).resolves.toHaveProperty('record.name', nameFromPublicKey(key.publicKey))
      await expect(verifier.verifyRecord(nameFromPublicKey(key.publicKey), bytes, { now: NOW })).resolves.toHaveProperty('sequence', 1n)
    }
  })
})
