import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { decodeManifest, manifestCid } from '@capdex/manifest'
import { prolly as createProlly } from '@capdex/prolly'
import { createRecord, encodeAnnouncement, fold, indexTopic, liveCount, nameFromPublicKey, openSnapshot, snapshotTree, verifyRecord } from '@capdex/registry'
import { defaultLogger } from '@libp2p/logger'
import { anySignal } from 'any-signal'
import { CustomProgressEvent } from 'progress-events'
import { announcementListener } from '../announcements.js'
import { DEFAULT_MANIFEST_FETCH_TIMEOUT_MS } from '../constants.js'
import { fsyncDir } from '../durable.js'
import { InvalidOptionError } from '../errors.js'
import { setNewest } from '../maps.js'
import { announcementVerifier } from '../verify-pool.js'
import { indexBlockStore } from './blocks.js'
import { batchMaxFor, foldDelay } from './batch.js'
import { DEFAULT_BATCH_MS, DEFAULT_CLOCK_SKEW_MS, DEFAULT_INDEXER_RECORD_LIFETIME_MS, DEFAULT_MAX_PENDING, DEFAULT_REPAIR_TIMEOUT_MS, DEFAULT_REPUBLISH_INTERVAL_MS, FOLD_RETRY_MAX_MS, FOLD_RETRY_MIN_MS, INDEXER_DIR, INDEXER_KEY_NAME, JOURNAL_DIR, MAX_SCORED_PEERS, VERIFIED_RECORD_CACHE_SIZE, VERIFY_HEAD_MAX_PROVIDERS } from './constants.js'
import { CorruptJournalError, HeadUnavailableError, IndexerStateError } from './errors.js'
import { headStore } from './heads.js'
import { openJournal } from './journal.js'
import { histogram } from './metrics.js'
import type { IndexerEvents, IndexerHead, IndexerService, IndexerServiceComponents, IndexerServiceInit, IndexerStartOptions, IndexerStatus, IndexerEventMap } from './index.js'
import type { IndexBlockStore } from './blocks.js'
import type { HeadPointer, HeadStore } from './heads.js'
import type { Journal, JournalEntry, JournalRef } from './journal.js'
import type { IndexerMetrics } from './metrics.js'
import type { AnnouncementListener, ReceivedAnnouncement } from '../announcements.js'
import type { AnnouncementVerifier } from '../verify-pool.js'
import type { Prolly } from '@capdex/prolly'
import type { FoldResult, VerifiedRecord, VerifiedUpdate } from '@capdex/registry'
import type { AbortOptions, Ed25519PrivateKey, Logger, PeerId } from '@libp2p/interface'

interface PendingUpdate {
  ref: JournalRef
  update: VerifiedUpdate
  /** performance.now() when it was accepted */
  arrived: number
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped'

function positive (value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(`${name} must be a positive number, got ${value}`)
  }
  return value
}

function increment (counts: Record<string, number>, reason: string): void {
  counts[reason] = (counts[reason] ?? 0) + 1
}

export class DefaultIndexerService implements IndexerService {
  readonly network: string
  readonly events: IndexerEvents
  private readonly target = new EventTarget()
  private readonly node: IndexerServiceComponents['node']
  private readonly repo: IndexerServiceComponents['repo']
  private readonly log: Logger
  private readonly logger: NonNullable<IndexerServiceComponents['logger']>
  private readonly keyName: string
  private readonly batchMs: number
  /** fixed by `init.batchMax`; otherwise `batchMaxFor` the head */
  private readonly fixedBatchMax: number | undefined
  private readonly manifestTimeoutMs: number
  private readonly clockSkewMs: number
  private readonly recordLifetimeMs: number
  private readonly republishIntervalMs: number
  private readonly pruneAfterMs: number | undefined
  private readonly maxPending: number
  private readonly now: () => number
  private readonly dir: string
  private readonly blocks: IndexBlockStore
  private readonly prolly: Prolly
  private readonly heads: HeadStore

