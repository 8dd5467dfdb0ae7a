import { createPublicKey, hash, verify as verifySignature } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { decodeAnnouncement } from './announcement.js'
import { DAG_JSON_CODEC, DEFAULT_KEY_CACHE_SIZE, ED25519_PUBLIC_KEY_LENGTH, ED25519_SIGNATURE_LENGTH, KEY_TYPE_NAMES, RECORD_MAX_SIZE, SHA2_256_HASH_CODE, SIGNATURE_V2_PREFIX, VALIDITY_TYPE_EOL } from './constants.js'
import { InvalidAnnouncementError, InvalidRecordError, ManifestMismatchError, MissingSignatureV2Error, PublicKeyMismatchError, RecordExpiredError, RecordMismatchError, RecordTooLargeError, SignatureVerificationError, UnsupportedKeyTypeError, UnsupportedValidityError } from './errors.js'
import { ed25519PublicKeyFromRaw, nameBytesFromRaw, parseName, parseNameBytes } from './name.js'
import { decodeIpnsEntry } from './protobuf.js'
import { parseValidity } from './validity.js'
import type { IpnsEntryFields } from './protobuf.js'
import type { VerifiedAnnouncement, VerifiedRecord } from './index.js'
import type { ParsedName } from './name.js'
import type { Ed25519PublicKey, PeerId } from '@libp2p/interface'
import type { KeyObject } from 'node:crypto'

export interface VerifyRecordOptions {
  /**
   * The current time in ms since the epoch; records whose EOL is at or before it are expired.
   *
   * @default Date.now()
   */
  now?: number

  /**
   * Accept an expired record (history, audit). Its signature is still checked.
   *
   * @default false
   */
  allowExpired?: boolean

  signal?: AbortSignal
}

export interface VerifyAnnouncementOptions extends VerifyRecordOptions {
  /**
   * The name the record must verify against. When omitted, the name comes from the
   * Ed25519 key embedded in the record, which is the same thing: an Ed25519 name is its key.
   * Never pass the identity of the peer that relayed the message.
   */
  name?: string | CID | PeerId
}

export interface RecordVerifierInit {
  /**
   * How many names to keep parsed keys (and node:crypto key objects) for.
   *
   * @default DEFAULT_KEY_CACHE_SIZE (16,384)
   */
  keyCacheSize?: number
}

/** Verifies records and announcements, caching one parsed key per name. */
export interface RecordVerifier {
  verifyRecord(name: string | CID | PeerId, bytes: Uint8Array, options?: VerifyRecordOptions): Promise<VerifiedRecord>
  verifyAnnouncement(bytes: Uint8Array, options?: VerifyAnnouncementOptions): Promise<VerifiedAnnouncement>
}

interface KeyEntry {
  parsed: ParsedName
  publicKey: Ed25519PublicKey
  keyObject: KeyObject
}

/** A record that passed every check but the signature and the clock. */
interface CheckedRecord {
  key: KeyEntry
  signatureV2: Uint8Array
  data: Uint8Array
  value: string
  validityMs: number
  sequence: bigint
  ttlNs: bigint
  bytes: Uint8Array
}

interface RecordData {
  Value: Uint8Array
  Validity: Uint8Array
  ValidityType: number
  Sequence: bigint
  TTL: bigint
}

const SIGNATURE_V2_PREFIX_BYTES = new TextEncoder().encode(SIGNATURE_V2_PREFIX)
const UTF8 = new TextDecoder('utf-8', { fatal: true })
const EMPTY = new Uint8Array(0)

function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) {
    return false
  }
  for (let i = 0; i < a.byteLength; i++) {
    if (a[i] !== b[i]) {
      return false
    }
  }
  return true
}

function uint64Field (data: Record<string, unknown>, key: string): bigint {
  const value = Object.hasOwn(data, key) ? data[key] : undefined
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    return BigInt(value)
  }
  if (typeof value === 'bigint' && value >= 0n) {
    return value
  }
  throw new InvalidRecordError(`Record data field "${key}" must be an unsigned integer`)
}

function bytesField (data: Record<string, unknown>, key: string): Uint8Array {
  const value = Object.hasOwn(data, key) ? data[key] : undefined
  if (!(value instanceof Uint8Array)) {
    throw new InvalidRecordError(`Record data field "${key}" must be bytes`)
  }
  return value
}

