import { MANIFEST_MAX_BYTES } from '@capdex/manifest'
import { InvalidNodeError, MAX_NODE_BYTES_LIMIT } from '@capdex/prolly'
import { decodeEntry, decodeSnapshot, MAX_SNAPSHOT_BYTES, NotASnapshotError } from '@capdex/registry'
import * as dagCbor from '@ipld/dag-cbor'
import { anySignal } from 'any-signal'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { blockMatchesCid } from '../blocks.js'
import { InvalidOptionError, BlockHashMismatchError, BlockTooLargeError } from '../errors.js'
import { DEFAULT_DAG_CONCURRENCY, DEFAULT_MAX_DAG_BLOCKS, MISSING_SAMPLE_SIZE } from './constants.js'
import { DagTooLargeError, IncompleteSnapshotError } from './errors.js'
import { isMissingBlock } from './sources.js'
import type { BlockSource } from './sources.js'
import type { AbortOptions } from '@libp2p/interface'

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
   * Blocks fetched ahead at once.
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

type Fetched = { ok: true, bytes: Uint8Array } | { ok: false, error: unknown }

interface Pending {
  cid: CID
  kind: DagBlockKind
  result?: Promise<Fetched>
}

function isDagCborSha256 (cid: CID): boolean {
  return cid.version === 1 && cid.code === dagCbor.code && cid.multihash.code === sha256.code
}

/** The links of a prolly node (branch) or its values (leaf); see "Node format" in @capdex/prolly. */
function decodeTreeNode (cid: CID, bytes: Uint8Array): { links: CID[], values: Uint8Array[] } {
  let node: unknown
  try {
    node = dagCbor.decode(bytes)
  } catch (err) {
    throw new InvalidNodeError(cid, 'encoding', `not DAG-CBOR: ${(err as Error).message}`)
  }
  if (!Array.isArray(node) || !Number.isSafeInteger(node[0]) || !Array.isArray(node[2])) {
    throw new InvalidNodeError(cid, 'encoding', 'not a prolly tree node')
  }
  const items: unknown[] = node[2]
  if (node[0] === 0) {
    if (node.length !== 3 || !items.every((v) => v instanceof Uint8Array)) {
      throw new InvalidNodeError(cid, 'encoding', 'a leaf is [0, keys, values]')
    }
    return { links: [], values: items }
  }
  if (node.length !== 4) {
    throw new InvalidNodeError(cid, 'encoding', 'a branch is [level, keys, links, counts]')
  }
  const links = items.map((item) => {
    const link = CID.asCID(item)
    if (link == null || !isDagCborSha256(link)) {
      throw new InvalidNodeError(cid, 'link', 'branch links must be CIDv1 dag-cbor sha2-256')
    }
    return link
  })
  return { links, values: [] }
}

