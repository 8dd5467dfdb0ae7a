import { CustomProgressEvent } from 'progress-events'
import { SnapshotNotFoundError } from '../snapshot/errors.js'
import { openSnapshot } from '../snapshot/format.js'
import { findByHeight } from '../snapshot/history.js'
import { EquivocationEvidenceError, NotExtendingError } from './errors.js'
import type { AuditComponents } from './chain.js'
import type { EquivocatingSnapshot } from './errors.js'
import type { OpenedSnapshot } from '../snapshot/format.js'
import type { HistoryHit } from '../snapshot/history.js'
import type { AbortOptions } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

/** Proof that `new` extends `old`: `new`'s history holds `old` at `old.height`. */
export interface ConsistencyProof {
  indexer: string
  network: string
  old: HistoryHit
  new: HistoryHit
  /** `new.height - old.height` */
  distance: number
  /** blocks read: the two snapshot blocks and the history-tree nodes of the lookups */
  blocks: number
}

export type ConsistencyProgressEvents =
  | ProgressEvent<'registry:audit:consistency', { height: number }>

export interface ConsistencyOptions extends AbortOptions, ProgressOptions<ConsistencyProgressEvents> {}

function hit (opened: OpenedSnapshot): HistoryHit {
  return { cid: opened.cid, height: opened.snapshot.height, time: opened.snapshot.time }
}

/**
 * Proves that the head `newCid` extends `oldCid`, in the manner of a Certificate Transparency
 * consistency check, with two history lookups (O(log n) blocks, never walking `prev`): `new`'s
 * history must hold `old` at `old`'s height (with `old`'s time), and `new.prev` at `new.height - 1`.
 * Both snapshot blocks are hash-checked.
 *
 * Throws `EquivocationEvidenceError` when the indexer committed to two different snapshots at one
 * height (`old` itself and what `new`'s chain holds there, or two heads of equal height), with
 * both as evidence to keep; `NotExtendingError` when the heads belong to different chains, `old`
 * is the higher one, or `new`'s history contradicts its own `prev`.
 */
export async function checkConsistency (components: AuditComponents, oldCid: CID, newCid: CID, options: ConsistencyOptions = {}): Promise<ConsistencyProof> {
  const abort: AbortOptions = options.signal === undefined ? {} : { signal: options.signal }
  const { prolly } = components
  const startRead = prolly.stats.blocksRead
  const older = await openSnapshot(oldCid, components.blocks, abort)
  const newer = await openSnapshot(newCid, components.blocks, abort)
  const o = older.snapshot
  const n = newer.snapshot
  const ids = { old: oldCid, new: newCid }
  if (o.indexer !== n.indexer || o.network !== n.network) {
    throw new NotExtendingError(`${newCid.toString()} (${n.indexer} on ${n.network}) and ${oldCid.toString()} (${o.indexer} on ${o.network}) are snapshots of different chains`, { ...ids, reason: 'other-chain' })
  }
  if (o.height > n.height) {
    throw new NotExtendingError(`${oldCid.toString()} is at height ${o.height}, above ${newCid.toString()} at ${n.height}: swap them`, { ...ids, reason: 'older' })
  }
  const proof = (): ConsistencyProof => ({
    indexer: n.indexer,
    network: n.network,
    old: hit(older),
    new: hit(newer),
    distance: n.height - o.height,
    blocks: 2 + prolly.stats.blocksRead - startRead
  })
  const equivocation = (a: EquivocatingSnapshot, b: EquivocatingSnapshot): EquivocationEvidenceError =>
    new EquivocationEvidenceError({ indexer: n.indexer, network: n.network, height: o.height, a, b })
  const asEvidence = (opened: OpenedSnapshot): EquivocatingSnapshot => ({ cid: opened.cid, time: opened.snapshot.time, bytes: opened.bytes })

  if (o.height === n.height) {
    if (oldCid.equals(newCid)) return proof()
    throw equivocation(asEvidence(older), asEvidence(newer))
  }
  options.onProgress?.(new CustomProgressEvent('registry:audit:consistency', { height: o.height }))
  const previous = await lookup(components, newer, n.height - 1, abort)
  if (n.prev == null || !previous.cid.equals(n.prev)) {
    throw new NotExtendingError(`The history of ${newCid.toString()} names ${previous.cid.toString()} at height ${n.height - 1}, but its prev is ${String(n.prev)}`, { ...ids, reason: 'history-mismatch' })
  }
  const found = await lookup(components, newer, o.height, abort)
  if (!found.cid.equals(oldCid)) {
    let other: EquivocatingSnapshot = { cid: found.cid, time: found.time }
    try {
      const opened = await openSnapshot(found.cid, components.blocks, abort)
      if (opened.snapshot.height === o.height && opened.snapshot.indexer === o.indexer) other = asEvidence(opened)
    } catch {
      // the other snapshot's block is not to be had: its CID, as the newer history commits to it, is the evidence
      abort.signal?.throwIfAborted()
    }
    throw equivocation(asEvidence(older), other)
  }
  if (found.time !== o.time) {
    throw new NotExtendingError(`The history of ${newCid.toString()} holds ${oldCid.toString()} with time ${found.time}, not ${o.time}`, { ...ids, reason: 'history-mismatch' })
  }
  return proof()
}

async function lookup (components: AuditComponents, head: OpenedSnapshot, height: number, abort: AbortOptions): Promise<HistoryHit> {
  try {
    return await findByHeight(components, head, height, abort)
  } catch (err) {
    if (err instanceof Error && err.name === SnapshotNotFoundError.name) {
      throw new NotExtendingError(`The history of ${head.cid.toString()} has no snapshot at height ${height}`, { new: head.cid, reason: 'history-mismatch' })
    }
    throw err
  }
}
