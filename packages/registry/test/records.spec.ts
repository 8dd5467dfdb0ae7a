import { ipnsValidator as heliaIpnsValidator } from '@helia/ipns'
import { generateKeyPair, publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { createIPNSRecordWithExpiration, marshalIPNSRecord, multihashToIPNSRoutingKey } from 'ipns'
import { ipnsValidator } from 'ipns/validator'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { beforeAll, describe, expect, it } from 'vitest'
import { createRecord, nameFromBytes, nameFromPublicKey, nameToBytes, publicKeyFromName, RECORD_MAX_SIZE, verifyRecord } from '../src/records/index.js'
import { FUTURE_EOL, rejectionName, reencode, signRecord } from './fixtures/ipns/helpers.js'
import type { Ed25519PrivateKey } from '@libp2p/interface'

const MANIFEST_CID = CID.parse('bagaaierasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea')
const NOW = Date.parse('2025-06-01T12:00:00Z')
const LEASE_MS = 10 * 60_000

/** Every error verifyRecord may throw on bad input; anything else (a TypeError) is a bug. */
const RECORD_ERRORS = ['InvalidRecordError', 'MissingSignatureV2Error', 'PublicKeyMismatchError', 'SignatureVerificationError', 'RecordMismatchError', 'UnsupportedValidityError', 'RecordTooLargeError']

let alice: Ed25519PrivateKey
let bob: Ed25519PrivateKey
let aliceName: string

beforeAll(async () => {
  alice = await generateKeyPair('Ed25519')
  bob = await generateKeyPair('Ed25519')
  aliceName = nameFromPublicKey(alice.publicKey)
})

describe('names', () => {
  it('an Ed25519 name is the base36 libp2p-key CID of the key, and gives the key back', () => {
    expect(aliceName).toMatch(/^k51/)
    expect(aliceName).toBe(alice.publicKey.toCID().toString(base36))
    expect(publicKeyFromName(aliceName).equals(alice.publicKey)).toBe(true)
    expect(publicKeyFromName(alice.publicKey.toCID()).equals(alice.publicKey)).toBe(true)
  })

  it('name bytes are the 38-byte identity multihash, and round-trip', () => {
    const bytes = nameToBytes(aliceName)
    expect(bytes).toHaveLength(38)
    expect(bytes).toEqual(alice.publicKey.toMultihash().bytes)
    expect(nameFromBytes(bytes)).toBe(aliceName)
  })

  it('reads a name as a CID, a PeerId, a legacy peer id string or base32, always verifying to the canonical name', async () => {
    const record = await createRecord(alice, MANIFEST_CID, 1n, { lifetimeMs: LEASE_MS, now: NOW })
    const peerId = peerIdFromPrivateKey(alice)
    for (const name of [alice.publicKey.toCID(), peerId, peerId.toString(), alice.publicKey.toCID().toString(base32)]) {
      await expect(verifyRecord(name, record, { now: NOW })).resolves.toHaveProperty('name', aliceName)
    }
  })

  it('rejects RSA, secp256k1 and ECDSA names and keys with UnsupportedKeyTypeError', async () => {
    const rsa = await generateKeyPair('RSA', 1024)
    const secp = await generateKeyPair('secp256k1')
    const ecdsa = await generateKeyPair('ECDSA')
    for (const key of [rsa, secp, ecdsa]) {
      const name = key.publicKey.toCID().toString(base36)
      expect(() => publicKeyFromName(name)).toThrow(expect.objectContaining({ name: 'UnsupportedKeyTypeError' }))
      expect(() => nameFromPublicKey(key.publicKey)).toThrow(expect.objectContaining({ name: 'UnsupportedKeyTypeError' }))
      expect(await rejectionName(verifyRecord(name, new Uint8Array(10)))).toBe('UnsupportedKeyTypeError')
    }
    expect(() => nameFromBytes(rsa.publicKey.toMultihash().bytes)).toThrow(expect.objectContaining({ name: 'UnsupportedKeyTypeError' }))
  })

  it('rejects what is not a libp2p-key name with InvalidNameError', () => {
    const dagPb = CID.createV1(0x70, alice.publicKey.toCID().multihash)
    for (const name of ['', 'hello', 'k51!!', dagPb.toString(base36), MANIFEST_CID.toString(), aliceName.slice(0, -3)]) {
      expect(() => publicKeyFromName(name), name).toThrow(expect.objectContaining({ name: 'InvalidNameError' }))
    }
    expect(() => nameFromBytes(nameToBytes(aliceName).subarray(0, 37))).toThrow(expect.objectContaining({ name: 'InvalidNameError' }))
  })
})

describe('createRecord', () => {
  it('without the embedded key, is byte-for-byte what js-ipns creates', async () => {
    const ours = await createRecord(alice, MANIFEST_CID, 7n, { lifetimeMs: 0, now: Date.parse('2124-01-01T00:00:00.000Z'), ttlNs: 60_000_000_000n, embedPublicKey: false })
    const theirs = marshalIPNSRecord(await createIPNSRecordWithExpiration(alice, MANIFEST_CID, 7n, FUTURE_EOL, { v1Compatible: true, ttlNs: 60_000_000_000n }))
    expect(ours).toEqual(theirs)
  })

  it('embeds the key by default, and js-ipns validates the result', async () => {
    const bytes = await createRecord(alice, MANIFEST_CID, 3, { lifetimeMs: LEASE_MS })
    const record = await verifyRecord(aliceName, bytes)
    expect(record.sequence).toBe(3n)
    await expect(ipnsValidator(multihashToIPNSRoutingKey(alice.publicKey.toMultihash()), bytes)).resolves.toBeUndefined()
  })

  it('sets value, EOL and TTL from its arguments', async () => {
    const bytes = await createRecord(alice, `/ipfs/${MANIFEST_CID.toString()}`, 9n, { lifetimeMs: LEASE_MS, now: NOW, ttlNs: 5n })
    const record = await verifyRecord(aliceName, bytes, { now: NOW })
    expect(record).toMatchObject({ name: aliceName, value: `/ipfs/${MANIFEST_CID.toString()}`, sequence: 9n, ttlNs: 5n, bytes })
    expect(record.valueCid?.equals(MANIFEST_CID)).toBe(true)
    expect(record.validity.getTime()).toBe(NOW + LEASE_MS)
    expect(record.publicKey.equals(alice.publicKey)).toBe(true)
  })

  it('rejects bad arguments with named errors', async () => {
    const rsa = await generateKeyPair('RSA', 1024)
    await expect(createRecord(alice, 'not-a-path', 1n, { lifetimeMs: 1 })).rejects.toHaveProperty('name', 'InvalidValueError')
    await expect(createRecord(alice, '/ipfs/x', -1n, { lifetimeMs: 1 })).rejects.toHaveProperty('name', 'InvalidRecordOptionsError')
    await expect(createRecord(alice, '/ipfs/x', 1.5, { lifetimeMs: 1 })).rejects.toHaveProperty('name', 'InvalidRecordOptionsError')
    await expect(createRecord(alice, '/ipfs/x', 1n, { lifetimeMs: Number.NaN })).rejects.toHaveProperty('name', 'InvalidRecordOptionsError')
    await expect(createRecord(alice, `/ipfs/x/${'a'.repeat(RECORD_MAX_SIZE)}`, 1n, { lifetimeMs: 1 })).rejects.toHaveProperty('name', 'RecordTooLargeError')
    await expect(createRecord(rsa as unknown as Ed25519PrivateKey, '/ipfs/x', 1n, { lifetimeMs: 1 })).rejects.toHaveProperty('name', 'UnsupportedKeyTypeError')
  })
})

describe('verifyRecord', () => {
  it('returns the verified fields and the exact bytes', async () => {
    const bytes = await createRecord(alice, MANIFEST_CID, 42n, { lifetimeMs: LEASE_MS, now: NOW })
    const record = await verifyRecord(aliceName, bytes, { now: NOW })
    expect(record.bytes).toBe(bytes)
    expect(record.value).toBe(`/ipfs/${MANIFEST_CID.toString()}`)
    expect(record.valueCid?.toString()).toBe(MANIFEST_CID.toString())
    expect(record.sequence).toBe(42n)
  })

  it('leaves valueCid undefined when the value is not exactly /ipfs/<cid>', async () => {
    for (const value of [`/ipfs/${MANIFEST_CID.toString()}/sub`, '/ipns/example.com', '/ipfs/not-a-cid']) {
      const record = await verifyRecord(aliceName, await createRecord(alice, value, 1n, { lifetimeMs: LEASE_MS, now: NOW }), { now: NOW })
      expect(record.value).toBe(value)
      expect(record.valueCid).toBeUndefined()
    }
  })

  it('rejects a record for another name: SignatureVerificationError, or PublicKeyMismatchError when it embeds its key', async () => {
    const bobName = nameFromPublicKey(bob.publicKey)
    const embedded = await createRecord(alice, MANIFEST_CID, 1n, { lifetimeMs: LEASE_MS, now: NOW })
    const bare = await createRecord(alice, MANIFEST_CID, 1n, { lifetimeMs: LEASE_MS, now: NOW, embedPublicKey: false })
    expect(await rejectionName(verifyRecord(bobName, embedded, { now: NOW }))).toBe('PublicKeyMismatchError')
    expect(await rejectionName(verifyRecord(bobName, bare, { now: NOW }))).toBe('SignatureVerificationError')
  })

  it('a record for key A relayed by peer B verifies against A only; the relay identity does not matter', async () => {
    const fromA = await createRecord(alice, MANIFEST_CID, 1n, { lifetimeMs: LEASE_MS, now: NOW, embedPublicKey: false })
    // B passes A's record on unchanged: still A's record.
    await expect(verifyRecord(aliceName, fromA, { now: NOW })).resolves.toHaveProperty('name', aliceName)
    // B re-signs A's data: not A's record, whoever relays it.
    const entryData = (await import('../src/records/protobuf.js')).decodeIpnsEntry(fromA).data!
    const forged = reencode(fromA, { signatureV2: await bob.sign(new Uint8Array([...new TextEncoder().encode('ipns-signature:'), ...entryData])) })
    expect(await rejectionName(verifyRecord(aliceName, forged, { now: NOW }))).toBe('SignatureVerificationError')
    await expect(verifyRecord(nameFromPublicKey(bob.publicKey), forged, { now: NOW })).resolves.toHaveProperty('name', nameFromPublicKey(bob.publicKey))
  })

  it('rejects a broken V2 signature', async () => {
    const bytes = await createRecord(alice, MANIFEST_CID, 1n, { lifetimeMs: LEASE_MS, now: NOW })
    const signature = (await import('../src/records/protobuf.js')).decodeIpnsEntry(bytes).signatureV2!.slice()
    signature[10] = (signature[10] ?? 0) ^ 1
    expect(await rejectionName(verifyRecord(aliceName, reencode(bytes, { signatureV2: signature }), { now: NOW }))).toBe('SignatureVerificationError')
    expect(await rejectionName(verifyRecord(aliceName, reencode(bytes, { signatureV2: signature.subarray(0, 63) }), { now: NOW }))).toBe('SignatureVerificationError')
  })

  it('requires the V2 signature and data', async () => {
    const bytes = await createRecord(alice, MANIFEST_CID, 1n, { lifetimeMs: LEASE_MS, now: NOW })
    for (const change of [{ signatureV2: undefined }, { data: undefined }, { data: new Uint8Array(0) }]) {
      expect(await rejectionName(verifyRecord(aliceName, reencode(bytes, change), { now: NOW }))).toBe('MissingSignatureV2Error')
    }
  })

  it('rejects each legacy V1 field that disagrees with the signed data (RecordMismatchError)', async () => {
    const bytes = await createRecord(alice, MANIFEST_CID, 5n, { lifetimeMs: LEASE_MS, now: NOW })
    const changes: Record<string, unknown> = {
      value: new TextEncoder().encode('/ipfs/bafkqaddwgevxmmraojswg33smq'),
      validity: new TextEncoder().encode(FUTURE_EOL),
      validityType: 1n,
      sequence: 6n,
      ttl: 1n
    }
    for (const [field, value] of Object.entries(changes)) {
      const err = await verifyRecord(aliceName, reencode(bytes, { [field]: value }), { now: NOW }).catch((err: unknown) => err)
      expect(err, field).toMatchObject({ name: 'RecordMismatchError', field })
    }
    // In a V1+V2 record an absent copy reads as the protobuf default, as boxo reads it.
    expect(await rejectionName(verifyRecord(aliceName, reencode(bytes, { sequence: undefined }), { now: NOW }))).toBe('RecordMismatchError')
  })

  it('checks a stray legacy field on a V2-only record too', async () => {
    const v2 = await signRecord(alice, { Sequence: 5n })
    await expect(verifyRecord(aliceName, v2, { now: NOW })).resolves.toHaveProperty('sequence', 5n)
    await expect(verifyRecord(aliceName, reencode(v2, { sequence: 5n }), { now: NOW })).resolves.toHaveProperty('sequence', 5n)
    expect(await rejectionName(verifyRecord(aliceName, reencode(v2, { sequence: 4n }), { now: NOW }))).toBe('RecordMismatchError')
  })

  it('accepts only the EOL validity type, and well-typed signed data', async () => {
    expect(await rejectionName(verifyRecord(aliceName, await signRecord(alice, { ValidityType: 1 }), { now: NOW }))).toBe('UnsupportedValidityError')
    const malformed = [
      { ValidityType: undefined }, { ValidityType: 'EOL' }, { Value: '/ipfs/x' }, { Value: undefined }, { Validity: 'x' },
      { Validity: new TextEncoder().encode('tomorrow') }, { Sequence: -1 }, { Sequence: 'one' }, { TTL: undefined }, { Value: new Uint8Array([0xff, 0xfe]) }
    ]
    for (const data of malformed) {
      expect(await rejectionName(verifyRecord(aliceName, await signRecord(alice, data), { now: NOW })), JSON.stringify(Object.keys(data))).toBe('InvalidRecordError')
    }
    // Extra signed keys are the spec's extensible data, and are allowed.
    await expect(verifyRecord(aliceName, await signRecord(alice, { Extra: 'x' }), { now: NOW })).resolves.toHaveProperty('sequence', 1n)
  })

  it('reads Go-style (trimmed) and offset RFC 3339 validities', async () => {
    const cases: Array<[string, string]> = [
      ['2030-01-02T03:04:05.123456789Z', '2030-01-02T03:04:05.123Z'],
      ['2030-01-02T03:04:05Z', '2030-01-02T03:04:05.000Z'],
      ['2030-01-02T03:04:05.5+01:00', '2030-01-02T02:04:05.500Z']
    ]
    for (const [validity, iso] of cases) {
      const record = await verifyRecord(aliceName, await signRecord(alice, { Validity: new TextEncoder().encode(validity) }), { now: NOW })
      expect(record.validity.toISOString()).toBe(iso)
    }
  })

  it('rejects an expired record (RecordExpiredError) on the injected clock, unless allowExpired', async () => {
    const bytes = await createRecord(alice, MANIFEST_CID, 1n, { lifetimeMs: LEASE_MS, now: NOW })
    const eol = NOW + LEASE_MS
    await expect(verifyRecord(aliceName, bytes, { now: eol - 1 })).resolves.toHaveProperty('sequence', 1n)
    const err = await verifyRecord(aliceName, bytes, { now: eol }).catch((err: unknown) => err)
    expect(err).toMatchObject({ name: 'RecordExpiredError', validity: new Date(eol) })
    await expect(verifyRecord(aliceName, bytes, { now: eol + 86_400_000, allowExpired: true })).resolves.toHaveProperty('sequence', 1n)
  })

  it('checks the signature before the clock: a forged expired record is a forgery, not merely expired', async () => {
    const bytes = await createRecord(bob, MANIFEST_CID, 1n, { lifetimeMs: LEASE_MS, now: NOW, embedPublicKey: false })
    expect(await rejectionName(verifyRecord(aliceName, bytes, { now: NOW + 2 * LEASE_MS }))).toBe('SignatureVerificationError')
  })

  it('accepts 10240 bytes and rejects 10241 (RecordTooLargeError) before parsing', async () => {
    /** A js-ipns V1+V2 record padded (value, and TTL for parity) to exactly `size` bytes. */
    const recordOfSize = async (size: number): Promise<Uint8Array> => {
      const make = async (padding: number, ttlNs: bigint) => marshalIPNSRecord(await createIPNSRecordWithExpiration(alice, `/ipfs/x/${'a'.repeat(padding)}`, 1n, FUTURE_EOL, { v1Compatible: true, ttlNs }))
      for (const ttlNs of [1n, 100n]) {
        const base = (await make(0, ttlNs)).byteLength
        for (let padding = Math.floor((size - base) / 2) - 4; padding < (size - base) / 2 + 4; padding++) {
          const bytes = await make(padding, ttlNs)
          if (bytes.byteLength === size) {
            return bytes
          }
        }
      }
      throw new Error(`no padding gives ${size} bytes`)
    }

    const largest = await recordOfSize(RECORD_MAX_SIZE)
    expect(largest.byteLength).toBe(10240)
    await expect(verifyRecord(aliceName, largest, { now: NOW })).resolves.toHaveProperty('bytes', largest)

    const tooLarge = await recordOfSize(RECORD_MAX_SIZE + 1)
    expect(tooLarge.byteLength).toBe(10241)
    expect(await rejectionName(verifyRecord(aliceName, tooLarge, { now: NOW }))).toBe('RecordTooLargeError')
    // Garbage of that size fails on size, so nothing was parsed.
    expect(await rejectionName(verifyRecord(aliceName, new Uint8Array(RECORD_MAX_SIZE + 1).fill(0xff), { now: NOW }))).toBe('RecordTooLargeError')
  })

  it('rejects every truncation of a record with a named error', async () => {
    const bytes = await createRecord(alice, MANIFEST_CID, 1n, { lifetimeMs: LEASE_MS, now: NOW })
    for (let length = 0; length < bytes.byteLength; length++) {
      const name = await rejectionName(verifyRecord(aliceName, bytes.subarray(0, length), { now: NOW }))
      expect(RECORD_ERRORS, `truncated to ${length}`).toContain(name)
    }
  })

  it('rejects garbage with a named error, never a crash', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (garbage) => {
      expect(RECORD_ERRORS).toContain(await rejectionName(verifyRecord(aliceName, garbage, { now: NOW })))
    }), { numRuns: 300 })
    expect(await rejectionName(verifyRecord(aliceName, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])))).toBe('InvalidRecordError')
  })

  it('rejects repeated fields and group wire types', async () => {
    const bytes = await createRecord(alice, MANIFEST_CID, 1n, { lifetimeMs: LEASE_MS, now: NOW })
    const repeated = new Uint8Array([...bytes, 0x28, 0x01])
    expect(await rejectionName(verifyRecord(aliceName, repeated, { now: NOW }))).toBe('InvalidRecordError')
    expect(await rejectionName(verifyRecord(aliceName, new Uint8Array([...bytes, 0x53]), { now: NOW }))).toBe('InvalidRecordError')
    // Unknown fields are skipped, as protobuf readers do.
    await expect(verifyRecord(aliceName, new Uint8Array([...bytes, 0x50, 0x01]), { now: NOW })).resolves.toHaveProperty('sequence', 1n)
  })

  it('honours an aborted signal', async () => {
    const bytes = await createRecord(alice, MANIFEST_CID, 1n, { lifetimeMs: LEASE_MS, now: NOW })
    expect(await rejectionName(verifyRecord(aliceName, bytes, { now: NOW, signal: AbortSignal.abort() }))).toBe('AbortError')
  })
})

