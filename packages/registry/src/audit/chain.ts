import { openSnapshot } from '../snapshot/format.js'
import { ChainBrokenError } from './errors.js'
import type { OpenedSnapshot, Snapshot } from '../snapshot/format.js'
import type { AbortOptions, BlockStore, Prolly } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'

/** What every audit operation reads through: a tree engine and the block store it sits on (which may fetch over the network). */
export interface AuditComponents {
  prolly: Prolly
  blocks: Pick<BlockStore, 'get'>
}

export interface WalkChainOptions extends AbortOptions {
  /**
   * Most snapshots yielded, the head included.
   *
   * @default Infinity
   */
  limit?: number
}

/** Which chain rule a `prev` link breaks: the height, the chain (network, indexer), or the time. */
export type LinkProblemKind = 'height' | 'chain' | 'time'

/** The chain rules one `prev` link must keep; the first one broken, or undefined. */
export function linkProblem (next: Snapshot, previous: Snapshot): { kind: LinkProblemKind, message: string } | undefined {
  if (previous.height !== next.height - 1) return { kind: 'height', message: `height ${next.height} links to height ${previous.height}, not ${next.height - 1}` }
  if (previous.network !== next.network || previous.indexer !== next.indexer) return { kind: 'chain', message: `height ${next.height} links to a snapshot of another chain (${previous.indexer} on ${previous.network})` }
  if (previous.time > next.time) return { kind: 'time', message: `time goes backwards from height ${previous.height} (${previous.time}) to ${next.height} (${next.time})` }
  return undefined
}

/**
 * The chain from `head` back to genesis along `prev`, newest first, each snapshot hash-checked.
 * Throws `ChainBrokenError` at a link that breaks the chain rules (see `linkProblem`).
 */
export async function * walkChain (components: Pick<AuditComponents, 'blocks'>, head: CID | OpenedSnapshot, options: WalkChainOptions = {}): AsyncGenerator<OpenedSnapshot> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  let current: OpenedSnapshot = 'snapshot' in head ? head : await openSnapshot(head, components.blocks, options)
  for (let yielded = 0; yielded < limit; yielded++) {
    yield current
    const prev = current.snapshot.prev
    if (prev == null || yielded + 1 >= limit) return
    const previous = await openSnapshot(prev, components.blocks, options)
    const problem = linkProblem(current.snapshot, previous.snapshot)
    if (problem !== undefined) throw new ChainBrokenError(`${problem.message} (${current.cid.toString()} → ${prev.toString()})`, prev)
    current = previous
  }
}
