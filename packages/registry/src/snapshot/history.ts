import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { HISTORY_HEIGHT_PREFIX, HISTORY_TIME_PREFIX, MAX_HISTORY_VALUE_BYTES } from './constants.js'
import { BeforeFirstSnapshotError, InvalidHistoryError, SnapshotNotFoundError } from './errors.js'
import { openSnapshot } from './format.js'
import type { OpenedSnapshot, Snapshot } from './format.js'
import type { AbortOptions, BlockStore, Operation, Prolly } from '@capdex/prolly'

/**
 * The history tree: a prolly tree in each snapshot holding every EARLIER snapshot of the chain,
 * under two key families:
 * - `h ‖ height (u64 BE)` → DAG-CBOR `{ cid, time }`
 * - `t ‖ time ms (u64 BE) ‖ height (u64 BE)` → DAG-CBOR `{ cid, height }`
 *
 * A fold adds the previous head with one mutate, so lookups by height or time cost O(log n) blocks.
 */

export interface HistoryComponents {
  prolly: Prolly
  blocks: Pick<BlockStore, 'get'>
}

/** A snapshot of the chain found by a history lookup. */
export interface HistoryHit {
  cid: CID
  height: number
  time: number
}

function u64 (n: number, out: Uint8Array, offset: number): void {
  new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(offset, BigInt(n), false)
}

/** `h ‖ height`. */
export function historyHeightKey (height: number): Uint8Array {
  const key = new Uint8Array(9)
  key[0] = HISTORY_HEIGHT_PREFIX
  u64(height, key, 1)
  return key
}

/** `t ‖ time ‖ height`. */
export function historyTimeKey (time: number, height: number): Uint8Array {
  const key = new Uint8Array(17)
  key[0] = HISTORY_TIME_PREFIX
  u64(time, key, 1)
  u64(height, key, 9)
  return key
}

/** The two history-tree puts that record `snapshot` (stored at `cid`) in its successor's history. */
export function historyOperations (cid: CID, snapshot: Pick<Snapshot, 'height' | 'time'>): Operation[] {
  return [
    { op: 'put', key: historyHeightKey(snapshot.height), value: dagCbor.encode({ cid, time: snapshot.time }) },
    { op: 'put', key: historyTimeKey(snapshot.time, snapshot.height), value: dagCbor.encode({ cid, height: snapshot.height }) }
  ]
}

function decodeHistoryValue (bytes: Uint8Array, field: 'time' | 'height'): { cid: CID, n: number } {
  if (bytes.length > MAX_HISTORY_VALUE_BYTES) throw new InvalidHistoryError('History value too large')
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch {
    throw new InvalidHistoryError('History value is not DAG-CBOR')
  }
  if (value == null || typeof value !== 'object' || Object.keys(value).length !== 2) {
    throw new InvalidHistoryError(`History value must be { cid, ${field} }`)
  }
  const record = value as Record<string, unknown>
  const cid = CID.asCID(record.cid)
  const n = record[field]
  if (cid == null || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidHistoryError(`History value must be { cid, ${field} }`)
  }
  return { cid, n }
}

/** One history-tree entry, decoded: either family, with the height, time and CID it records. */
export interface HistoryEntry {
  family: 'height' | 'time'
  height: number
  time: number
  cid: CID
}

/**
 * Decodes one history-tree entry of either key family, checking the key's shape and the value's;
 * throws `InvalidHistoryError`.
 */
export function decodeHistoryEntry (key: Uint8Array, value: Uint8Array): HistoryEntry {
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength)
  if (key.length === 9 && key[0] === HISTORY_HEIGHT_PREFIX) {
    const { cid, n: time } = decodeHistoryValue(value, 'time')
    return { family: 'height', height: Number(view.getBigUint64(1, false)), time, cid }
  }
  if (key.length === 17 && key[0] === HISTORY_TIME_PREFIX) {
    const { cid, n: height } = decodeHistoryValue(value, 'height')
    const keyHeight = Number(view.getBigUint64(9, false))
    if (keyHeight !== height) throw new InvalidHistoryError(`History time key names height ${keyHeight} but its value ${height}`)
    return { family: 'time', height, time: Number(view.getBigUint64(1, false)), cid }
  }
  throw new InvalidHistoryError('History key is neither h ‖ height nor t ‖ time ‖ height')
}

