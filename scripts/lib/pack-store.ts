/**
 * An in-memory block store for benchmarks that saves to and loads from segment files under
 * `.bench/` (gitignored), so a large index is built once and loaded in seconds on later runs.
 * Blocks are trusted as stored: it is for benchmark fixtures, not for data from outside.
 *
 * Loaded blocks stay inside their segment buffers, found through an open-addressing table in typed arrays: the JS
 * heap then holds a handful of objects for the whole index instead of a map entry, a key string and a view per block.
 * A real indexer's blocks live on disk, outside the heap; with one object per block here, every major GC of a
 * 1,000,000-provider run would mark the whole fixture, a cost no deployment pays.
 */
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BlockStore } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'

const SEGMENT_BYTES = 256 * 1024 * 1024

/** An overlay yields to the event loop once per this many puts. */
const PUTS_PER_TURN = 256

/** The overlays' write arena grows by chunks of this size. */
const ARENA_CHUNK_BYTES = 64 * 1024 * 1024

/** A segment record: `[u8 cid length][cid][u32 BE length][bytes]`. */
const RECORD_HEAD = 1 + 4

function keyOf (cid: CID): string {
  const bytes = cid.bytes
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

async function found (cid: CID, bytes: Uint8Array | undefined): Promise<Uint8Array> {
  if (bytes === undefined) throw Object.assign(new Error(`block ${cid.toString()} not found`), { name: 'NotFoundError' })
  return Promise.resolve(bytes)
}

/** Where the block of the segment record at `offset` lies: [start, end) in the segment. */
function blockRange (segment: Buffer, offset: number): [number, number] {
  const cidLength = segment[offset]!
  const start = offset + RECORD_HEAD + cidLength
  return [start, start + segment.readUInt32BE(offset + 1 + cidLength)]
}

/** The last 4 bytes of a CID (its digest's tail): already uniform, so the table's hash. */
function tailHash (bytes: Uint8Array): number {
  const n = bytes.length
  return ((bytes[n - 4]! << 24) | (bytes[n - 3]! << 16) | (bytes[n - 2]! << 8) | bytes[n - 1]!) >>> 0
}

/** Loaded segments and the table that finds a block's record in them. */
class SegmentIndex {
  /** per slot: segment number + 1 (0 = empty) */
  private readonly segmentOf: Uint16Array
  /** per slot: where the block's record starts in its segment */
  private readonly offsetOf: Uint32Array
  private readonly mask: number

  constructor (private readonly segments: Buffer[], count: number) {
    let capacity = 1
    while (capacity < count * 2) capacity *= 2
    this.segmentOf = new Uint16Array(capacity)
    this.offsetOf = new Uint32Array(capacity)
    this.mask = capacity - 1
  }

  /** Adds the record at `offset` of segment `s`; a CID already present keeps its first block. */
  add (s: number, offset: number): boolean {
    const segment = this.segments[s]!
    const cid = segment.subarray(offset + 1, offset + 1 + segment[offset]!)
    const slot = this.find(cid)
    if (this.segmentOf[slot] !== 0) return false
    this.segmentOf[slot] = s + 1
    this.offsetOf[slot] = offset
    return true
  }

  get (cid: Uint8Array): Uint8Array | undefined {
    const slot = this.find(cid)
    const s = this.segmentOf[slot]!
    if (s === 0) return undefined
    const segment = this.segments[s - 1]!
    return segment.subarray(...blockRange(segment, this.offsetOf[slot]!))
  }

  /** Every block, as key and bytes. */
  * entries (): Generator<[string, Uint8Array]> {
    for (let slot = 0; slot <= this.mask; slot++) {
      const s = this.segmentOf[slot]!
      if (s === 0) continue
      const segment = this.segments[s - 1]!
      const offset = this.offsetOf[slot]!
      yield [segment.toString('latin1', offset + 1, offset + 1 + segment[offset]!), segment.subarray(...blockRange(segment, offset))]
    }
  }

  /** The slot that holds `cid`, or the empty slot where it would go. */
  private find (cid: Uint8Array): number {
    let slot = tailHash(cid) & this.mask
    for (;;) {
      const s = this.segmentOf[slot]!
      if (s === 0) return slot
      const segment = this.segments[s - 1]!
      const offset = this.offsetOf[slot]!
      if (segment[offset] === cid.length && segment.compare(cid, 0, cid.length, offset + 1, offset + 1 + cid.length) === 0) return slot
      slot = (slot + 1) & this.mask
    }
  }
}

export class PackStore implements BlockStore {
  /** blocks put in this process (a fresh build), before any save */
  private readonly added = new Map<string, Uint8Array>()
  private loaded: SegmentIndex | undefined
  private loadedCount = 0
  /** bytes of block data held */
  bytes = 0
  /** overlays made so far: only the newest may be used */
  private overlays = 0
  /** the newest overlay's written blocks */
  private readonly arena: Uint8Array[] = []
  private arenaUsed = 0

  get size (): number {
    return this.added.size + this.loadedCount
  }

  async get (cid: CID): Promise<Uint8Array> {
    return found(cid, this.lookup(cid))
  }

  async put (cid: CID, bytes: Uint8Array): Promise<void> {
    if (this.lookup(cid) === undefined) {
      this.bytes += bytes.length
      this.added.set(keyOf(cid), bytes)
    }
    return Promise.resolve()
  }

  async has (cid: CID): Promise<boolean> {
    return Promise.resolve(this.lookup(cid) !== undefined)
  }

  /**
   * A store over this one whose writes go to a fresh map of their own, reads falling through: a
   * measured run then never grows (and rehashes) the map of the whole index.
   *
   * Written blocks are copied into an arena that every overlay reuses, as a disk store takes them: the writer's
   * buffer is garbage once the put returns. Held here instead, a fold's written blocks (150 MB at 1,000,000
   * providers) would trigger V8's full GCs by their external memory, a cost an indexer that writes to disk does
   * not pay. A new overlay therefore ends the previous one: its blocks are overwritten, and using it throws.
   */
  overlay (): BlockStore {
    const written = new Map<string, Uint8Array>()
    const generation = ++this.overlays
    this.arenaUsed = 0
    const check = (): void => {
      if (generation !== this.overlays) throw new Error('this overlay was replaced by a newer one')
    }
    return {
      get: async (cid) => { check(); return found(cid, written.size === 0 ? this.lookup(cid) : written.get(keyOf(cid)) ?? this.lookup(cid)) },
      put: async (cid, bytes) => {
        check()
        written.set(keyOf(cid), this.toArena(bytes))
        // a disk store's writes are I/O, during which the event loop takes in what arrived (the indexer's verified
        // announcements): yield now and then, or a fold here would hold every arrival back until it ends
        if (written.size % PUTS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve))
      },
      has: async (cid) => { check(); return Promise.resolve(written.has(keyOf(cid)) || this.lookup(cid) !== undefined) }
    }
  }

  /** A copy of `bytes` in the write arena, which grows by whole chunks and is reused by the next overlay. */
  private toArena (bytes: Uint8Array): Uint8Array {
    if (bytes.length > ARENA_CHUNK_BYTES) return bytes.slice()
    let chunk = Math.floor(this.arenaUsed / ARENA_CHUNK_BYTES)
    let at = this.arenaUsed % ARENA_CHUNK_BYTES
    if (at + bytes.length > ARENA_CHUNK_BYTES) {
      chunk++
      at = 0
    }
    this.arena[chunk] ??= new Uint8Array(ARENA_CHUNK_BYTES)
    const copy = this.arena[chunk]!.subarray(at, at + bytes.length)
    copy.set(bytes)
    this.arenaUsed = chunk * ARENA_CHUNK_BYTES + at + bytes.length
    return copy
  }

  private lookup (cid: CID): Uint8Array | undefined {
    return this.loaded?.get(cid.bytes) ?? (this.added.size === 0 ? undefined : this.added.get(keyOf(cid)))
  }

  /** Writes every block to `dir` (replacing it) as segments of `[u8 cid length][cid][u32 BE length][bytes]` records. */
  async save (dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true })
    await mkdir(dir, { recursive: true })
    let segment = 0
    let parts: Uint8Array[] = []
    let size = 0
    const flush = async (): Promise<void> => {
      await writeFile(join(dir, `blocks-${String(segment++).padStart(4, '0')}.seg`), Buffer.concat(parts))
      parts = []
      size = 0
    }
    for (const [key, bytes] of [...(this.loaded?.entries() ?? []), ...this.added]) {
      const head = Buffer.alloc(RECORD_HEAD + key.length)
      head[0] = key.length
      head.write(key, 1, 'latin1')
      head.writeUInt32BE(bytes.length, 1 + key.length)
      parts.push(head, bytes)
      size += head.length + bytes.length
      if (size >= SEGMENT_BYTES) await flush()
    }
    if (size > 0) await flush()
  }

  /** The blocks saved in `dir`, or undefined when there are none. */
  static async load (dir: string): Promise<PackStore | undefined> {
    let files: string[]
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith('.seg')).sort()
    } catch {
      return undefined
    }
    if (files.length === 0) return undefined
    const segments = await Promise.all(files.map(async (file) => readFile(join(dir, file))))
    // count first, so the table is sized once
    const offsets: number[][] = segments.map((buf) => {
      const starts: number[] = []
      for (let offset = 0; offset < buf.length; offset = blockRange(buf, offset)[1]) {
        starts.push(offset)
      }
      return starts
    })
    const store = new PackStore()
    const index = new SegmentIndex(segments, offsets.reduce((n, starts) => n + starts.length, 0))
    for (const [s, starts] of offsets.entries()) {
      const buf = segments[s]!
      for (const offset of starts) {
        if (!index.add(s, offset)) continue
        store.loadedCount++
        const [start, end] = blockRange(buf, offset)
        store.bytes += end - start
      }
    }
    store.loaded = index
    return store
  }
}
