import { CustomProgressEvent } from 'progress-events'
import { toString } from 'uint8arrays/to-string'
import { attrKeysForManifest, decodeAttrKey } from '../entries/attrs.js'
import { entrySeen, entryUptime } from '../entries/entry.js'
import { leaseEnd } from '../entries/lease.js'
import { loadEntry, verifyLoadedEntry } from '../query/verify-entry.js'
import { nameFromBytes } from '../records/index.js'
import { openSnapshot } from '../snapshot/format.js'
import { decodeHistoryEntry, historyHeightKey, historyTimeKey } from '../snapshot/history.js'
import { snapshotTree } from '../snapshot/trees.js'
import { DEFAULT_MAX_REPORTED_PROBLEMS, DEFAULT_VERIFY_CONCURRENCY } from './constants.js'
import { linkProblem } from './chain.js'
import type { AuditComponents, LinkProblemKind } from './chain.js'
import type { RejectReason } from '../query/errors.js'
import type { OpenedSnapshot } from '../snapshot/format.js'
import type { SnapshotTree } from '../snapshot/trees.js'
import type { AbortOptions } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

/**
 * What a problem is about:
 * - `snapshot`: a snapshot block is missing, does not hash to its CID or is not a snapshot
 * - `tree`: a prolly tree fails `prolly.verify` (a block, its hash or an invariant)
 * - `count`: the snapshot's `count` is not the number of entries
 * - the `RejectReason`s of `ForgedEntryError`: an entry's key, encoding, record, manifest block or manifest
 * - `seen`, `lease`: an entry's `seen` is not its manifest's `issuedAt`; its lease summary does not end at its record's EOL
 * - `attrs-extra`, `attrs-missing`, `attrs-value`: the attrs tree holds a key the providers do not imply, lacks
 *   one they do, or holds a non-empty value
 * - `prev`, `height`, `time`, `chain`: a `prev` that cannot be read, a height that is not one more, a time
 *   that goes backwards, a link to another indexer's or network's chain
 * - `history`: the history tree disagrees with the `prev` chain
 */
export type ProblemKind =
  | 'snapshot' | 'tree' | 'count'
  | RejectReason | 'entry' | 'seen' | 'lease'
  | 'attrs-extra' | 'attrs-missing' | 'attrs-value'
  | 'prev' | LinkProblemKind
  | 'history'

export interface VerifyProblem {
  kind: ProblemKind
  message: string
  /** the snapshot it was found in */
  snapshot?: CID
  height?: number
  provider?: string
}

export interface VerifyReport {
  cid: CID
  ok: boolean
  deep: boolean
  /** the snapshot's height, when its block could be read */
  height?: number
  /** snapshot blocks read and checked */
  snapshots: number
  /** tree nodes re-hashed and checked (`prolly.verify`), plus those a deep walk's diffs read */
  treeBlocks: number
  /** manifest blocks re-hashed and decoded */
  manifestBlocks: number
  /** the snapshot's own entries, every one verified */
  providers: number
  /** entries whose record signature and manifest were verified (with `deep`, every version along the chain) */
  entries: number
  /** attrs keys matched against what the providers imply */
  attrKeys: number
  /** history-tree entries checked against the `prev` chain */
  historyEntries: number
  /** the first `maxProblems` problems */
  problems: VerifyProblem[]
  /** every problem found */
  problemCount: number
  elapsedMs: number
  /** one line: `OK: …` or `FAILED: n problems` */
  verdict: string
}

export type VerifyTree = SnapshotTree

export type VerifyProgressEvents =
  | ProgressEvent<'registry:audit:snapshot', { cid: CID, height: number }>
  | ProgressEvent<'registry:audit:tree', { tree: VerifyTree, blocks: number }>
  | ProgressEvent<'registry:audit:verify', { entries: number, total: number }>
  | ProgressEvent<'registry:audit:attrs', { keys: number }>
  | ProgressEvent<'registry:audit:chain', { height: number }>
  | ProgressEvent<'registry:audit:problem', VerifyProblem>