/** Decode the signed DAG-CBOR data; extra keys are allowed (the spec's extensible data). */
function decodeRecordData (bytes: Uint8Array): RecordData {
  let data: unknown
  try {
    data = dagCbor.decode(bytes)
  } catch {
    throw new InvalidRecordError('Record data is not valid DAG-CBOR')
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data) || data instanceof Uint8Array || CID.asCID(data) !== null) {
    throw new InvalidRecordError('Record data must be a DAG-CBOR map')
  }
  const fields = data as Record<string, unknown>
  const validityType = Object.hasOwn(fields, 'ValidityType') ? fields.ValidityType : undefined
  if (typeof validityType !== 'number' || !Number.isSafeInteger(validityType)) {
    throw new InvalidRecordError('Record data field "ValidityType" must be an integer')
  }
  if (validityType !== VALIDITY_TYPE_EOL) {
    throw new UnsupportedValidityError(`Validity type ${validityType} is not supported; only EOL (0)`)
  }
  return {
    Value: bytesField(fields, 'Value'),
    Validity: bytesField(fields, 'Validity'),
    ValidityType: validityType,
    Sequence: uint64Field(fields, 'Sequence'),
    TTL: uint64Field(fields, 'TTL')
  }
}

/**
 * Legacy V1 fields are unsigned copies of the signed data. When the record is a V1+V2
 * record (it has `value` or `signatureV1`), every copy must match, an absent one
 * reading as the protobuf default, as boxo does; otherwise any copy present must match.
 */
function checkLegacyFields (entry: IpnsEntryFields, data: RecordData): void {
  const legacy = entry.value !== undefined || entry.signatureV1 !== undefined
  if ((legacy || entry.value !== undefined) && !bytesEqual(entry.value ?? EMPTY, data.Value)) {
    throw new RecordMismatchError('value')
  }
  if ((legacy || entry.validity !== undefined) && !bytesEqual(entry.validity ?? EMPTY, data.Validity)) {
    throw new RecordMismatchError('validity')
  }
  if ((legacy || entry.validityType !== undefined) && (entry.validityType ?? 0n) !== BigInt(data.ValidityType)) {
    throw new RecordMismatchError('validityType')
  }
  if ((legacy || entry.sequence !== undefined) && (entry.sequence ?? 0n) !== data.Sequence) {
    throw new RecordMismatchError('sequence')
  }
  if ((legacy || entry.ttl !== undefined) && (entry.ttl ?? 0n) !== data.TTL) {
    throw new RecordMismatchError('ttl')
  }
}

/**
 * A `VerifiedRecord` from fields that were verified (here, or by a verifier in another thread),
 * with `valueCid` parsed on first read: a CID parse costs as much as the rest of the checks
 * together, and a relay that only forwards the record never needs it.
 */
export function verifiedRecordOf (fields: Omit<VerifiedRecord, 'valueCid'>): VerifiedRecord {
  let valueCid: CID | undefined
  let parsed = false
  return {
    ...fields,
    get valueCid (): CID | undefined {
      if (!parsed) {
        valueCid = valueCidOf(fields.value)
        parsed = true
      }
      return valueCid
    }
  }
}

function valueCidOf (value: string): CID | undefined {
  if (!value.startsWith('/ipfs/') || value.indexOf('/', 6) !== -1) {
    return undefined
  }
  try {
    return CID.parse(value.slice(6))
  } catch {
    return undefined
  }
}

function checkManifest (record: VerifiedRecord, manifest: Uint8Array): void {
  const cid = record.valueCid
  if (cid === undefined || cid.code !== DAG_JSON_CODEC || cid.multihash.code !== SHA2_256_HASH_CODE) {
    throw new ManifestMismatchError('Record value is not a sha2-256 DAG-JSON CID, so it cannot name the inline manifest')
  }
  if (!bytesEqual(hash('sha256', manifest, 'buffer'), cid.multihash.digest)) {
    throw new ManifestMismatchError()
  }
}

class DefaultRecordVerifier implements RecordVerifier {
  private readonly keys = new Map<string, KeyEntry>()
  private readonly keyCacheSize: number

