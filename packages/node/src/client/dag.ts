import { MANIFEST_MAX_BYTES } from '@capdex/manifest'
import { InvalidNodeError, MAX_NODE_BYTES_LIMIT } from '@capdex/prolly'
import { decodeEntry, decodeSnapshot, MAX_SNAPSHOT_BYTES, NotASnapshotError } from '@capdex/registry'
import { hash } from 'node:crypto'
import { anySignal } from 'any-signal'
import { sha256 } from 'multiformats/hashes/sha2'
import { blockMatchesCid } from '../blocks.js'
import { InvalidOptionError, BlockHashMismatchError, BlockTooLargeError } from '../errors.js'
import { DEFAULT_DAG_BATCH, DEFAULT_DAG_CONCURRENCY, DEFAULT_MAX_DAG_BLOCKS, MISSING_SAMPLE_SIZE } from './constants.js'
import { cidTable } from './cid-table.js'
import { decodeCid, isDagCborSha256, scanTreeNode } from './dag-scan.js'
import { DagTooLargeError, IncompleteSnapshotError } from './errors.js'
import { isMissingBlock } from './sources.js'
import type { BlockSource, BlockSourceGetOptions } from './sources.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** What a block is to its snapshot: the snapshot block, a node of one of its trees, or a manifest. */
export type DagBlockKind = 'snapshot' | 'providers' | 'attrs' | 'history' | 'manifest'

/** One block of a snapshot DAG, already checked against its CID. */
export interface DagBlock {
  cid: CID
  bytes: Uint8Array
  kind: DagBlockKind
}

export interface SnapshotDagComponents {
  /** where the blocks come from; a network source makes the walk a fetch */
  blocks: Pick<BlockSource, 'get'>
}

export interface SnapshotDagOptions extends AbortOptions {
  /**
   * Include the older snapshots reached through `prev`, each with its trees and manifests (blocks
   * they share with newer snapshots are visited once).
   *
   * @default false
   */
  history?: boolean
  /**
   * Blocks being fetched at once. As soon as one arrives the next is asked for, so a slow block
   * does not hold up the others (the walk keeps at most `8 × concurrency` blocks ahead of the
   * one it hands over).
   *
   * @default 16
   */
  concurrency?: number
  /**
   * Most blocks visited before the walk fails with `DagTooLargeError`.
   *
   * @default 16000000
   */
  maxBlocks?: number
  /**
   * Called for a block the source does not have (`BlockNotFoundError` and kin); the walk then
   * skips it (and whatever only it links to) instead of failing.
   */
  onMissing?(cid: CID, kind: DagBlockKind): void
}

const MAX_BYTES: Record<DagBlockKind, number> = {
  snapshot: MAX_SNAPSHOT_BYTES,
  providers: MAX_NODE_BYTES_LIMIT,
  attrs: MAX_NODE_BYTES_LIMIT,
  history: MAX_NODE_BYTES_LIMIT,
  manifest: MANIFEST_MAX_BYTES
}

/**
 * A block the walk has queued. A class, so that every one has the same shape. Its CID is read
 * from the parent's bytes when the block is asked for, not when it is queued: the queue can hold
 * a whole level of the DAG, and CID objects that live that long cost the garbage collector.
 */
class Pending {
  /** the CID's bytes: `[start, end)` of `node` */
  node: Uint8Array | undefined
  start: number
  end: number
  private decoded: CID | undefined
  readonly kind: DagBlockKind
  /** the CID's index in the walk's `CidTable` */
  readonly index: number
  /** the block was queued before under another kind: walk it again, but hand it over once */
  readonly repeat: boolean
  /** the source answered: with `bytes`, or failed with `error` */
  done = false
  bytes: Uint8Array | undefined = undefined
  error: unknown = undefined
  /** settles when `done` is set, for a source that answers asynchronously */
  waiting: Promise<void> | undefined = undefined
  /**
   * For a manifest no entry known valid names (see `namedByValidEntry`): the first entry that
   * names it (`[entryStart, entryEnd)` of the leaf `entryNode`), then any others.
   */
  entryNode: Uint8Array | undefined = undefined
  entryStart = 0
  entryEnd = 0
  moreEntries: Uint8Array[] | undefined = undefined

  constructor (link: LinkAt, kind: DagBlockKind, index: number, repeat: boolean) {
    this.node = link.node
    this.start = link.start
    this.end = link.end
    this.decoded = link.cid
    this.kind = kind
    this.index = index
    this.repeat = repeat
  }

