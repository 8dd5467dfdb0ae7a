import * as dagCbor from '@ipld/dag-cbor'
import { defaultLogger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { blockMatchesCid } from '../blocks.js'
import { concatBytes } from '../bytes.js'
import { CAR_STORE_BATCH, DEFAULT_MAX_CAR_BYTES } from './constants.js'
import { cidTable } from './cid-table.js'
import { checkDag, checkSnapshotDag, dagBatches, incompleteSnapshotError, sha256Equals } from './dag.js'
import { CarBlockMismatchError, CarRootMissingError, CarTooLargeError, InvalidCarError, TruncatedCarError } from './errors.js'
import { savePin } from './pins.js'
import { isMissingBlock, localBlockSource } from './sources.js'
import type { CidTable } from './cid-table.js'
import type { DagBlock, DagWalkOptions, DagWalkSource, SnapshotDagOptions } from './dag.js'
import type { Pin } from './pins.js'
import type { BlockSource } from './sources.js'
import type { Repo } from '../repo.js'
import type { AbortOptions, ComponentLogger } from '@libp2p/interface'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

export type ExportCarProgressEvents = ProgressEvent<'node:car:export', { cid: CID, blocks: number, bytes: number }>

export interface ExportCarOptions extends Pick<SnapshotDagOptions, 'history' | 'concurrency' | 'maxBlocks'>, AbortOptions, ProgressOptions<ExportCarProgressEvents> {}

export interface ExportCarComponents {
  /** where the blocks come from, typically the local blockstore */
  blocks: BlockSource
}

/** Bytes of the unsigned LEB128 varint of `n` (CAR section lengths). */
function varintLength (n: number): number {
  let length = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    length++
  }
  return length
}

/** Writes the varint of `n` at `at`; returns the offset after it. */
function writeVarint (n: number, out: Uint8Array, at: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  out[at++] = n
  return at
}

/** A CARv1 header: varint length, then DAG-CBOR `{ version: 1, roots }` (as `@ipld/car`'s CarWriter writes it). */
function carHeader (roots: CID[]): Uint8Array {
  const header = dagCbor.encode({ version: 1, roots })
  const out = new Uint8Array(varintLength(header.byteLength) + header.byteLength)
  out.set(header, writeVarint(header.byteLength, out, 0))
  return out
}

/** CARv1 sections for a batch of blocks, in one buffer: per block, varint length, CID bytes, block bytes. */
function carSections (blocks: readonly DagBlock[]): Uint8Array {
  let size = 0
  for (const { cid, bytes } of blocks) {
    const length = cid.bytes.byteLength + bytes.byteLength
    size += varintLength(length) + length
  }
  // every byte is written below: no need to zero-fill a few hundred KiB per batch
  const out = Buffer.allocUnsafeSlow(size)
  let at = 0
  for (const { cid, bytes } of blocks) {
    at = writeVarint(cid.bytes.byteLength + bytes.byteLength, out, at)
    out.set(cid.bytes, at)
    at += cid.bytes.byteLength
    out.set(bytes, at)
    at += bytes.byteLength
  }
  return out
}

/**
 * A CARv1 of the snapshot DAG (`snapshotDag` order, so the same snapshot always gives the same
 * bytes) with the snapshot as its only root, as a stream of byte chunks: the sections of one
 * batch of the walk each. The walk hashes every block once, reading the store unchecked
 * (`getUnchecked`), and the sections are written straight into the chunk.
 *
 * @throws IncompleteSnapshotError a block is not in `blocks` (the error counts the missing ones)
 * @throws BlockHashMismatchError a stored block does not match its CID
 */
