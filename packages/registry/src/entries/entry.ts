import { cbor } from '@capdex/prolly'
import { CID } from 'multiformats/cid'
import { Digest } from 'multiformats/hashes/digest'
import { equals } from 'uint8arrays/equals'
import { DAG_JSON_CODEC, SHA2_256_HASH_CODE } from '../records/constants.js'
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

const utf8 = new TextEncoder()
// DAG-CBOR map keys in canonical order: shorter first, then bytewise
const SEEN = utf8.encode('seen')
const LEASE = utf8.encode('lease')
const RECORD = utf8.encode('record')
const MANIFEST = utf8.encode('manifest')

const SHA2_256_BYTES = 32
/** How every manifest CID starts: CIDv1, dag-json (varint 0x0129), sha2-256, 32-byte digest. */
const MANIFEST_CID_PREFIX = Uint8Array.of(0x01, 0xa9, 0x02, SHA2_256_HASH_CODE, SHA2_256_BYTES)

/**
 * The CID in a tag-42 payload (0x00, then the CID's bytes). The usual shape is built over the payload's own bytes;
 * another goes through CID.decode, whose CID spells its prefix in shortest form: a payload that spells it otherwise
 * is not canonical.
 */
function manifestCidOf (payload: Uint8Array): CID {
  if (payload[0] !== 0) throw new Error('no 0x00 prefix')
  const bytes = payload.subarray(1)
  let usual = bytes.length === MANIFEST_CID_PREFIX.length + SHA2_256_BYTES
  for (let i = 0; usual && i < MANIFEST_CID_PREFIX.length; i++) usual = bytes[i] === MANIFEST_CID_PREFIX[i]
  if (usual) {
    return new CID(1, DAG_JSON_CODEC, new Digest(SHA2_256_HASH_CODE, SHA2_256_BYTES, bytes.subarray(MANIFEST_CID_PREFIX.length), bytes.subarray(3)), bytes)
  }
  const cid = CID.decode(bytes)
  if (!equals(cid.bytes, bytes)) throw new Error('not in its shortest form')
  return cid
}

function textKeyBytes (key: Uint8Array): number {
  return cbor.headBytes(key.length) + key.length
}

function writeTextKey (out: Uint8Array, at: number, key: Uint8Array): number {
  const start = cbor.writeHead(out, at, cbor.MAJOR_TEXT, key.length)
  out.set(key, start)
  return start + key.length
}

/**
 * Encodes an entry as the canonical DAG-CBOR map @ipld/dag-cbor would write (the tests check byte
 * equality), specialised to this one shape: the indexer encodes one entry per folded update.
 */
export function encodeEntry (entry: ProviderEntry): Uint8Array {
  if (!(entry.record instanceof Uint8Array) || CID.asCID(entry.manifest) == null || !Number.isSafeInteger(entry.seen) || entry.seen < 0) {
    throw new InvalidEntryError('An entry needs record bytes, a manifest CID and a non-negative integer seen')
  }
  const lease = entry.lease === undefined ? undefined : leaseToList(entry.lease)
  const cid = entry.manifest.bytes
  let size = 1 + textKeyBytes(SEEN) + cbor.headBytes(entry.seen) +
    textKeyBytes(RECORD) + cbor.headBytes(entry.record.length) + entry.record.length +
    textKeyBytes(MANIFEST) + cbor.headBytes(cbor.CID_TAG) + cbor.headBytes(cid.length + 1) + cid.length + 1
  if (lease !== undefined) {
    size += textKeyBytes(LEASE) + cbor.headBytes(lease.length)
    for (const n of lease) size += cbor.headBytes(n)
  }
  const out = new Uint8Array(size)
  let at = cbor.writeHead(out, 0, cbor.MAJOR_MAP, lease === undefined ? 3 : 4)
  at = writeTextKey(out, at, SEEN)
  at = cbor.writeHead(out, at, cbor.MAJOR_UINT, entry.seen)
  if (lease !== undefined) {
    at = writeTextKey(out, at, LEASE)
    at = cbor.writeHead(out, at, cbor.MAJOR_ARRAY, lease.length)
    for (const n of lease) at = cbor.writeHead(out, at, cbor.MAJOR_UINT, n)
  }
  at = writeTextKey(out, at, RECORD)
  at = cbor.writeBytes(out, at, entry.record)
  at = writeTextKey(out, at, MANIFEST)
  at = cbor.writeHead(out, at, cbor.MAJOR_TAG, cbor.CID_TAG)
  at = cbor.writeHead(out, at, cbor.MAJOR_BYTES, cid.length + 1)
  out[at] = 0
  out.set(cid, at + 1)
  return out
}

function readKey (reader: cbor.CborReader, expected: Uint8Array): boolean {
  const start = reader.position
  const length = reader.head(cbor.MAJOR_TEXT)
  const at = reader.position
  if (length === expected.length && at + length <= reader.bytes.length && equals(reader.bytes.subarray(at, at + length), expected)) {
    reader.position = at + length
    return true
  }
  reader.position = start
  return false
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
  const reader = new cbor.CborReader(bytes, (detail) => { throw new InvalidEntryError(`Entry is not canonical DAG-CBOR: ${detail}`) })
  const keysError = (): never => { throw new InvalidEntryError(`Entry must be a map with exactly the keys ${ENTRY_KEYS.join(', ')} (and optionally lease), in canonical order`) }
  const fields = reader.head(cbor.MAJOR_MAP)
  if (fields !== 3 && fields !== 4) keysError()
  if (!readKey(reader, SEEN)) keysError()
  const seen = reader.head(cbor.MAJOR_UINT)
  let lease: LeaseSummary | undefined
  if (fields === 4) {
    if (!readKey(reader, LEASE)) keysError()
    const list = new Array<number>(reader.list())
    for (let i = 0; i < list.length; i++) list[i] = reader.head(cbor.MAJOR_UINT)
    lease = leaseFromList(list)
  }
  if (!readKey(reader, RECORD)) keysError()
  const record = reader.byteString()
  if (!readKey(reader, MANIFEST)) keysError()
  if (reader.head(cbor.MAJOR_TAG) !== cbor.CID_TAG) {
    throw new InvalidEntryError('Entry "manifest" must be a CID')
  }
  const link = reader.byteString()
  reader.end()
  let manifest: CID
  try {
    manifest = manifestCidOf(link)
  } catch (err) {
    throw new InvalidEntryError(`Entry "manifest" is not a CID: ${(err as Error).message}`)
  }
  // canonical without re-encoding: the reader takes only shortest-form heads and the canonical key order, the lease
  // list is stored as read, and the CID's bytes are its shortest spelling
  return lease === undefined ? { record, manifest, seen } : { record, manifest, seen, lease }
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