  private state: State = 'new'
  private key: Ed25519PrivateKey | undefined
  private indexerName: string | undefined
  private current: IndexerHead | undefined
  private journal: Journal | undefined
  private listener: AnnouncementListener | undefined
  private verifier: AnnouncementVerifier | undefined
  private readonly verifyWorkers: number | undefined
  private readonly pending: PendingUpdate[] = []
  /** announcements the validator accepted that are being journaled */
  private accepting = 0
  private readonly abort = new AbortController()
  private timer: ReturnType<typeof setTimeout> | undefined
  /** when `timer` fires (performance.now() time) */
  private timerAt = 0
  /** how long the last fold took, for `foldDelay` */
  private lastFoldMs = 0
  private republishTimer: ReturnType<typeof setInterval> | undefined
  private folding: Promise<void> | undefined
  /** one IPNS publish at a time: sequence numbers must not interleave */
  private publishing: Promise<unknown> = Promise.resolve()
  private failures = 0
  private retryAt: number | undefined
  /** peers that relayed announcements lately, least recent first, for their scores in `metrics()` */
  private readonly relays = new Map<string, PeerId>()
  /**
   * Records this indexer verified and folded, by name and bytes: when fold replaces an entry it
   * reads the stored record's sequence and lease, and a record we verified ourselves needs no second
   * signature check. Bounded; a miss falls back to full verification.
   */
  private readonly verifiedRecords = new Map<string, VerifiedRecord>()

  private readonly counters = {
    accepted: 0,
    rejected: {} as Record<string, number>,
    ignored: {} as Record<string, number>,
    folds: 0,
    foldErrors: 0,
    headsPublished: 0,
    equivocations: 0
  }

  private readonly foldSeconds = histogram()

  constructor (components: IndexerServiceComponents, init: IndexerServiceInit) {
    this.node = components.node
    this.repo = components.repo
    this.logger = components.logger ?? defaultLogger()
    this.log = this.logger.forComponent('capdex:indexer')
    this.network = init.network ?? components.node.network
    // fails at construction on a bad network name
    indexTopic(this.network)
    this.keyName = init.keyName ?? INDEXER_KEY_NAME
    this.batchMs = positive(init.batchMs ?? DEFAULT_BATCH_MS, 'batchMs')
    this.fixedBatchMax = init.batchMax === undefined ? undefined : Math.floor(positive(init.batchMax, 'batchMax'))
    if (init.verifyWorkers !== undefined && !(Number.isInteger(init.verifyWorkers) && init.verifyWorkers >= 0)) {
      throw new InvalidOptionError(`verifyWorkers must be a non-negative integer, got ${init.verifyWorkers}`)
    }
    this.verifyWorkers = init.verifyWorkers
    this.manifestTimeoutMs = positive(init.manifestTimeoutMs ?? DEFAULT_MANIFEST_FETCH_TIMEOUT_MS, 'manifestTimeoutMs')
    this.clockSkewMs = init.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
    if (!(this.clockSkewMs >= 0)) {
      throw new InvalidOptionError(`clockSkewMs must be >= 0, got ${this.clockSkewMs}`)
    }
    this.recordLifetimeMs = positive(init.recordLifetimeMs ?? DEFAULT_INDEXER_RECORD_LIFETIME_MS, 'recordLifetimeMs')
    this.republishIntervalMs = positive(init.republishIntervalMs ?? DEFAULT_REPUBLISH_INTERVAL_MS, 'republishIntervalMs')
    this.pruneAfterMs = init.pruneAfterMs
    this.maxPending = Math.floor(positive(init.maxPending ?? DEFAULT_MAX_PENDING, 'maxPending'))
    this.now = init.now ?? Date.now
    this.dir = path.join(components.repo.path, INDEXER_DIR)
    this.blocks = indexBlockStore({ node: components.node, repo: components.repo }, { repairTimeoutMs: init.repairTimeoutMs ?? DEFAULT_REPAIR_TIMEOUT_MS })
    // the index block store hashes every block it reads from the repo or the network (a block still being written is
    // served from the fold's own bytes), so the tree engine does not hash it a second time: about 5% of a fold's CPU at
    // 1,000,000 providers. `verify` still re-hashes every block it walks.
    this.prolly = createProlly({ blocks: this.blocks }, { verifyBlocks: false })
    this.heads = headStore(this.dir, { log: this.log })
    // only `emit` dispatches, always a CustomEvent of the map's detail type
    this.events = this.target as unknown as IndexerEvents
  }

