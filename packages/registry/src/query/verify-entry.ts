import { decodeManifest, manifestCid } from '@capdex/manifest'
import { sha256 } from 'multiformats/hashes/sha2'
import { equals } from 'uint8arrays/equals'
import { toString } from 'uint8arrays/to-string'
import { attrsForManifest } from '../entries/attrs.js'
import { decodeEntry, entryUptime } from '../entries/entry.js'
import { nameFromBytes, nameToBytes, verifyRecord } from '../records/index.js'
import { ForgedEntryError } from './errors.js'
import { fieldValues } from './match.js'
import type { EntryCache, ManifestCache, RecordCache } from './cache.js'
import type { RejectReason } from './errors.js'
import type { FieldValues } from './match.js'
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
  /** checked manifests by CID; without one every manifest block is fetched, re-hashed and decoded */
  manifestCache?: ManifestCache
  /** loaded and verified entries by their bytes' identity (see `EntryCache`) */
  entryCache?: EntryCache
}

/** A manifest block that re-hashed to its CID and decoded strictly, with what queries derive from it. */
export interface CheckedManifest {
  manifest: Manifest
  /** `nameToBytes(manifest.provider)`: the only providers-tree key the manifest may sit under */
  providerKey: Uint8Array
  /** the manifest's values per query field, as the `attrs` index holds them (`LoadedEntry` adds the entry's `uptime`) */
  fields: FieldValues
}

/** An entry whose manifest checked out (block hash, schema, provider) but whose record is not yet verified. */
export interface LoadedEntry extends CheckedManifest {
  /** the provider's canonical IPNS name (`k51…`): the entry's key, and the manifest's `provider` */
  provider: string
  entry: ProviderEntry
  /** the entry bytes it was loaded from, when known: they key the entry cache */
  bytes?: Uint8Array
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

const DEFAULT_VERIFIER: Pick<RecordVerifier, 'verifyRecord'> = { verifyRecord }

/**
 * First half of `verifyEntry`, everything but the signature: the entry decodes strictly, the
 * manifest block re-hashes to the entry's CID and decodes strictly to a schema-valid manifest
 * whose provider is the entry's key. Queries run it on every candidate and verify the record only
 * for those that match.
 */
export async function loadEntry (components: Pick<VerifyEntryComponents, 'blocks' | 'manifestCache' | 'entryCache'>, key: Uint8Array, value: Uint8Array, options: AbortOptions = {}): Promise<LoadedEntry> {
  const hit = components.entryCache?.get(value)
  if (hit !== undefined && equals(hit.loaded.providerKey, key)) {
    return hit.loaded
  }
  const loaded = await loadFresh(components, key, value, options)
  components.entryCache?.set(value, { loaded })
  return loaded
}

async function loadFresh (components: Pick<VerifyEntryComponents, 'blocks' | 'manifestCache'>, key: Uint8Array, value: Uint8Array, options: AbortOptions): Promise<LoadedEntry> {
  let entry: ProviderEntry
  try {
    entry = decodeEntry(value)
  } catch (err) {
    throw forged(key, 'invalid-entry', err)
  }
  const checked = await checkedManifest(components, key, entry.manifest, options)
  if (!equals(checked.providerKey, key)) {
    throw forged(key, 'provider-mismatch', `manifest names provider ${checked.manifest.provider}`)
  }
  // `uptime` comes from the entry's lease summary, not the (shared, cached) manifest
  const uptime = entryUptime(entry)
  const fields = uptime === undefined ? checked.fields : new Map(checked.fields).set('uptime', [uptime])
  return { ...checked, fields, provider: checked.manifest.provider, entry, bytes: value }
}

/**
 * Second half of `verifyEntry`: the record is signed by the key the name holds (expired records
 * pass; liveness is the caller's call) and points at the entry's manifest CID.
 */
export async function verifyLoadedEntry (components: VerifyEntryComponents, loaded: LoadedEntry, options: AbortOptions = {}): Promise<VerifiedEntry> {
  const { provider, entry } = loaded
  const cached = loaded.bytes === undefined ? undefined : components.entryCache?.get(loaded.bytes)
  if (cached?.loaded === loaded && cached.verified !== undefined) {
    return cached.verified
  }
  const record = await verifiedRecord(components, provider, entry.record, options)
  if (record.valueCid?.equals(entry.manifest) !== true) {
    throw forged(loaded.providerKey, 'manifest-cid-mismatch', `record value ${record.value} is not /ipfs/${entry.manifest.toString()}`)
  }
  const verified = { provider, providerKey: loaded.providerKey, manifest: loaded.manifest, manifestCid: entry.manifest, record, seen: entry.seen }
  if (cached?.loaded === loaded && loaded.bytes !== undefined) components.entryCache?.set(loaded.bytes, { loaded, verified })
  return verified
}

/**
 * Checks one entry of the `providers` tree end to end (`loadEntry`, then `verifyLoadedEntry`).
 * Throws `ForgedEntryError` naming the provider and the reason on the first failure.
 */
export async function verifyEntry (components: VerifyEntryComponents, key: Uint8Array, value: Uint8Array, options: AbortOptions = {}): Promise<VerifiedEntry> {
  return verifyLoadedEntry(components, await loadEntry(components, key, value, options), options)
}

async function checkedManifest (components: Pick<VerifyEntryComponents, 'blocks' | 'manifestCache'>, key: Uint8Array, cid: CID, options: AbortOptions): Promise<CheckedManifest> {
  const cacheKey = toString(cid.bytes, 'base64')
  const hit = components.manifestCache?.get(cacheKey)
  if (hit !== undefined) {
    return hit
  }
  let bytes: Uint8Array
  try {
    bytes = await components.blocks.get(cid, options)
  } catch (err) {
    options.signal?.throwIfAborted()
    throw forged(key, 'missing-manifest', err)
  }
  // A block store need not re-hash what it returns; the client does, to hold the indexer to the CID.
  const actual = manifestCid(bytes)
  if (!actual.equals(cid)) {
    throw forged(key, 'manifest-hash-mismatch', `block hashes to ${actual.toString()}, not ${String(cid)}`)
  }
  let checked: CheckedManifest
  try {
    const manifest = decodeManifest(bytes)
    const providerKey = nameToBytes(manifest.provider)
    if (nameFromBytes(providerKey) !== manifest.provider) {
      throw new Error(`provider ${manifest.provider} is not a canonical name`)
    }
    // the index's `expires` comes from the record, and no query field reads it
    checked = { manifest, providerKey, fields: fieldValues(manifest.provider, attrsForManifest(manifest, { validity: new Date(0) })) }
  } catch (err) {
    throw forged(key, 'invalid-manifest', err)
  }
  components.manifestCache?.set(cacheKey, checked)
  return checked
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
    throw forged(nameToBytes(provider), 'invalid-record', err)
  }
  if (cache !== undefined && cacheKey !== undefined) {
    cache.set(cacheKey, record)
  }
  return record
}

/** A `ForgedEntryError` naming the provider by its key: its name, or hex where the key is no name. */
function forged (key: Uint8Array, reason: RejectReason, detail: unknown): ForgedEntryError {
  let provider: string
  try {
    provider = nameFromBytes(key)
  } catch {
    provider = toString(key, 'base16')
    reason = 'invalid-key'
  }
  return new ForgedEntryError(provider, reason, detail instanceof Error ? `${detail.name}: ${detail.message}` : String(detail))
}
