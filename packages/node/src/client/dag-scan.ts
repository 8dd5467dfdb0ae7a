/**
 * Allocation-light reading of the two DAG-CBOR shapes a snapshot DAG walk looks inside: prolly
 * tree nodes (for their links, or a leaf's values) and providers entries (for the manifest link).
 * A full `dagCbor.decode` builds every key and value of a node only for the walk to drop them; on
 * a 100k-provider snapshot that was most of the time of an export, an import or a pin.
 *
 * The reader takes the DAG-CBOR subset the walk needs: definite lengths, minimal integer heads,
 * and no trailing bytes. The parts it skips (a node's keys, a branch's counts) are checked for
 * well-formedness only; what they hold is the prolly reader's business.
 */
import { InvalidNodeError } from '@capdex/prolly'
import { CID } from 'multiformats/cid'
import { Digest } from 'multiformats/hashes/digest'

const MAJOR_UINT = 0
const MAJOR_NEGINT = 1
const MAJOR_BYTES = 2
const MAJOR_TEXT = 3
const MAJOR_ARRAY = 4
const MAJOR_MAP = 5
const MAJOR_TAG = 6
const MAJOR_SIMPLE = 7
const CID_TAG = 42
const SHA2_256 = 0x12
const SHA2_256_BYTES = 32
/** deepest nesting `skip` follows (prolly nodes and entries nest two or three levels) */
const MAX_DEPTH = 64
/** `manifest`, the entry key that links the manifest */
const MANIFEST_KEY = new TextEncoder().encode('manifest')

/** Internal: always turned into `InvalidNodeError` or a fallback before it leaves this module. */
class MalformedCborError extends Error {
  override name = 'MalformedCborError'
}

const DAG_CBOR = 0x71

/**
 * Where the multihash of the CIDv1 `bytes[start, end)` starts, when it is sha2-256 with a codec of
 * at most 3 varint bytes (every CID of a snapshot); else -1.
 */
function sha256MultihashAt (bytes: Uint8Array, start: number, end: number): number {
  if (bytes[start] !== 1) return -1
  for (let at = start + 1; at < start + 4; at++) {
    const b = bytes[at] ?? 0x80
    if (b >= 0x80) continue
    // a varint's last byte is not 0 unless it is its only byte
    if (b === 0 && at > start + 1) return -1
    const mh = at + 1
    return bytes[mh] === SHA2_256 && bytes[mh + 1] === SHA2_256_BYTES && end === mh + 2 + SHA2_256_BYTES ? mh : -1
  }
  return -1
}

/** Whether `bytes[start, end)` is a CIDv1 over sha2-256 (of any codec up to 3 varint bytes). */
export function isCidV1Sha256 (bytes: Uint8Array, start = 0, end = bytes.byteLength): boolean {
  return sha256MultihashAt(bytes, start, end) >= 0
}

/** Whether `bytes[start, end)` is a CIDv1 DAG-CBOR sha2-256 (what snapshots and tree nodes are). */
export function isDagCborSha256 (bytes: Uint8Array, start = 0, end = bytes.byteLength): boolean {
  return bytes[start] === 1 && bytes[start + 1] === DAG_CBOR && sha256MultihashAt(bytes, start, end) === start + 2
}

/**
 * A CIDv1 over sha2-256 built straight from its bytes (a view into the block, not copied); other
 * CIDs go through `CID.decode`. The walk meets one per block, so this is on the hot path.
 */
export function decodeCid (bytes: Uint8Array): CID {
  const mh = sha256MultihashAt(bytes, 0, bytes.byteLength)
  if (mh < 0) return CID.decode(bytes)
  let codec = 0
  for (let at = 1, shift = 1; at < mh; at++, shift *= 0x80) codec += ((bytes[at] ?? 0) & 0x7f) * shift
  const multihash = bytes.subarray(mh)
  return new CID(1, codec, new Digest(SHA2_256, SHA2_256_BYTES, multihash.subarray(2), multihash), bytes)
}