export async function * exportCar (components: ExportCarComponents, cid: CID, options: ExportCarOptions = {}): AsyncGenerator<Uint8Array> {
  const walk: DagWalkOptions = {
    ...(options.signal != null ? { signal: options.signal } : {}),
    ...(options.history != null ? { history: options.history } : {}),
    ...(options.concurrency != null ? { concurrency: options.concurrency } : {}),
    ...(options.maxBlocks != null ? { maxBlocks: options.maxBlocks } : {})
  }
  let blocks = 0
  let bytes = 0
  yield carHeader([cid])
  try {
    for await (const batch of dagBatches(components, cid, walk)) {
      for (const block of batch) bytes += block.bytes.byteLength
      blocks += batch.length
      const last = batch[batch.length - 1]
      if (last != null) options.onProgress?.(new CustomProgressEvent('node:car:export', { cid: last.cid, blocks, bytes }))
      yield carSections(batch)
    }
  } catch (err) {
    if (isMissingBlock(err) && options.signal?.aborted !== true) {
      throw incompleteSnapshotError(await checkSnapshotDag(components, cid, walk))
    }
    throw err
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

const CIDV0_PREFIX = [0x12, 0x20]
const SHA2_256 = 0x12
const SHA2_256_BYTES = 32
const IDENTITY = 0x00
/** bytes of a CARv2's fixed header after its pragma: characteristics, data offset, data size, index offset */
const CARV2_HEADER_BYTES = 40
/** a guess at the mean block size of a snapshot CAR, to size its index */
const TYPICAL_BLOCK_BYTES = 1024

/** A cursor over a CAR held in memory; reads fail with `TruncatedCarError` past `end`. */
class CarBytes {
  pos: number
  end: number
  readonly bytes: Uint8Array

  constructor (bytes: Uint8Array, pos: number, end: number) {
    this.bytes = bytes
    this.pos = pos
    this.end = end
  }

  varint (): number {
    let value = 0
    for (let shift = 1; shift < 2 ** 63; shift *= 0x80) {
      if (this.pos >= this.end) throw new TruncatedCarError('The CAR ends in the middle of a varint')
      const b = this.bytes[this.pos++] ?? 0
      value += (b & 0x7f) * shift
      if (b < 0x80) {
        if (!Number.isSafeInteger(value)) break
        return value
      }
    }
    throw new InvalidCarError('The CAR holds a varint that is too long')
  }

  take (length: number, what: string): number {
    if (this.pos + length > this.end) throw new TruncatedCarError(`The CAR ends in the middle of ${what}`)
    const start = this.pos
    this.pos += length
    return start
  }
}

/** Reads a CAR header (a CARv2 is read through to its CARv1 payload); leaves `car` at the first section. */
function readCarHeader (car: CarBytes): CID[] {
  const length = car.varint()
  if (length === 0) throw new InvalidCarError('The CAR header is empty')
  const start = car.take(length, 'its header')
  let header: unknown
  try {
    header = dagCbor.decode(car.bytes.subarray(start, car.pos))
  } catch (err) {
    throw new InvalidCarError(`The CAR header is not DAG-CBOR: ${(err as Error).message}`)
  }
  const { version, roots, ...rest } = (header ?? {}) as Record<string, unknown>
  if (typeof header !== 'object' || Object.keys(rest).length > 0) throw new InvalidCarError('The CAR header is not { version, roots }')
  if (version === 2 && roots === undefined) {
    const fixed = car.take(CARV2_HEADER_BYTES, 'its CARv2 header')
    const view = new DataView(car.bytes.buffer, car.bytes.byteOffset + fixed, CARV2_HEADER_BYTES)
    const dataOffset = Number(view.getBigUint64(16, true))
    const dataSize = Number(view.getBigUint64(24, true))
    if (dataOffset < car.pos || dataOffset + dataSize > car.end) throw new TruncatedCarError('The CARv2 payload lies past the end of the CAR')
    car.pos = dataOffset
    car.end = dataOffset + dataSize
    return readCarHeader(car)
  }
  if (version !== 1 || !Array.isArray(roots)) throw new InvalidCarError(`The CAR header is not a CARv1 or CARv2 header (version ${String(version)})`)
  const cids = roots.map((root) => CID.asCID(root))
  if (cids.some((cid) => cid == null)) throw new InvalidCarError('The CAR header has a root that is not a CID')
  return cids as CID[]
}

/** One block section of a CAR: where its CID and data lie in the CAR bytes. */
interface CarSection {
  /** the CID's bytes are `[start, cidEnd)`, the block's data `[cidEnd, end)` */
  start: number
  cidEnd: number
  end: number
  /** the multihash: its code and where its digest lies */
  hash: number
  digestStart: number
}

/** Reads the next section's layout into `section` (the CID prefix only: no CID object is built). */
function readSection (car: CarBytes, section: CarSection): void {
  const length = car.varint()
  if (length === 0) throw new InvalidCarError('The CAR holds an empty section')
  const start = car.take(length, 'a block')
  const end = car.pos
  const carEnd = car.end
  // the CID, read within the section
  car.pos = start
  car.end = end
  let hash: number
  let size: number
  if (car.bytes[start] === CIDV0_PREFIX[0] && car.bytes[start + 1] === CIDV0_PREFIX[1]) {
    car.pos += 2
    hash = SHA2_256
    size = SHA2_256_BYTES
  } else {
    const version = car.varint()
    if (version !== 1) throw new InvalidCarError(`The CAR holds a CID of version ${version}`)
    car.varint()
    hash = car.varint()
    size = car.varint()
  }
  section.digestStart = car.take(size, 'a CID')
  section.start = start
  section.cidEnd = car.pos
  section.end = end
  section.hash = hash
  car.pos = end
  car.end = carEnd
}

/** Whether a section's data hashes to its CID; a promise only for a hash other than sha2-256 and identity. */
function sectionMatches (car: Uint8Array, section: CarSection, data: Uint8Array): boolean | Promise<boolean> {
  const { cidEnd, hash: code, digestStart } = section
  if (code === SHA2_256 && cidEnd - digestStart === SHA2_256_BYTES) {
    return sha256Equals(data, car, digestStart)
  }
  if (code === IDENTITY) {
    return cidEnd - digestStart === data.byteLength && data.every((b, i) => b === car[digestStart + i])
  }
  return blockMatchesCid(CID.decode(car.subarray(section.start, cidEnd)), data)
}

/**
 * Imports a snapshot CAR: reads it whole (at most `maxBytes`), decodes it, re-hashes every block
 * against its CID, requires exactly one root that is among the blocks and is a snapshot, and checks
 * that the CAR together with the local blockstore holds the whole snapshot DAG. Only when every
 * check passes are the DAG's blocks stored (made durable) and the root pinned, so a rejected
 * import stores nothing.
 *
 * One pass over the CAR hashes each block once; the DAG check walks the blocks in memory (and
 * what is local), and its result is what gets stored and pinned: nothing is read back.
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

  const reader = new CarBytes(bytes, 0, bytes.byteLength)
  const roots = readCarHeader(reader)
  const root = roots[0]
  if (roots.length !== 1 || root == null) {
    throw new InvalidCarError(`A snapshot CAR has exactly one root, this one has ${roots.length}`)
  }

  // every block of the CAR, hashed once, in CAR order (a mismatch names the first bad block)
  const inCar: CarIndex = { cids: cidTable(bytes.byteLength / TYPICAL_BLOCK_BYTES), data: [] }
  let index = 0
  const section: CarSection = { start: 0, cidEnd: 0, end: 0, hash: 0, digestStart: 0 }
  while (reader.pos < reader.end) {
    readSection(reader, section)
    const data = bytes.subarray(section.cidEnd, section.end)
    let matches: boolean
    try {
      const checked = sectionMatches(bytes, section, data)
      matches = typeof checked === 'boolean' ? checked : await checked
    } catch (err) {
      const cid = CID.decode(bytes.subarray(section.start, section.cidEnd))
      throw new CarBlockMismatchError(`Block #${index} ${cid.toString()} cannot be checked: ${(err as Error).message}`, { cid, index })
    }
    if (!matches) {
      const cid = CID.decode(bytes.subarray(section.start, section.cidEnd))
      throw new CarBlockMismatchError(`Block #${index} ${cid.toString()} of the CAR does not match its CID (tampered or corrupt)`, { cid, index })
    }
    inCar.data[inCar.cids.add(bytes, section.start, section.cidEnd)] = data
    index++
    if (index % CAR_STORE_BATCH === 0) {
      options.signal?.throwIfAborted()
      options.onProgress?.(new CustomProgressEvent('node:car:verify', { blocks: index }))
    }
  }
  options.onProgress?.(new CustomProgressEvent('node:car:verify', { blocks: index }))
  if (inCar.cids.find(root.bytes) < 0) {
    throw new CarRootMissingError(`The CAR root ${root.toString()} is not among its ${index} blocks`)
  }

  const { dag, history, fromLocal } = await wholeDag(blockstore, inCar, root, abort)
  const written = await storeNew(blockstore, fromLocal.size === 0 ? dag : dag.filter((block) => !fromLocal.has(block.bytes)), dag.length, options)
  await components.repo.syncBlocks(written, abort)
  let total = 0
  for (const block of dag) total += block.bytes.byteLength
  const pin: Pin = { cid: root.toV1(), kind: 'snapshot', history, blocks: dag.length, bytes: total, time: Date.now() }
  await savePin(components.repo, pin, abort)
  log('imported %c: %d blocks in the CAR, %d stored, pinned%s', root, index, written.length, history ? ' with history' : '')
  return { root, blocks: index, stored: written.length, pin }
}

/** The blocks of a CAR by CID: `data[i]` is the block of the `i`th CID of `cids`. */
interface CarIndex {
  cids: CidTable
  data: Uint8Array[]
}

/**
 * The snapshot DAG over the CAR's blocks (not hashed yet: the caller answers for them) and then
 * the local ones: with its history when all of it is there, else without; `fromLocal` holds the
 * bytes that came from the blockstore.
 *
 * @throws IncompleteSnapshotError, and whatever the walk throws
 */
async function wholeDag (blockstore: ImportCarComponents['repo']['blockstore'], inCar: CarIndex, root: CID, abort: AbortOptions): Promise<{ dag: DagBlock[], history: boolean, fromLocal: Set<Uint8Array> }> {
  const local = localBlockSource({ blockstore })
  const fromLocal = new Set<Uint8Array>()
  const source: DagWalkSource = {
    get: (cid, getOptions) => inCar.data[inCar.cids.find(cid.bytes)] ?? local.get(cid, getOptions).then((bytes) => {
      fromLocal.add(bytes)
      return bytes
    })
  }
  const dag: DagBlock[] = []
  const keep = (batch: DagBlock[]): void => { for (const block of batch) dag.push(block) }
  try {
    for await (const batch of dagBatches({ blocks: source }, root, { history: true, hashedByCaller: true, ...abort })) keep(batch)
    return { dag, history: true, fromLocal }
  } catch (err) {
    if (!isMissingBlock(err) || abort.signal?.aborted === true) throw err
  }
  dag.length = 0
  fromLocal.clear()
  const check = await checkDag({ blocks: source }, root, { hashedByCaller: true, ...abort, onBatch: keep })
  if (!check.complete) throw incompleteSnapshotError(check)
  return { dag, history: false, fromLocal }
}

/** Puts the blocks the store does not hold yet, in batches (`has` checked concurrently, then `putMany`); returns their CIDs. */
async function storeNew (blockstore: ImportCarComponents['repo']['blockstore'], blocks: readonly DagBlock[], total: number, options: ImportCarOptions): Promise<CID[]> {
  const abort: AbortOptions = options.signal != null ? { signal: options.signal } : {}
  const written: CID[] = []
  for (let i = 0; i < blocks.length; i += CAR_STORE_BATCH) {
    const batch = blocks.slice(i, i + CAR_STORE_BATCH)
    // a blockstore may answer synchronously: then no promise per block
    const answers = batch.map(({ cid }) => blockstore.has(cid, abort))
    const held = answers.some((answer) => answer instanceof Promise) ? await Promise.all(answers.map(async (answer) => answer)) : answers
    const fresh = batch.filter((_, j) => held[j] !== true)
    const stored = blockstore.putMany(fresh, abort)
    if (Symbol.asyncIterator in stored) {
      for await (const cid of stored) written.push(cid)
    } else {
      for (const cid of stored) written.push(cid)
    }
    options.onProgress?.(new CustomProgressEvent('node:car:store', { stored: written.length, total }))
  }
  return written
}