  get name (): string {
    if (this.indexerName == null) {
      throw new IndexerStateError('The indexer name is known once start() has loaded its key')
    }
    return this.indexerName
  }

  head (): IndexerHead | undefined {
    return this.current
  }

  private emit<K extends keyof IndexerEventMap>(type: K, detail: IndexerEventMap[K]['detail']): void {
    this.target.dispatchEvent(new CustomEvent(type, { detail }))
  }

  // ---- start -------------------------------------------------------------------

  async start (options: IndexerStartOptions = {}): Promise<void> {
    if (this.state !== 'new') {
      throw new IndexerStateError(`Cannot start an indexer that is ${this.state}`)
    }
    this.state = 'starting'
    const signal = anySignal([this.abort.signal, options.signal])
    try {
      this.key = await this.repo.getOrCreateKey(this.keyName, { signal })
      this.indexerName = nameFromPublicKey(this.key.publicKey)
      if (await fs.mkdir(this.dir, { recursive: true }) != null) {
        // a new directory: its entry in the repo must survive a crash with what goes in it
        await fsyncDir(this.repo.path)
      }

      this.current = await this.loadHead({ signal })
      options.onProgress?.(new CustomProgressEvent('node:indexer:head', this.current == null ? null : { cid: this.current.cid, height: this.current.snapshot.height }))

      const { journal, entries } = await openJournal(path.join(this.dir, JOURNAL_DIR), { log: this.log })
      this.journal = journal
      await this.replay(entries)

      // catch up: fold what the journal held before taking new announcements
      const total = this.pending.length
      options.onProgress?.(new CustomProgressEvent('node:indexer:catchup', { done: 0, total }))
      while (this.pending.length > 0) {
        signal.throwIfAborted()
        if (!await this.cycle(signal)) {
          // retried with backoff once running
          break
        }
        options.onProgress?.(new CustomProgressEvent('node:indexer:catchup', { done: total - this.pending.length, total }))
      }

      this.verifier = announcementVerifier(this.verifyWorkers === undefined ? {} : { workers: this.verifyWorkers })
      this.listener = announcementListener({ node: this.node, logger: this.logger, verifier: this.verifier }, {
        network: this.network,
        // records whose EOL passed less than the tolerance ago are still accepted
        now: () => this.now() - this.clockSkewMs,
        manifestTimeoutMs: this.manifestTimeoutMs,
        onVerdict: (verdict, reason, from) => { this.verdict(verdict, reason, from) },
        onAnnouncement: async (announcement) => { await this.accept(announcement) }
      })
      this.state = 'running'
      this.republishTimer = setInterval(() => { void this.republish() }, this.republishIntervalMs)
      this.republishTimer.unref()
      if (this.current != null) {
        await this.publish(this.current)
      }
      this.schedule()
      this.log('indexer %s on %s started at height %s', this.indexerName, this.network, this.current?.snapshot.height ?? 'none')
    } catch (err) {
      this.state = 'stopping'
      this.listener?.stop()
      await this.verifier?.close()
      await this.journal?.close()
      this.state = 'stopped'
      throw err
    } finally {
      signal.clear()
    }
  }

  /** The newest recorded head that opens and verifies (repairing blocks from peers), or undefined at genesis. */

  private rememberVerified (record: VerifiedRecord): void {
    setNewest(this.verifiedRecords, verifiedRecordKey(record.name, record.bytes), record, VERIFIED_RECORD_CACHE_SIZE)
  }

