import { CID } from 'multiformats/cid'
import { BeforeFirstSnapshotError, SnapshotNotFoundError } from '../snapshot/errors.js'
import { openSnapshot } from '../snapshot/format.js'
import { findAtTime, findByHeight } from '../snapshot/history.js'
import { InvalidAtError } from './errors.js'
import type { AuditComponents } from './chain.js'
import type { HistoryHit } from '../snapshot/history.js'
import type { AbortOptions } from '@capdex/prolly'

/** A parsed `--at`: a snapshot CID, a height, or a time (ms since the epoch). */
export type AtTarget =
  | { kind: 'cid', cid: CID }
  | { kind: 'height', height: number }
  | { kind: 'time', time: number }

// an RFC 3339 / ISO 8601 date or date-time: 2024-06-01, 2024-06-01T12:00Z, 2024-06-01T12:00:00.5+02:00
const ISO_TIME = /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/

/** Parses `--at`: digits are a height, an ISO 8601 date or time is a time, anything else must be a CID. */
export function parseAt (at: string): AtTarget {
  const text = at.trim()
  if (/^\d+$/.test(text)) {
    const height = Number(text)
    if (!Number.isSafeInteger(height)) throw new InvalidAtError(`Height ${text} is too large`)
    return { kind: 'height', height }
  }
  if (ISO_TIME.test(text)) {
    const time = Date.parse(text)
    if (Number.isNaN(time)) throw new InvalidAtError(`"${text}" is not a valid time`)
    return { kind: 'time', time }
  }
  try {
    return { kind: 'cid', cid: CID.parse(text) }
  } catch {
    throw new InvalidAtError(`"${at}" is neither an ISO 8601 time (2024-06-01T12:00:00Z), a height nor a snapshot CID`)
  }
}

/**
 * The snapshot of `head`'s chain that was current at `at` (see `parseAt`), in O(log n) blocks
 * through the history tree, never walking `prev`:
 * - a time: the latest snapshot whose time is at or before it (`BeforeFirstSnapshotError`, naming
 *   the genesis time, when it precedes the chain);
 * - a height: the snapshot at that height (`SnapshotNotFoundError` above the head);
 * - a CID: that snapshot, once the history shows it belongs to the chain (`SnapshotNotFoundError` if not).
 */
export async function locateAt (components: AuditComponents, head: CID, at: string, options: AbortOptions = {}): Promise<HistoryHit> {
  const target = parseAt(at)
  const opened = await openSnapshot(head, components.blocks, options)
  if (target.kind === 'height') return findByHeight(components, opened, target.height, options)
  if (target.kind === 'time') {
    try {
      return await findAtTime(components, opened, target.time, options)
    } catch (err) {
      if (!(err instanceof Error) || err.name !== BeforeFirstSnapshotError.name) throw err
      const genesis = await findByHeight(components, opened, 0, options)
      throw new BeforeFirstSnapshotError(`${new Date(target.time).toISOString()} is before the first snapshot of this chain (height 0 at ${new Date(genesis.time).toISOString()})`)
    }
  }
  const candidate = await openSnapshot(target.cid, components.blocks, options)
  const { height } = candidate.snapshot
  if (height <= opened.snapshot.height) {
    const found = await findByHeight(components, opened, height, options)
    if (found.cid.equals(target.cid)) return found
  }
  throw new SnapshotNotFoundError(`Snapshot ${target.cid.toString()} (height ${height}) is not in the chain of ${head.toString()}`)
}

/** `locateAt`'s snapshot CID: what `capdex query --at` answers from. */
export async function resolveAt (components: AuditComponents, head: CID, at: string, options: AbortOptions = {}): Promise<CID> {
  return (await locateAt(components, head, at, options)).cid
}
