import { decodeManifest } from '@capdex/manifest'
import { hash } from 'node:crypto'
import { CustomProgressEvent } from 'progress-events'
import { compare } from 'uint8arrays/compare'
import { equals } from 'uint8arrays/equals'
import { toString } from 'uint8arrays/to-string'
import { attrKey, attrPairId, attrRange, contextAttrs, decodeAttrKey, manifestAttrs } from '../entries/attrs.js'
import { decodeEntry, encodeEntry, entrySeen, entryUptime } from '../entries/entry.js'
import { MissingManifestError } from '../entries/errors.js'
import { leaseEnd, leaseMarks, mergeLease, sameLease } from '../entries/lease.js'
import { SHA2_256_HASH_CODE } from '../records/constants.js'
import { nameBytesFromRaw, selectNewest, verifyRecord } from '../records/index.js'
import { DEFAULT_PRUNE_AFTER_MS, FOLD_CACHED_NODES_PER_PROVIDER, SNAPSHOT_VERSION } from './constants.js'
import { InvalidFoldInputError, TimeWentBackwardsError } from './errors.js'
import { writeSnapshot } from './format.js'
import { historyOperations } from './history.js'
import { snapshotTree } from './trees.js'
import type { Snapshot } from './format.js'
import type { CID } from 'multiformats/cid'
import type { ProviderEntry } from '../entries/entry.js'
import type { AttrPair } from '../entries/attrs.js'
import type { LeaseMarks } from '../entries/lease.js'
import type { VerifiedRecord } from '../records/index.js'
import type { Manifest } from '@capdex/manifest'
import type { AbortOptions, BlockStore, Operation, Prolly } from '@capdex/prolly'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

/** A record that passed verification, with the manifest it points to. */
export interface VerifiedUpdate {
  record: VerifiedRecord
  manifest: Manifest
  /** must equal `record.valueCid` */
  manifestCid: CID
  /**
   * When the indexer received it (ms since the epoch). It does NOT enter the trees, so roots stay
   * independent of arrival times: keep it in the indexer's journal.
   */
  seen: number
  /**
   * The manifest block. When given, fold checks it against `manifestCid` and stores it; when
   * absent, the caller must already have put it in `blocks` (clients fetch it from there).
   */
  manifestBytes?: Uint8Array
}

/**
 * Reads a record stored in the providers tree back (its sequence and validity decide what
 * supersedes it). It need not re-check the clock: stored records may have expired.
 */
export type RecordReader = (name: string, bytes: Uint8Array, options: AbortOptions) => Promise<VerifiedRecord>

export interface FoldComponents {
  prolly: Prolly
  blocks: BlockStore
  /**
   * Reads stored records back.
   *
   * @default verifyRecord(name, bytes, { now, allowExpired: true })
   */
  readRecord?: RecordReader
}

export interface FoldInit {
  /** the snapshot time, ms since the epoch; it must not precede the previous snapshot's time */
  now: number
  network: string
  /** the indexer's IPNS name */
  indexer: string
  /**
   * Entries whose lease (record validity) ended more than this long before `now` are removed from
   * the trees; younger expired entries stay, flagged by their `expires` attribute.
   *
   * @default DEFAULT_PRUNE_AFTER_MS (24 h)
   */
  pruneAfterMs?: number
}

export type FoldProgressEvents =
  | ProgressEvent<'registry:fold:batch', { updates: number, providers: number }>
  | ProgressEvent<'registry:fold:prune', { candidates: number }>
  | ProgressEvent<'registry:fold:mutate', { providers: number, attrs: number }>
  | ProgressEvent<'registry:fold:snapshot', { cid: CID, height: number }>

export interface FoldOptions extends AbortOptions, ProgressOptions<FoldProgressEvents> {}

