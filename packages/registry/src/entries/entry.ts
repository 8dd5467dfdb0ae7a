import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { equals } from 'uint8arrays/equals'
import { MAX_ENTRY_BYTES } from './constants.js'
import { InvalidEntryError } from './errors.js'
import { leaseFromList, leaseToList, leaseUptime } from './lease.js'
import type { LeaseSummary } from './lease.js'
import type { Manifest } from '@capdex/manifest'

/**
 * The value of a `providers`-tree entry (DAG-CBOR). The key is `nameToBytes(name)`, the 38-byte
 * identity multihash of the provider's Ed25519 key.
 *
 * `seen` is NOT the time the indexer heard the record: arrival times differ between indexers and
 * would make roots depend on network timing. It is the manifest's signed `issuedAt` in ms since the
 * epoch, a pure function of the record (record → manifest CID → manifest), so two indexers holding
 * the same records hold byte-identical entries. Arrival time belongs in the indexer's journal.
 */
export interface ProviderEntry {
  /** the provider's IPNS record, as signed */
  record: Uint8Array
  /** the manifest the record points to (`/ipfs/<cid>`) */
  manifest: CID
  /** the manifest's `issuedAt`, ms since the epoch (an unsigned integer) */
  seen: number
  /**
   * The provider's lease history over the uptime window (see `LeaseSummary`), stored as
   * `[end, ...runs]`. Entries written before uptime existed have none and no `uptime` attribute.
   */
  lease?: LeaseSummary
}

const ENTRY_KEYS = ['manifest', 'record', 'seen']
const ENTRY_KEYS_WITH_LEASE = ['lease', 'manifest', 'record', 'seen']

export function encodeEntry (entry: ProviderEntry): Uint8Array {
  if (!(entry.record instanceof Uint8Array) || CID.asCID(entry.manifest) == null || !Number.isSafeInteger(entry.seen) || entry.seen < 0) {
    throw new InvalidEntryError('An entry needs record bytes, a manifest CID and a non-negative integer seen')
  }
  const fields = { record: entry.record, manifest: entry.manifest, seen: entry.seen }
  return dagCbor.encode(entry.lease === undefined ? fields : { ...fields, lease: leaseToList(entry.lease) })
}

/**
 * Strict decode: canonical DAG-CBOR, a map with exactly the keys `record`, `manifest`, `seen`
 * (and `lease`, when present a canonical lease list) with the right types, at most
 * `MAX_ENTRY_BYTES`. Anything else throws `InvalidEntryError`.
 */
export function decodeEntry (bytes: Uint8Array): ProviderEntry {
  if (bytes.length > MAX_ENTRY_BYTES) {
    throw new InvalidEntryError(`Entry of ${bytes.length} bytes exceeds ${MAX_ENTRY_BYTES}`)
  }
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new InvalidEntryError(`Entry is not canonical DAG-CBOR: ${(err as Error).message}`)
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array || CID.asCID(value) != null) {
    throw new InvalidEntryError('Entry is not a map')
  }
  const keys = Object.keys(value).sort()
  const expected = keys.length === ENTRY_KEYS_WITH_LEASE.length ? ENTRY_KEYS_WITH_LEASE : ENTRY_KEYS
  if (keys.length !== expected.length || keys.some((k, i) => k !== expected[i])) {
    throw new InvalidEntryError(`Entry keys must be exactly ${ENTRY_KEYS.join(', ')} (and optionally lease); got ${keys.join(', ')}`)
  }
  const { record, manifest, seen, lease } = value as Record<string, unknown>
  if (!(record instanceof Uint8Array)) {
    throw new InvalidEntryError('Entry "record" must be bytes')
  }
  const cid = CID.asCID(manifest)
  if (cid == null) {
    throw new InvalidEntryError('Entry "manifest" must be a CID')
  }
  if (typeof seen !== 'number' || !Number.isSafeInteger(seen) || seen < 0) {
    throw new InvalidEntryError('Entry "seen" must be a non-negative integer')
  }
  const entry: ProviderEntry = lease === undefined ? { record, manifest: cid, seen } : { record, manifest: cid, seen, lease: leaseFromList(lease) }
  if (!equals(encodeEntry(entry), bytes)) {
    throw new InvalidEntryError('Entry is not in canonical form')
  }
  return entry
}

/** The `uptime` attribute an entry implies, or undefined for an entry without a lease summary. */
export function entryUptime (entry: Pick<ProviderEntry, 'lease'>): number | undefined {
  return entry.lease === undefined ? undefined : leaseUptime(entry.lease)
}

/** The `seen` an entry holds for a manifest: its `issuedAt` in ms since the epoch (0 if unparsable). */
export function entrySeen (manifest: Pick<Manifest, 'issuedAt'>): number {
  const ms = Date.parse(manifest.issuedAt)
  return Number.isSafeInteger(ms) && ms >= 0 ? ms : 0
}
