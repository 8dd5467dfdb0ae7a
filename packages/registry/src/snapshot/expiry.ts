import { attrRange, decodeAttrKey } from '../entries/attrs.js'
import { nameFromBytes } from '../records/index.js'
import type { Snapshot } from './format.js'
import type { AbortOptions, Prolly } from '@capdex/prolly'

/**
 * Expiry is a flag: an entry stays in `providers` until superseded or pruned, and its record
 * validity is the `expires` attribute. These helpers turn that flag into answers.
 */

export interface ExpiryComponents {
  prolly: Pick<Prolly, 'count' | 'range'>
}

/**
 * Names of the providers present in `b` whose lease ended in `[a.time, b.time)`: live at `a`'s
 * time (if present then) and expired by `b`'s. One range scan of `b`'s attrs tree, sorted by expiry.
 */
export async function * expiredBetween (components: ExpiryComponents, a: Pick<Snapshot, 'time'>, b: Pick<Snapshot, 'time' | 'attrs'>, options: AbortOptions = {}): AsyncGenerator<string, void, undefined> {
  if (b.time <= a.time) return
  const range = attrRange('expires', { gte: a.time, lt: b.time })
  for await (const { key } of components.prolly.range(b.attrs, { ...range, ...options })) {
    yield nameFromBytes(decodeAttrKey(key).providerKey)
  }
}

/** Number of entries of `snapshot` whose lease is still running at `now` (`expires > now`), in O(log n) blocks. */
export async function liveCount (components: ExpiryComponents, snapshot: Pick<Snapshot, 'attrs'>, now: number, options: AbortOptions = {}): Promise<number> {
  return components.prolly.count(snapshot.attrs, { ...attrRange('expires', { gt: now }), ...options })
}
