/**
 * The canonical DAG-CBOR primitives the specialised codecs share (tree nodes here, provider entries
 * in @capdex/registry): shortest-form heads on write, and a reader that accepts only shortest-form,
 * definite-length heads, so a codec built on it can promise `encode(decode(bytes))` equals `bytes`.
 */

export const MAJOR_UINT = 0
export const MAJOR_BYTES = 2
export const MAJOR_TEXT = 3
export const MAJOR_ARRAY = 4
export const MAJOR_MAP = 5
export const MAJOR_TAG = 6
export const CID_TAG = 42

const EMPTY_BYTES = new Uint8Array(0)

function writeUint32 (out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24
  out[at + 1] = (value >>> 16) & 0xff
  out[at + 2] = (value >>> 8) & 0xff
  out[at + 3] = value & 0xff
}

/** Encoded size of a CBOR head carrying `value`. */
export function headBytes (value: number): number {
  return value < 24 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < 0x1_0000_0000 ? 5 : 9
}

/** Writes a CBOR head at `at` in its shortest form and returns the position after it. */
export function writeHead (out: Uint8Array, at: number, major: number, value: number): number {
  const type = major << 5
  if (value < 24) {
    out[at] = type | value
    return at + 1
  }
  if (value < 0x100) {
    out[at] = type | 24
    out[at + 1] = value
    return at + 2
  }
  if (value < 0x10000) {
    out[at] = type | 25
    out[at + 1] = value >>> 8
    out[at + 2] = value & 0xff
    return at + 3
  }
  if (value < 0x1_0000_0000) {
    out[at] = type | 26
    writeUint32(out, at + 1, value)
    return at + 5
  }
  out[at] = type | 27
  writeUint32(out, at + 1, Math.floor(value / 0x1_0000_0000))
  writeUint32(out, at + 5, value >>> 0)
  return at + 9
}

/** Writes a byte string (head and bytes) and returns the position after it. */
export function writeBytes (out: Uint8Array, at: number, bytes: Uint8Array): number {
  const start = writeHead(out, at, MAJOR_BYTES, bytes.length)
  out.set(bytes, start)
  return start + bytes.length
}

/** Strict reader: every deviation from the canonical form goes to `fail`, which must throw. */
export class CborReader {
  position = 0

  constructor (readonly bytes: Uint8Array, readonly fail: (detail: string) => never) {}

  /** Reads a head of the given major type and returns its argument, rejecting non-minimal and indefinite forms. */
  head (major: number): number {
    const bytes = this.bytes
    const at = this.position
    if (at >= bytes.length) {
      this.fail('truncated')
    }
    const initial = bytes[at]!
    if (initial >> 5 !== major) {
      this.fail(`expected CBOR major type ${major} at byte ${at}`)
    }
    const info = initial & 0x1f
    if (info < 24) {
      this.position = at + 1
      return info
    }
    const width = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
    if (width === 0) {
      this.fail(`indefinite or reserved length at byte ${at}`)
    }
    if (at + 1 + width > bytes.length) {
      this.fail('truncated')
    }
    let value = 0
    for (let i = 1; i <= width; i++) {
      value = value * 256 + bytes[at + i]!
    }
    if (value > Number.MAX_SAFE_INTEGER) {
      this.fail(`integer too large at byte ${at}`)
    }
    const minimum = width === 1 ? 24 : width === 2 ? 0x100 : width === 4 ? 0x10000 : 0x1_0000_0000
    if (value < minimum) {
      this.fail(`non-minimal integer at byte ${at}`)
    }
    this.position = at + 1 + width
    return value
  }

  /**
   * Reads a byte string's head and steps over its bytes without making a view of them; returns where they start (they
   * end at `position`). For readers that check the bytes in place and keep none of them, or not all.
   */
  byteStringStart (): number {
    const length = this.head(MAJOR_BYTES)
    const start = this.position
    if (start + length > this.bytes.length) {
      this.fail('truncated')
    }
    this.position = start + length
    return start
  }

  /** A byte string, as a view into the input (an empty one is one shared empty array: index keys have no value). */
  byteString (): Uint8Array {
    const start = this.byteStringStart()
    return start === this.position ? EMPTY_BYTES : this.bytes.subarray(start, this.position)
  }

  /** Reads a list head whose length must be `expected` when given; bounded by the bytes left so nothing huge is allocated. */
  list (expected?: number): number {
    const length = this.head(MAJOR_ARRAY)
    if (expected !== undefined && length !== expected) {
      this.fail(`list of ${length} items where ${expected} were expected`)
    }
    if (length > this.bytes.length - this.position) {
      this.fail('truncated')
    }
    return length
  }

  end (): void {
    if (this.position !== this.bytes.length) {
      this.fail('trailing bytes')
    }
  }
}