export interface VerifySnapshotOptions extends AbortOptions, ProgressOptions<VerifyProgressEvents> {
  /**
   * Walk the whole chain: every snapshot block and `prev` link, the history tree against the
   * chain, and every older snapshot's entries and attrs incrementally (see `verifySnapshot`).
   *
   * @default false
   */
  deep?: boolean
  /**
   * Problems listed in full in the report (all are counted).
   *
   * @default DEFAULT_MAX_REPORTED_PROBLEMS (100)
   */
  maxProblems?: number
  /**
   * Entries verified at once (their manifest fetches overlap).
   *
   * @default DEFAULT_VERIFY_CONCURRENCY (16)
   */
  concurrency?: number
}

const PROGRESS_EVERY = 1000

function latin1 (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

function fromLatin1 (key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'))
}

function describe (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

function isForged (err: unknown): err is Error & { provider: string, reason: RejectReason } {
  return err instanceof Error && err.name === 'ForgedEntryError'
}

/** What an attrs key is, for a message: `attr=value`, and its provider (hex key, and name when it is one). */
function describeAttrKey (key: Uint8Array): { text: string, providerHex?: string, provider?: string } {
  let decoded
  try {
    decoded = decodeAttrKey(key)
  } catch {
    return { text: `0x${toString(key, 'base16')}` }
  }
  const { attr, value, providerKey } = decoded
  const providerHex = toString(providerKey, 'base16')
  try {
    return { text: `${attr}=${String(value)}`, providerHex, provider: nameFromBytes(providerKey) }
  } catch {
    return { text: `${attr}=${String(value)}`, providerHex, provider: providerHex }
  }
}

/** The attrs keys an entry implies, with the entry's own checks beyond `verifyEntry`'s. */
interface Implied {
  keys: Uint8Array[]
}

/**
 * How a snapshot's attrs tree departs from what its entries imply (keys by their latin1 form),
 * and the providers whose entries failed (their keys cannot be judged). A deep walk carries it
 * from each snapshot to the one before, so one bad snapshot is reported once, not in every older one.
 */
interface Deviation {
  extra: Map<string, Uint8Array>
  missing: Map<string, Uint8Array>
  failed: Set<string>
}

/**
 * Verifies a snapshot, collecting every problem rather than stopping at the first:
 * - its block's hash and strict format, and every block of its `providers`, `attrs` and `history`
 *   trees re-fetched, re-hashed and checked against every invariant (`prolly.verify`);
 * - every entry: its record's signature against the provider's name (expired records pass), the
 *   manifest block re-hashed against the record's value, decoded against the schema, naming the
 *   provider; `seen` and the lease summary against the record; and `count`;
 * - the `attrs` tree equals exactly the keys the entries imply, nothing extra, nothing missing;
 * - its link to `prev`: resolvable, height one less, time not later, same network and indexer,
 *   and the history tree holds `prev` at that height.
 *
 * With `deep`, it walks the whole chain: every `prev` link as above, the history tree entry by
 * entry against the chain, and each older snapshot incrementally against its successor: every
 * entry that differs is verified and the attrs delta must be exactly the one the entries imply
 * (so, by induction from the head, every snapshot's attrs tree is exact). An older snapshot's
 * tree nodes are hash-checked as the diffs read them; run `verifySnapshot` on it for its full
 * tree invariants.
 */
export async function verifySnapshot (components: AuditComponents, cid: CID, options: VerifySnapshotOptions = {}): Promise<VerifyReport> {
  const run = new Verification(components, cid, options)
  await run.run()
  return run.report()
}

class Verification {
  private readonly components: AuditComponents
  private readonly cid: CID
  private readonly options: VerifySnapshotOptions
  private readonly abort: AbortOptions
  private readonly maxProblems: number
  private readonly concurrency: number
  private readonly started = performance.now()
  private readonly problems: VerifyProblem[] = []
  private problemCount = 0
  private height: number | undefined
  private snapshots = 0
  private treeBlocks = 0
  private manifestBlocks = 0
  private entries = 0
  private providers = 0
  private attrKeys = 0
  private historyEntries = 0

  constructor (components: AuditComponents, cid: CID, options: VerifySnapshotOptions) {
    this.components = components
    this.cid = cid
    this.options = options
    this.abort = options.signal === undefined ? {} : { signal: options.signal }
    this.maxProblems = options.maxProblems ?? DEFAULT_MAX_REPORTED_PROBLEMS
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_VERIFY_CONCURRENCY)
  }

  report (): VerifyReport {
    const ok = this.problemCount === 0
    const chain = this.options.deep === true ? `; chain of ${this.snapshots} snapshot${this.snapshots === 1 ? '' : 's'}, ${this.entries} entry versions` : ''
    const verdict = ok
      ? `OK: ${this.cid.toString()} at height ${this.height ?? '?'}: ${this.providers} entries, ${this.attrKeys} attr keys, ${this.treeBlocks + this.manifestBlocks + this.snapshots} blocks verified${chain}`
      : `FAILED: ${this.problemCount} problem${this.problemCount === 1 ? '' : 's'} in ${this.cid.toString()}`
    const report: VerifyReport = {
      cid: this.cid,
      ok,
      deep: this.options.deep === true,
      providers: this.providers,
      snapshots: this.snapshots,
      treeBlocks: this.treeBlocks,
      manifestBlocks: this.manifestBlocks,
      entries: this.entries,
      attrKeys: this.attrKeys,
      historyEntries: this.historyEntries,
      problems: this.problems,
      problemCount: this.problemCount,
      elapsedMs: performance.now() - this.started,
      verdict
    }
    if (this.height !== undefined) report.height = this.height
    return report
  }

  private problem (kind: ProblemKind, message: string, where: { snapshot?: OpenedSnapshot | CID, provider?: string } = {}): void {
    this.problemCount++
    const problem: VerifyProblem = { kind, message }
    const snapshot = where.snapshot
    if (snapshot !== undefined) {
      if ('snapshot' in snapshot) {
        problem.snapshot = snapshot.cid
        problem.height = snapshot.snapshot.height
      } else {
        problem.snapshot = snapshot
      }
    }
    if (where.provider !== undefined) problem.provider = where.provider
    if (this.problems.length < this.maxProblems) this.problems.push(problem)
    this.options.onProgress?.(new CustomProgressEvent('registry:audit:problem', problem))
  }

  /** Runs `work`, turning any failure but an abort into a problem; true when it succeeded. */
  private async attempt (kind: ProblemKind, where: { snapshot?: OpenedSnapshot | CID, provider?: string }, work: () => Promise<void>): Promise<boolean> {
    try {
      await work()
      return true
    } catch (err) {
      this.abort.signal?.throwIfAborted()
      this.problem(kind, describe(err), where)
      return false
    }
  }

  private async open (cid: CID): Promise<OpenedSnapshot | undefined> {
    try {
      const opened = await openSnapshot(cid, this.components.blocks, this.abort)
      this.snapshots++
      this.options.onProgress?.(new CustomProgressEvent('registry:audit:snapshot', { cid, height: opened.snapshot.height }))
      return opened
    } catch (err) {
      this.abort.signal?.throwIfAborted()
      this.problem('snapshot', `${cid.toString()}: ${describe(err)}`, { snapshot: cid })
      return undefined
    }
  }

  async run (): Promise<void> {
    const head = await this.open(this.cid)
    if (head === undefined) return
    this.height = head.snapshot.height
    for (const tree of ['providers', 'attrs', 'history'] as const) await this.verifyTree(head, tree)
    const deviation = await this.verifyEntries(head)
    if (this.options.deep === true) {
      await this.verifyChain(head, deviation)
    } else {
      await this.verifyLink(head)
    }
  }

  private async verifyTree (opened: OpenedSnapshot, tree: VerifyTree): Promise<void> {
    let blocks = 0
    await this.attempt('tree', { snapshot: opened }, async () => {
      try {
        await snapshotTree(this.components.prolly, tree).verify(opened[tree], {
          ...this.abort,
          onProgress: () => {
            if (++blocks % PROGRESS_EVERY === 0) this.options.onProgress?.(new CustomProgressEvent('registry:audit:tree', { tree, blocks }))
          }
        })
      } catch (err) {
        throw new Error(`${tree} tree ${opened[tree].toString()}: ${describe(err)}`, { cause: err })
      }
    })
    this.treeBlocks += blocks
    this.options.onProgress?.(new CustomProgressEvent('registry:audit:tree', { tree, blocks }))
  }

  /**
   * Verifies one entry; the attrs keys it implies, or undefined (and a problem) when it fails.
   * `where` is the snapshot it is reported in.
   */
  private async verifyOne (opened: OpenedSnapshot, key: Uint8Array, value: Uint8Array): Promise<Implied | undefined> {
    try {
      const loaded = await loadEntry(this.components, key, value, this.abort)
      const verified = await verifyLoadedEntry(this.components, loaded, this.abort)
      this.entries++
      this.manifestBlocks++
      const { entry } = loaded
      const validity = verified.record.validity
      if (entry.seen !== entrySeen(verified.manifest)) {
        this.problem('seen', `entry seen ${entry.seen} is not the manifest's issuedAt ${verified.manifest.issuedAt}`, { snapshot: opened, provider: verified.provider })
      }
      if (entry.lease !== undefined && entry.lease.end !== leaseEnd(validity.getTime())) {
        this.problem('lease', `lease summary ends at bucket ${entry.lease.end}, not at the record's EOL ${validity.toISOString()}`, { snapshot: opened, provider: verified.provider })
      }
      return { keys: attrKeysForManifest(verified.manifest, { validity, uptime: entryUptime(entry) }, key) }
    } catch (err) {
      this.abort.signal?.throwIfAborted()
      if (isForged(err)) this.problem(err.reason, err.message, { snapshot: opened, provider: err.provider })
      else this.problem('entry', describe(err), { snapshot: opened, provider: toString(key, 'base16') })
      return undefined
    }
  }

  /** Every entry of the snapshot, then its attrs tree against the keys they imply. */
  private async verifyEntries (opened: OpenedSnapshot): Promise<Deviation> {
    const expected = new Set<string>()
    const deviation: Deviation = { extra: new Map(), missing: new Map(), failed: new Set() }
    const failed = deviation.failed
    let seen = 0
    const total = opened.snapshot.count
    const pending: Array<Promise<void>> = []
    const one = async (key: Uint8Array, value: Uint8Array): Promise<void> => {
      const implied = await this.verifyOne(opened, key, value)
      if (implied === undefined) {
        failed.add(toString(key, 'base16'))
      } else {
        for (const k of implied.keys) expected.add(latin1(k))
      }
      if (++seen % PROGRESS_EVERY === 0) this.options.onProgress?.(new CustomProgressEvent('registry:audit:verify', { entries: seen, total }))
    }
    let count = 0
    const scanned = await this.attempt('tree', { snapshot: opened }, async () => {
      try {
        for await (const { key, value } of this.components.prolly.range(opened.providers, this.abort)) {
          count++
          pending.push(one(key, value))
          if (pending.length >= this.concurrency) await pending.shift()
        }
        await Promise.all(pending)
      } finally {
        await Promise.allSettled(pending)
      }
    })
    this.options.onProgress?.(new CustomProgressEvent('registry:audit:verify', { entries: seen, total }))
    this.providers = count
    if (scanned && count !== total) {
      this.problem('count', `the snapshot counts ${total} entries, its providers tree holds ${count}`, { snapshot: opened })
    }

    await this.attempt('tree', { snapshot: opened }, async () => {
      for await (const { key, value } of this.components.prolly.range(opened.attrs, this.abort)) {
        if (value.length !== 0) this.problem('attrs-value', `attrs key ${describeAttrKey(key).text} holds a ${value.length}-byte value`, { snapshot: opened })
        if (expected.delete(latin1(key))) {
          if (++this.attrKeys % PROGRESS_EVERY === 0) this.options.onProgress?.(new CustomProgressEvent('registry:audit:attrs', { keys: this.attrKeys }))
          continue
        }
        const { providerHex } = describeAttrKey(key)
        if (providerHex !== undefined && failed.has(providerHex)) continue
        deviation.extra.set(latin1(key), key)
        this.attrsProblem(opened, 'attrs-extra', key)
      }
    })
    for (const id of expected) {
      const key = fromLatin1(id)
      deviation.missing.set(id, key)
      this.attrsProblem(opened, 'attrs-missing', key)
    }
    this.options.onProgress?.(new CustomProgressEvent('registry:audit:attrs', { keys: this.attrKeys }))
    return deviation
  }

  private attrsProblem (opened: OpenedSnapshot, kind: 'attrs-extra' | 'attrs-missing', key: Uint8Array): void {
    const { text, provider } = describeAttrKey(key)
    this.problem(kind, kind === 'attrs-missing' ? `attrs lacks ${text}` : `attrs holds ${text} that no entry implies`, { snapshot: opened, ...(provider === undefined ? {} : { provider }) })
  }

  /** Checks `next`'s link to `previous`; false when the chain rules are broken there. */
  private checkLink (next: OpenedSnapshot, previous: OpenedSnapshot): boolean {
    const problem = linkProblem(next.snapshot, previous.snapshot)
    if (problem === undefined) return true
    this.problem(problem.kind, problem.message, { snapshot: next })
    return false
  }

  /** The snapshot's own link: `prev` resolvable and consistent, and in the history tree at height - 1 (O(log n)). */
  private async verifyLink (head: OpenedSnapshot): Promise<void> {
    const { snapshot } = head
    if (snapshot.prev == null) return
    const previous = await this.open(snapshot.prev)
    if (previous === undefined) {
      this.problem('prev', `prev ${snapshot.prev.toString()} cannot be read`, { snapshot: head })
      return
    }
    this.checkLink(head, previous)
    await this.attempt('history', { snapshot: head }, async () => {
      const { prolly } = this.components
      const h = historyHeightKey(snapshot.height - 1)
      const t = historyTimeKey(previous.snapshot.time, snapshot.height - 1)
      for (const key of [h, t]) {
        const value = await prolly.get(snapshot.history, key, this.abort)
        const found = value === undefined ? undefined : decodeHistoryEntry(key, value)
        this.historyEntries++
        if (found === undefined || !found.cid.equals(previous.cid) || found.time !== previous.snapshot.time) {
          this.problem('history', `the history holds ${found?.cid.toString() ?? 'nothing'} for height ${snapshot.height - 1}, but prev is ${previous.cid.toString()}`, { snapshot: head })
        }
      }
      const count = await prolly.count(snapshot.history, this.abort)
      if (count !== 2 * snapshot.height) this.problem('history', `the history holds ${count} entries, not 2 × ${snapshot.height}`, { snapshot: head })
    })
  }

  /** The whole chain along `prev`, each older snapshot checked against its successor, then the history tree against the chain. */
  private async verifyChain (head: OpenedSnapshot, headDeviation: Deviation): Promise<void> {
    let deviation = headDeviation
    const chain = new Map<number, OpenedSnapshot>([[head.snapshot.height, head]])
    let current = head
    while (current.snapshot.prev != null) {
      this.options.onProgress?.(new CustomProgressEvent('registry:audit:chain', { height: current.snapshot.height - 1 }))
      const previous = await this.open(current.snapshot.prev)
      if (previous === undefined) {
        this.problem('prev', `prev ${current.snapshot.prev.toString()} cannot be read`, { snapshot: current })
        break
      }
      if (!this.checkLink(current, previous)) break
      deviation = await this.verifyStep(previous, current, deviation)
      chain.set(previous.snapshot.height, previous)
      current = previous
    }
    await this.verifyHistory(head, chain)
  }

  /**
   * `older` against `newer` (already verified, departing from its implied attrs by `known`): each
   * entry that differs is verified in `older`, and the attrs diff must be exactly the delta those
   * entries imply, give or take `known`; `count` follows the diff. Returns how `older` departs.
   */
  private async verifyStep (older: OpenedSnapshot, newer: OpenedSnapshot, known: Deviation): Promise<Deviation> {
    const { prolly } = this.components
    // what the attrs diff must show: keys older has and newer lacks (implied by older only, or
    // implied by both but missing from newer), and keys newer has and older lacks
    const removed = new Map<string, Uint8Array>(known.missing)
    const added = new Map<string, Uint8Array>(known.extra)
    const failed = new Set<string>(known.failed)
    const deviation: Deviation = { extra: new Map(), missing: new Map(), failed }
    let delta = 0
    const startLoads = prolly.stats.blocksRead
    await this.attempt('tree', { snapshot: older }, async () => {
      for await (const { key, before, after } of prolly.diff(older.providers, newer.providers, this.abort)) {
        const oldKeys = before === undefined ? [] : (await this.verifyOne(older, key, before))?.keys
        const newKeys = after === undefined ? [] : (await this.verifyOne(newer, key, after))?.keys
        if (before === undefined) delta--
        if (after === undefined) delta++
        if (oldKeys === undefined || newKeys === undefined) {
          failed.add(toString(key, 'base16'))
          continue
        }
        const newIds = new Set(newKeys.map(latin1))
        const oldIds = new Set(oldKeys.map(latin1))
        for (const k of oldKeys) if (!newIds.has(latin1(k)) && !added.delete(latin1(k))) removed.set(latin1(k), k)
        for (const k of newKeys) if (!oldIds.has(latin1(k)) && !removed.delete(latin1(k))) added.set(latin1(k), k)
      }
    })
    if (older.snapshot.count !== newer.snapshot.count + delta) {
      this.problem('count', `the snapshot counts ${older.snapshot.count} entries, its providers tree holds ${newer.snapshot.count + delta}`, { snapshot: older })
    }
    await this.attempt('tree', { snapshot: older }, async () => {
      for await (const { key, before, after } of prolly.diff(older.attrs, newer.attrs, this.abort)) {
        const id = latin1(key)
        const { text, provider, providerHex } = describeAttrKey(key)
        if (providerHex !== undefined && failed.has(providerHex)) continue
        const where = { snapshot: older, ...(provider === undefined ? {} : { provider }) }
        if (before !== undefined && before.length !== 0) this.problem('attrs-value', `attrs key ${text} holds a ${before.length}-byte value`, where)
        if (before !== undefined && after === undefined && !removed.delete(id)) {
          deviation.extra.set(id, key)
          this.attrsProblem(older, 'attrs-extra', key)
        }
        if (before === undefined && after !== undefined && !added.delete(id)) {
          deviation.missing.set(id, key)
          this.attrsProblem(older, 'attrs-missing', key)
        }
      }
    })
    // expected in the diff but absent from it: older lacks what it should remove, or keeps what newer should add
    for (const [id, key] of removed) {
      if (failed.has(describeAttrKey(key).providerHex ?? '')) continue
      deviation.missing.set(id, key)
      this.attrsProblem(older, 'attrs-missing', key)
    }
    for (const [id, key] of added) {
      if (failed.has(describeAttrKey(key).providerHex ?? '')) continue
      deviation.extra.set(id, key)
      this.attrsProblem(older, 'attrs-extra', key)
    }
    this.treeBlocks += prolly.stats.blocksRead - startLoads
    return deviation
  }

  /** The head's history tree, entry by entry, against the snapshots the `prev` walk reached. */
  private async verifyHistory (head: OpenedSnapshot, chain: Map<number, OpenedSnapshot>): Promise<void> {
    const heights = new Set<number>()
    const times = new Set<number>()
    await this.attempt('history', { snapshot: head }, async () => {
      for await (const { key, value } of this.components.prolly.range(head.snapshot.history, this.abort)) {
        this.historyEntries++
        let found
        try {
          found = decodeHistoryEntry(key, value)
        } catch (err) {
          this.problem('history', describe(err), { snapshot: head })
          continue
        }
        const family = found.family === 'height' ? heights : times
        if (family.has(found.height)) this.problem('history', `the history holds height ${found.height} twice (${found.family} keys)`, { snapshot: head })
        family.add(found.height)
        const expected = chain.get(found.height)
        if (found.height >= head.snapshot.height) {
          this.problem('history', `the history holds height ${found.height}, not below the head's ${head.snapshot.height}`, { snapshot: head })
        } else if (expected === undefined) {
          // the prev walk stopped above this height (already reported)
        } else if (!expected.cid.equals(found.cid) || expected.snapshot.time !== found.time) {
          this.problem('history', `the history holds ${found.cid.toString()} (time ${found.time}) at height ${found.height}, but the prev chain reaches ${expected.cid.toString()} (time ${expected.snapshot.time})`, { snapshot: head })
        }
      }
    })
    for (let height = 0; height < head.snapshot.height; height++) {
      if (!chain.has(height)) continue
      for (const [family, found] of [['height', heights], ['time', times]] as const) {
        if (!found.has(height)) this.problem('history', `the history has no ${family} key for height ${height}`, { snapshot: head })
      }
    }
  }
}