export interface FoldResult {
  snapshot: Snapshot
  cid: CID
  /** blocks newly written: tree nodes of providers, attrs and history, and the snapshot block */
  written: number
  /** providers-tree keys added, replaced or removed */
  changed: number
  /** stored entries replaced by a newer (or equivocation-winning) record */
  superseded: number
  /** entries removed because their lease ended more than `pruneAfterMs` before `now` */
  pruned: number
  /** same name, same sequence, different values: both records, smaller bytes first, each pair once */
  equivocations: Array<[VerifiedRecord, VerifiedRecord]>
}

interface Candidate {
  key: Uint8Array
  update: VerifiedUpdate
  /** the buckets every update of the batch for this name credits, winner or not */
  marks: LeaseMarks[]
}

interface Side {
  entry: Uint8Array
  record: Uint8Array
  manifestCid: CID
  manifest?: Manifest
  validity: Date
  uptime?: number | undefined
}

const EMPTY = new Uint8Array(0)


const utf8 = new TextEncoder()

/**
 * Negative when `a` beats `b`, 0 when they are the same record. A total order, so the winner of
 * any set of records is the same whatever order they arrive in: the higher sequence wins; at one
 * sequence, two values are an equivocation and the lexicographically smaller value wins; one value
 * at one sequence defers to `selectNewest` (the later EOL, then the bytes), as the records layer does.
 */
function rank (a: VerifiedRecord, b: VerifiedRecord): number {
  if (a.sequence !== b.sequence) return a.sequence > b.sequence ? -1 : 1
  if (a.value !== b.value) return compare(utf8.encode(a.value), utf8.encode(b.value))
  if (equals(a.bytes, b.bytes)) return 0
  return selectNewest(a, b) === a ? -1 : 1
}

/**
 * A map key for a provider key: one char per byte, so ids sort as the bytes do. Built from the
 * values, not through `.buffer`, which would copy a small array off the V8 heap.
 */
function bytesId (bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[])
}

/**
 * The attribute operations that turn one provider's `before` pairs into its `after` pairs. Only
 * pairs that differ are encoded: two spellings of one value (case, -0) are one pair, as they are
 * one key.
 */
function attrDelta (before: AttrPair[], after: AttrPair[], providerKey: Uint8Array, ops: Operation[]): void {
  const old = new Map<string, AttrPair>()
  for (const pair of before) old.set(attrPairId(pair), pair)
  for (const pair of after) {
    const id = attrPairId(pair)
    if (old.has(id)) old.delete(id)
    else ops.push({ op: 'put', key: attrKey(pair.attr, pair.value, providerKey), value: EMPTY })
  }
  for (const { attr, value } of old.values()) ops.push({ op: 'delete', key: attrKey(attr, value, providerKey) })
}

/** Same name, same sequence, different values: two signed claims that cannot both hold. */
function isEquivocation (a: VerifiedRecord, b: VerifiedRecord): boolean {
  return a.sequence === b.sequence && a.value !== b.value
}

/**
 * Folds verified updates into the previous snapshot (or genesis) and writes the next snapshot.
 *
 * Deterministic: the trees hold, per provider, the winning record of everything folded so far
 * under one total order (`rank`): the highest sequence; at one sequence with two values
 * (equivocation, reported) the lexicographically smaller value; at one sequence and value, the
 * later EOL, then the bytes, as `selectNewest` decides. Identical records change nothing; a losing
 * record changes only the entry's lease summary, and only when it credits a bucket within the
 * winner's uptime window that no other record did (see `LeaseSummary`). So the `providers` and
 * `attrs` roots depend only on the set of records folded (and `now` through pruning), never on
 * arrival order, batching or arrival times: an entry's `seen` is the manifest's signed `issuedAt`,
 * not the arrival time. The one exception is a provider whose higher sequence carries an earlier
 * EOL: its own lease summary may then depend on arrival order.
 *
 * Expiry is a flag, not a removal: an expired entry stays in `providers` and keeps its `expires`
 * attribute, so expiry costs no writes and roots do not depend on when folds happen. Liveness is
 * `expires > now`, decided at query time. Entries whose lease ended more than `pruneAfterMs` before
 * `now` are pruned. Pruning forgets a name's sequence, so a replayed older record that is itself
 * still within the window could re-enter; records' validity rarely falls with their sequence.
 *
 * Writes touch only the changed keys: one mutate of each tree per fold, plus one of the history.
 */
