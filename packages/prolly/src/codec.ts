/**
 * Node format and codec. Every node is a DAG-CBOR list:
 *
 * - leaf: `[0, [key, ...], [value, ...]]`
 * - branch: `[level, [firstKey, ...], [childCid, ...], [childCount, ...]]`, where `firstKey` is the smallest key
 *   under the child and `childCount` the number of entries under it
 *
 * Encoding goes through @ipld/dag-cbor. Decoding is a strict reader for exactly this shape: it accepts only the
 * canonical (minimal-length, definite) encoding, so `encode(decode(bytes))` equals `bytes` for every accepted block.
 */

import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { DAG_CBOR_CODE, LINK_BYTES, MAX_COUNT, MAX_KEY_BYTES, MAX_LEVEL, SHA2_256_BYTES, SHA2_256_CODE } from './constants.js'
import { InvalidNodeError } from './errors.js'
import { sha256 } from './hash.js'
import { compareBytes } from './keys.js'
import type { InvalidNodeReason } from './errors.js'

export interface LeafNode {
  readonly leaf: true
  readonly level: 0
  readonly keys: readonly Uint8Array[]
  readonly values: readonly Uint8Array[]
  /** entries under this node */
  readonly count: number
}

export interface BranchNode {
  readonly leaf: false
  readonly level: number
  readonly keys: readonly Uint8Array[]
  readonly links: readonly CID[]
  readonly counts: readonly number[]
  readonly count: number
}

export type TreeNode = LeafNode | BranchNode

/** A branch entry: one child node. */
export interface ChildRef {
  key: Uint8Array
  link: CID
  count: number
}

export interface Block {
  cid: CID
  bytes: Uint8Array
}

export function leafNode (keys: readonly Uint8Array[], values: readonly Uint8Array[]): LeafNode {
  return { leaf: true, level: 0, keys, values, count: keys.length }
}

export function branchNode (level: number, keys: readonly Uint8Array[], links: readonly CID[], counts: readonly number[]): BranchNode {
  let count = 0
  for (const childCount of counts) {
    count += childCount
  }
  return { leaf: false, level, keys, links, counts, count }
}

export function encodeNode (node: TreeNode): Block {
  const bytes = node.leaf
    ? dagCbor.encode([0, node.keys, node.values])
    : dagCbor.encode([node.level, node.keys, node.links, node.counts])
  return { cid: cidOf(bytes), bytes }
}

export function cidOf (bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR_CODE, Digest.create(SHA2_256_CODE, sha256(bytes)))
}

/** Whether a CID has the only shape a node may have: CIDv1, DAG-CBOR, 32-byte sha2-256. */
export function isNodeCid (cid: CID): boolean {
  return cid.version === 1 && cid.code === DAG_CBOR_CODE && cid.multihash.code === SHA2_256_CODE && cid.multihash.size === SHA2_256_BYTES
}

/** Whether `bytes` hash to `cid` (which must already have the node CID shape). */
export function hashMatches (cid: CID, bytes: Uint8Array): boolean {
  const expected = cid.multihash.digest
  const actual = sha256(bytes)
  for (let i = 0; i < SHA2_256_BYTES; i++) {
    if (expected[i] !== actual[i]) {
      return false
    }
  }
  return true
}

/** Encoded size of a CBOR head carrying `value`. */
export function headBytes (value: number): number {
  return value < 24 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < 0x1_0000_0000 ? 5 : 9
}

export function leafEntryBytes (key: Uint8Array, value: Uint8Array): number {
  return headBytes(key.length) + key.length + headBytes(value.length) + value.length
}

export function branchEntryBytes (key: Uint8Array, count: number): number {
  return headBytes(key.length) + key.length + LINK_BYTES + headBytes(count)
}

/** Exact encoded size of a node at `level` holding `entries` entries whose own encodings total `entryBytes`. */
export function nodeBytes (level: number, entries: number, entryBytes: number): number {
  const lists = level === 0 ? 2 : 3
  return 1 + headBytes(level) + lists * headBytes(entries) + entryBytes
}

