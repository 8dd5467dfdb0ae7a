import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { equals } from 'uint8arrays/equals'
import { MAX_SNAPSHOT_BYTES, SNAPSHOT_VERSION } from './constants.js'
import { NotASnapshotError } from './errors.js'
import { fromHeliaBlockstore } from '@capdex/prolly'
import type { AbortOptions, BlockStore, HeliaBlockstore } from '@capdex/prolly'

/**
 * One index snapshot (DAG-CBOR, sha2-256, CIDv1). The indexer's IPNS record points at the head;
 * every earlier snapshot of the chain is reachable through `prev` and, in O(log n), through `history`.
 */
export interface Snapshot {
  v: 1
  /** the network this index covers, e.g. "mainnet" */
  network: string
  /** 0 for genesis, previous height + 1 after */
  height: number
  /** the fold's `now`, ms since the epoch; never decreases along a chain */
  time: number
  /** the previous head; null exactly at genesis */
  prev: CID | null
  /** root of the providers prolly tree */
  providers: CID
  /** root of the attrs prolly tree */
  attrs: CID
  /** number of entries in `providers` (live and expired-but-not-pruned) */
  count: number
  /** the indexer's IPNS name */
  indexer: string
  /** root of the history prolly tree over every earlier snapshot (empty at genesis) */
  history: CID
}

/**
 * A store snapshots are read from: the prolly `BlockStore` contract, or a helia / interface-blockstore
 * store (whose v7 `get` yields the block in chunks).
 */
export type SnapshotBlocks = Pick<BlockStore, 'get'> | Pick<HeliaBlockstore, 'get'>

export interface OpenedSnapshot {
  cid: CID
  snapshot: Snapshot
  /** the block as fetched, already checked against `cid` */
  bytes: Uint8Array
  providers: CID
  attrs: CID
  history: CID
  /** the store it was opened from, as given: `query(snapshot, expr)` reads the trees and manifests through it */
  blocks: SnapshotBlocks
}

const SNAPSHOT_KEYS = ['attrs', 'count', 'height', 'history', 'indexer', 'network', 'prev', 'providers', 'time', 'v']

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

function snapshotFields (snapshot: Snapshot): Snapshot {
  return {
    v: snapshot.v,
    network: snapshot.network,
    height: snapshot.height,
    time: snapshot.time,
    prev: snapshot.prev,
    providers: snapshot.providers,
    attrs: snapshot.attrs,
    count: snapshot.count,
    indexer: snapshot.indexer,
    history: snapshot.history
  }
}

/** Checks the shape of a decoded value; throws `NotASnapshotError` naming the first problem. */
function checkSnapshot (value: unknown): Snapshot {
  if (value == null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array || CID.asCID(value) != null) {
    throw new NotASnapshotError('Snapshot is not a map')
  }
  const keys = Object.keys(value).sort()
  if (keys.length !== SNAPSHOT_KEYS.length || keys.some((k, i) => k !== SNAPSHOT_KEYS[i])) {
    throw new NotASnapshotError(`Snapshot keys must be exactly ${SNAPSHOT_KEYS.join(', ')}; got ${keys.join(', ')}`)
  }
  const s = value as Record<string, unknown>
  if (s.v !== SNAPSHOT_VERSION) throw new NotASnapshotError(`Unsupported snapshot version ${String(s.v)}`)
  if (typeof s.network !== 'string' || s.network.length === 0) throw new NotASnapshotError('Snapshot "network" must be a non-empty string')
  if (typeof s.indexer !== 'string' || s.indexer.length === 0) throw new NotASnapshotError('Snapshot "indexer" must be a non-empty string')
  if (!isCount(s.height)) throw new NotASnapshotError('Snapshot "height" must be a non-negative integer')
  if (!isCount(s.time)) throw new NotASnapshotError('Snapshot "time" must be a non-negative integer')
  if (!isCount(s.count)) throw new NotASnapshotError('Snapshot "count" must be a non-negative integer')
  const providers = CID.asCID(s.providers)
  const attrs = CID.asCID(s.attrs)
  const history = CID.asCID(s.history)
  if (providers == null || attrs == null || history == null) throw new NotASnapshotError('Snapshot "providers", "attrs" and "history" must be CIDs')
  const prev = s.prev === null ? null : CID.asCID(s.prev)
  if (prev === undefined || (s.prev !== null && prev == null)) throw new NotASnapshotError('Snapshot "prev" must be a CID or null')
  if ((prev === null) !== (s.height === 0)) throw new NotASnapshotError('Snapshot "prev" must be null exactly at height 0')
  return { v: SNAPSHOT_VERSION, network: s.network, height: s.height, time: s.time, prev, providers, attrs, count: s.count, indexer: s.indexer, history }
}

