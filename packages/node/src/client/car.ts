import { CarBlockIterator } from '@ipld/car/iterator'
import { CarWriter } from '@ipld/car/writer'
import { defaultLogger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { blockMatchesCid } from '../blocks.js'
import { concatBytes } from '../bytes.js'
import { DEFAULT_MAX_CAR_BYTES } from './constants.js'
import { checkSnapshotDag, incompleteSnapshotError, snapshotDag } from './dag.js'
import { CarBlockMismatchError, CarRootMissingError, CarTooLargeError, InvalidCarError, TruncatedCarError } from './errors.js'
import { pinStore } from './pins.js'
import { isMissingBlock, localBlockSource } from './sources.js'
import type { DagBlock, SnapshotDagOptions } from './dag.js'
import type { Pin } from './pins.js'
import type { BlockSource, VerifiedBlock } from './sources.js'
import type { Repo } from '../repo.js'
import type { AbortOptions, ComponentLogger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

export type ExportCarProgressEvents = ProgressEvent<'node:car:export', { cid: CID, blocks: number, bytes: number }>

export interface ExportCarOptions extends Pick<SnapshotDagOptions, 'history' | 'concurrency' | 'maxBlocks'>, AbortOptions, ProgressOptions<ExportCarProgressEvents> {}

export interface ExportCarComponents {
  /** where the blocks come from, typically the local blockstore */
  blocks: BlockSource
}

/**
 * A CARv1 of the snapshot DAG (`snapshotDag` order, so the same snapshot always gives the same
 * bytes) with the snapshot as its only root, as a stream of byte chunks.
 *
 * @throws IncompleteSnapshotError a block is not in `blocks` (the error counts the missing ones)
 */
export async function * exportCar (components: ExportCarComponents, cid: CID, options: ExportCarOptions = {}): AsyncGenerator<Uint8Array> {
  const { writer, out } = CarWriter.create([cid])
  const controller = new AbortController()
  const signal = options.signal == null ? controller.signal : AbortSignal.any([controller.signal, options.signal])
  const walk: SnapshotDagOptions = {
    signal,
    ...(options.history != null ? { history: options.history } : {}),
    ...(options.concurrency != null ? { concurrency: options.concurrency } : {}),
    ...(options.maxBlocks != null ? { maxBlocks: options.maxBlocks } : {})
  }
  let failure: Error | undefined
  const writing = (async (): Promise<void> => {
    let blocks = 0
    let bytes = 0
    try {
      for await (const block of snapshotDag(components, cid, walk)) {
        await writer.put(block)
        blocks++
        bytes += block.bytes.byteLength
        options.onProgress?.(new CustomProgressEvent('node:car:export', { cid: block.cid, blocks, bytes }))
      }
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err))
    } finally {
      await writer.close()
    }
  })()
  let drained = false
  try {
    for await (const chunk of out) {
      yield chunk
    }
    drained = true
  } finally {
    if (!drained) {
      // the consumer stopped early: stop the walk, and read the writer dry so it can finish
      controller.abort()
      for await (const _ of out) { /* discard */ }
    }
    await writing
  }
  if (failure != null) {
    if (isMissingBlock(failure) && options.signal?.aborted !== true) {
      const { signal: _walkSignal, ...check } = walk
      throw incompleteSnapshotError(await checkSnapshotDag(components, cid, { ...check, ...(options.signal != null ? { signal: options.signal } : {}) }))
    }
    throw failure
  }
}

export type ImportCarProgressEvents =
  | ProgressEvent<'node:car:read', { bytes: number }>
  | ProgressEvent<'node:car:verify', { blocks: number }>
  | ProgressEvent<'node:car:store', { stored: number, total: number }>

export interface ImportCarOptions extends AbortOptions, ProgressOptions<ImportCarProgressEvents> {
  /**
   * Largest CAR accepted; the whole CAR is held in memory until every check passes.
   *
   * @default 536870912
   */
  maxBytes?: number
}

export interface ImportCarComponents {
  repo: Pick<Repo, 'path' | 'blockstore' | 'datastore' | 'syncBlocks'>
  logger?: ComponentLogger
}

export interface ImportedCar {
  root: CID
  /** blocks in the CAR */
  blocks: number
  /** blocks of the snapshot DAG that were not stored before */
  stored: number
  /** the pin: the snapshot, and its history when the CAR (with what was local) holds all of it */
  pin: Pin
}

async function collect (car: Uint8Array | AsyncIterable<Uint8Array>, maxBytes: number, options: ImportCarOptions): Promise<Uint8Array> {
  if (car instanceof Uint8Array) {
    if (car.byteLength > maxBytes) throw new CarTooLargeError(`The CAR is ${car.byteLength} bytes, over the ${maxBytes} byte cap`)
    return car
  }
  const parts: Uint8Array[] = []
  let length = 0
  for await (const chunk of car) {
    options.signal?.throwIfAborted()
    length += chunk.byteLength
    if (length > maxBytes) throw new CarTooLargeError(`The CAR is over the ${maxBytes} byte cap`)
    parts.push(chunk)
    options.onProgress?.(new CustomProgressEvent('node:car:read', { bytes: length }))
  }
  return concatBytes(parts, length)
}