  get cid (): CID {
    if (this.decoded == null) {
      this.decoded = decodeCid((this.node ?? EMPTY).subarray(this.start, this.end))
      this.node = undefined
    }
    return this.decoded
  }
}

const EMPTY = new Uint8Array(0)

/** Where a link is: its CID's bytes `[start, end)` of `node`, and the CID when there is one already. */
interface LinkAt {
  node: Uint8Array
  start: number
  end: number
  cid?: CID
}

function linkTo (cid: CID): LinkAt {
  return { node: cid.bytes, start: 0, end: cid.bytes.byteLength, cid }
}

/** Where a walk reads blocks from; an in-memory source may answer synchronously. */
export interface DagWalkSource {
  get(cid: CID, options: BlockSourceGetOptions): Uint8Array | Promise<Uint8Array>
  /** see `BlockSource.getUnchecked`: used when present, as the walk hashes every block anyway */
  getUnchecked?(cid: CID, options: BlockSourceGetOptions): Promise<Uint8Array>
}

/** `snapshotDag`'s options, plus what only this package's own callers may set. */
export interface DagWalkOptions extends SnapshotDagOptions {
  /**
   * The source hands out bytes the caller has hashed already (an import hashes every block of the
   * CAR as it reads it), so the walk does not hash them again.
   *
   * @default false
   */
  hashedByCaller?: boolean
  /**
   * Most blocks per batch.
   *
   * @default 256
   */
  batch?: number
}

/** How far ahead of the block it hands over a walk may fetch, in multiples of `concurrency`. */
const LOOKAHEAD_FACTOR = 8

const KIND_BIT: Record<DagBlockKind, number> = { snapshot: 1, providers: 2, attrs: 4, history: 8, manifest: 16 }

/** Bytes of a sha2-256 digest. */
const SHA2_256_BYTES = 32

/**
 * Whether the sha2-256 of `data` is the 32 bytes at `at` of `digest`. The digest comes back as a
 * latin1 ('binary') string, which costs less than a Buffer per block.
 */
export function sha256Equals (data: Uint8Array, digest: Uint8Array, at = 0): boolean {
  const actual = hash('sha256', data, 'binary')
  for (let i = 0; i < SHA2_256_BYTES; i++) {
    if (actual.charCodeAt(i) !== digest[at + i]) return false
  }
  return true
}

/**
 * Whether `bytes` hash to `cid` for a sha2-256 CID, synchronously (node:crypto, no promise per
 * block); undefined for other hashes, which go through `blockMatchesCid`.
 */
function sha256Matches (cid: CID, bytes: Uint8Array): boolean | undefined {
  const { code, digest } = cid.multihash
  if (code !== sha256.code || digest.byteLength !== SHA2_256_BYTES) return undefined
  return sha256Equals(bytes, digest)
}

/** Whether `entry` decodes (strictly) as a providers entry. */
function isValidEntry (entry: Uint8Array): boolean {
  try {
    decodeEntry(entry)
    return true
  } catch {
    return false
  }
}

/**
 * Whether a manifest belongs to the DAG: some providers entry that names it is valid. The walk
 * follows the `manifest` link of every entry (read cheaply by `scanTreeNode`), and asks the strict
 * `decodeEntry` only when the manifest cannot be had: an entry that does not decode names no
 * manifest (queries report it as forged, `invalid-entry`), so its manifest is not missing.
 */
function namedByValidEntry (item: Pending): boolean {
  if (item.entryNode == null) return true
  return isValidEntry(item.entryNode.subarray(item.entryStart, item.entryEnd)) || (item.moreEntries?.some(isValidEntry) ?? false)
}

/**
 * Queues a link; a manifest comes with the entry that names it (`[entryStart, entryEnd)` of the
 * link's node), or none when that entry is known valid.
 */
type Enqueue = (link: LinkAt, kind: DagBlockKind, entryStart?: number, entryEnd?: number) => void

