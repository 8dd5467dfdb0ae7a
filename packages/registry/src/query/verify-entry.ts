import { decodeManifest, manifestCid } from '@capdex/manifest'
import { sha256 } from 'multiformats/hashes/sha2'
import { toString } from 'uint8arrays/to-string'
import { decodeEntry } from '../entries/entry.js'
import { nameFromBytes, verifyRecord } from '../records/index.js'
import { ForgedEntryError } from './errors.js'
import type { ManifestCache, RecordCache } from './cache.js'
import type { RejectReason } from './errors.js'
import type { ProviderEntry } from '../entries/entry.js'
import type { RecordVerifier, VerifiedRecord } from '../records/index.js'
import type { Manifest } from '@capdex/manifest'
import type { AbortOptions, BlockStore } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'

export interface VerifyEntryComponents {
  blocks: Pick<BlockStore, 'get'>
  /** @default the records module's shared verifier */
  verifier?: Pick<RecordVerifier, 'verifyRecord'>
  /** verified records by sha256 of their bytes; without one every record is verified afresh */
  recordCache?: RecordCache
  /** decoded manifests by CID; without one every manifest block is fetched, re-hashed and decoded */
  manifestCache?: ManifestCache
}

const DEFAULT_VERIFIER: Pick<RecordVerifier, 'verifyRecord'> = { verifyRecord }

/** An entry whose manifest checked out (block hash, schema, provider) but whose record is not yet verified. */
export interface LoadedEntry {
  /** the provider's canonical IPNS name (`k51…`), from the entry's key */
  provider: string
  providerKey: Uint8Array
  entry: ProviderEntry
  manifest: Manifest
}

/** A providers-tree entry whose record, manifest block and schema all checked out. */
export interface VerifiedEntry {
  provider: string
  providerKey: Uint8Array
  manifest: Manifest
  manifestCid: CID
  record: VerifiedRecord
  /** the manifest's `issuedAt` in ms, as the entry holds it */
  seen: number
}

/**
 * First half of `verifyEntry`, everything but the signature: the key is an Ed25519 name, the
 * entry decodes strictly, the manifest block re-hashes to the entry's CID and decodes strictly to
 * a schema-valid manifest that names the same provider. Queries run it on every candidate and
 * verify the record only for those that match.
 */
export async function loadEntry (components: Pick<VerifyEntryComponents, 'blocks' | 'manifestCache'>, key: Uint8Array, value: Uint8Array, options: AbortOptions = {}): Promise<LoadedEntry> {
  let provider: string
  try {
    provider = nameFromBytes(key)
  } catch (err) {
    throw forged(toString(key, 'base16'), 'invalid-key', err)
  }
  let entry: ProviderEntry
  try {
    entry = decodeEntry(value)
  } catch (err) {
    throw forged(provider, 'invalid-entry', err)
  }
  const manifest = await verifiedManifest(components, provider, entry.manifest, options)
  if (manifest.provider !== provider) {
    throw forged(provider, 'provider-mismatch', `manifest names provider ${manifest.provider}`)
  }
  return { provider, providerKey: key, entry, manifest }
}

/**
 * Second half of `verifyEntry`: the record is signed by the key the name holds (expired records
 * pass; liveness is the caller's call) and points at the entry's manifest CID.
 */
export async function verifyLoadedEntry (components: VerifyEntryComponents, loaded: LoadedEntry, options: AbortOptions = {}): Promise<VerifiedEntry> {
  const { provider, entry } = loaded
  const record = await verifiedRecord(components, provider, entry.record, options)
  if (record.valueCid?.equals(entry.manifest) !== true) {
    throw forged(provider, 'manifest-cid-mismatch', `record value ${record.value} is not /ipfs/${entry.manifest.toString()}`)
  }
  return { provider, providerKey: loaded.providerKey, manifest: loaded.manifest, manifestCid: entry.manifest, record, seen: entry.seen }
}

/**
 * Checks one entry of the `providers` tree end to end (`loadEntry`, then `verifyLoadedEntry`).
 * Throws `ForgedEntryError` naming the provider and the reason on the first failure.
 */
export async function verifyEntry (components: VerifyEntryComponents, key: Uint8Array, value: Uint8Array, options: AbortOptions = {}): Promise<VerifiedEntry> {
  return verifyLoadedEntry(components, await loadEntry(components, key, value, options), options)
}

async function verifiedManifest (components: Pick<VerifyEntryComponents, 'blocks' | 'manifestCache'>, provider: string, cid: CID, options: AbortOptions): Promise<Manifest> {
  const cacheKey = cid.toString()
  const hit = components.manifestCache?.get(cacheKey)
  if (hit !== undefined) {
    return hit
  }
  let bytes: Uint8Array
  try {
    bytes = await components.blocks.get(cid, options)
  } catch (err) {
    options.signal?.throwIfAborted()
    throw forged(provider, 'missing-manifest', err)
  }
  // A block store need not re-hash what it returns; the client does, to hold the indexer to the CID.
  const actual = manifestCid(bytes)
  if (!actual.equals(cid)) {
    throw forged(provider, 'manifest-hash-mismatch', `block hashes to ${actual.toString()}, not ${cacheKey}`)
  }
  let manifest: Manifest
  try {
    manifest = decodeManifest(bytes)
  } catch (err) {
    throw forged(provider, 'invalid-manifest', err)
  }
  components.manifestCache?.set(cacheKey, manifest)
  return manifest
}

async function verifiedRecord (components: VerifyEntryComponents, provider: string, bytes: Uint8Array, options: AbortOptions): Promise<VerifiedRecord> {
  const cache = components.recordCache
  const cacheKey = cache === undefined ? undefined : toString((await sha256.digest(bytes)).digest, 'base64')
  if (cache !== undefined && cacheKey !== undefined) {
    const hit = cache.get(cacheKey)
    // the same bytes under another name are a copied record: verify, and fail, afresh
    if (hit !== undefined && hit.name === provider) {
      return hit
    }
  }
  let record: VerifiedRecord
  try {
    record = await (components.verifier ?? DEFAULT_VERIFIER).verifyRecord(provider, bytes, { ...options, allowExpired: true })
  } catch (err) {
    options.signal?.throwIfAborted()
    throw forged(provider, 'invalid-record', err)
  }
  if (cache !== undefined && cacheKey !== undefined) {
    cache.set(cacheKey, record)
  }
  return record
}

function forged (provider: string, reason: RejectReason, detail: unknown): ForgedEntryError {
  return new ForgedEntryError(provider, reason, detail instanceof Error ? `${detail.name}: ${detail.message}` : String(detail))
}
