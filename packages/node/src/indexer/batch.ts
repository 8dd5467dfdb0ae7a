import { BATCH_MAX_LIMIT, BATCH_SHARE, DEFAULT_BATCH_MAX } from './constants.js'

/**
 * The indexer's default batch cap for an index of `providers` entries: `BATCH_SHARE` of them, at least
 * `DEFAULT_BATCH_MAX` and at most `BATCH_MAX_LIMIT`. Batches reach the cap only under load (otherwise the time window
 * closes them first), and there a larger index needs larger folds to keep up.
 */
export function batchMaxFor (providers: number): number {
  return Math.min(BATCH_MAX_LIMIT, Math.max(DEFAULT_BATCH_MAX, Math.ceil(providers * BATCH_SHARE)))
}