/** Hands the blocks a verified block links to, in order, to `out`. */
function childrenOf (item: Pending, bytes: Uint8Array, history: boolean, out: Enqueue): void {
  switch (item.kind) {
    case 'snapshot': {
      const snapshot = decodeSnapshot(bytes)
      const links: Array<[CID, DagBlockKind]> = [[snapshot.providers, 'providers'], [snapshot.attrs, 'attrs'], [snapshot.history, 'history']]
      if (history && snapshot.prev != null) {
        links.push([snapshot.prev, 'snapshot'])
      }
      for (const [link, kind] of links) out(linkTo(link), kind)
      return
    }
    case 'manifest':
      return
    default: {
      const kind = item.kind
      scanTreeNode(item.cid, bytes, {
        link: (node, start, end) => { out({ node, start, end }, kind) },
        ...(kind === 'providers'
          ? {
              entry: (node, start, end, linkStart, linkEnd) => {
                if (linkStart >= 0) {
                  out({ node, start: linkStart, end: linkEnd }, 'manifest', start, end)
                  return
                }
                try {
                  out(linkTo(decodeEntry(node.subarray(start, end)).manifest), 'manifest')
                } catch {
                  // an undecodable entry names no manifest; queries report it as forged (invalid-entry)
                }
              }
            }
          : {})
      })
    }
  }
}

function positiveInteger (value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(`${name} must be a positive integer, got ${value}`)
  }
  return value
}

/**
 * Every block of a snapshot DAG once, each re-hashed against its CID: the snapshot block, the
 * nodes of its `providers`, `attrs` and `history` prolly trees, and the manifest every providers
 * entry points to (with `history`, the same for each older snapshot along `prev`).
 *
 * The order is breadth-first from the snapshot, so the same DAG always gives the same sequence
 * (a CAR export is reproducible). Blocks are fetched up to `concurrency` ahead. Pin, CAR export
 * and import, the completeness check and gc all walk with this one function.
 *
 * @throws NotASnapshotError `cid` (or a `prev`) is not a snapshot
 * @throws BlockHashMismatchError a block does not hash to its CID
 * @throws InvalidNodeError a tree node is not a prolly node
 * @throws DagTooLargeError more than `maxBlocks` blocks
 * @throws whatever the source throws for a block it cannot get (unless `onMissing` takes it)
 */
export async function * snapshotDag (components: SnapshotDagComponents, cid: CID, options: SnapshotDagOptions = {}): AsyncGenerator<DagBlock> {
  for await (const batch of dagBatches(components, cid, options)) {
    yield * batch
  }
}

/**
 * `snapshotDag` in batches: the blocks that are ready, in walk order, at most `batch` at a time
 * (a batch ends early when the next block is still on its way). Callers that handle blocks in
 * bulk (CAR export, import) pay for one await per batch instead of one per block.
 */
