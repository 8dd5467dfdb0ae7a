/**
 * An in-memory block store for benchmarks that saves to and loads from segment files under
 * `.bench/` (gitignored), so a large index is built once and loaded in seconds on later runs.
 * Blocks are trusted as stored: it is for benchmark fixtures, not for data from outside.
 */
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BlockStore } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'

const SEGMENT_BYTES = 256 * 1024 * 1024

function keyOf (cid: CID): string {
  const bytes = cid.bytes
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

async function found (cid: CID, bytes: Uint8Array | undefined): Promise<Uint8Array> {
  if (bytes === undefined) throw Object.assign(new Error(`block ${cid.toString()} not found`), { name: 'NotFoundError' })
  return Promise.resolve(bytes)
}

export class PackStore implements BlockStore {
  private readonly blocks = new Map<string, Uint8Array>()
  /** bytes of block data held */
  bytes = 0

  get size (): number {
    return this.blocks.size
  }

  async get (cid: CID): Promise<Uint8Array> {
    return found(cid, this.blocks.get(keyOf(cid)))
  }

  async put (cid: CID, bytes: Uint8Array): Promise<void> {
    this.putRaw(keyOf(cid), bytes)
    return Promise.resolve()
  }

  async has (cid: CID): Promise<boolean> {
    return Promise.resolve(this.blocks.has(keyOf(cid)))
  }

  /**
   * A store over this one whose writes go to a fresh map of their own, reads falling through: a
   * measured run then never grows (and rehashes) the map of the whole index.
   */
  overlay (): BlockStore {
    const written = new Map<string, Uint8Array>()
    return {
      get: async (cid) => {
        // one key per read: it is a string built from the CID's bytes, not free
        const key = keyOf(cid)
        return found(cid, written.get(key) ?? this.blocks.get(key))
      },
      put: async (cid, bytes) => { written.set(keyOf(cid), bytes); return Promise.resolve() },
      has: async (cid) => Promise.resolve(written.has(keyOf(cid)) || this.blocks.has(keyOf(cid)))
    }
  }

  private putRaw (key: string, bytes: Uint8Array): void {
    if (!this.blocks.has(key)) this.bytes += bytes.length
    this.blocks.set(key, bytes)
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
    for (const [key, bytes] of this.blocks) {
      const head = Buffer.alloc(1 + key.length + 4)
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
    const store = new PackStore()
    for (const file of files) {
      const buf = await readFile(join(dir, file))
      let offset = 0
      while (offset < buf.length) {
        const keyLength = buf[offset]!
        const key = buf.toString('latin1', offset + 1, offset + 1 + keyLength)
        const length = buf.readUInt32BE(offset + 1 + keyLength)
        const start = offset + 1 + keyLength + 4
        store.putRaw(key, new Uint8Array(buf.buffer, buf.byteOffset + start, length))
        offset = start + length
      }
    }
    return store
  }
}
