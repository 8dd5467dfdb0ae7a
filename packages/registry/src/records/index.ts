/**
 * Record validation and the announcement codec: what a provider signs, and what an
 * indexer checks before it folds anything.
 *
 * A provider is an Ed25519 key and its name (`k51…`) inlines that key, so a record is
 * checked against the name alone; a record can never bind a foreign key.
 *
 * @example
 *
 * ```TypeScript
 * import { generateKeyPair } from '@libp2p/crypto/keys'
 * import { createRecord, encodeAnnouncement, nameFromPublicKey, verifyAnnouncement, verifyRecord } from '@capdex/registry'
 *
 * const key = await generateKeyPair('Ed25519')
 * const record = await createRecord(key, manifestCid, 1n, { lifetimeMs: 600_000 })
 * const verified = await verifyRecord(nameFromPublicKey(key.publicKey), record)
 *
 * const data = encodeAnnouncement({ record, manifest: manifestBytes })
 * const { record: announced, manifestBytes: inline } = await verifyAnnouncement(data)
 * ```
 */

import type { Ed25519PublicKey } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** A record that passed every check against its name. */
export interface VerifiedRecord {
  /** The canonical name: base36 libp2p-key CIDv1 of the Ed25519 key (`k51…`). */
  name: string
  publicKey: Ed25519PublicKey
  /** The signed value, e.g. `/ipfs/bagu…`. */
  value: string
  /** The CID when the value is exactly `/ipfs/<cid>`. */
  valueCid: CID | undefined
  sequence: bigint
  /** The EOL: the end of the liveness lease. */
  validity: Date
  ttlNs: bigint
  /** The exact marshalled record bytes (the caller's buffer, not a copy). */
  bytes: Uint8Array
}

/** The gossipsub payload on the providers topic: DAG-CBOR `{ record, manifest? }`. */
export interface Announcement {
  record: Uint8Array
  manifest?: Uint8Array
}

/** An announcement whose record verified and whose inline manifest, if any, is the one the record names. */
export interface VerifiedAnnouncement {
  record: VerifiedRecord
  manifestBytes?: Uint8Array
}

export { announcementMessageId, decodeAnnouncement, encodeAnnouncement, indexTopic, providersTopic } from './announcement.js'
export { ANNOUNCEMENT_INLINE_MANIFEST_MAX, ANNOUNCEMENT_MANIFEST_MAX_SIZE, ANNOUNCEMENT_MAX_SIZE, DEFAULT_KEY_CACHE_SIZE, DEFAULT_RECORD_TTL_NS, NAME_BYTES_LENGTH, RECORD_MAX_SIZE } from './constants.js'
export { createRecord } from './create.js'
export type { CreateRecordOptions } from './create.js'
export * from './errors.js'
export { nameBytesFromRaw, nameFromBytes, nameFromPublicKey, nameToBytes, publicKeyFromName } from './name.js'
export { checkSupersedes, selectNewest } from './select.js'
export { recordVerifier, verifiedRecordOf, verifyAnnouncement, verifyRecord } from './verifier.js'
export type { RecordVerifier, RecordVerifierInit, VerifyAnnouncementOptions, VerifyRecordOptions } from './verifier.js'