/** The blocks a verified block links to, in order. */
function childrenOf (item: Pending, bytes: Uint8Array, history: boolean): Array<[CID, DagBlockKind]> {
  switch (item.kind) {
    case 'snapshot': {
      const snapshot = decodeSnapshot(bytes)
      const children: Array<[CID, DagBlockKind]> = [[snapshot.providers, 'providers'], [snapshot.attrs, 'attrs'], [snapshot.history, 'history']]
      if (history && snapshot.prev != null) {
        children.push([snapshot.prev, 'snapshot'])
      }
      return children
    }
    case 'manifest':
      return []
    default: {
      const { links, values } = decodeTreeNode(item.cid, bytes)
      if (links.length > 0) {
        return links.map((link) => [link, item.kind])
      }
      if (item.kind !== 'providers') {
        return []
      }
      const manifests: Array<[CID, DagBlockKind]> = []
      for (const value of values) {
        try {
          manifests.push([decodeEntry(value).manifest, 'manifest'])
        } catch {
          // an undecodable entry names no manifest; queries report it as forged (invalid-entry)
        }
      }
      return manifests
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
 * (a CAR export is reproducible). Blocks are fetched up to `concurrency` ahead. Pin, CAR export,
 * the completeness check and gc all walk with this one function.
 *
 * @throws NotASnapshotError `cid` (or a `prev`) is not a snapshot
 * @throws BlockHashMismatchError a block does not hash to its CID
 * @throws InvalidNodeError a tree node is not a prolly node
 * @throws DagTooLargeError more than `maxBlocks` blocks
 * @throws whatever the source throws for a block it cannot get (unless `onMissing` takes it)
 */
export async function * snapshotDag (components: SnapshotDagComponents, cid: CID, options: SnapshotDagOptions = {}): AsyncGenerator<DagBlock> {
  const concurrency = positiveInteger(options.concurrency ?? DEFAULT_DAG_CONCURRENCY, 'concurrency')
  const maxBlocks = positiveInteger(options.maxBlocks ?? DEFAULT_MAX_DAG_BLOCKS, 'maxBlocks')
  const history = options.history === true
  const { blocks } = components

  const controller = new AbortController()
  const signal = anySignal([controller.signal, options.signal])
  const queue: Pending[] = []
  const visited = new Set<string>()
  const yielded = new Set<string>()
  let head = 0

  const enqueue = (link: CID, kind: DagBlockKind): void => {
    if (kind === 'snapshot' && !isDagCborSha256(link)) {
      throw new NotASnapshotError(`${link.toString()} is not a snapshot: snapshots are CIDv1 DAG-CBOR sha2-256`)
    }
    if ((kind === 'providers' || kind === 'attrs' || kind === 'history') && !isDagCborSha256(link)) {
      throw new InvalidNodeError(link, 'link', 'tree roots must be CIDv1 dag-cbor sha2-256')
    }
    const key = `${kind}:${link.toString()}`
    if (visited.has(key)) {
      return
    }
    if (visited.size >= maxBlocks) {
      throw new DagTooLargeError(`Snapshot ${cid.toString()} has more than ${maxBlocks} blocks`)
    }
    visited.add(key)
    queue.push({ cid: link, kind })
  }

  const start = (item: Pending): void => {
    item.result ??= blocks.get(item.cid, { maxBytes: MAX_BYTES[item.kind], signal }).then(
      (bytes): Fetched => ({ ok: true, bytes }),
      (error: unknown): Fetched => ({ ok: false, error })
    )
  }

  try {
    enqueue(cid, 'snapshot')
    while (head < queue.length) {
      options.signal?.throwIfAborted()
      const end = Math.min(queue.length, head + concurrency)
      for (let i = head; i < end; i++) {
        const pending = queue[i]
        if (pending != null) start(pending)
      }
      const item = queue[head]
      head++
      if (item?.result == null) {
        continue
      }
      const fetched = await item.result
      if (!fetched.ok) {
        if (options.onMissing != null && isMissingBlock(fetched.error) && options.signal?.aborted !== true) {
          options.onMissing(item.cid, item.kind)
          continue
        }
        throw item.kind === 'snapshot' && fetched.error instanceof Error && fetched.error.name === 'BlockTooLargeError'
          ? tooLargeForSnapshot(item.cid)
          : fetched.error
      }
      const { bytes } = fetched
      if (bytes.byteLength > MAX_BYTES[item.kind]) {
        if (item.kind === 'snapshot') throw tooLargeForSnapshot(item.cid)
        throw new BlockTooLargeError(`Block ${item.cid.toString()} (${item.kind}) is ${bytes.byteLength} bytes, over ${MAX_BYTES[item.kind]}`)
      }
      if (!await blockMatchesCid(item.cid, bytes)) {
        throw new BlockHashMismatchError(`Block ${item.cid.toString()} (${item.kind}) does not match its CID`)
      }
      for (const [link, kind] of childrenOf(item, bytes, history)) {
        enqueue(link, kind)
      }
      // drop consumed entries now and then, so memory follows the frontier, not the DAG
      if (head >= 4096 && head * 2 >= queue.length) {
        queue.splice(0, head)
        head = 0
      }
      const id = item.cid.toString()
      if (!yielded.has(id)) {
        yielded.add(id)
        yield { cid: item.cid, bytes, kind: item.kind }
      }
    }
  } finally {
    controller.abort()
    signal.clear()
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
  const check: DagCheck = { cid, complete: true, blocks: 0, bytes: 0, missing: 0, exact: true, missingCids: [] }
  const onMissing = (missing: CID, kind: DagBlockKind): void => {
    check.missing++
    check.complete = false
    if (kind !== 'manifest') check.exact = false
    if (check.missingCids.length < MISSING_SAMPLE_SIZE) check.missingCids.push(missing)
  }
  for await (const block of snapshotDag(components, cid, { ...options, onMissing })) {
    check.blocks++
    check.bytes += block.bytes.byteLength
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

/** A block larger than any snapshot can be is not a snapshot, whatever else it is. */
function tooLargeForSnapshot (cid: CID): NotASnapshotError {
  return new NotASnapshotError(`${cid.toString()} is not a snapshot: it is larger than ${MAX_SNAPSHOT_BYTES} bytes`)
}
