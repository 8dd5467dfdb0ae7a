/**
 * The indexer service: validates provider announcements, journals what it accepts, folds it
 * into snapshots in batches, moves a crash-safe head pointer, and publishes each head under its
 * own IPNS name and on `capdex/<network>/index/1`.
 *
 * ## Durability
 *
 * - An update is acknowledged (counted in `accepted`) once its journal entry is fsynced.
 * - A fold writes its blocks, fsyncs exactly the blocks it wrote (`repo.syncBlocks`), appends the
 *   head to `indexer/heads.log`, then replaces `indexer/head.json` atomically. Journal entries
 *   are released only after that. A kill at any point restarts on the old head or the new one,
 *   and replays the journal: updates already in the head fold to no change.
 * - At start the newest recorded head is opened and checked (snapshot block, and every tree block
 *   when it holds at most 5 000 providers, else the tree roots); a corrupt or missing block is
 *   fetched again from peers. If that fails, the next older recorded head is tried.
 *
 * ## Clock-skew tolerance (`clockSkewMs`, default 5 min)
 *
 * - A record is accepted while its EOL is later than `now - clockSkewMs`: a provider whose clock
 *   runs behind (or a slow relay) does not lose its lease early. A record past that is ignored
 *   (`RecordExpiredError`). Liveness is still `EOL > now` at query time.
 * - A manifest whose `issuedAt` is more than `clockSkewMs` after `now` is ignored
 *   (`issued-in-future`) and not journaled: `issuedAt` becomes the entry's `seen`.
 * - A fold's time is `max(now, head time)`, so a clock stepped back never breaks the chain.
 * - Journaled updates replayed at start are verified again (signature, manifest hash, schema)
 *   but not against the clock: an acknowledged update whose lease ended while the indexer was
 *   down is folded as an expired entry, not dropped.
 */