/** A read position in one DAG-CBOR value (within `[pos, end)` of a block); `head` reads an item head. */
class Cursor {
  pos: number
  value = 0
  private readonly bytes: Uint8Array
  private readonly end: number

  constructor (bytes: Uint8Array, start = 0, end = bytes.byteLength) {
    this.bytes = bytes
    this.pos = start
    this.end = end
  }

  get done (): boolean {
    return this.pos === this.end
  }

  private need (n: number): void {
    if (this.pos + n > this.end) throw new MalformedCborError('unexpected end of data')
  }

  private uint32 (at: number): number {
    const bytes = this.bytes
    return (bytes[at] ?? 0) * 0x1000000 + (((bytes[at + 1] ?? 0) << 16) | ((bytes[at + 2] ?? 0) << 8) | (bytes[at + 3] ?? 0))
  }

  /** Reads an item head: returns its major type, with its argument in `value`. */
  head (): number {
    this.need(1)
    const bytes = this.bytes
    const first = bytes[this.pos++] ?? 0
    const info = first & 31
    const major = first >> 5
    let min: number
    if (info < 24) {
      this.value = info
      return major
    } else if (info === 24) {
      this.need(1)
      this.value = bytes[this.pos] ?? 0
      this.pos += 1
      min = 24
    } else if (info === 25) {
      this.need(2)
      this.value = ((bytes[this.pos] ?? 0) << 8) | (bytes[this.pos + 1] ?? 0)
      this.pos += 2
      min = 0x100
    } else if (info === 26) {
      this.need(4)
      this.value = this.uint32(this.pos)
      this.pos += 4
      min = 0x10000
    } else if (info === 27) {
      this.need(8)
      const high = this.uint32(this.pos)
      if (high >= 0x200000 && major !== MAJOR_SIMPLE) throw new MalformedCborError('integer beyond 2^53')
      this.value = high * 0x100000000 + this.uint32(this.pos + 4)
      this.pos += 8
      min = 0x100000000
    } else {
      throw new MalformedCborError(info === 31 ? 'indefinite length' : 'reserved additional information')
    }
    // floats (major 7) carry bits, not a length: no minimal form to check
    if (major !== MAJOR_SIMPLE && this.value < min) throw new MalformedCborError('integer not minimally encoded')
    return major
  }

  /** Skips the payload of the byte string or text whose head was just read; returns where it starts. */
  payload (): number {
    this.need(this.value)
    const start = this.pos
    this.pos += this.value
    return start
  }

  /** Skips one whole item. */
  skip (depth = 0): void {
    if (depth > MAX_DEPTH) throw new MalformedCborError('nested too deep')
    switch (this.head()) {
      case MAJOR_BYTES:
      case MAJOR_TEXT:
        this.payload()
        return
      case MAJOR_ARRAY:
        for (let i = this.value; i > 0; i--) this.skip(depth + 1)
        return
      case MAJOR_MAP:
        for (let i = this.value * 2; i > 0; i--) this.skip(depth + 1)
        return
      case MAJOR_TAG:
        this.skip(depth + 1)
        return
      default:
        // unsigned, negative, simple values and floats: the head was all of it
    }
  }

  /**
   * A DAG-CBOR link (tag 42 over a byte string with a 0x00 prefix): where its CID's bytes start
   * (they end at `pos`), or -1 when the next item is not a link. The CID is checked, not built.
   */
  link (): number {
    if (this.head() !== MAJOR_TAG || this.value !== CID_TAG) return -1
    if (this.head() !== MAJOR_BYTES || this.value < 2) return -1
    const start = this.payload()
    if (this.bytes[start] !== 0) return -1
    if (!isCidV1Sha256(this.bytes, start + 1, this.pos)) {
      try {
        CID.decode(this.bytes.subarray(start + 1, this.pos))
      } catch (err) {
        throw new MalformedCborError(`invalid CID: ${(err as Error).message}`)
      }
    }
    return start + 1
  }

  /** Whether the text whose head was just read is `key`; skips it either way. */
  isKey (key: Uint8Array): boolean {
    const start = this.payload()
    if (this.value !== key.byteLength) return false
    for (let i = 0; i < key.byteLength; i++) {
      if (this.bytes[start + i] !== key[i]) return false
    }
    return true
  }
}

