import { decodeManifest, manifestCid } from '@capdex/manifest'
import { decodeEntry, entryUptime } from '../entries/entry.js'
import { ManifestMismatchError } from '../records/errors.js'
import { nameFromBytes } from '../records/index.js'
import { loadEntry, verifyLoadedEntry } from '../query/verify-entry.js'
import type { AuditComponents } from './chain.js'
import type { ProviderEntry } from '../entries/entry.js'
import type { Manifest } from '@capdex/manifest'
import type { AbortOptions } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'

/** What an audit shows of one providers-tree entry. */
export interface EntryState {
  manifest: CID
  /** the manifest's `issuedAt`, ms */
  seen: number
  /** the record's sequence, when records were verified */
  sequence?: bigint
  /** the record's EOL (the lease end), when records were verified */
  validity?: Date
  /** the indexed uptime, for entries with a lease summary */
  uptime?: number
}

export interface ReadEntryOptions extends AbortOptions {
  /** fetch, hash-check and decode the manifest */
  manifests: boolean
  /** verify the record's signature (expired records pass) for its sequence and EOL */
  records: boolean
}

export interface ReadEntry {
  provider: string
  entry: ProviderEntry
  state: EntryState
  manifest?: Manifest
}

/**
 * Decodes one providers-tree entry for an audit. With `manifests`, the manifest block is checked
 * against its CID, decoded and must name the provider; with `records`, the record must verify and
 * point at that manifest. A failure throws `ForgedEntryError` naming the provider and the reason.
 */
export async function readEntry (components: Pick<AuditComponents, 'blocks'>, key: Uint8Array, value: Uint8Array, options: ReadEntryOptions): Promise<ReadEntry> {
  const { manifests, records, ...abort } = options
  if (!manifests) {
    const entry = decodeEntry(value)
    return { provider: nameFromBytes(key), entry, state: stateOf(entry) }
  }
  const loaded = await loadEntry(components, key, value, abort)
  const state = stateOf(loaded.entry)
  if (records) {
    const verified = await verifyLoadedEntry(components, loaded, abort)
    state.sequence = verified.record.sequence
    state.validity = verified.record.validity
  }
  return { provider: loaded.provider, entry: loaded.entry, state, manifest: loaded.manifest }
}

function stateOf (entry: ProviderEntry): EntryState {
  const state: EntryState = { manifest: entry.manifest, seen: entry.seen }
  const uptime = entryUptime(entry)
  if (uptime !== undefined) state.uptime = uptime
  return state
}

/**
 * A manifest block fetched by CID (over the network when the block store does), checked against
 * the CID and decoded strictly. Throws `ManifestMismatchError` when the bytes hash elsewhere.
 */
export async function fetchManifest (components: Pick<AuditComponents, 'blocks'>, cid: CID, options: AbortOptions = {}): Promise<Manifest> {
  const bytes = await components.blocks.get(cid, options)
  const actual = manifestCid(bytes).toString()
  if (actual !== cid.toString()) {
    throw new ManifestMismatchError(`Manifest block ${cid.toString()} hashes to ${actual}`)
  }
  return decodeManifest(bytes)
}