  constructor (init: RecordVerifierInit) {
    this.keyCacheSize = Math.max(1, init.keyCacheSize ?? DEFAULT_KEY_CACHE_SIZE)
  }

  // Verification is synchronous CPU work; the executor turns a throw into a rejection.
  async verifyRecord (name: string | CID | PeerId, bytes: Uint8Array, options: VerifyRecordOptions = {}): Promise<VerifiedRecord> {
    return new Promise((resolve) => { resolve(this.verifyRecordNow(name, bytes, options)) })
  }

  async verifyAnnouncement (bytes: Uint8Array, options: VerifyAnnouncementOptions = {}): Promise<VerifiedAnnouncement> {
    return new Promise((resolve) => { resolve(this.verifyAnnouncementNow(bytes, options)) })
  }

  private verifyRecordNow (name: string | CID | PeerId, bytes: Uint8Array, options: VerifyRecordOptions): VerifiedRecord {
    options.signal?.throwIfAborted()
    this.checkSize(bytes)
    const key = this.keyForName(name)
    const checked = this.check(bytes, () => key)
    this.checkSignature(checked)
    return this.finish(checked, options)
  }

  private verifyAnnouncementNow (bytes: Uint8Array, options: VerifyAnnouncementOptions): VerifiedAnnouncement {
    options.signal?.throwIfAborted()
    const announcement = decodeAnnouncement(bytes)
    const name = options.name
    const key = name === undefined ? undefined : this.keyForName(name)
    const checked = this.check(announcement.record, (entry) => key ?? this.keyForEmbedded(entry))
    const record = this.toVerifiedRecord(checked)
    // Cheap checks first: the manifest hash, then the signature, then the clock.
    if (announcement.manifest !== undefined) {
      checkManifest(record, announcement.manifest)
    }
    this.checkSignature(checked)
    this.checkExpiry(record, options)
    return announcement.manifest === undefined ? { record } : { record, manifestBytes: announcement.manifest }
  }

  private checkSize (bytes: Uint8Array): void {
    if (bytes.byteLength > RECORD_MAX_SIZE) {
      throw new RecordTooLargeError(`Record is ${bytes.byteLength} bytes; the limit is ${RECORD_MAX_SIZE}`)
    }
  }

  /** Every check that needs no signature and no clock, in one pass over the bytes. */
  private check (bytes: Uint8Array, keyFor: (entry: IpnsEntryFields) => KeyEntry): CheckedRecord {
    const entry = decodeIpnsEntry(bytes)
    const { signatureV2, data } = entry
    if (signatureV2 === undefined || signatureV2.byteLength === 0 || data === undefined || data.byteLength === 0) {
      throw new MissingSignatureV2Error()
    }
    const key = keyFor(entry)
    if (entry.pubKey !== undefined && !bytesEqual(entry.pubKey, key.parsed.bytes.subarray(2))) {
      throw new PublicKeyMismatchError()
    }
    const fields = decodeRecordData(data)
    checkLegacyFields(entry, fields)
    let value: string
    try {
      value = UTF8.decode(fields.Value)
    } catch {
      throw new InvalidRecordError('Record value is not UTF-8')
    }
    return {
      key,
      signatureV2,
      data,
      value,
      validityMs: parseValidity(fields.Validity),
      sequence: fields.Sequence,
      ttlNs: fields.TTL,
      bytes
    }
  }

  private checkSignature (checked: CheckedRecord): void {
    const { data, signatureV2 } = checked
    let valid = false
    if (signatureV2.byteLength === ED25519_SIGNATURE_LENGTH) {
      // The one copy on the hot path: node:crypto takes the signed payload as one buffer.
      const payload = new Uint8Array(SIGNATURE_V2_PREFIX_BYTES.byteLength + data.byteLength)
      payload.set(SIGNATURE_V2_PREFIX_BYTES, 0)
      payload.set(data, SIGNATURE_V2_PREFIX_BYTES.byteLength)
      valid = verifySignature(null, payload, checked.key.keyObject, signatureV2)
    }
    if (!valid) {
      throw new SignatureVerificationError()
    }
  }

  private checkExpiry (record: VerifiedRecord, options: VerifyRecordOptions): void {
    if (options.allowExpired !== true && record.validity.getTime() <= (options.now ?? Date.now())) {
      throw new RecordExpiredError(record.validity)
    }
  }