/**
 * What a walk does with what a tree node holds: each link of a branch, each value of a leaf (with
 * `entry`: providers entries, given as a range of the node's bytes).
 */
export interface NodeVisitor {
  /** the node's level, before any link or entry */
  level?(level: number): void
  /** a link whose CID's bytes are `[start, end)` of `node` */
  link(node: Uint8Array, start: number, end: number): void
  /**
   * A providers entry at `[start, end)` of `node`, with its manifest link's CID at
   * `[linkStart, linkEnd)`, read without decoding the entry (-1 when none could be read). That
   * does not make the entry valid: it is `decodeEntry`'s to say.
   */
  entry?(node: Uint8Array, start: number, end: number, linkStart: number, linkEnd: number): void
}

/** Calls `visitor.entry` for the entry in `[start, end)`, with its `manifest` link when one can be read. */
function visitEntry (bytes: Uint8Array, start: number, end: number, visitor: Required<NodeVisitor>): void {
  const c = new Cursor(bytes, start, end)
  let linkStart = -1
  try {
    if (c.head() === MAJOR_MAP) {
      for (let i = c.value; i > 0; i--) {
        if (c.head() !== MAJOR_TEXT) break
        if (c.isKey(MANIFEST_KEY)) {
          linkStart = c.link()
          break
        }
        c.skip()
      }
    }
  } catch {
    // malformed: the walk falls back to the strict decoder
  }
  visitor.entry(bytes, start, end, linkStart, linkStart < 0 ? -1 : c.pos)
}

/**
 * Reads a prolly node (see "Node format" in @capdex/prolly): hands a branch's links, or a leaf's
 * values when the visitor takes entries, to `visitor` (a leaf is otherwise only checked).
 *
 * @throws InvalidNodeError not a prolly node, or a branch link that is not CIDv1 dag-cbor sha2-256
 */
export function scanTreeNode (cid: CID, bytes: Uint8Array, visitor: NodeVisitor): void {
  const c = new Cursor(bytes)
  try {
    const length = c.head() === MAJOR_ARRAY ? c.value : -1
    if (length !== 3 && length !== 4) throw new InvalidNodeError(cid, 'encoding', 'not a prolly tree node')
    const level = c.head()
    if (level !== MAJOR_UINT && level !== MAJOR_NEGINT) throw new InvalidNodeError(cid, 'encoding', 'not a prolly tree node')
    const leaf = level === MAJOR_UINT && c.value === 0
    if (level === MAJOR_UINT) visitor.level?.(c.value)
    c.skip()
    if (c.head() !== MAJOR_ARRAY) throw new InvalidNodeError(cid, 'encoding', 'not a prolly tree node')
    const items = c.value
    if (leaf) {
      if (length !== 3) throw new InvalidNodeError(cid, 'encoding', 'a leaf is [0, keys, values]')
      for (let i = 0; i < items; i++) {
        if (c.head() !== MAJOR_BYTES) throw new InvalidNodeError(cid, 'encoding', 'a leaf is [0, keys, values]')
        const start = c.payload()
        if (visitor.entry != null) visitEntry(bytes, start, c.pos, visitor as Required<NodeVisitor>)
      }
    } else {
      if (length !== 4) throw new InvalidNodeError(cid, 'encoding', 'a branch is [level, keys, links, counts]')
      for (let i = 0; i < items; i++) {
        const link = c.link()
        if (link < 0 || !isDagCborSha256(bytes, link, c.pos)) throw new InvalidNodeError(cid, 'link', 'branch links must be CIDv1 dag-cbor sha2-256')
        visitor.link(bytes, link, c.pos)
      }
      c.skip()
    }
    if (!c.done) throw new MalformedCborError('trailing bytes')
  } catch (err) {
    // what the visitor throws (a walk bound) goes through as it is
    if (!(err instanceof MalformedCborError)) throw err
    throw new InvalidNodeError(cid, 'encoding', `not DAG-CBOR: ${err.message}`)
  }
}
