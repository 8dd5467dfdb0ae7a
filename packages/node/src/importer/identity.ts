import { createHash, hkdfSync } from 'node:crypto'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { base32 } from 'multiformats/bases/base32'
import { ED25519_SEED_BYTES, ROW_KEY_SALT } from './constants.js'
import type { SkypilotRow } from '@capdex/manifest'
import type { Ed25519PrivateKey } from '@libp2p/interface'

/**
 * The stable identity of a catalog row: what it offers and where, not where it sits in the file.
 * `occurrence` tells exact duplicates apart (0 for the first row with these fields, 1 for the
 * next…). The form is a JSON array, so no field can run into another:
 * `["skypilot","<cloud>","<InstanceType>","<Region>","<AvailabilityZone>",<occurrence>]`.
 */
export function skypilotRowIdentity (cloud: string, row: Pick<SkypilotRow, 'instanceType' | 'region' | 'availabilityZone'>, occurrence = 0): string {
  return JSON.stringify(['skypilot', cloud, row.instanceType, row.region, row.availabilityZone, occurrence])
}

/** A short, datastore-safe id of a row identity: base32 of its SHA-256. */
export function rowIdentityId (identity: string): string {
  return base32.baseEncode(createHash('sha256').update(identity, 'utf8').digest())
}

/**
 * A row's provider key: the Ed25519 key whose 32-byte seed is
 * HKDF-SHA256(ikm = the broker key's seed, salt = ROW_KEY_SALT, info = UTF-8 of the identity).
 * The same broker key and identity always give the same key, so the row keeps its provider name
 * across imports, and anyone holding the repo's broker key can recover every row's key.
 */
export async function deriveRowKey (broker: Ed25519PrivateKey, identity: string): Promise<Ed25519PrivateKey> {
  const ikm = broker.raw.subarray(0, ED25519_SEED_BYTES)
  const seed = new Uint8Array(hkdfSync('sha256', ikm, ROW_KEY_SALT, identity, ED25519_SEED_BYTES))
  return generateKeyPairFromSeed('Ed25519', seed)
}