describe('RSA forgery: an attacker key embedded under a victim name', () => {
  // The attacker signs with its own RSA key and embeds that key. @helia/ipns 10.1.0 takes
  // the key of a non-identity (RSA) name from the record without checking that it hashes
  // to the name; js-ipns 10.1.6 does check; we accept no RSA names at all.
  const keychain: Parameters<typeof heliaIpnsValidator>[2] = {
    loadPublicKeyFromProtobuf: async (buf: Uint8Array) => Promise.resolve(publicKeyFromProtobuf(buf))
  } as unknown as Parameters<typeof heliaIpnsValidator>[2]

  it('under an RSA victim name: @helia/ipns 10.1.0 accepts it, js-ipns rejects it, we reject it (UnsupportedKeyTypeError)', async () => {
    const victim = await generateKeyPair('RSA', 2048)
    const attacker = await generateKeyPair('RSA', 2048)
    const victimName = victim.publicKey.toCID().toString(base36)
    const routingKey = multihashToIPNSRoutingKey(victim.publicKey.toMultihash())
    // js-ipns embeds the signer's RSA key, as an RSA record must.
    const forged = marshalIPNSRecord(await createIPNSRecordWithExpiration(attacker, '/ipfs/bafkqaddwgevxmmraojswg33smq', 1n, FUTURE_EOL, { v1Compatible: true }))

    await expect(heliaIpnsValidator(routingKey, forged, keychain)).resolves.toBeDefined()
    await expect(ipnsValidator(routingKey, forged)).rejects.toHaveProperty('name', 'InvalidEmbeddedPublicKeyError')
    expect(await rejectionName(verifyRecord(victimName, forged))).toBe('UnsupportedKeyTypeError')
  })

  it('under an Ed25519 victim name: we reject it (PublicKeyMismatchError); @helia/ipns uses the name key and rejects it too', async () => {
    const attacker = await generateKeyPair('RSA', 1024)
    const forged = marshalIPNSRecord(await createIPNSRecordWithExpiration(attacker, '/ipfs/bafkqaddwgevxmmraojswg33smq', 1n, FUTURE_EOL, { v1Compatible: true }))
    expect(await rejectionName(verifyRecord(aliceName, forged))).toBe('PublicKeyMismatchError')
    await expect(heliaIpnsValidator(multihashToIPNSRoutingKey(alice.publicKey.toMultihash()), forged, keychain)).rejects.toHaveProperty('name', 'SignatureVerificationError')
  })
})