  private readonly readStoredRecord = async (name: string, bytes: Uint8Array, options?: AbortOptions): Promise<VerifiedRecord> => {
    return this.verifiedRecords.get(verifiedRecordKey(name, bytes)) ??
      verifyRecord(name, bytes, { now: this.now(), allowExpired: true, ...(options?.signal != null ? { signal: options.signal } : {}) })
  }
  private async loadHead (options: AbortOptions): Promise<IndexerHead | undefined> {
    const candidates = await this.heads.candidates()
    if (candidates.length === 0) {
      return undefined
    }
    const newest = candidates[0]
    for (const candidate of candidates) {
      try {
        const head = await this.openHead(candidate, options)
        if (candidate !== newest) {
          this.log.error('rolled back to head %c at height %d: the newer recorded head %c cannot be opened; the next head will repeat its height', candidate.cid, candidate.height, newest?.cid)
        }
        return head
      } catch (err) {
        options.signal?.throwIfAborted()
        this.log.error('recorded head %c at height %d cannot be used - %e', candidate.cid, candidate.height, err)
      }
    }
    throw new HeadUnavailableError(`None of the ${candidates.length} recorded heads (newest ${newest?.cid.toString()} at height ${newest?.height}) opens and verifies, and their blocks could not be fetched from peers`)
  }

  private async openHead (pointer: HeadPointer, options: AbortOptions): Promise<IndexerHead> {
    const { snapshot } = await openSnapshot(pointer.cid, this.blocks, options)
    if (snapshot.height !== pointer.height || snapshot.network !== this.network || snapshot.indexer !== this.indexerName) {
      throw new HeadUnavailableError(`Head ${pointer.cid.toString()} is height ${snapshot.height} of ${snapshot.indexer} on ${snapshot.network}, not height ${pointer.height} of ${this.indexerName} on ${this.network}`)
    }
    const verifyOptions = options.signal != null ? { signal: options.signal } : {}
    if (snapshot.count <= VERIFY_HEAD_MAX_PROVIDERS) {
      await snapshotTree(this.prolly, 'providers').verify(snapshot.providers, verifyOptions)
      await snapshotTree(this.prolly, 'attrs').verify(snapshot.attrs, verifyOptions)
    } else {
      await this.prolly.depth(snapshot.providers, verifyOptions)
      await this.prolly.depth(snapshot.attrs, verifyOptions)
    }
    if (snapshot.height <= VERIFY_HEAD_MAX_PROVIDERS) {
      await snapshotTree(this.prolly, 'history').verify(snapshot.history, verifyOptions)
    } else {
      await this.prolly.depth(snapshot.history, verifyOptions)
    }
    return { cid: pointer.cid, snapshot }
  }

  /** Verifies journaled updates again (not against the clock) and queues them. */
  private async replay (entries: JournalEntry[]): Promise<void> {
    const broken: JournalRef[] = []
    for (const entry of entries) {
      try {
        const record = await verifyRecord(entry.name, entry.record, { allowExpired: true })
        const cid = record.valueCid
        if (cid == null || !manifestCid(entry.manifest).equals(cid)) {
          throw new CorruptJournalError(`The journaled manifest of ${entry.name} is not the one its record names`)
        }
        const manifest = decodeManifest(entry.manifest)
        if (manifest.provider !== record.name) {
          throw new CorruptJournalError(`The journaled manifest of ${entry.name} names provider ${manifest.provider}`)
        }
        this.pending.push({ ref: entry.ref, arrived: performance.now(), update: { record, manifest, manifestCid: cid, seen: entry.seen, manifestBytes: entry.manifest } })
      } catch (err) {
        this.log.error('dropping a journaled update of %s that no longer verifies - %e', entry.name, err)
        broken.push(entry.ref)
      }
    }
    await this.journal?.release(broken)
  }

  // ---- accepting -------------------------------------------------------------------

  private verdict (verdict: 'accept' | 'reject' | 'ignore', reason: string, from: PeerId): void {
    if (verdict === 'reject') increment(this.counters.rejected, reason)
    else if (verdict === 'ignore') increment(this.counters.ignored, reason)
    setNewest(this.relays, from.toString(), from, MAX_SCORED_PEERS)
    this.emit('verdict', { verdict, reason, from })
    // one announcement fewer in verification: a batch waiting for the backlog may be due
    this.schedule()
  }

  /** Counted in `pending` while it is journaled: an update the validator accepted is owed to a head from then on. */
  private async accept (a: ReceivedAnnouncement): Promise<void> {
    this.accepting++
    try {
      await this.journalAndQueue(a)
    } finally {
      this.accepting--
      this.schedule()
    }
  }