export async function * dagBatches (components: { blocks: DagWalkSource }, cid: CID, options: DagWalkOptions = {}): AsyncGenerator<DagBlock[]> {
  const concurrency = positiveInteger(options.concurrency ?? DEFAULT_DAG_CONCURRENCY, 'concurrency')
  const maxBlocks = positiveInteger(options.maxBlocks ?? DEFAULT_MAX_DAG_BLOCKS, 'maxBlocks')
  const maxBatch = positiveInteger(options.batch ?? DEFAULT_DAG_BATCH, 'batch')
  const history = options.history === true
  const hashedByCaller = options.hashedByCaller === true
  const { blocks } = components

  const controller = new AbortController()
  const signal = anySignal([controller.signal, options.signal])
  // the walk hashes every block it reads: a source need not hash it too
  const read = hashedByCaller ? blocks.get.bind(blocks) : (blocks.getUnchecked?.bind(blocks) ?? blocks.get.bind(blocks))
  let queue: Pending[] = []
  // every CID queued, and per index the kinds (`KIND_BIT`) it was queued as: a block can be a
  // node of two trees; and the manifests queued, so that later entries naming one are added to it
  const seen = cidTable()
  const kindsOf: number[] = []
  const manifests: Array<Pending | undefined> = []
  let head = 0
  let started = 0
  let inflight = 0
  const lookahead = concurrency * LOOKAHEAD_FACTOR
  const getOptions = {} as Record<DagBlockKind, BlockSourceGetOptions>
  for (const kind of Object.keys(MAX_BYTES) as DagBlockKind[]) getOptions[kind] = { maxBytes: MAX_BYTES[kind], signal }

  const enqueue: Enqueue = (link, kind, entryStart = -1, entryEnd = -1) => {
    const { node, start, end } = link
    if (kind !== 'manifest' && !isDagCborSha256(node, start, end)) {
      const bad = link.cid ?? decodeCid(node.subarray(start, end))
      if (kind === 'snapshot') throw new NotASnapshotError(`${bad.toString()} is not a snapshot: snapshots are CIDv1 DAG-CBOR sha2-256`)
      throw new InvalidNodeError(bad, 'link', 'tree roots must be CIDv1 dag-cbor sha2-256')
    }
    if (seen.size >= maxBlocks && seen.find(node, start, end) < 0) {
      throw new DagTooLargeError(`Snapshot ${cid.toString()} has more than ${maxBlocks} blocks`)
    }
    const index = seen.add(node, start, end)
    const kinds = seen.added ? 0 : (kindsOf[index] ?? 0)
    const named = entryStart >= 0
    if ((kinds & KIND_BIT[kind]) !== 0) {
      const known = kind === 'manifest' ? manifests[index] : undefined
      if (known?.entryNode != null) {
        if (!named) known.entryNode = undefined
        else (known.moreEntries ??= []).push(node.subarray(entryStart, entryEnd))
      }
      return
    }
    kindsOf[index] = kinds | KIND_BIT[kind]
    const item = new Pending(link, kind, index, kinds !== 0)
    if (kind === 'manifest') {
      if (named) {
        item.entryNode = node
        item.entryStart = entryStart
        item.entryEnd = entryEnd
      }
      manifests[index] = item
    }
    queue.push(item)
  }

  const start = (item: Pending): void => {
    let got: Uint8Array | Promise<Uint8Array>
    try {
      got = read(item.cid, getOptions[item.kind])
    } catch (error) {
      item.error = error
      item.done = true
      return
    }
    if (got instanceof Uint8Array) {
      item.bytes = got
      item.done = true
      return
    }
    inflight++
    item.waiting = got.then(
      (bytes) => {
        item.bytes = bytes
        settled(item)
      },
      (error: unknown) => {
        item.error = error
        settled(item)
      }
    )
  }

  const settled = (item: Pending): void => {
    item.done = true
    inflight--
    pump()
  }

  let closed = false
  /** Starts fetches, up to `concurrency` in flight and `lookahead` ahead of the head of the queue. */
  const pump = (): void => {
    while (!closed && started < queue.length && inflight < concurrency && started - head < lookahead) {
      const next = queue[started++]
      if (next != null) start(next)
    }
  }

  let batch: DagBlock[] = []
  try {
    enqueue(linkTo(cid), 'snapshot')
    while (head < queue.length) {
      options.signal?.throwIfAborted()
      pump()
      const item = queue[head++]
      if (item == null) continue
      if (!item.done) {
        // hand over what is ready before waiting
        if (batch.length > 0) {
          yield batch
          batch = []
        }
        await item.waiting
      }
      if (item.kind === 'manifest') manifests[item.index] = undefined
      let block: Uint8Array | undefined
      try {
        const got = checked(item)
        block = got instanceof Uint8Array ? got : await got
      } catch (err) {
        block = skipped(item, err)
      }
      item.bytes = undefined
      item.error = undefined
      item.waiting = undefined
      item.entryNode = undefined
      item.moreEntries = undefined
      if (block == null) continue
      childrenOf(item, block, history, enqueue)
      // drop consumed entries now and then, so memory follows the frontier, not the DAG
      if (head >= 4096 && head * 2 >= queue.length) {
        queue = queue.slice(head)
        started -= head
        head = 0
      }
      if (!item.repeat) {
        batch.push({ cid: item.cid, bytes: block, kind: item.kind })
        if (batch.length >= maxBatch) {
          yield batch
          batch = []
        }
      }
    }
    if (batch.length > 0) {
      yield batch
    }
  } finally {
    closed = true
    controller.abort()
    signal.clear()
  }

  /**
   * The bytes of `item` once they pass the size and hash checks (a promise only when the hash is
   * not sha2-256); throws what is wrong.
   */
  function checked (item: Pending): Uint8Array | Promise<Uint8Array> {
    const { bytes } = item
    if (bytes == null) throw item.error
    if (bytes.byteLength > MAX_BYTES[item.kind]) {
      if (item.kind === 'snapshot') throw tooLargeForSnapshot(item.cid)
      throw new BlockTooLargeError(`Block ${item.cid.toString()} (${item.kind}) is ${bytes.byteLength} bytes, over ${MAX_BYTES[item.kind]}`)
    }
    const matches = hashedByCaller || sha256Matches(item.cid, bytes)
    if (matches === true) return bytes
    if (matches === false) throw hashMismatch(item)
    return blockMatchesCid(item.cid, bytes).then((ok) => {
      if (!ok) throw hashMismatch(item)
      return bytes
    })
  }

  /**
   * What to do about a block that failed: undefined to skip it (missing and taken by `onMissing`,
   * or a manifest no valid entry names), else the error is thrown.
   */
  function skipped (item: Pending, err: unknown): undefined {
    if (item.kind === 'manifest' && !namedByValidEntry(item)) {
      return undefined
    }
    if (item.bytes == null && options.onMissing != null && isMissingBlock(err) && options.signal?.aborted !== true) {
      options.onMissing(item.cid, item.kind)
      return undefined
    }
    throw item.kind === 'snapshot' && err instanceof Error && err.name === 'BlockTooLargeError' ? tooLargeForSnapshot(item.cid) : err
  }
}

