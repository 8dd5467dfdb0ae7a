import { CustomProgressEvent } from 'progress-events'
import { decodeEntry } from '../entries/entry.js'
import { expiredBetween, liveCount } from '../snapshot/expiry.js'
import { DEFAULT_LOG_LIMIT } from './constants.js'
import { walkChain } from './chain.js'
import type { AuditComponents } from './chain.js'
import type { OpenedSnapshot } from '../snapshot/format.js'
import type { AbortOptions } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

/** One snapshot of the chain, with what changed since the one before it. */
export interface LogEntry {
  cid: CID
  height: number
  /** ms since the epoch */
  time: number
  prev: CID | null
  /** entries in `providers`, live or expired */
  count: number
  /** entries whose lease runs past the snapshot's time */
  live: number
  /** providers new since the previous snapshot (all of them at genesis) */
  added: number
  /** providers gone (pruned) */
  removed: number
  /** providers with a new manifest */
  changed: number
  /** providers with the same manifest under a new record or lease summary (heartbeats) */
  renewed: number
  /** providers whose lease ended since the previous snapshot */
  expired: number
}

export type LogProgressEvents =
  | ProgressEvent<'registry:audit:log', { height: number }>

export interface AuditLogOptions extends AbortOptions, ProgressOptions<LogProgressEvents> {
  /**
   * Most snapshots listed.
   *
   * @default DEFAULT_LOG_LIMIT (20)
   */
  limit?: number
}

/**
 * The head chain, newest first, from `head` back along `prev` (each link checked, see
 * `walkChain`). Per snapshot: its live count (O(log n)), the providers added, removed, changed
 * and renewed (one prolly diff with the previous snapshot: cost in the changes) and those that
 * expired in between (one `expires` range scan).
 */
export async function * auditLog (components: AuditComponents, head: CID, options: AuditLogOptions = {}): AsyncGenerator<LogEntry> {
  const limit = options.limit ?? DEFAULT_LOG_LIMIT
  const abort: AbortOptions = options.signal === undefined ? {} : { signal: options.signal }
  if (!(limit > 0)) return
  let pending: OpenedSnapshot | undefined
  let listed = 0
  // one more than listed: the last listed snapshot is diffed against its predecessor
  for await (const opened of walkChain(components, head, { ...abort, limit: limit + 1 })) {
    if (pending !== undefined) {
      yield await entryFor(components, pending, opened, abort)
      listed++
    }
    pending = opened
    options.onProgress?.(new CustomProgressEvent('registry:audit:log', { height: opened.snapshot.height }))
  }
  if (pending !== undefined && listed < limit) yield await entryFor(components, pending, undefined, abort)
}

async function entryFor (components: AuditComponents, current: OpenedSnapshot, previous: OpenedSnapshot | undefined, abort: AbortOptions): Promise<LogEntry> {
  const { snapshot } = current
  const entry: LogEntry = {
    cid: current.cid,
    height: snapshot.height,
    time: snapshot.time,
    prev: snapshot.prev,
    count: snapshot.count,
    live: await liveCount(components, snapshot, snapshot.time, abort),
    added: 0,
    removed: 0,
    changed: 0,
    renewed: 0,
    expired: 0
  }
  if (previous === undefined) {
    entry.added = await components.prolly.count(snapshot.providers, abort)
    return entry
  }
  for await (const { before, after } of components.prolly.diff(previous.providers, current.providers, abort)) {
    if (before === undefined) entry.added++
    else if (after === undefined) entry.removed++
    else if (decodeEntry(before).manifest.equals(decodeEntry(after).manifest)) entry.renewed++
    else entry.changed++
  }
  for await (const _name of expiredBetween(components, previous.snapshot, snapshot, abort)) entry.expired++
  return entry
}
