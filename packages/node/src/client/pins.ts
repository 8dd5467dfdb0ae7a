import fs from 'node:fs/promises'
import path from 'node:path'
import { verifyRecord } from '@capdex/registry'
import { defaultLogger } from '@libp2p/logger'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { toString } from 'uint8arrays/to-string'
import { IPNS_RECORD_PREFIX } from '../constants.js'
import { DEFAULT_PIN_CONCURRENCY, INDEXER_HEAD_FILE, MAX_HEAD_FILE_BYTES, PIN_PREFIX, PIN_SYNC_BATCH } from './constants.js'
import { snapshotDag } from './dag.js'
import { InvalidGcRootError, PinNotFoundError } from './errors.js'
import { localBlockSource, storingBlockSource } from './sources.js'
import { trustStore } from './trust.js'
import type { BlockSource } from './sources.js'
import type { Repo } from '../repo.js'
import type { AbortOptions, ComponentLogger, Logger } from '@libp2p/interface'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

/** A pinned snapshot: gc keeps every block of its DAG. */
export interface Pin {
  cid: CID
  kind: 'snapshot'
  /** older snapshots along `prev` are pinned too */
  history: boolean
  /** blocks in the pinned DAG */
  blocks: number
  /** bytes in the pinned DAG */
  bytes: number
  /** when it was pinned, ms since the epoch */
  time: number
}

export interface PinBlockProgress {
  cid: CID
  /** blocks of the DAG checked so far */
  blocks: number
  /** their bytes */
  bytes: number
  /** of those, blocks that were not local */
  fetched: number
}

export type PinProgressEvents =
  | ProgressEvent<'node:pin:prefetch', { blocks: number, bytes: number }>
  | ProgressEvent<'node:pin:prefetch-failed', Error>
  | ProgressEvent<'node:pin:block', PinBlockProgress>

export interface PinAddOptions extends AbortOptions, ProgressOptions<PinProgressEvents> {
  /**
   * Where missing blocks come from: bitswap, a gateway. Blocks are stored locally as they arrive.
   *
   * @default the local blockstore only
   */
  source?: BlockSource
  /**
   * Pin the older snapshots reached through `prev` too.
   *
   * @default false
   */
  history?: boolean
  /**
   * Blocks fetched at once: as soon as one arrives the next is asked for.
   *
   * @default 64
   */
  concurrency?: number
  /** @default 16000000 */
  maxBlocks?: number
}

export type GcProgressEvents =
  | ProgressEvent<'node:gc:root', { cid: CID, reason: GcRootReason }>
  | ProgressEvent<'node:gc:delete', { cid: CID, removed: number }>

export type GcRootReason = 'pin' | 'indexer-head' | 'ipns-record' | 'trusted-head'

export interface GcOptions extends AbortOptions, ProgressOptions<GcProgressEvents> {
  /**
   * Count what would be removed without removing it.
   *
   * @default false
   */
  dryRun?: boolean
}

export interface GcResult {
  /** roots gc kept the DAGs of */
  roots: number
  /** blocks kept */
  kept: number
  /** blocks removed (or that would be, with `dryRun`) */
  removed: number
}

/**
 * The capdex pin set (`/capdex/pins/<cid>` in the datastore) and garbage collection.
 *
 * Pinning walks the snapshot DAG with `snapshotDag`, fetching what is missing from `source` and
 * re-hashing every block, makes the fetched blocks durable, then writes the pin record, so a pin
 * record always names a complete DAG. gc recomputes the live set from the roots at the time it
 * runs (pinned DAGs, the indexer head's DAG with its history, the value block of every stored IPNS
 * record, the block of each trusted head) and removes every other block.
 */
export interface PinStore {
  /**
   * Fetches, checks and pins a snapshot DAG (again, when it is pinned already).
   *
   * @throws NotASnapshotError, BlockHashMismatchError, BlockFetchTimeoutError, BlockNotFoundError
   */
  add(cid: CID, options?: PinAddOptions): Promise<Pin>
  get(cid: CID, options?: AbortOptions): Promise<Pin | undefined>
  ls(options?: AbortOptions): AsyncGenerator<Pin>
  /**
   * Removes the pin; the blocks stay until gc.
   *
   * @throws PinNotFoundError
   */
  rm(cid: CID, options?: AbortOptions): Promise<Pin>
  /**
   * Removes every block not reachable from a root. Never removes a pinned block; refuses to run
   * (`InvalidGcRootError`) when a root exists but cannot be read.
   */
  gc(options?: GcOptions): Promise<GcResult>
}

export interface PinStoreComponents {
  repo: Pick<Repo, 'path' | 'blockstore' | 'datastore' | 'syncBlocks'>
  logger?: ComponentLogger
}

const utf8 = new TextEncoder()
const text = new TextDecoder()

function pinKey (cid: CID): Key {
  return new Key(`${PIN_PREFIX}/${cid.toV1().toString()}`)
}

