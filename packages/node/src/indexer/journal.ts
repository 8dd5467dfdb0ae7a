import fs from 'node:fs/promises'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import * as dagCbor from '@ipld/dag-cbor'
import { fsyncDir } from '../durable.js'
import { JOURNAL_ENTRY_HEADER_BYTES, JOURNAL_MAX_ENTRY_BYTES, JOURNAL_SEGMENT_MAX_BYTES, JOURNAL_SEGMENT_SUFFIX } from './constants.js'
import { CorruptJournalError, JournalClosedError } from './errors.js'
import type { Logger } from '@libp2p/interface'

/** One accepted update as the journal keeps it: enough to verify and fold it again. */
export interface JournalRecord {
  /** the provider's IPNS name */
  name: string
  /** the record bytes, as signed */
  record: Uint8Array
  /** the manifest block the record points to */
  manifest: Uint8Array
  /** when the indexer accepted it, ms since the epoch */
  seen: number
}

/** Where an appended entry lives; hand it back to `release` once a durable head covers it. */
export interface JournalRef {
  readonly segment: number
}

export interface JournalEntry extends JournalRecord {
  ref: JournalRef
}

export interface JournalStats {
  /** segment files on disk */
  segments: number
  /** entries appended or replayed and not yet released */
  outstanding: number
}

/**
 * A write-ahead journal of accepted updates: an update counts as acknowledged only once its
 * entry is written and fsynced, and it is released (its segment deleted) only after a durable
 * head includes it. A crash at any point leaves every acknowledged update either in a durable
 * head or in the journal, or both (replaying an update that a head already holds changes nothing).
 *
 * On disk: `<dir>/<segment, 12 digits>.log`, each a run of entries `u32 BE length ‖ u32 BE CRC-32
 * ‖ DAG-CBOR { name, record, manifest, seen }`. Appends that arrive together share one write and
 * one fsync. A torn or corrupt entry ends its segment on replay (a crash mid-append can only tear
 * the tail, and an unacknowledged tail is not owed to anyone).
 */
export interface Journal {
  /** Appends an entry durably; resolves once it is fsynced. */
  append(record: JournalRecord): Promise<JournalRef>
  /** Marks entries as folded into a durable head; deletes segments with nothing left in them. */
  release(refs: Iterable<JournalRef>): Promise<void>
  stats(): JournalStats
  /** Waits for queued writes, then closes the open segment. Safe to call twice. */
  close(): Promise<void>
}

export interface OpenJournalComponents {
  log: Logger
}

export interface OpenJournalInit {
  /**
   * A segment takes no more appends once it is this large.
   *
   * @default 8388608
   */
  segmentMaxBytes?: number
}

interface Segment {
  id: number
  file: string
  /** entries written or replayed and not yet released */
  outstanding: number
  bytes: number
  handle?: fs.FileHandle
}

interface QueuedAppend {
  frame: Uint8Array
  resolve(ref: JournalRef): void
  reject(err: unknown): void
}

const SEGMENT_NAME = /^(\d{12})\.log$/

function segmentFile (dir: string, id: number): string {
  return path.join(dir, `${String(id).padStart(12, '0')}${JOURNAL_SEGMENT_SUFFIX}`)
}

function encodeFrame (record: JournalRecord): Uint8Array {
  const payload = dagCbor.encode({ name: record.name, record: record.record, manifest: record.manifest, seen: record.seen })
  if (payload.byteLength > JOURNAL_MAX_ENTRY_BYTES) {
    throw new CorruptJournalError(`Journal entry of ${payload.byteLength} bytes exceeds ${JOURNAL_MAX_ENTRY_BYTES}`)
  }
  const frame = new Uint8Array(JOURNAL_ENTRY_HEADER_BYTES + payload.byteLength)
  const view = new DataView(frame.buffer)
  view.setUint32(0, payload.byteLength)
  view.setUint32(4, crc32(payload))
  frame.set(payload, JOURNAL_ENTRY_HEADER_BYTES)
  return frame
}