  private async journalAndQueue (a: ReceivedAnnouncement): Promise<void> {
    if (this.state !== 'running' || this.journal == null) {
      return
    }
    const now = this.now()
    const issuedAt = Date.parse(a.manifest.issuedAt)
    if (issuedAt > now + this.clockSkewMs) {
      this.verdict('ignore', 'issued-in-future', a.from)
      this.log('ignoring %s seq %s: manifest issued at %s, more than %d ms ahead of this clock', a.name, a.record.sequence, a.manifest.issuedAt, this.clockSkewMs)
      return
    }
    if (this.pending.length >= this.maxPending) {
      this.verdict('ignore', 'backlog', a.from)
      this.log('ignoring %s seq %s: %d updates are waiting to be folded', a.name, a.record.sequence, this.pending.length)
      return
    }
    let ref: JournalRef
    try {
      ref = await this.journal.append({ name: a.name, record: a.record.bytes, manifest: a.manifestBytes, seen: now })
    } catch (err) {
      if (this.state !== 'running') {
        // the journal closed under a shutdown: not acknowledged, and not a fault
        return
      }
      this.verdict('ignore', 'journal-error', a.from)
      this.log.error('cannot journal %s seq %s, not acknowledged - %e', a.name, a.record.sequence, err)
      return
    }
    this.counters.accepted++
    this.emit('accepted', { name: a.name, sequence: a.record.sequence, manifestCid: a.manifestCid, from: a.from })
    if (this.state !== 'running') {
      // stopping: the journal holds it for the next start
      return
    }
    this.pending.push({ ref, arrived: performance.now(), update: { record: a.record, manifest: a.manifest, manifestCid: a.manifestCid, seen: now, manifestBytes: a.manifestBytes } })
  }

  // ---- folding -------------------------------------------------------------------

  /** How many pending updates fold at once: the configured cap, or one that grows with the index. */
  private get batchMax (): number {
    return this.fixedBatchMax ?? batchMaxFor(this.current?.snapshot.count ?? 0)
  }

  /**
   * Arms the batch timer for when the pending updates should fold (`foldDelay`), or for the retry time after a failed
   * fold; an armed timer moves only to an earlier time. Called whenever an update is queued or a verdict lowers the
   * number of announcements in verification, so a batch that waits for a backlog folds as soon as the backlog is in.
   */
  private schedule (): void {
    if (this.state !== 'running' || this.folding != null) {
      return
    }
    const delay = this.nextFoldDelay()
    if (delay === undefined) {
      return
    }
    const at = performance.now() + delay
    if (this.timer != null) {
      if (this.timerAt <= at) {
        return
      }
      clearTimeout(this.timer)
    }
    this.timerAt = at
    this.timer = setTimeout(() => {
      this.timer = undefined
      // the backlog may have changed since the timer was armed
      if ((this.nextFoldDelay() ?? 0) >= 1) {
        this.schedule()
        return
      }
      this.folding = this.cycle(this.abort.signal).then(() => {}, () => {}).finally(() => {
        this.folding = undefined
        this.schedule()
      })
    }, delay)
  }

  /** Milliseconds until the next fold should start; undefined when nothing is pending. */
  private nextFoldDelay (): number | undefined {
    const oldest = this.pending[0]
    if (oldest == null) {
      return undefined
    }
    const now = performance.now()
    if (this.retryAt != null) {
      return Math.max(0, this.retryAt - now)
    }
    return foldDelay({
      pending: this.pending.length,
      oldestWaitedMs: now - oldest.arrived,
      verifying: (this.listener?.stats().validating ?? 0) + this.accepting,
      batchMax: this.batchMax,
      batchMs: this.batchMs,
      lastFoldMs: this.lastFoldMs
    })
  }

  /** One fold; a failure is counted and sets the retry time. Resolves whether it folded. */
  private async cycle (signal: AbortSignal): Promise<boolean> {
    try {
      await this.foldBatch(signal)
      this.failures = 0
      this.retryAt = undefined
      return true
    } catch (err) {
      if (signal.aborted) {
        throw err
      }
      this.failures++
      this.counters.foldErrors++
      const delay = Math.min(FOLD_RETRY_MAX_MS, FOLD_RETRY_MIN_MS * 2 ** (this.failures - 1))
      this.retryAt = performance.now() + delay
      this.log.error('fold of %d update(s) failed (%d in a row), retrying in %d ms - %e', Math.min(this.pending.length, this.batchMax), this.failures, delay, err)
      return false
    }
  }