/** What a completeness check found. */
export interface DagCheck {
  cid: CID
  /** every block of the DAG is there */
  complete: boolean
  /** blocks present */
  blocks: number
  /** bytes present */
  bytes: number
  /** blocks found missing */
  missing: number
  /**
   * False when a missing block was the snapshot or a tree node: the blocks below it could not be
   * enumerated, so `missing` is a lower bound.
   */
  exact: boolean
  /** the first few missing CIDs */
  missingCids: CID[]
}

/**
 * Walks the snapshot DAG over `blocks` (typically the local blockstore) without failing on
 * missing blocks, and counts them. Bounded like `snapshotDag`; never waits on the network unless
 * `blocks` does.
 */
export async function checkSnapshotDag (components: SnapshotDagComponents, cid: CID, options: Omit<SnapshotDagOptions, 'onMissing'> = {}): Promise<DagCheck> {
  return checkDag(components, cid, options)
}

/** `checkSnapshotDag` over any walk source, handing each batch of present blocks to `onBatch`. */
export async function checkDag (components: { blocks: DagWalkSource }, cid: CID, options: Omit<DagWalkOptions, 'onMissing'> & { onBatch?: (blocks: DagBlock[]) => void } = {}): Promise<DagCheck> {
  const { onBatch, ...walk } = options
  const check: DagCheck = { cid, complete: true, blocks: 0, bytes: 0, missing: 0, exact: true, missingCids: [] }
  const onMissing = (missing: CID, kind: DagBlockKind): void => {
    check.missing++
    check.complete = false
    if (kind !== 'manifest') check.exact = false
    if (check.missingCids.length < MISSING_SAMPLE_SIZE) check.missingCids.push(missing)
  }
  for await (const batch of dagBatches(components, cid, { ...walk, onMissing })) {
    for (const block of batch) {
      check.blocks++
      check.bytes += block.bytes.byteLength
    }
    onBatch?.(batch)
  }
  return check
}

/** The `IncompleteSnapshotError` for a failed check, naming how many blocks are missing. */
export function incompleteSnapshotError (check: DagCheck): IncompleteSnapshotError {
  const count = `${check.exact ? '' : 'at least '}${check.missing} block${check.missing === 1 ? '' : 's'}`
  const sample = check.missingCids.map(String).join(', ')
  const more = check.missing > check.missingCids.length ? ', …' : ''
  return new IncompleteSnapshotError(
    `Snapshot ${check.cid.toString()} is incomplete: ${count} missing locally (${check.blocks} present; missing: ${sample}${more}). Pin it, import its CAR, or fetch it from the network`,
    { cid: check.cid, missing: check.missing, exact: check.exact, missingCids: check.missingCids }
  )
}

/** Throws `IncompleteSnapshotError` unless every block of the snapshot DAG is in `blocks`. */
export async function assertCompleteSnapshot (components: SnapshotDagComponents, cid: CID, options: Omit<SnapshotDagOptions, 'onMissing'> = {}): Promise<DagCheck> {
  const check = await checkSnapshotDag(components, cid, options)
  if (!check.complete) {
    throw incompleteSnapshotError(check)
  }
  return check
}

function hashMismatch (item: Pending): BlockHashMismatchError {
  return new BlockHashMismatchError(`Block ${item.cid.toString()} (${item.kind}) does not match its CID`)
}

/** A block larger than any snapshot can be is not a snapshot, whatever else it is. */
function tooLargeForSnapshot (cid: CID): NotASnapshotError {
  return new NotASnapshotError(`${cid.toString()} is not a snapshot: it is larger than ${MAX_SNAPSHOT_BYTES} bytes`)
}
