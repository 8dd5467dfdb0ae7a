import { createHash } from 'node:crypto'
import * as dagJson from '@ipld/dag-json'
import { equals } from 'multiformats/bytes'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { decodeCanonical, encodeCanonical } from './canonical.js'
import { DAG_JSON_CODE, MANIFEST_MAX_BYTES, SHA2_256_CODE } from './constants.js'
import { MalformedManifestError, ManifestTooLargeError, NonCanonicalManifestError } from './errors.js'
import { validateManifest } from './validate.js'
import type { Manifest } from './types.js'

const UTF8 = new TextEncoder()

/**
 * Validate a manifest and encode it as canonical DAG-JSON (keys sorted, no whitespace).
 * There is no need to call `validateManifest` first.
 *
 * @throws {InvalidManifestError} when the manifest breaks the schema
 * @throws {ManifestTooLargeError} when the encoding exceeds MANIFEST_MAX_BYTES
 */
export function encodeManifest (manifest: Manifest): Uint8Array {
  validateManifest(manifest)
  // the fast writer gives @ipld/dag-json's exact bytes, or undefined for values only dag-json handles
  const text = encodeCanonical(manifest)
  const bytes = text === undefined ? dagJson.encode(manifest) : UTF8.encode(text)
  if (bytes.byteLength > MANIFEST_MAX_BYTES) throw new ManifestTooLargeError(bytes.byteLength, MANIFEST_MAX_BYTES)
  return bytes
}

/**
 * Decode manifest bytes strictly: the size is checked before parsing, the bytes must be the
 * canonical DAG-JSON encoding of their own value (`encode(decode(bytes))` equals `bytes`, so no
 * duplicate or unsorted keys, whitespace or alternative number forms), and the value must
 * validate.
 *
 * @throws {ManifestTooLargeError} over MANIFEST_MAX_BYTES, without parsing
 * @throws {MalformedManifestError} when the bytes are not DAG-JSON
 * @throws {NonCanonicalManifestError} when they are DAG-JSON but not canonical
 * @throws {InvalidManifestError} when the value breaks the schema
 */
export function decodeManifest (bytes: Uint8Array): Manifest {
  if (bytes.byteLength > MANIFEST_MAX_BYTES) throw new ManifestTooLargeError(bytes.byteLength, MANIFEST_MAX_BYTES)
  // Fast path: JSON.parse, then the bytes must equal the canonical writing of what it read. Such
  // bytes decode to the same value under @ipld/dag-json, so its validation (pass or fail) is final.
  const value = decodeCanonical(bytes)
  return value === undefined ? decodeManifestStrict(bytes) : validateManifest(value)
}

/**
 * `decodeManifest` through @ipld/dag-json alone: the reference the fast path must agree with, and
 * the path for every input the fast path does not take, so errors are dag-json's.
 */
export function decodeManifestStrict (bytes: Uint8Array): Manifest {
  if (bytes.byteLength > MANIFEST_MAX_BYTES) throw new ManifestTooLargeError(bytes.byteLength, MANIFEST_MAX_BYTES)
  let value: unknown
  try {
    // @ipld/dag-json decodes strictly already: it rejects duplicate keys, undefined, NaN, Infinity and indefinite lengths
    value = dagJson.decode(bytes)
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    if (message.includes('repeat map key')) throw new NonCanonicalManifestError(`Manifest is not canonical DAG-JSON: ${message}`)
    throw new MalformedManifestError(`Manifest bytes are not valid DAG-JSON: ${message}`, { cause: err })
  }
  let canonical: Uint8Array
  try {
    canonical = dagJson.encode(value)
  } catch (err) {
    throw new MalformedManifestError('Manifest bytes decode to a value DAG-JSON cannot encode', { cause: err })
  }
  if (!equals(canonical, bytes)) {
    throw new NonCanonicalManifestError(`Manifest is not canonical DAG-JSON: it differs from its canonical form at byte ${firstDifference(canonical, bytes)}`)
  }
  return validateManifest(value)
}

function firstDifference (a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return i
  }
  return length
}

/** The CID of encoded manifest bytes: CIDv1, DAG-JSON codec (0x0129), sha2-256. */
export function manifestCid (bytes: Uint8Array): CID {
  const hash = createHash('sha256').update(bytes).digest()
  return CID.createV1(DAG_JSON_CODE, createDigest(SHA2_256_CODE, hash))
}
