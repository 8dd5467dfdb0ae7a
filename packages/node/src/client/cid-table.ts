/**
 * A set of CIDs (by their bytes) that numbers its members 0, 1, 2…: the walk's visited set, an
 * import's index of its CAR. A `Map` keyed by a string of the CID's bytes spent about a third of a
 * walk building, hashing and comparing those strings; this table hashes the digest's last bytes
 * with a per-table random seed (so crafted CIDs cannot aim for one slot) into open addressing
 * over an `Int32Array`, and allocates nothing per lookup.
 */
import { randomBytes } from 'node:crypto'

/** slots a table starts with (half of them usable): most walks never grow it */
const MIN_SLOTS = 16384
/** a CIDv1 with a 32-byte digest */
const TYPICAL_CID_BYTES = 36
const GOLDEN = 0x9e3779b1
const MIX = 0x85ebca77

function readUint32 (bytes: Uint8Array, at: number): number {
  return ((bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8) | ((bytes[at + 2] ?? 0) << 16) | ((bytes[at + 3] ?? 0) << 24)) >>> 0
}

export interface CidTable {
  readonly size: number
  /** whether the last `add` added the CID */
  readonly added: boolean
  /** The index of the CID whose bytes are `bytes[start, end)`, or -1. */
  find(bytes: Uint8Array, start?: number, end?: number): number
  /** The index of the CID whose bytes are `bytes[start, end)`, adding it when new (`added` says which). */
  add(bytes: Uint8Array, start?: number, end?: number): number
}

class DefaultCidTable implements CidTable {
  /** per slot: 1 + the index of the CID there, or 0 */
  private slots: Int32Array
  private mask: number
  /**
   * The CIDs' bytes, copied end to end (not views into the blocks they came from, which would keep
   * every block that links to a CID alive); CID `i` is `arena[starts[i], starts[i + 1])`.
   */
  private arena: Uint8Array
  private starts: Int32Array
  private count = 0
  private readonly seedA: number
  private readonly seedB: number
  added = false

  constructor (expected: number) {
    let slots = MIN_SLOTS
    while (slots < expected * 2) slots *= 2
    this.slots = new Int32Array(slots)
    this.mask = slots - 1
    this.arena = new Uint8Array(slots / 2 * TYPICAL_CID_BYTES)
    this.starts = new Int32Array(slots / 2 + 1)
    const seed = randomBytes(8)
    this.seedA = seed.readUInt32LE(0)
    this.seedB = seed.readUInt32LE(4)
  }

  get size (): number {
    return this.count
  }

  private hash (bytes: Uint8Array, start: number, end: number): number {
    let h: number
    if (end - start >= 8) {
      h = Math.imul(readUint32(bytes, end - 4) ^ this.seedA, GOLDEN) ^ Math.imul(readUint32(bytes, end - 8) ^ this.seedB, MIX)
    } else {
      h = this.seedA
      for (let i = start; i < end; i++) h = Math.imul(h ^ (bytes[i] ?? 0), GOLDEN)
    }
    return (h ^ (h >>> 15)) >>> 0
  }

  /** Whether CID `index` is `bytes[start, end)`; digests differ soonest at their end. */
  private equals (index: number, bytes: Uint8Array, start: number, end: number): boolean {
    const from = this.starts[index] ?? 0
    const to = this.starts[index + 1] ?? 0
    if (to - from !== end - start) return false
    const arena = this.arena
    for (let i = to - from - 1; i >= 0; i--) {
      if (arena[from + i] !== bytes[start + i]) return false
    }
    return true
  }

  /** The slot of the CID in `bytes[start, end)`: where it is, or the empty slot where it would go. */
  private slot (bytes: Uint8Array, start: number, end: number): number {
    let slot = this.hash(bytes, start, end) & this.mask
    for (;;) {
      const entry = this.slots[slot] ?? 0
      if (entry === 0 || this.equals(entry - 1, bytes, start, end)) return slot
      slot = (slot + 1) & this.mask
    }
  }

  find (bytes: Uint8Array, start = 0, end = bytes.byteLength): number {
    return (this.slots[this.slot(bytes, start, end)] ?? 0) - 1
  }

  add (bytes: Uint8Array, start = 0, end = bytes.byteLength): number {
    const slot = this.slot(bytes, start, end)
    const entry = this.slots[slot] ?? 0
    this.added = entry === 0
    if (!this.added) return entry - 1
    const index = this.count++
    const from = this.starts[index] ?? 0
    const to = from + end - start
    if (to > this.arena.byteLength) this.arena = grown(this.arena, to)
    if (this.count + 1 > this.starts.length) this.starts = grown(this.starts, this.count + 1)
    const arena = this.arena
    for (let i = start, j = from; i < end; i++, j++) arena[j] = bytes[i] ?? 0
    this.starts[index + 1] = to
    this.slots[slot] = index + 1
    if (this.count * 2 > this.slots.length) this.rehash()
    return index
  }

  private rehash (): void {
    this.slots = new Int32Array(this.slots.length * 2)
    this.mask = this.slots.length - 1
    for (let index = 0; index < this.count; index++) {
      this.slots[this.slot(this.arena, this.starts[index] ?? 0, this.starts[index + 1] ?? 0)] = index + 1
    }
  }
}

/** `array` copied into one at least twice as large and of at least `length`. */
function grown<T extends Uint8Array | Int32Array> (array: T, length: number): T {
  const next = new (array.constructor as new (length: number) => T)(Math.max(length, array.length * 2))
  next.set(array)
  return next
}

/** An empty `CidTable`, sized for about `expected` CIDs (it grows as needed). */
export function cidTable (expected = 0): CidTable {
  return new DefaultCidTable(expected)
}