  /**
   * Folds the oldest pending updates into the next head: fold, fsync the blocks it wrote, record
   * the head (log, then head.json), release the journal entries, publish. A batch that changes
   * nothing leaves the head where it is.
   */
  private async foldBatch (signal: AbortSignal): Promise<void> {
    const batch = this.pending.splice(0, this.batchMax)
    if (batch.length === 0) {
      return
    }
    const started = performance.now()
    const previous = this.current
    const indexer = this.name
    let result: FoldResult
    let moved: { head: IndexerHead, written: number, syncMs: number } | undefined
    let folded: number | undefined
    try {
      // writes left by a fold that failed: their blocks are not in any head
      await this.blocks.flush().catch(() => {})
      for (const p of batch) this.rememberVerified(p.update.record)
      result = await fold({ prolly: this.prolly, blocks: this.blocks, readRecord: this.readStoredRecord }, previous ?? null, batch.map(p => p.update), {
        // never before the previous head, whatever the clock says
        now: Math.max(this.now(), previous?.snapshot.time ?? 0),
        network: this.network,
        indexer,
        ...(this.pruneAfterMs != null ? { pruneAfterMs: this.pruneAfterMs } : {})
      }, { signal })
      folded = performance.now()
      if (previous == null || result.changed > 0) {
        moved = await this.commit(result, previous, signal)
      }
    } catch (err) {
      this.pending.unshift(...batch)
      throw err
    }
    for (const [a, b] of result.equivocations) {
      this.counters.equivocations++
      this.log.error('equivocation by %s at sequence %s: %s and %s', a.name, a.sequence, a.value, b.value)
    }

    // every update of the batch is in a durable head now (or superseded by what is)
    try {
      await this.journal?.release(batch.map(p => p.ref))
    } catch (err) {
      this.log.error('cannot release journal entries (a restart will fold them again, to no change) - %e', err)
    }
    const foldMs = performance.now() - started
    this.lastFoldMs = foldMs
    this.counters.folds++
    this.foldSeconds.observe(foldMs / 1000)
    const folding = (folded ?? started) - started
    this.log('folded %d update(s) in %d ms (fold %d ms, %s): %s', batch.length, Math.round(foldMs), Math.round(folding),
      moved == null ? 'nothing written' : `${moved.written} blocks synced in ${Math.round(moved.syncMs)} ms, head and journal in ${Math.round(foldMs - folding - moved.syncMs)} ms`,
      moved == null ? 'no change' : `height ${result.snapshot.height}, ${result.snapshot.count} entries, ${result.changed} changed`)

    if (moved != null) {
      const { head, written } = moved
      const sequence = await this.publish(head)
      const live = await liveCount({ prolly: this.prolly }, head.snapshot, head.snapshot.time)
      this.emit('head', {
        cid: head.cid,
        height: head.snapshot.height,
        time: head.snapshot.time,
        count: head.snapshot.count,
        live,
        written,
        changed: result.changed,
        updates: batch.length,
        foldMs,
        sequence
      })
    }
    this.emit('batch', { updates: batch.length, changed: result.changed, moved: moved != null, head: this.current })
  }

  /** Makes the fold's blocks durable, then records its snapshot as the head. */
  private async commit (result: FoldResult, previous: IndexerHead | undefined, signal: AbortSignal): Promise<{ head: IndexerHead, written: number, syncMs: number }> {
    const { snapshot, cid } = result
    const cids = [...await this.blocks.flush(), cid, snapshot.providers, snapshot.attrs, snapshot.history]
    const syncing = performance.now()
    const written = await this.repo.syncBlocks(cids, { signal })
    const syncMs = performance.now() - syncing
    signal.throwIfAborted()
    await this.heads.commit({ cid, height: snapshot.height }, previous == null ? null : { cid: previous.cid, height: previous.snapshot.height })
    const head = { cid, snapshot }
    this.current = head
    return { head, written, syncMs }
  }