const MAJOR_UINT = 0
const MAJOR_BYTES = 2
const MAJOR_ARRAY = 4
const MAJOR_TAG = 6
const CID_TAG = 42
/** Tag 42 payload: 0x00, then CIDv1 (0x01), dag-cbor (0x71), sha2-256 (0x12), 32-byte digest (0x20). */
const LINK_PREFIX = [0x00, 0x01, DAG_CBOR_CODE, SHA2_256_CODE, SHA2_256_BYTES]
const LINK_PAYLOAD_BYTES = LINK_PREFIX.length + SHA2_256_BYTES

/** Strict reader for the node shape; every deviation is an InvalidNodeError naming the block. */
class NodeReader {
  private position = 0

  constructor (private readonly bytes: Uint8Array, private readonly cid: CID) {}

  fail (detail: string, reason: InvalidNodeReason = 'encoding'): never {
    throw new InvalidNodeError(this.cid, reason, detail)
  }

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
    if (value > MAX_COUNT) {
      this.fail(`integer too large at byte ${at}`)
    }
    const minimum = width === 1 ? 24 : width === 2 ? 0x100 : width === 4 ? 0x10000 : 0x1_0000_0000
    if (value < minimum) {
      this.fail(`non-minimal integer at byte ${at}`)
    }
    this.position = at + 1 + width
    return value
  }

  byteString (): Uint8Array {
    const length = this.head(MAJOR_BYTES)
    const start = this.position
    if (start + length > this.bytes.length) {
      this.fail('truncated')
    }
    this.position = start + length
    return this.bytes.subarray(start, start + length)
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

  keys (): Uint8Array[] {
    const length = this.list()
    const keys = new Array<Uint8Array>(length)
    for (let i = 0; i < length; i++) {
      const key = this.byteString()
      if (key.length > MAX_KEY_BYTES) {
        this.fail(`key ${i} is ${key.length} bytes, over the ${MAX_KEY_BYTES} byte limit`, 'size')
      }
      if (i > 0 && compareBytes(keys[i - 1]!, key) >= 0) {
        this.fail(`key ${i} is not greater than key ${i - 1}`, 'order')
      }
      keys[i] = key
    }
    return keys
  }

  link (): CID {
    if (this.head(MAJOR_TAG) !== CID_TAG) {
      this.fail('expected a CID (tag 42)')
    }
    const payload = this.byteString()
    if (payload.length !== LINK_PAYLOAD_BYTES || LINK_PREFIX.some((byte, i) => payload[i] !== byte)) {
      this.fail('child links must be CIDv1 dag-cbor sha2-256', 'link')
    }
    return CID.decode(payload.subarray(1))
  }

  end (): void {
    if (this.position !== this.bytes.length) {
      this.fail('trailing bytes')
    }
  }
}

/** Decodes and shape-checks one node: sizes, levels, in-node key order and link form. Tree-wide checks live in verify. */
export function decodeNode (cid: CID, bytes: Uint8Array): TreeNode {
  // a plain view, so keys and values handed out are plain Uint8Arrays even when the store returns Buffers
  const reader = new NodeReader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), cid)
  const fields = reader.list()
  if (fields !== 3 && fields !== 4) {
    reader.fail('a node is a list of 3 (leaf) or 4 (branch) fields')
  }
  const level = reader.head(MAJOR_UINT)
  if ((fields === 3) !== (level === 0) || level > MAX_LEVEL) {
    reader.fail(`level ${level} does not fit a ${fields === 3 ? 'leaf' : 'branch'}`, 'level')
  }
  const keys = reader.keys()
  if (fields === 3) {
    const values = new Array<Uint8Array>(reader.list(keys.length))
    for (let i = 0; i < values.length; i++) {
      values[i] = reader.byteString()
    }
    reader.end()
    return leafNode(keys, values)
  }
  if (keys.length === 0) {
    reader.fail('a branch has no children', 'empty')
  }
  const links = new Array<CID>(reader.list(keys.length))
  for (let i = 0; i < links.length; i++) {
    links[i] = reader.link()
  }
  const counts = new Array<number>(reader.list(keys.length))
  let total = 0
  for (let i = 0; i < counts.length; i++) {
    const count = reader.head(MAJOR_UINT)
    if (count === 0) {
      reader.fail(`child ${i} claims no entries`, 'count')
    }
    total += count
    counts[i] = count
  }
  if (total > MAX_COUNT) {
    reader.fail('subtree counts overflow', 'count')
  }
  reader.end()
  return branchNode(level, keys, links, counts)
}