export function encodeSnapshot (snapshot: Snapshot): Uint8Array {
  return dagCbor.encode(checkSnapshot(snapshotFields(snapshot)))
}

/**
 * Strict decode: canonical DAG-CBOR of exactly the version-1 snapshot map, at most
 * `MAX_SNAPSHOT_BYTES`; anything else throws `NotASnapshotError`.
 */
export function decodeSnapshot (bytes: Uint8Array): Snapshot {
  if (bytes.length > MAX_SNAPSHOT_BYTES) {
    throw new NotASnapshotError(`Snapshot block of ${bytes.length} bytes exceeds ${MAX_SNAPSHOT_BYTES}`)
  }
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new NotASnapshotError(`Snapshot is not canonical DAG-CBOR: ${(err as Error).message}`)
  }
  const snapshot = checkSnapshot(value)
  if (!equals(dagCbor.encode(snapshot), bytes)) {
    throw new NotASnapshotError('Snapshot is not in canonical form')
  }
  return snapshot
}

/** The CID of a snapshot block: CIDv1, DAG-CBOR, sha2-256. */
export async function snapshotCid (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(dagCbor.code, await sha256.digest(bytes))
}

/** `blocks` read through the prolly contract: `get` resolves to the whole block, whichever kind of store it is. */
export function blockReader (blocks: SnapshotBlocks): Pick<BlockStore, 'get'> {
  const adapted = fromHeliaBlockstore({ get: (cid, options) => blocks.get(cid, options), put: () => undefined })
  return { get: async (cid, options) => adapted.get(cid, options) }
}

/**
 * Fetches a snapshot block, checks that its bytes hash to `cid` (DAG-CBOR, sha2-256 only) and
 * decodes it strictly. Throws `NotASnapshotError` on any mismatch. `blocks` may be a prolly
 * `BlockStore` or a helia blockstore; the result carries it, so `query(snapshot, expr)` needs nothing else.
 */
export async function openSnapshot (cid: CID, blocks: SnapshotBlocks, options: AbortOptions = {}): Promise<OpenedSnapshot> {
  if (cid.code !== dagCbor.code || cid.multihash.code !== sha256.code) {
    throw new NotASnapshotError(`Snapshot CID ${cid.toString()} is not DAG-CBOR with sha2-256`)
  }
  const bytes = await blockReader(blocks).get(cid, options)
  const digest = await sha256.digest(bytes)
  if (!equals(digest.bytes, cid.multihash.bytes)) {
    throw new NotASnapshotError(`Snapshot block does not hash to ${cid.toString()}`)
  }
  const snapshot = decodeSnapshot(bytes)
  return { cid, snapshot, bytes, providers: snapshot.providers, attrs: snapshot.attrs, history: snapshot.history, blocks }
}

/** Encodes `snapshot`, stores the block and returns its CID. */
export async function writeSnapshot (snapshot: Snapshot, blocks: Pick<BlockStore, 'put'>, options: AbortOptions = {}): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = encodeSnapshot(snapshot)
  const cid = await snapshotCid(bytes)
  await blocks.put(cid, bytes, options)
  return { cid, bytes }
}