import { DefaultIndexerService } from './service.js'
import type { IndexerMetrics } from './metrics.js'
import type { Repo } from '../repo.js'
import type { CapdexNode } from '../types.js'
import type { Snapshot } from '@capdex/registry'
import type { AbortOptions, ComponentLogger, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

export { INDEXER_VALIDATION_BUDGET, INDEXER_KEY_NAME, DEFAULT_BATCH_MS, DEFAULT_BATCH_MAX, BATCH_SHARE, BATCH_MAX_LIMIT, CATCH_UP_MAX_MS, DEFAULT_CLOCK_SKEW_MS } from './constants.js'
export { batchMaxFor, foldDelay } from './batch.js'
export type { BatchState } from './batch.js'
export { HeadUnavailableError, CorruptHeadFileError, CorruptJournalError, JournalClosedError, IndexerStateError } from './errors.js'
export { formatPrometheus } from './metrics.js'
export type { IndexerMetrics, HistogramSnapshot } from './metrics.js'

export interface IndexerServiceComponents {
  node: Pick<CapdexNode, 'network' | 'subscribe' | 'getVerifiedBlock' | 'putBlock' | 'putRecord' | 'getRecord' | 'publish' | 'validationBudget' | 'peerScore'>
  repo: Pick<Repo, 'path' | 'blockstore' | 'getOrCreateKey' | 'syncBlocks'>
  logger?: ComponentLogger
}

export interface IndexerServiceInit {
  /** @default node.network */
  network?: string
  /**
   * Keychain name of the indexer's IPNS key.
   *
   * @default 'indexer'
   */
  keyName?: string
  /**
   * How long a batch collects updates before it folds (the first update starts the window). Under a backlog a closed
   * window may wait longer for announcements still in verification (see `foldDelay`).
   *
   * @default 250
   */
  batchMs?: number
  /**
   * A batch folds at once when it holds this many updates. Under load batches fill up, and larger
   * ones fold faster per update (tree nodes are shared between more updates).
   *
   * @default batchMaxFor(providers in the head): 2% of them, from 5,000 to 50,000
   */
  batchMax?: number
  /**
   * Worker threads that check announcement signatures while this thread folds; 0 checks them in
   * this thread. Where workers cannot start, checks fall back to this thread.
   *
   * @default min(2, availableParallelism())
   */
  verifyWorkers?: number
  /**
   * Bound on fetching an announced manifest that was not inlined.
   *
   * @default 10000
   */
  manifestTimeoutMs?: number
  /**
   * Tolerated difference between provider clocks and this one (see the module docs).
   *
   * @default 300000 (5 min)
   */
  clockSkewMs?: number
  /**
   * Lifetime of the indexer's IPNS record.
   *
   * @default 86400000 (24 h)
   */
  recordLifetimeMs?: number
  /**
   * How often the record of an unchanged head is re-signed (seq+1) and re-announced.
   *
   * @default 3600000 (1 h)
   */
  republishIntervalMs?: number
  /**
   * Bound on fetching a missing or corrupt block of the index from peers.
   *
   * @default 10000
   */
  repairTimeoutMs?: number
  /**
   * Entries whose lease ended more than this long before a fold are pruned.
   *
   * @default 86400000 (24 h, the registry's default)
   */
  pruneAfterMs?: number
  /**
   * Accepted updates held before new ones are dropped (counted as ignored, reason `backlog`).
   *
   * @default 100000
   */
  maxPending?: number
  /** clock, ms since the epoch @default Date.now */
  now?: () => number
}

export type IndexerStartProgressEvents =
  ProgressEvent<'node:indexer:head', { cid: CID, height: number } | null> |
  ProgressEvent<'node:indexer:catchup', { done: number, total: number }>

export interface IndexerStartOptions extends AbortOptions, ProgressOptions<IndexerStartProgressEvents> {}

/** The current head: the snapshot the indexer's IPNS record points at. */
export interface IndexerHead {
  cid: CID
  snapshot: Snapshot
}

/** A head that became durable and was published. */
export interface IndexerHeadEvent {
  cid: CID
  height: number
  /** the snapshot's time, ms since the epoch */
  time: number
  /** entries in the providers tree (live or expired) */
  count: number
  /** entries whose lease runs at `time` */
  live: number
  /** blocks written (and fsynced) by the fold */
  written: number
  /** providers-tree keys added, replaced or removed */
  changed: number
  /** updates in the batch */
  updates: number
  /** ms from taking the batch to the durable head */
  foldMs: number
  /** the sequence of the IPNS record signed for it (undefined when publishing failed) */
  sequence: bigint | undefined
}

/** A fold batch that finished, whether or not it moved the head. */
export interface IndexerBatchEvent {
  updates: number
  changed: number
  /** false when the batch changed nothing (duplicates, superseded records): the head stays */
  moved: boolean
  head: IndexerHead | undefined
}

/** An update that was journaled (acknowledged). */
export interface IndexerAcceptedEvent {
  name: string
  sequence: bigint
  manifestCid: CID
  from: PeerId
}

/**
 * A decision on an announcement: the validator's (`accept`, or `reject`/`ignore` with the error
 * name or code that decided it), or the indexer's own drop after validation (`ignore` with
 * `issued-in-future`, `backlog` or `journal-error`).
 */
export interface IndexerVerdictEvent {
  verdict: 'accept' | 'reject' | 'ignore'
  reason: string
  /** the relaying peer */
  from: PeerId
}

export interface IndexerEventMap {
  head: CustomEvent<IndexerHeadEvent>
  batch: CustomEvent<IndexerBatchEvent>
  accepted: CustomEvent<IndexerAcceptedEvent>
  verdict: CustomEvent<IndexerVerdictEvent>
}

/** A typed EventTarget of the indexer's events. */
export interface IndexerEvents {
  addEventListener<K extends keyof IndexerEventMap>(type: K, listener: (evt: IndexerEventMap[K]) => void, options?: Parameters<EventTarget['addEventListener']>[2]): void
  removeEventListener<K extends keyof IndexerEventMap>(type: K, listener: (evt: IndexerEventMap[K]) => void, options?: Parameters<EventTarget['removeEventListener']>[2]): void
}

/** What `GET /v1/head` reports. */
export interface IndexerStatus {
  cid: CID
  height: number
  time: number
  count: number
  /** entries whose lease runs now */
  live: number
  /** the indexer's IPNS name */
  indexer: string
  network: string
}

export interface IndexerService {
  readonly network: string
  /**
   * The indexer's IPNS name (`k51…`).
   *
   * @throws IndexerStateError before `start()` resolved
   */
  readonly name: string
  readonly events: IndexerEvents
  /**
   * Loads and checks the head, replays the journal and folds it (catch-up, with progress),
   * then subscribes to the providers topic and re-publishes the head.
   *
   * @throws HeadUnavailableError when recorded heads exist but none opens and verifies
   */
  start(options?: IndexerStartOptions): Promise<void>
  /**
   * Unsubscribes, abandons an in-flight fold (its updates stay journaled) and closes the journal.
   * Pending updates are not folded: the next start does.
   */
  stop(): Promise<void>
  head(): IndexerHead | undefined
  /** The head with its live count at `now`, or undefined before the first head. */
  status(options?: AbortOptions): Promise<IndexerStatus | undefined>
  metrics(options?: AbortOptions): Promise<IndexerMetrics>
}

/**
 * Creates an indexer over a started node and its open repo. Give the node a large, finite
 * validation budget (`INDEXER_VALIDATION_BUDGET`): many providers may sit behind one peer.
 */
export function indexerService (components: IndexerServiceComponents, init: IndexerServiceInit = {}): IndexerService {
  return new DefaultIndexerService(components, init)
}