function decodePayload (payload: Uint8Array): JournalRecord {
  let value: unknown
  try {
    value = dagCbor.decode(payload)
  } catch (err) {
    throw new CorruptJournalError(`Journal entry is not DAG-CBOR: ${(err as Error).message}`)
  }
  const { name, record, manifest, seen } = (value ?? {}) as Partial<Record<keyof JournalRecord, unknown>>
  if (typeof name !== 'string' || !(record instanceof Uint8Array) || !(manifest instanceof Uint8Array) || typeof seen !== 'number' || !Number.isSafeInteger(seen)) {
    throw new CorruptJournalError('Journal entry does not have the fields name, record, manifest and seen')
  }
  return { name, record, manifest, seen }
}

/** The entries of one segment, up to the first torn or corrupt one. */
function parseSegment (bytes: Uint8Array, file: string, log: Logger): JournalRecord[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const entries: JournalRecord[] = []
  let offset = 0
  while (offset < bytes.byteLength) {
    const start = offset + JOURNAL_ENTRY_HEADER_BYTES
    const length = start <= bytes.byteLength ? view.getUint32(offset) : 0
    if (length === 0 || length > JOURNAL_MAX_ENTRY_BYTES || start + length > bytes.byteLength) {
      log('journal %s: torn entry at byte %d, ignoring the %d bytes after it', file, offset, bytes.byteLength - offset)
      break
    }
    const payload = bytes.subarray(start, start + length)
    try {
      if (crc32(payload) !== view.getUint32(offset + 4)) {
        throw new CorruptJournalError('checksum mismatch')
      }
      entries.push(decodePayload(payload))
    } catch (err) {
      log.error('journal %s: corrupt entry at byte %d, ignoring the rest of the segment - %e', file, offset, err)
      break
    }
    offset = start + length
  }
  return entries
}

class FileJournal implements Journal {
  private readonly dir: string
  private readonly log: Logger
  private readonly segmentMaxBytes: number
  private readonly segments = new Map<number, Segment>()
  private current: Segment | undefined
  private nextId: number
  private queued: QueuedAppend[] = []
  private flushQueued = false
  /** every file operation runs on this chain, one at a time */
  private chain: Promise<void> = Promise.resolve()
  private closed = false

  constructor (dir: string, components: OpenJournalComponents, init: OpenJournalInit, nextId: number) {
    this.dir = dir
    this.log = components.log
    this.segmentMaxBytes = init.segmentMaxBytes ?? JOURNAL_SEGMENT_MAX_BYTES
    this.nextId = nextId
  }

  addReplayed (segment: Segment): void {
    this.segments.set(segment.id, segment)
  }

  private async run<T> (op: () => Promise<T>): Promise<T> {
    const result = this.chain.then(op)
    this.chain = result.then(() => {}, () => {})
    return result
  }

  async append (record: JournalRecord): Promise<JournalRef> {
    if (this.closed) {
      throw new JournalClosedError()
    }
    const frame = encodeFrame(record)
    return new Promise<JournalRef>((resolve, reject) => {
      this.queued.push({ frame, resolve, reject })
      if (!this.flushQueued) {
        this.flushQueued = true
        void this.run(async () => { await this.flush() })
      }
    })
  }

  /** Writes every queued append with one write and one fsync (group commit). */
  private async flush (): Promise<void> {
    this.flushQueued = false
    const batch = this.queued
    this.queued = []
    if (batch.length === 0) {
      return
    }
    let segment: Segment | undefined
    try {
      const open = await this.writable()
      segment = open.segment
      const frames = Buffer.concat(batch.map(b => b.frame))
      await open.handle.write(frames)
      await open.handle.datasync()
      segment.bytes += frames.byteLength
      segment.outstanding += batch.length
    } catch (err) {
      this.log.error('journal append of %d entries failed - %e', batch.length, err)
      // the segment may end in a torn entry now: append to a fresh one
      if (segment != null) {
        await this.retire(segment)
      }
      for (const b of batch) b.reject(err)
      return
    }
    const ref: JournalRef = { segment: segment.id }
    for (const b of batch) b.resolve(ref)
  }

