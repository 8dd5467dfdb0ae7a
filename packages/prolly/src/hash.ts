import { hash } from 'node:crypto'

/**
 * sha2-256 through node:crypto's one-shot hash, read back as a 'binary' (latin1) string (one char per digest byte): for blocks
 * the one-shot call is several times faster than multiformats' hasher, and a 32-char string costs less than the
 * 'buffer' output, which allocates an ArrayBuffer outside the heap for every digest.
 */
function digestString (bytes: Uint8Array): string {
  return hash('sha256', bytes, 'binary')
}

/** Writes sha2-256(bytes) into `out` at `offset`. */
export function sha256Into (bytes: Uint8Array, out: Uint8Array, offset: number): void {
  const digest = digestString(bytes)
  for (let i = 0; i < digest.length; i++) {
    out[offset + i] = digest.charCodeAt(i)
  }
}

/** Whether sha2-256(bytes) equals the 32 bytes of `expected` at `offset`. */
export function sha256Matches (bytes: Uint8Array, expected: Uint8Array, offset: number): boolean {
  const digest = digestString(bytes)
  for (let i = 0; i < digest.length; i++) {
    if (digest.charCodeAt(i) !== expected[offset + i]) {
      return false
    }
  }
  return true
}

/** SHA-256 round constants. */
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
])

/** SHA-256 initial hash value. */
const INITIAL_STATE = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])

/** Blocks hashed in plain JavaScript; longer inputs go to node:crypto. */
const JS_BLOCKS = 2

/** Longest input that pads into `JS_BLOCKS` blocks (less the 0x80 marker and the 8-byte length). */
const JS_MAX_BYTES = JS_BLOCKS * 64 - 9

/**
 * The first 32 bits of sha256(salt ‖ data), as an unsigned number: the chunk boundary test, run once per entry.
 * Salted keys up to 119 bytes (attribute keys run 45 to 80) take one or two compressions in plain JavaScript, which
 * allocates nothing and costs less than a native call for inputs this short; longer ones go to node:crypto.
 */
export class SaltedHash32 {
  /** the padded message, and a big-endian view of it */
  private readonly message = new Uint8Array(JS_BLOCKS * 64)
  private readonly view = new DataView(this.message.buffer)
  /** message schedule */
  private readonly w = new Int32Array(64)
  /** hash state between blocks */
  private readonly state = new Int32Array(8)

  digest (salt: number, data: Uint8Array): number {
    const length = data.length + 1
    if (length > JS_MAX_BYTES) {
      const salted = new Uint8Array(length)
      salted[0] = salt
      salted.set(data, 1)
      const digest = digestString(salted)
      return ((digest.charCodeAt(0) << 24) | (digest.charCodeAt(1) << 16) | (digest.charCodeAt(2) << 8) | digest.charCodeAt(3)) >>> 0
    }
    const blocks = length + 9 > 64 ? 2 : 1
    const message = this.message
    message.fill(0, 0, blocks * 64)
    message[0] = salt
    message.set(data, 1)
    message[length] = 0x80
    this.view.setUint32(blocks * 64 - 4, length * 8)
    const state = this.state
    state.set(INITIAL_STATE)
    for (let block = 0; block < blocks; block++) {
      this.compress(block * 64)
    }
    return state[0]! >>> 0
  }

  /** One SHA-256 compression of the 64 message bytes at `offset` into the state. */
  private compress (offset: number): void {
    const w = this.w
    const view = this.view
    for (let i = 0; i < 16; i++) {
      w[i] = view.getInt32(offset + i * 4)
    }
    for (let i = 16; i < 64; i++) {
      const w15 = w[i - 15]!
      const w2 = w[i - 2]!
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10)
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0
    }
    const state = this.state
    let a = state[0]!
    let b = state[1]!
    let c = state[2]!
    let d = state[3]!
    let e = state[4]!
    let f = state[5]!
    let g = state[6]!
    let h = state[7]!
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
      const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
      h = g
      g = f
      f = e
      e = (d + t1) | 0
      d = c
      c = b
      b = a
      a = (t1 + t2) | 0
    }
    state[0] = (state[0]! + a) | 0
    state[1] = (state[1]! + b) | 0
    state[2] = (state[2]! + c) | 0
    state[3] = (state[3]! + d) | 0
    state[4] = (state[4]! + e) | 0
    state[5] = (state[5]! + f) | 0
    state[6] = (state[6]! + g) | 0
    state[7] = (state[7]! + h) | 0
  }
}