function parsePin (bytes: Uint8Array): Pin | undefined {
  try {
    const v = JSON.parse(text.decode(bytes)) as Record<string, unknown>
    if (typeof v.cid !== 'string' || v.kind !== 'snapshot' || typeof v.history !== 'boolean' ||
      typeof v.blocks !== 'number' || typeof v.bytes !== 'number' || typeof v.time !== 'number') {
      return undefined
    }
    return { cid: CID.parse(v.cid), kind: 'snapshot', history: v.history, blocks: v.blocks, bytes: v.bytes, time: v.time }
  } catch {
    return undefined
  }
}

function serializePin (pin: Pin): Uint8Array {
  return utf8.encode(JSON.stringify({ cid: pin.cid.toString(), kind: pin.kind, history: pin.history, blocks: pin.blocks, bytes: pin.bytes, time: pin.time }))
}

/**
 * Writes the pin record of a DAG the caller has just checked whole and made durable (pinning, a
 * CAR import): the record must never name a DAG whose blocks are not all stored.
 */
export async function savePin (components: Pick<PinStoreComponents['repo'], 'datastore'>, pin: Pin, options: AbortOptions = {}): Promise<void> {
  await components.datastore.put(pinKey(pin.cid), serializePin(pin), options)
}

/** Blockstores key blocks by multihash: so does the live set. */
function liveKey (cid: CID): string {
  return toString(cid.multihash.bytes, 'base64')
}

/** Reads a CID out of `{ cid }`, `{ head }` or `{ "/": cid }` (DAG-JSON link). */
function cidField (value: unknown): CID | undefined {
  if (typeof value === 'string') {
    try { return CID.parse(value) } catch { return undefined }
  }
  if (value != null && typeof value === 'object') {
    const v = value as Record<string, unknown>
    for (const field of ['cid', 'head', '/']) {
      const cid = v[field] === undefined ? undefined : cidField(v[field])
      if (cid != null) return cid
    }
  }
  return undefined
}

