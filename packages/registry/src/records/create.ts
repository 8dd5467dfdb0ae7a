import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { DEFAULT_RECORD_TTL_NS, RECORD_MAX_SIZE, SIGNATURE_V2_PREFIX, VALIDITY_TYPE_EOL } from './constants.js'
import { InvalidRecordOptionsError, InvalidValueError, RecordTooLargeError, UnsupportedKeyTypeError } from './errors.js'
import { encodeIpnsEntry } from './protobuf.js'
import { formatValidity } from './validity.js'
import type { Ed25519PrivateKey } from '@libp2p/interface'

export interface CreateRecordOptions {
  /** How long the record stays valid, in ms: its EOL is the liveness lease end. */
  lifetimeMs: number

  /**
   * The time the lifetime counts from, in ms since the epoch.
   *
   * @default Date.now()
   */
  now?: number

  /**
   * How long resolvers may cache the record, in nanoseconds.
   *
   * @default 300_000_000_000n (5 minutes)
   */
  ttlNs?: bigint

  /**
   * Embed the public key in the record. The IPNS spec lets Ed25519 records skip it
   * (the name holds the key), but an announcement `{ record, manifest? }` carries no
   * name, so an embedded key is what tells subscribers whose record it is: 38 bytes.
   *
   * @default true
   */
  embedPublicKey?: boolean

  signal?: AbortSignal
}

const MAX_UINT64 = 0xffffffffffffffffn
const ENCODER = new TextEncoder()

function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((size, part) => size + part.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

function normalizeValue (value: string | CID): string {
  const cid = CID.asCID(value)
  if (cid !== null) {
    return `/ipfs/${cid.toV1().toString()}`
  }
  if (typeof value !== 'string' || !value.startsWith('/') || value.length < 2) {
    throw new InvalidValueError()
  }
  return value
}

/**
 * Create and sign a V1+V2 IPNS record, marshalled. The legacy V1 fields are exact copies
 * of the signed data, so other IPNS implementations read it as well as we do.
 */
export async function createRecord (privateKey: Ed25519PrivateKey, value: string | CID, sequence: bigint | number, options: CreateRecordOptions): Promise<Uint8Array> {
  options.signal?.throwIfAborted()
  if (privateKey.type !== 'Ed25519') {
    throw new UnsupportedKeyTypeError(`Cannot sign with a ${String(privateKey.type)} key; only Ed25519`)
  }
  if (typeof sequence === 'number' && !Number.isSafeInteger(sequence)) {
    throw new InvalidRecordOptionsError('Sequence must be an integer')
  }
  const seq = BigInt(sequence)
  const ttlNs = options.ttlNs ?? DEFAULT_RECORD_TTL_NS
  if (seq < 0n || seq > MAX_UINT64 || ttlNs < 0n || ttlNs > MAX_UINT64) {
    throw new InvalidRecordOptionsError('Sequence and TTL must fit in a uint64')
  }
  if (!Number.isFinite(options.lifetimeMs) || options.lifetimeMs < 0) {
    throw new InvalidRecordOptionsError('lifetimeMs must be a non-negative number')
  }

  const valueBytes = ENCODER.encode(normalizeValue(value))
  const validity = ENCODER.encode(formatValidity((options.now ?? Date.now()) + options.lifetimeMs))
  const data = dagCbor.encode({
    Value: valueBytes,
    Validity: validity,
    ValidityType: VALIDITY_TYPE_EOL,
    Sequence: seq,
    TTL: ttlNs
  })
  const signatureV2 = await privateKey.sign(concat(ENCODER.encode(SIGNATURE_V2_PREFIX), data))
  // V1 signs value ‖ validity ‖ the validity type's enum name.
  const signatureV1 = await privateKey.sign(concat(valueBytes, validity, ENCODER.encode('EOL')))

  const bytes = encodeIpnsEntry({
    value: valueBytes,
    signatureV1,
    validityType: BigInt(VALIDITY_TYPE_EOL),
    validity,
    sequence: seq,
    ttl: ttlNs,
    ...(options.embedPublicKey === false ? {} : { pubKey: privateKey.publicKey.toMultihash().digest }),
    signatureV2,
    data
  })
  if (bytes.byteLength > RECORD_MAX_SIZE) {
    throw new RecordTooLargeError(`Record would be ${bytes.byteLength} bytes; the limit is ${RECORD_MAX_SIZE}`)
  }
  return bytes
}
