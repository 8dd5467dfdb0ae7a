import { compare } from 'uint8arrays/compare'

const EMPTY_SLOT = -1
const MIN_CAPACITY = 16
const FNV_PRIME = 0x01000193
const EMPTY = new Uint8Array(0)

/** A fresh random 32-bit seed, so an index cannot choose keys that collide in our tables. */
function randomSeed (): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] ?? 0x811c9dc5
}

/** Seeded FNV-1a over every byte from `start`, then a murmur3 finalizer to spread the low bits the table uses. */
function hashBytes (bytes: Uint8Array, start: number, seed: number): number {
  let h = seed ^ (bytes.length - start)
  for (let i = start; i < bytes.length; i++) {
    h = Math.imul(h ^ (bytes[i] ?? 0), FNV_PRIME)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** Whether `a` equals `b` from `start` on. */
function sameBytes (a: Uint8Array, b: Uint8Array, start: number): boolean {
  if (a.length !== b.length - start) return false
  for (let i = a.length - 1; i >= 0; i--) {
    if (a[i] !== b[start + i]) return false
  }
  return true
}

/**
 * A set of byte strings (provider keys) with O(1) membership, each key once, in insertion order:
 * open addressing over a seeded hash of every byte. The keys are held, not copied: treat them as
 * read-only, as the tree's cached nodes they come from are.
 */
export class KeySet {
  private readonly keys: Uint8Array[] = []
  private readonly hashes: number[] = []
  private readonly seed = randomSeed()
  private table: Int32Array
  private mask: number

  constructor (expected = 0) {
    let capacity = MIN_CAPACITY
    while (capacity < expected * 2) capacity *= 2
    this.table = new Int32Array(capacity).fill(EMPTY_SLOT)
    this.mask = capacity - 1
  }

  get size (): number {
    return this.keys.length
  }

  /** Adds the key `bytes` holds from `start` on (a view of them, not a copy) unless present; returns its index either way. */
  add (bytes: Uint8Array, start = 0): number {
    const hash = hashBytes(bytes, start, this.seed)
    const slot = this.slotOf(bytes, start, hash)
    const found = this.table[slot] ?? EMPTY_SLOT
    if (found !== EMPTY_SLOT) return found
    const index = this.keys.length
    this.keys.push(start === 0 ? bytes : bytes.subarray(start))
    this.hashes.push(hash)
    this.table[slot] = index
    if (this.keys.length * 2 > this.table.length) this.grow()
    return index
  }

  /** The index the key `bytes` holds from `start` on was added at, or -1. */
  indexOf (bytes: Uint8Array, start = 0): number {
    return this.table[this.slotOf(bytes, start, hashBytes(bytes, start, this.seed))] ?? EMPTY_SLOT
  }

  /** The slot that holds the key, or the empty slot where it would go (linear probing). */
  private slotOf (bytes: Uint8Array, start: number, hash: number): number {
    let slot = hash & this.mask
    for (let index = this.table[slot] ?? EMPTY_SLOT; index !== EMPTY_SLOT; index = this.table[slot] ?? EMPTY_SLOT) {
      if (this.hashes[index] === hash && sameBytes(this.keys[index] ?? EMPTY, bytes, start)) return slot
      slot = (slot + 1) & this.mask
    }
    return slot
  }

  /** The key added at `index`. */
  at (index: number): Uint8Array | undefined {
    return this.keys[index]
  }

  /** A new set of the keys whose index `keep` accepts, in the same order. */
  filter (keep: (index: number) => boolean): KeySet {
    const out = new KeySet()
    for (let index = 0; index < this.keys.length; index++) {
      const key = this.keys[index]
      if (key !== undefined && keep(index)) out.add(key)
    }
    return out
  }

  /** The keys in ascending bytewise order. */
  sorted (): Uint8Array[] {
    return [...this.keys].sort(compare)
  }

  private grow (): void {
    const capacity = this.table.length * 2
    this.table = new Int32Array(capacity).fill(EMPTY_SLOT)
    this.mask = capacity - 1
    for (let index = 0; index < this.keys.length; index++) {
      let slot = (this.hashes[index] ?? 0) & this.mask
      while (this.table[slot] !== EMPTY_SLOT) slot = (slot + 1) & this.mask
      this.table[slot] = index
    }
  }
}
