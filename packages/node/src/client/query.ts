import { prolly } from '@capdex/prolly'
import { locateAt, openSnapshot, query } from '@capdex/registry'
import { checkSnapshotDag, incompleteSnapshotError } from './dag.js'
import { isMissingBlock } from './sources.js'
import type { PinStore } from './pins.js'
import type { BlockSource } from './sources.js'
import type { BlockStore, Prolly } from '@capdex/prolly'
import type { ExecuteOptions, HistoryHit, Plan, QueryProgressEvents, QueryRejection, QueryResult, QueryRun, QuerySummary, Snapshot } from '@capdex/registry'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface OpenIndexComponents {
  /**
   * Where blocks come from: the local blockstore (offline), or a source that fetches what is
   * missing (and stores it).
   */
  blocks: BlockSource
  /** a pinned snapshot is complete by construction: no completeness walk is needed */
  pins?: Pick<PinStore, 'get'>
}

export interface OpenIndexOptions extends AbortOptions {
  /**
   * `blocks` reads only the local blockstore: an unpinned snapshot is checked for missing blocks
   * before any query runs, and a missing block is an `IncompleteSnapshotError`, never a forged
   * entry.
   *
   * @default false
   */
  offline?: boolean
  /** bound on the completeness walk @default 16000000 */
  maxBlocks?: number
}

/** How an index view knows its DAG is whole. */
export type Completeness = 'pinned' | 'checked' | 'unchecked'

/** The results of one query, with the plan once it is known. */
export interface IndexQueryRun extends AsyncIterable<QueryResult> {
  readonly summary: QuerySummary
  /** set once iteration has started */
  readonly plan: Plan | undefined
}

/** An opened snapshot, ready to answer queries. */
export interface IndexView {
  readonly cid: CID
  readonly snapshot: Snapshot
  readonly completeness: Completeness
  /** the tree engine over `blocks` (its `stats` count blocks touched) */
  readonly prolly: Prolly
  /**
   * Runs a query (`@capdex/registry`'s language). Every result is verified; forged entries go to
   * `onRejected`; expired ones are left out unless `includeExpired`.
   *
   * @throws QuerySyntaxError and the other query errors, at once
   * @throws IncompleteSnapshotError offline, when a block turns out to be missing
   */
  query(expr: string, options?: ExecuteOptions): IndexQueryRun
  /**
   * The snapshot of this chain that `at` names: a height, an ISO 8601 time (the snapshot current
   * then) or a CID (which must be in this chain), found through the history tree in O(log n) blocks.
   *
   * @throws BeforeFirstSnapshotError a time before the chain's first snapshot
   * @throws SnapshotNotFoundError a height or CID that is not in this chain
   */
  locate(at: string, options?: AbortOptions): Promise<HistoryHit>
}

/**
 * Opens a snapshot for queries over `blocks`. Offline, a snapshot that is not pinned is first
 * walked to check that every block is local (bounded; fails fast with the missing count).
 *
 * @throws NotASnapshotError the CID is not a snapshot
 * @throws IncompleteSnapshotError offline, when blocks are missing
 */
export async function openIndex (components: OpenIndexComponents, cid: CID, options: OpenIndexOptions = {}): Promise<IndexView> {
  const offline = options.offline === true
  const abort: AbortOptions = options.signal != null ? { signal: options.signal } : {}
  const source = components.blocks
  let completeness: Completeness = 'unchecked'
  if (await components.pins?.get(cid, abort) != null) {
    completeness = 'pinned'
  } else if (offline) {
    const check = await checkSnapshotDag({ blocks: source }, cid, { ...abort, ...(options.maxBlocks != null ? { maxBlocks: options.maxBlocks } : {}) })
    if (!check.complete) throw incompleteSnapshotError(check)
    completeness = 'checked'
  }

  const missing = new Set<string>()
  const store: BlockStore = {
    get: async (block, getOptions = {}) => {
      try {
        return await source.get(block, getOptions)
      } catch (err) {
        if (isMissingBlock(err)) missing.add(block.toString())
        throw err
      }
    },
    put: async () => {}
  }
  const tree = prolly({ blocks: store })
  const opened = await openSnapshot(cid, store, abort)
  const incomplete = async (): Promise<Error> => incompleteSnapshotError(await checkSnapshotDag({ blocks: source }, cid, abort))

  return {
    cid,
    snapshot: opened.snapshot,
    completeness,
    prolly: tree,
    query (expr, queryOptions = {}) {
      let plan: Plan | undefined
      let lostManifest = false
      // offline, a manifest that is not local is a gap in this repo, not a forgery by the indexer
      const isGap = (rejection: QueryRejection): boolean => offline && rejection.reason === 'missing-manifest' && missing.size > 0
      const run: QueryRun = query({ prolly: tree, blocks: store }, opened, expr, {
        ...queryOptions,
        onRejected: (rejection) => {
          if (isGap(rejection)) {
            lostManifest = true
            return
          }
          queryOptions.onRejected?.(rejection)
        },
        onProgress: (event: QueryProgressEvents) => {
          if (event.type === 'registry:query:plan') plan = event.detail
          if (event.type === 'registry:query:rejected' && isGap(event.detail)) return
          queryOptions.onProgress?.(event)
        }
      })
      return {
        get summary () { return run.summary },
        get plan () { return plan },
        async * [Symbol.asyncIterator] () {
          try {
            yield * run
          } catch (err) {
            if (offline && isMissingBlock(err)) throw await incomplete()
            throw err
          }
          if (lostManifest) throw await incomplete()
        }
      }
    },
    async locate (at, atOptions = {}) {
      try {
        return await locateAt({ prolly: tree, blocks: store }, cid, at, atOptions)
      } catch (err) {
        if (offline && isMissingBlock(err)) throw await incomplete()
        throw err
      }
    }
  }
}