  /** The segment that takes appends, opening a new one when there is none or it is full. */
  private async writable (): Promise<{ segment: Segment, handle: fs.FileHandle }> {
    if (this.current?.handle != null && this.current.bytes < this.segmentMaxBytes) {
      return { segment: this.current, handle: this.current.handle }
    }
    if (this.current != null) {
      await this.retire(this.current)
    }
    const id = this.nextId++
    const file = segmentFile(this.dir, id)
    const handle = await fs.open(file, 'a', 0o600)
    // the new file's directory entry must be durable before its entries are acknowledged
    await fsyncDir(this.dir)
    const segment: Segment = { id, file, outstanding: 0, bytes: 0, handle }
    this.segments.set(id, segment)
    this.current = segment
    return { segment, handle }
  }

  /** Stops appending to a segment (closes its handle); deletes it when nothing in it is outstanding. */
  private async retire (segment: Segment): Promise<void> {
    if (this.current === segment) {
      this.current = undefined
    }
    const handle = segment.handle
    delete segment.handle
    await handle?.close()
    if (segment.outstanding <= 0) {
      await this.remove(segment)
    }
  }

  private async remove (segment: Segment): Promise<void> {
    this.segments.delete(segment.id)
    await fs.rm(segment.file, { force: true })
  }

  async release (refs: Iterable<JournalRef>): Promise<void> {
    const touched = new Set<Segment>()
    for (const ref of refs) {
      const segment = this.segments.get(ref.segment)
      if (segment != null) {
        segment.outstanding--
        touched.add(segment)
      }
    }
    if (touched.size === 0) {
      return
    }
    await this.run(async () => {
      let removed = 0
      for (const segment of touched) {
        // checked on the chain: a flush queued before this may have added entries since
        if (segment.outstanding > 0 || !this.segments.has(segment.id)) {
          continue
        }
        if (segment === this.current) {
          await this.retire(segment)
        } else {
          await this.remove(segment)
        }
        removed++
      }
      if (removed > 0) {
        // not needed for safety (a resurrected segment only replays folded updates) but keeps restarts quick
        await fsyncDir(this.dir)
      }
    })
  }

  stats (): JournalStats {
    let outstanding = 0
    for (const segment of this.segments.values()) {
      outstanding += Math.max(0, segment.outstanding)
    }
    return { segments: this.segments.size, outstanding }
  }

  async close (): Promise<void> {
    if (this.closed) {
      return
    }
    this.closed = true
    await this.run(async () => {
      await this.flush()
      const handle = this.current?.handle
      if (this.current != null) {
        delete this.current.handle
        this.current = undefined
      }
      await handle?.close()
    })
  }
}

/**
 * Opens (creating it if needed) the journal in `dir` and reads back every entry left in it,
 * oldest first. Segments with no intact entry are deleted; new appends go to a new segment.
 */
export async function openJournal (dir: string, components: OpenJournalComponents, init: OpenJournalInit = {}): Promise<{ journal: Journal, entries: JournalEntry[] }> {
  if (await fs.mkdir(dir, { recursive: true }) != null) {
    await fsyncDir(path.dirname(dir))
  }
  const ids = (await fs.readdir(dir))
    .map(name => SEGMENT_NAME.exec(name)?.[1])
    .filter((id): id is string => id != null)
    .map(Number)
    .sort((a, b) => a - b)
  const journal = new FileJournal(dir, components, init, (ids.at(-1) ?? 0) + 1)
  const entries: JournalEntry[] = []
  for (const id of ids) {
    const file = segmentFile(dir, id)
    const bytes = await fs.readFile(file)
    const records = parseSegment(bytes, file, components.log)
    if (records.length === 0) {
      await fs.rm(file, { force: true })
      continue
    }
    const ref: JournalRef = { segment: id }
    journal.addReplayed({ id, file, outstanding: records.length, bytes: bytes.byteLength })
    for (const record of records) {
      entries.push({ ...record, ref })
    }
  }
  if (entries.length > 0) {
    components.log('journal holds %d unfolded update(s) in %d segment(s)', entries.length, journal.stats().segments)
  }
  return { journal, entries }
}