function carError (err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err)
  if (/unexpected end of data/i.test(message)) {
    return new TruncatedCarError(`The CAR ends in the middle of a block or header (${message})`)
  }
  return new InvalidCarError(`The CAR cannot be decoded: ${message}`)
}

/**
 * Imports a snapshot CAR: reads it whole (at most `maxBytes`), decodes it, re-hashes every block
 * against its CID, requires exactly one root that is among the blocks and is a snapshot, and checks
 * that the CAR together with the local blockstore holds the whole snapshot DAG. Only when every
 * check passes are the DAG's blocks stored (made durable) and the root pinned, so a rejected
 * import stores nothing.
 *
 * @throws TruncatedCarError, InvalidCarError, CarTooLargeError
 * @throws CarBlockMismatchError naming the first block whose bytes do not hash to its CID
 * @throws CarRootMissingError the root is not among the blocks
 * @throws NotASnapshotError the root is not a snapshot
 * @throws IncompleteSnapshotError blocks of the DAG are neither in the CAR nor local
 */
export async function importCar (components: ImportCarComponents, car: Uint8Array | AsyncIterable<Uint8Array>, options: ImportCarOptions = {}): Promise<ImportedCar> {
  const log = (components.logger ?? defaultLogger()).forComponent('capdex:car')
  const { blockstore } = components.repo
  const abort: AbortOptions = options.signal != null ? { signal: options.signal } : {}
  const bytes = await collect(car, options.maxBytes ?? DEFAULT_MAX_CAR_BYTES, options)

  let iterator: CarBlockIterator
  let roots: CID[]
  try {
    iterator = await CarBlockIterator.fromBytes(bytes)
    roots = await iterator.getRoots()
  } catch (err) {
    throw carError(err)
  }
  const root = roots[0]
  if (roots.length !== 1 || root == null) {
    throw new InvalidCarError(`A snapshot CAR has exactly one root, this one has ${roots.length}`)
  }

  const inCar = new Map<string, VerifiedBlock>()
  let index = 0
  try {
    for await (const { cid, bytes: data } of iterator) {
      options.signal?.throwIfAborted()
      let matches: boolean
      try {
        matches = await blockMatchesCid(cid, data)
      } catch (err) {
        throw new CarBlockMismatchError(`Block #${index} ${cid.toString()} cannot be checked: ${(err as Error).message}`, { cid, index })
      }
      if (!matches) {
        throw new CarBlockMismatchError(`Block #${index} ${cid.toString()} of the CAR does not match its CID (tampered or corrupt)`, { cid, index })
      }
      inCar.set(cid.toString(), { cid, bytes: data })
      index++
      options.onProgress?.(new CustomProgressEvent('node:car:verify', { blocks: index }))
    }
  } catch (err) {
    if (err instanceof Error && (err.name === 'CarBlockMismatchError' || err.name === 'AbortError')) throw err
    throw carError(err)
  }
  if (!inCar.has(root.toString())) {
    throw new CarRootMissingError(`The CAR root ${root.toString()} is not among its ${index} blocks`)
  }

  // the CAR first, then what is already local: the DAG must be whole before anything is stored
  const local = localBlockSource({ blockstore })
  const combined: BlockSource = {
    get: async (cid, getOptions) => inCar.get(cid.toString())?.bytes ?? local.get(cid, getOptions)
  }
  const wholeDag = async (history: boolean): Promise<DagBlock[] | undefined> => {
    const blocks: DagBlock[] = []
    let missing = false
    for await (const block of snapshotDag({ blocks: combined }, root, { history, onMissing: () => { missing = true }, ...abort })) {
      blocks.push(block)
    }
    return missing ? undefined : blocks
  }
  const own = await wholeDag(false)
  if (own == null) {
    throw incompleteSnapshotError(await checkSnapshotDag({ blocks: combined }, root, abort))
  }
  const withHistory = await wholeDag(true)
  const history = withHistory != null
  const dag = withHistory ?? own

  const written: CID[] = []
  for (const { cid } of dag) {
    const block = inCar.get(cid.toString())
    if (block == null || await blockstore.has(cid, abort)) continue
    await blockstore.put(cid, block.bytes, abort)
    written.push(cid)
    options.onProgress?.(new CustomProgressEvent('node:car:store', { stored: written.length, total: dag.length }))
  }
  await components.repo.syncBlocks(written, abort)
  const pin = await pinStore(components).add(root, { history, ...abort })
  log('imported %c: %d blocks in the CAR, %d stored, pinned%s', root, index, written.length, history ? ' with history' : '')
  return { root, blocks: index, stored: written.length, pin }
}
