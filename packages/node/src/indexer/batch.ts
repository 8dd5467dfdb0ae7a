import { BATCH_MAX_LIMIT, BATCH_SHARE, CATCH_UP_MAX_MS, DEFAULT_BATCH_MAX } from './constants.js'

/**
 * The indexer's default batch cap for an index of `providers` entries: `BATCH_SHARE` of them, at least
 * `DEFAULT_BATCH_MAX` and at most `BATCH_MAX_LIMIT`. Batches reach the cap only under load (otherwise the time window
 * closes them first), and there a larger index needs larger folds to keep up.
 */
export function batchMaxFor (providers: number): number {
  return Math.min(BATCH_MAX_LIMIT, Math.max(DEFAULT_BATCH_MAX, Math.ceil(providers * BATCH_SHARE)))
}

/** What decides when the pending updates fold. */
export interface BatchState {
  /** updates waiting to be folded */
  pending: number
  /** how long the oldest of them has waited, ms */
  oldestWaitedMs: number
  /** announcements still being verified or journaled: each may join the batch soon */
  verifying: number
  /** a batch of this many folds at once */
  batchMax: number
  /** the batch window, ms */
  batchMs: number
  /** how long the last fold took, ms (0 before the first) */
  lastFoldMs: number
}

/**
 * Milliseconds until the pending updates should fold: 0 folds now; undefined when nothing is pending.
 *
 * A batch folds when it is full, or when its window (`batchMs`, from the oldest update's arrival) has closed. Except
 * while catching up: when more announcements are still being verified than wait to be folded, a closed window waits
 * for them, until as many wait as are still verified, and for at most one more fold's time (the last fold's duration,
 * capped at `CATCH_UP_MAX_MS`). Every fold rewrites most level-1 branches of both trees whatever its size, so a
 * backlog folds faster in fewer, larger batches (1,000,000 providers: 233 µs an update in folds of 4,000, 166 µs in one
 * of 20,000), and the workers verify on both cores while the folding thread waits. In steady state few announcements
 * are in verification at once and the window alone decides; where folds are quick the wait is as short as they are.
 */
export function foldDelay (state: BatchState): number | undefined {
  const { pending, oldestWaitedMs, verifying, batchMax, batchMs, lastFoldMs } = state
  if (pending === 0) return undefined
  if (pending >= batchMax) return 0
  const windowLeft = batchMs - oldestWaitedMs
  if (windowLeft > 0) return windowLeft
  const catchUpLeft = Math.min(CATCH_UP_MAX_MS, lastFoldMs) + windowLeft
  return verifying > pending && catchUpLeft > 0 ? catchUpLeft : 0
}