export async function fold (
  components: FoldComponents,
  previous: { snapshot: Snapshot, cid: CID } | null,
  updates: Iterable<VerifiedUpdate>,
  init: FoldInit,
  options: FoldOptions = {}
): Promise<FoldResult> {
  // A fold looks up every provider it updates, then mutates the same keys: the tree engine's cache grows for the
  // duration so that the mutation finds the looked-up nodes still decoded, and shrinks back after.
  let releaseCache: (() => void) | undefined
  try {
    return await foldBatch(components, previous, updates, init, options, (providers) => {
      releaseCache = components.prolly.reserveCache(FOLD_CACHED_NODES_PER_PROVIDER * providers)
    })
  } finally {
    releaseCache?.()
  }
}

async function foldBatch (
  components: FoldComponents,
  previous: { snapshot: Snapshot, cid: CID } | null,
  updates: Iterable<VerifiedUpdate>,
  init: FoldInit,
  options: FoldOptions,
  reserveCache: (providers: number) => void
): Promise<FoldResult> {
  const { prolly, blocks } = components
  const { now, network, indexer } = init
  const pruneAfterMs = init.pruneAfterMs ?? DEFAULT_PRUNE_AFTER_MS
  const readRecord: RecordReader = components.readRecord ??
    (async (name, bytes, opts) => verifyRecord(name, bytes, { now, allowExpired: true, ...opts }))
  const signal = options.signal
  const aborts: AbortOptions = signal == null ? {} : { signal }

  if (!Number.isSafeInteger(now) || now < 0) throw new InvalidFoldInputError('init.now must be a non-negative integer (ms)')
  if (!Number.isFinite(pruneAfterMs) || pruneAfterMs < 0) throw new InvalidFoldInputError('init.pruneAfterMs must be a non-negative number')
  if (network.length === 0 || indexer.length === 0) throw new InvalidFoldInputError('init.network and init.indexer must be non-empty')
  if (previous != null) {
    if (previous.snapshot.network !== network || previous.snapshot.indexer !== indexer) {
      throw new InvalidFoldInputError('The previous snapshot belongs to another network or indexer')
    }
    if (now < previous.snapshot.time) {
      throw new TimeWentBackwardsError(`Fold time ${now} precedes the previous snapshot time ${previous.snapshot.time}`)
    }
  }

  // 1. Reduce the batch to one winning update per provider.
  const equivocations: Array<[VerifiedRecord, VerifiedRecord]> = []
  const reported = new Set<string>()
  const report = (a: VerifiedRecord, b: VerifiedRecord): void => {
    const pair: [VerifiedRecord, VerifiedRecord] = compare(a.bytes, b.bytes) < 0 ? [a, b] : [b, a]
    const id = `${toString(pair[0].bytes, 'base64')}/${toString(pair[1].bytes, 'base64')}`
    if (reported.has(id)) return
    reported.add(id)
    equivocations.push(pair)
  }
  const candidates = new Map<string, Candidate>()
  let received = 0
  for (const update of updates) {
    received++
    const valueCid = update.record.valueCid
    if (valueCid == null || !valueCid.equals(update.manifestCid)) {
      throw new InvalidFoldInputError(`The record of ${update.record.name} does not point to manifest ${update.manifestCid.toString()}`)
    }
    // the verified record's own key: its name is the identity multihash of it
    const key = nameBytesFromRaw(update.record.publicKey.raw)
    const id = bytesId(key)
    const current = candidates.get(id)
    const marks = leaseMarks(update.record.validity.getTime(), entrySeen(update.manifest))
    if (current == null) {
      candidates.set(id, { key, update, marks: marks === undefined ? [] : [marks] })
      continue
    }
    if (marks !== undefined) current.marks.push(marks)
    if (isEquivocation(update.record, current.update.record)) {
      report(update.record, current.update.record)
    }
    if (rank(update.record, current.update.record) < 0) current.update = update
  }
  options.onProgress?.(new CustomProgressEvent('registry:fold:batch', { updates: received, providers: candidates.size }))
  reserveCache(candidates.size)
  signal?.throwIfAborted()

  const providersRoot = previous?.snapshot.providers ?? await prolly.empty(aborts)
  const attrsRoot = previous?.snapshot.attrs ?? await prolly.empty(aborts)

  // 2. Stored entries whose lease ended before the prune cutoff.
  const cutoff = now - pruneAfterMs
  const expiredKeys = new Map<string, { key: Uint8Array, expires: number }>()
  for await (const { key } of prolly.range(attrsRoot, { ...attrRange('expires', { lt: cutoff }), ...aborts })) {
    const { providerKey, value } = decodeAttrKey(key)
    expiredKeys.set(bytesId(providerKey), { key: providerKey, expires: value as number })
  }
  options.onProgress?.(new CustomProgressEvent('registry:fold:prune', { candidates: expiredKeys.size }))

  // 3. Per provider, the entry before and after this fold.
  // latin1 ids sort as their bytes do
  const ids = [...new Set([...candidates.keys(), ...expiredKeys.keys()])].sort()
  const providerOps: Operation[] = []
  const attrOps: Operation[] = []
  const manifestPuts: Array<{ cid: CID, bytes: Uint8Array }> = []
  let changed = 0
  let superseded = 0
  let pruned = 0
  let delta = 0

  const manifestOf = async (side: Side): Promise<Manifest> => {
    if (side.manifest != null) return side.manifest
    let bytes: Uint8Array
    try {
      bytes = await blocks.get(side.manifestCid, aborts)
    } catch (err) {
      throw new MissingManifestError(`Manifest ${side.manifestCid.toString()} of a stored entry is not in the block store: ${(err as Error).message}`)
    }
    return decodeManifest(bytes)
  }

  for (const id of ids) {
    signal?.throwIfAborted()
    const candidate = candidates.get(id)
    const expired = expiredKeys.get(id)
    const key = candidate?.key ?? expired?.key
    if (key == null) continue
    const storedBytes = await prolly.get(providersRoot, key, aborts)
    let before: Side | undefined
    let after: Side | undefined
    let stored: ProviderEntry | undefined
    if (storedBytes != null) {
      stored = decodeEntry(storedBytes)
      before = { entry: storedBytes, record: stored.record, manifestCid: stored.manifest, validity: new Date(expired?.expires ?? 0), uptime: entryUptime(stored) }
      after = before
      if (candidate != null) {
        const storedRecord = await readRecord(candidate.update.record.name, stored.record, aborts)
        before.validity = storedRecord.validity
        if (isEquivocation(candidate.update.record, storedRecord)) {
          report(candidate.update.record, storedRecord)
        }
        // a legacy entry (no lease summary) starts its summary with its own record's marks
        const storedMarks = stored.lease === undefined ? leaseMarks(storedRecord.validity.getTime(), stored.seen) : undefined
        if (storedMarks !== undefined) candidate.marks.push(storedMarks)
        if (rank(candidate.update.record, storedRecord) < 0) {
          after = undefined
        } else {
          // the stored record still wins: the batch's records may still add to its lease summary
          const lease = mergeLease(stored.lease, leaseEnd(storedRecord.validity.getTime()), candidate.marks)
          if (!sameLease(lease, stored.lease)) {
            const entry = encodeEntry({ ...stored, lease })
            after = { ...before, entry, uptime: entryUptime({ lease }) }
          }
        }
      }
    }
    if (after === undefined && candidate != null) {
      const { update } = candidate
      const lease = mergeLease(stored?.lease, leaseEnd(update.record.validity.getTime()), candidate.marks)
      const entry = encodeEntry({ record: update.record.bytes, manifest: update.manifestCid, seen: entrySeen(update.manifest), lease })
      after = { entry, record: update.record.bytes, manifestCid: update.manifestCid, manifest: update.manifest, validity: update.record.validity, uptime: entryUptime({ lease }) }
      if (before != null && before.manifestCid.equals(update.manifestCid)) {
        before.manifest = update.manifest
      }
    }
    if (after != null && after.validity.getTime() < cutoff) {
      after = undefined
    }
    if (before === after || (before != null && after != null && equals(before.entry, after.entry))) continue

    changed++
    if (before != null && after != null && !equals(before.record, after.record)) superseded++
    if (before != null && after == null) pruned++
    if (before == null) delta++
    if (after == null) delta--

    if (before != null && after != null && before.manifestCid.equals(after.manifestCid)) {
      // one manifest on both sides (a heartbeat): only the record's and the lease's attributes can move
      attrDelta(contextAttrs(before), contextAttrs(after), key, attrOps)
    } else {
      const oldPairs = before == null ? [] : [...manifestAttrs(await manifestOf(before)), ...contextAttrs(before)]
      const newPairs = after == null ? [] : [...manifestAttrs(await manifestOf(after)), ...contextAttrs(after)]
      attrDelta(oldPairs, newPairs, key, attrOps)
    }
    if (after == null) {
      providerOps.push({ op: 'delete', key })
    } else {
      providerOps.push({ op: 'put', key, value: after.entry })
      const bytes = candidate?.update.manifestBytes
      // a losing candidate may rewrite the stored entry (its lease summary), not its manifest
      if (bytes != null && candidate?.update.manifestCid.equals(after.manifestCid) === true) manifestPuts.push({ cid: after.manifestCid, bytes })
    }
  }

  // 4. Manifest blocks first, then the trees, then the snapshot that points at them.
  for (const { cid, bytes } of manifestPuts) {
    if (cid.multihash.code !== SHA2_256_HASH_CODE || !equals(hash('sha256', bytes, 'buffer'), cid.multihash.digest)) {
      throw new InvalidFoldInputError(`Manifest bytes do not hash to ${cid.toString()}`)
    }
    await blocks.put(cid, bytes, aborts)
  }
  const byKey = (a: Operation, b: Operation): number => compare(a.key, b.key)
  providerOps.sort(byKey)
  attrOps.sort(byKey)
  options.onProgress?.(new CustomProgressEvent('registry:fold:mutate', { providers: providerOps.length, attrs: attrOps.length }))
  let written = 0
  let providers = providersRoot
  let attrs = attrsRoot
  if (providerOps.length > 0) {
    const result = await snapshotTree(prolly, 'providers').mutate(providersRoot, providerOps, aborts)
    providers = result.root
    written += result.written
  }
  if (attrOps.length > 0) {
    const result = await snapshotTree(prolly, 'attrs').mutate(attrsRoot, attrOps, aborts)
    attrs = result.root
    written += result.written
  }
  let history: CID
  if (previous == null) {
    history = await prolly.empty(aborts)
  } else {
    const result = await snapshotTree(prolly, 'history').mutate(previous.snapshot.history, historyOperations(previous.cid, previous.snapshot), aborts)
    history = result.root
    written += result.written
  }

  const snapshot: Snapshot = {
    v: SNAPSHOT_VERSION,
    network,
    height: previous == null ? 0 : previous.snapshot.height + 1,
    time: now,
    prev: previous?.cid ?? null,
    providers,
    attrs,
    count: (previous?.snapshot.count ?? 0) + delta,
    indexer,
    history
  }
  const { cid } = await writeSnapshot(snapshot, blocks, aborts)
  written++
  options.onProgress?.(new CustomProgressEvent('registry:fold:snapshot', { cid, height: snapshot.height }))
  return { snapshot, cid, written, changed, superseded, pruned, equivocations }
}