/** The indexer service's head (`<repo>/indexer/head.json`), if the file exists. */
export async function readIndexerHead (repoPath: string): Promise<CID | undefined> {
  const file = path.join(repoPath, INDEXER_HEAD_FILE)
  let bytes: Uint8Array
  try {
    const stat = await fs.stat(file)
    if (stat.size > MAX_HEAD_FILE_BYTES) {
      throw new InvalidGcRootError(`${file} is larger than ${MAX_HEAD_FILE_BYTES} bytes`)
    }
    bytes = await fs.readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    if ((err as Error).name === 'InvalidGcRootError') throw err
    throw new InvalidGcRootError(`Cannot read ${file}: ${(err as Error).message}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text.decode(bytes))
  } catch (err) {
    throw new InvalidGcRootError(`${file} is not JSON: ${(err as Error).message}`)
  }
  const cid = cidField(value)
  if (cid == null) {
    throw new InvalidGcRootError(`${file} names no head CID (expected { "cid": "<cid>" })`)
  }
  return cid
}

class DefaultPinStore implements PinStore {
  private readonly repo: PinStoreComponents['repo']
  private readonly log: Logger

  constructor (components: PinStoreComponents) {
    this.repo = components.repo
    this.log = (components.logger ?? defaultLogger()).forComponent('capdex:pins')
  }

  async add (cid: CID, options: PinAddOptions = {}): Promise<Pin> {
    const { blockstore } = this.repo
    const abort: AbortOptions = options.signal != null ? { signal: options.signal } : {}
    const history = options.history === true
    const unsynced: CID[] = []
    const blocks = storingBlockSource({ blockstore }, options.source ?? localBlockSource({ blockstore }), {
      onFetch: (block) => { unsynced.push(block.cid) }
    })
    const sync = async (): Promise<void> => {
      if (unsynced.length > 0) await this.repo.syncBlocks(unsynced.splice(0), abort)
    }

    if (blocks.prefetch != null) {
      let prefetched = 0
      let prefetchedBytes = 0
      try {
        for await (const block of blocks.prefetch(cid, { ...abort, history })) {
          await blocks.store(block, abort)
          prefetched++
          prefetchedBytes += block.bytes.byteLength
          options.onProgress?.(new CustomProgressEvent('node:pin:prefetch', { blocks: prefetched, bytes: prefetchedBytes }))
          if (unsynced.length >= PIN_SYNC_BATCH) await sync()
        }
      } catch (err) {
        options.signal?.throwIfAborted()
        // the blocks it did deliver were checked and stored; the walk fetches the rest one by one
        this.log('prefetch of %c stopped after %d blocks - %e', cid, prefetched, err)
        options.onProgress?.(new CustomProgressEvent('node:pin:prefetch-failed', err as Error))
      }
    }

    let count = 0
    let bytes = 0
    for await (const block of snapshotDag({ blocks }, cid, {
      history,
      ...abort,
      concurrency: options.concurrency ?? DEFAULT_PIN_CONCURRENCY,
      ...(options.maxBlocks != null ? { maxBlocks: options.maxBlocks } : {})
    })) {
      count++
      bytes += block.bytes.byteLength
      options.onProgress?.(new CustomProgressEvent('node:pin:block', { cid: block.cid, blocks: count, bytes, fetched: blocks.fetched }))
      if (unsynced.length >= PIN_SYNC_BATCH) await sync()
    }
    // the pin record only ever names a DAG whose blocks are durable
    await sync()
    const pin: Pin = { cid: cid.toV1(), kind: 'snapshot', history, blocks: count, bytes, time: Date.now() }
    await savePin(this.repo, pin, abort)
    this.log('pinned %c (%d blocks, %d bytes, %d fetched%s)', cid, count, bytes, blocks.fetched, history ? ', with history' : '')
    return pin
  }

  async get (cid: CID, options: AbortOptions = {}): Promise<Pin | undefined> {
    try {
      return parsePin(await this.repo.datastore.get(pinKey(cid), options))
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') return undefined
      throw err
    }
  }

  async * ls (options: AbortOptions = {}): AsyncGenerator<Pin> {
    for await (const { value } of this.repo.datastore.query({ prefix: `${PIN_PREFIX}/` }, options)) {
      const pin = parsePin(value)
      if (pin != null) yield pin
    }
  }

  async rm (cid: CID, options: AbortOptions = {}): Promise<Pin> {
    const pin = await this.get(cid, options)
    if (pin == null) {
      throw new PinNotFoundError(`${cid.toString()} is not pinned`)
    }
    await this.repo.datastore.delete(pinKey(cid), options)
    this.log('unpinned %c', cid)
    return pin
  }

  async gc (options: GcOptions = {}): Promise<GcResult> {
    const { blockstore, datastore } = this.repo
    const abort: AbortOptions = options.signal != null ? { signal: options.signal } : {}
    const local = localBlockSource({ blockstore })
    const live = new Set<string>()
    let roots = 0

    const keepDag = async (cid: CID, history: boolean, reason: GcRootReason): Promise<void> => {
      roots++
      options.onProgress?.(new CustomProgressEvent('node:gc:root', { cid, reason }))
      // a root's missing blocks hold nothing; any other failure (a corrupt block) stops gc
      for await (const block of snapshotDag({ blocks: local }, cid, { history, onMissing: () => {}, ...abort })) {
        live.add(liveKey(block.cid))
      }
    }

    // 1. pins
    for await (const pin of this.ls(abort)) {
      await keepDag(pin.cid, pin.history, 'pin')
    }
    // 2. the indexer service's head, with its history (it folds on top of it)
    const head = await readIndexerHead(this.repo.path)
    if (head != null) {
      await keepDag(head, true, 'indexer-head')
    }
    // 3. the value block of every stored IPNS record: a provider's current manifest, an indexer's
    //    head block (not its DAG: a client that stored the record it resolved must stay free to
    //    drop old snapshots; the indexer keeps its DAG through its head file)
    for await (const { key, value } of datastore.query({ prefix: `${IPNS_RECORD_PREFIX}/` }, abort)) {
      const name = key.baseNamespace()
      try {
        const valueCid = (await verifyRecord(name, value, { allowExpired: true })).valueCid
        if (valueCid == null) continue
        roots++
        options.onProgress?.(new CustomProgressEvent('node:gc:root', { cid: valueCid, reason: 'ipns-record' }))
        live.add(liveKey(valueCid))
      } catch (err) {
        this.log('stored record for %s does not verify, it holds nothing - %e', name, err)
      }
    }
    // 4. the last trusted head of each indexer (the next resolve proves extension from it)
    for await (const trusted of trustStore({ datastore }).list(abort)) {
      roots++
      options.onProgress?.(new CustomProgressEvent('node:gc:root', { cid: trusted.cid, reason: 'trusted-head' }))
      live.add(liveKey(trusted.cid))
    }

    const dead: CID[] = []
    let kept = 0
    for await (const { cid } of blockstore.getAll(abort)) {
      if (live.has(liveKey(cid))) kept++
      else dead.push(cid)
    }
    let removed = 0
    for (const cid of dead) {
      options.signal?.throwIfAborted()
      if (options.dryRun !== true) await blockstore.delete(cid, abort)
      removed++
      options.onProgress?.(new CustomProgressEvent('node:gc:delete', { cid, removed }))
    }
    this.log('gc kept %d blocks from %d roots, removed %d%s', kept, roots, removed, options.dryRun === true ? ' (dry run)' : '')
    return { roots, kept, removed }
  }
}

/** The pin set and gc over a repo; see `PinStore`. */
export function pinStore (components: PinStoreComponents): PinStore {
  return new DefaultPinStore(components)
}