  private finish (checked: CheckedRecord, options: VerifyRecordOptions): VerifiedRecord {
    const record = this.toVerifiedRecord(checked)
    this.checkExpiry(record, options)
    return record
  }

  private toVerifiedRecord (checked: CheckedRecord): VerifiedRecord {
    return verifiedRecordOf({
      name: checked.key.parsed.name,
      publicKey: checked.key.publicKey,
      value: checked.value,
      sequence: checked.sequence,
      validity: new Date(checked.validityMs),
      ttlNs: checked.ttlNs,
      bytes: checked.bytes
    })
  }

  private keyForName (name: string | CID | PeerId): KeyEntry {
    if (typeof name === 'string') {
      return this.cached(name, () => parseName(name))
    }
    const parsed = parseName(name)
    return this.cached(parsed.name, () => parsed)
  }

  /** The key a record embeds, for announcements that name no key. */
  private keyForEmbedded (entry: IpnsEntryFields): KeyEntry {
    const pubKey = entry.pubKey
    if (pubKey === undefined) {
      throw new InvalidAnnouncementError('Announced record embeds no public key, and no name was given')
    }
    // A protobuf PublicKey: Type (field 1), then Data (field 2) of 32 bytes for Ed25519.
    if (pubKey[0] === 0x08 && pubKey[1] !== undefined && pubKey[1] !== 1) {
      throw new UnsupportedKeyTypeError(`Record embeds a ${KEY_TYPE_NAMES[pubKey[1]] ?? 'unknown'} key; only Ed25519 is supported`)
    }
    if (pubKey.byteLength !== 4 + ED25519_PUBLIC_KEY_LENGTH || pubKey[0] !== 0x08 || pubKey[2] !== 0x12 || pubKey[3] !== ED25519_PUBLIC_KEY_LENGTH) {
      throw new PublicKeyMismatchError('Record embeds a malformed public key')
    }
    const raw = pubKey.subarray(4)
    // NUL never occurs in a name string, so these cache keys cannot collide with names.
    return this.cached(`\u0000${Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64')}`, () => parseNameBytes(nameBytesFromRaw(raw)))
  }

  private cached (cacheKey: string, parse: () => ParsedName): KeyEntry {
    const hit = this.keys.get(cacheKey)
    if (hit !== undefined) {
      // Refresh the entry so the map's insertion order stays least-recently-used first.
      this.keys.delete(cacheKey)
      this.keys.set(cacheKey, hit)
      return hit
    }
    const parsed = parse()
    const entry: KeyEntry = {
      parsed,
      publicKey: ed25519PublicKeyFromRaw(parsed.raw),
      // a JWK imports in about half the time of the same key as SPKI DER
      keyObject: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(parsed.raw.buffer, parsed.raw.byteOffset, parsed.raw.byteLength).toString('base64url') }, format: 'jwk' })
    }
    if (this.keys.size >= this.keyCacheSize) {
      const oldest = this.keys.keys().next()
      if (oldest.done !== true) {
        this.keys.delete(oldest.value)
      }
    }
    this.keys.set(cacheKey, entry)
    return entry
  }
}

/** A verifier with its own key cache; `verifyRecord` and `verifyAnnouncement` share a default one. */
export function recordVerifier (init: RecordVerifierInit = {}): RecordVerifier {
  return new DefaultRecordVerifier(init)
}

// A bounded memo of parsed keys: it changes no result, only how fast one comes.
const defaultVerifier = recordVerifier()

/**
 * Verify a marshalled IPNS record against an Ed25519 name: size, structure, embedded
 * key, legacy fields, V2 signature and EOL, failing on the first error with a named error.
 */
export async function verifyRecord (name: string | CID | PeerId, bytes: Uint8Array, options: VerifyRecordOptions = {}): Promise<VerifiedRecord> {
  return defaultVerifier.verifyRecord(name, bytes, options)
}

/**
 * Decode and verify an announcement: size cap, strict decode, record structure, the
 * inline manifest against the record value, then the signature and the EOL.
 */
export async function verifyAnnouncement (bytes: Uint8Array, options: VerifyAnnouncementOptions = {}): Promise<VerifiedAnnouncement> {
  return defaultVerifier.verifyAnnouncement(bytes, options)
}