  // ---- publishing -------------------------------------------------------------------

  /**
   * Signs the indexer's IPNS record for `head` (sequence above both the stored record's and the
   * height), stores it (served over the record protocol) and announces it on the index topic.
   * Failures are logged: the head is durable whether or not anyone heard of it.
   */
  private async publish (head: IndexerHead): Promise<bigint | undefined> {
    const job = this.publishing.catch(() => {}).then(async () => this.publishNow(head))
    this.publishing = job
    try {
      return await job
    } catch (err) {
      this.log.error('cannot publish head %c - %e', head.cid, err)
      return undefined
    }
  }

  private async publishNow (head: IndexerHead): Promise<bigint> {
    const key = this.key
    const name = this.name
    if (key == null) {
      throw new IndexerStateError('No indexer key loaded')
    }
    let sequence = BigInt(head.snapshot.height) + 1n
    const stored = await this.node.getRecord(name)
    if (stored != null) {
      try {
        const last = await verifyRecord(name, stored, { allowExpired: true })
        if (last.sequence >= sequence) sequence = last.sequence + 1n
      } catch (err) {
        this.log.error('stored record of the indexer does not verify, replacing it - %e', err)
      }
    }
    const now = this.now()
    const bytes = await createRecord(key, head.cid, sequence, { lifetimeMs: this.recordLifetimeMs, now })
    await this.node.putRecord(name, bytes, { now })
    this.counters.headsPublished++
    try {
      await this.node.publish(indexTopic(this.network), encodeAnnouncement({ record: bytes }))
    } catch (err) {
      this.log('head %c seq %s stored, but not announced - %e', head.cid, sequence, err)
    }
    return sequence
  }

  private async republish (): Promise<void> {
    if (this.state === 'running' && this.current != null) {
      await this.publish(this.current)
    }
  }

  // ---- reporting -------------------------------------------------------------------

  async status (options: AbortOptions = {}): Promise<IndexerStatus | undefined> {
    const head = this.current
    if (head == null) {
      return undefined
    }
    const { snapshot } = head
    const live = await liveCount({ prolly: this.prolly }, snapshot, this.now(), options)
    return { cid: head.cid, height: snapshot.height, time: snapshot.time, count: snapshot.count, live, indexer: snapshot.indexer, network: snapshot.network }
  }

  async metrics (options: AbortOptions = {}): Promise<IndexerMetrics> {
    const head = this.current
    const live = head == null ? null : await liveCount({ prolly: this.prolly }, head.snapshot, this.now(), options)
    return {
      accepted: this.counters.accepted,
      rejected: { ...this.counters.rejected },
      ignored: { ...this.counters.ignored },
      overBudget: this.node.validationBudget.stats().overBudget,
      folds: this.counters.folds,
      foldErrors: this.counters.foldErrors,
      foldSeconds: this.foldSeconds.snapshot(),
      headsPublished: this.counters.headsPublished,
      equivocations: this.counters.equivocations,
      pending: this.pending.length + this.accepting,
      headHeight: head?.snapshot.height ?? null,
      headCount: head?.snapshot.count ?? null,
      providersLive: live,
      peerScores: Object.fromEntries([...this.relays].map(([id, peer]) => [id, this.node.peerScore(peer)]))
    }
  }

  // ---- stop -------------------------------------------------------------------

  async stop (): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') {
      return
    }
    this.state = 'stopping'
    this.listener?.stop()
    await this.verifier?.close()
    clearTimeout(this.timer)
    clearInterval(this.republishTimer)
    this.abort.abort()
    await this.folding?.catch(() => {})
    // an aborted fold's writes: they name no head, but the process should not exit under them
    await this.blocks.flush().catch(() => {})
    await this.publishing.catch(() => {})
    await this.journal?.close()
    this.state = 'stopped'
    this.log('indexer stopped with %d update(s) left in the journal', this.pending.length)
  }
}


/** Cache key of a verified record: its name and a hash of its exact bytes. */
function verifiedRecordKey (name: string, bytes: Uint8Array): string {
  return `${name}/${createHash('sha256').update(bytes).digest('base64')}`
}