type Head = CID | OpenedSnapshot

async function open (head: Head, blocks: Pick<BlockStore, 'get'>, options: AbortOptions): Promise<OpenedSnapshot> {
  const cid = CID.asCID(head)
  return cid == null ? head as OpenedSnapshot : openSnapshot(cid, blocks, options)
}

/** The snapshot at `height` in the chain ending at `head` (the head itself included), in O(log n) blocks. */
export async function findByHeight (components: HistoryComponents, head: Head, height: number, options: AbortOptions = {}): Promise<HistoryHit> {
  const { cid, snapshot } = await open(head, components.blocks, options)
  if (!Number.isSafeInteger(height) || height < 0 || height > snapshot.height) {
    throw new SnapshotNotFoundError(`No snapshot at height ${height}; the head is at ${snapshot.height}`)
  }
  if (height === snapshot.height) {
    return { cid, height, time: snapshot.time }
  }
  const bytes = await components.prolly.get(snapshot.history, historyHeightKey(height), options)
  if (bytes == null) {
    throw new SnapshotNotFoundError(`History of ${cid.toString()} has no height ${height}`)
  }
  const { cid: found, n: time } = decodeHistoryValue(bytes, 'time')
  return { cid: found, height, time }
}

/**
 * The latest snapshot whose time is at most `timeMs` in the chain ending at `head` (the head
 * included), in O(log n) blocks. Throws `BeforeFirstSnapshotError` when `timeMs` precedes genesis.
 */
export async function findAtTime (components: HistoryComponents, head: Head, timeMs: number, options: AbortOptions = {}): Promise<HistoryHit> {
  const { cid, snapshot } = await open(head, components.blocks, options)
  if (Number.isNaN(timeMs)) {
    throw new BeforeFirstSnapshotError('The requested time is not a number')
  }
  if (timeMs >= snapshot.time) {
    return { cid, height: snapshot.height, time: snapshot.time }
  }
  if (timeMs < 0) {
    throw new BeforeFirstSnapshotError()
  }
  const upper = historyTimeKey(Math.floor(timeMs) + 1, 0)
  const lower = Uint8Array.of(HISTORY_TIME_PREFIX)
  for await (const entry of components.prolly.range(snapshot.history, { gte: lower, lt: upper, reverse: true, limit: 1, ...options })) {
    const { cid: found, n: height } = decodeHistoryValue(entry.value, 'height')
    const time = Number(new DataView(entry.key.buffer, entry.key.byteOffset, entry.key.byteLength).getBigUint64(1, false))
    return { cid: found, height, time }
  }
  throw new BeforeFirstSnapshotError(`No snapshot at or before ${new Date(timeMs).toISOString()}`)
}

/**
 * Whether the chain ending at `newHead` extends the snapshot `oldCid`: true when they are the same,
 * or when `newHead`'s history holds `oldCid` at the old snapshot's height. O(log n) blocks.
 *
 * This checks the history tree the new head commits to; an auditor that does not trust the
 * indexer's history construction walks `prev` links instead (or spot-checks `history[h = height - 1]`
 * against `prev`, which this function also does).
 */
export async function provesExtension (components: HistoryComponents, newHead: CID, oldCid: CID, options: AbortOptions = {}): Promise<boolean> {
  if (newHead.equals(oldCid)) return true
  const next = await openSnapshot(newHead, components.blocks, options)
  const old = await openSnapshot(oldCid, components.blocks, options)
  if (old.snapshot.height >= next.snapshot.height ||
      old.snapshot.network !== next.snapshot.network ||
      old.snapshot.indexer !== next.snapshot.indexer ||
      old.snapshot.time > next.snapshot.time) {
    return false
  }
  try {
    const previous = await findByHeight(components, next, next.snapshot.height - 1, options)
    if (next.snapshot.prev == null || !previous.cid.equals(next.snapshot.prev)) return false
    const found = await findByHeight(components, next, old.snapshot.height, options)
    return found.cid.equals(oldCid)
  } catch (err) {
    if ((err as Error).name === SnapshotNotFoundError.name) return false
    throw err
  }
}
