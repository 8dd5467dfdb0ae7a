/**
 * Node format and codec. Every node is a DAG-CBOR list:
 *
 * - leaf: `[0, [key, ...], [value, ...]]`
 * - branch: `[level, [firstKey, ...], [childCid, ...], [childCount, ...]]`, where `firstKey` is the smallest key
 *   under the child and `childCount` the number of entries under it
 *
 * Both directions are specialised to exactly this shape, which makes them several times faster than a generic
 * codec: the writer emits the canonical DAG-CBOR that @ipld/dag-cbor would (the tests check byte equality), and the
 * reader accepts only that canonical (minimal-length, definite) form, so `encode(decode(bytes))` equals `bytes`
 * for every block it accepts.
 */

import { CID } from 'multiformats/cid'
import { Digest } from 'multiformats/hashes/digest'
import { DAG_CBOR_CODE, LINK_BYTES, MAX_COUNT, MAX_KEY_BYTES, MAX_LEVEL, SHA2_256_BYTES, SHA2_256_CODE } from './constants.js'
import { CborReader, CID_TAG, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_TAG, MAJOR_UINT, headBytes, writeBytes, writeHead } from './cbor.js'
import { InvalidNodeError } from './errors.js'
import { sha256Into, sha256Matches } from './hash.js'
import { compareBytes, compareSpans } from './keys.js'
import type { InvalidNodeReason } from './errors.js'

/**
 * A node's keys, values or links, read by index. A decoded node's are spans of its block, made into views only when
 * read: a decoded leaf or branch then costs a few arrays of small integers instead of a view object per entry, which
 * matters because a fold keeps tens of thousands of decoded nodes, and every one of them outlives a young-generation
 * collection, so its views would be copied, promoted and traced by the next full GC.
 */
export interface ByteStrings {
  readonly length: number
  /** the `index`th byte string, as a view (a fresh one for a decoded node); `index` must be in range */
  get (index: number): Uint8Array
  /** its length, without making a view */
  byteLength (index: number): number
  /** compareBytes(get(index), other), without making a view */
  compare (index: number, other: Uint8Array): number
}

function checkIndex (index: number, length: number): void {
  // `>>> 0` keeps only whole numbers from 0 up: negative, fractional and NaN indexes all fail
  if ((index >>> 0) !== index || index >= length) {
    throw new RangeError(`index ${index} is outside 0..${length - 1}`)
  }
}

/** Byte strings held as separate arrays: the nodes that build and mutate make from entries. */
class ListedBytes implements ByteStrings {
  readonly length: number

  constructor (private readonly list: readonly Uint8Array[]) {
    this.length = list.length
  }

  get (index: number): Uint8Array {
    checkIndex(index, this.length)
    return this.list[index]!
  }

  byteLength (index: number): number {
    return this.get(index).length
  }

  compare (index: number, other: Uint8Array): number {
    return compareBytes(this.get(index), other)
  }
}

/** Byte strings that lie in one block, as `[start, end)` pairs of offsets into it. */
class BlockSpans implements ByteStrings {
  readonly length: number

  constructor (private readonly block: Uint8Array, private readonly spans: readonly number[]) {
    this.length = spans.length >>> 1
  }

  get (index: number): Uint8Array {
    checkIndex(index, this.length)
    const start = this.spans[2 * index]!
    const end = this.spans[2 * index + 1]!
    // index keys have no value: one shared empty array instead of a view each
    return start === end ? EMPTY : this.block.subarray(start, end)
  }

  byteLength (index: number): number {
    checkIndex(index, this.length)
    return this.spans[2 * index + 1]! - this.spans[2 * index]!
  }

  compare (index: number, other: Uint8Array): number {
    checkIndex(index, this.length)
    return compareSpans(this.block, this.spans[2 * index]!, this.spans[2 * index + 1]!, other, 0, other.length)
  }
}

const EMPTY = new Uint8Array(0)

export interface LeafNode {
  readonly leaf: true
  readonly level: 0
  readonly keys: ByteStrings
  readonly values: ByteStrings
  /** entries under this node */
  readonly count: number
}

/**
 * A child link as a branch holds it: the 36 bytes of a node CID (CIDv1, dag-cbor, sha2-256, 32-byte digest), which
 * are also that CID's `bytes`. Not a CID object: one is five objects, a decoded branch has 32 links, and every
 * decoded node that a fold keeps is garbage the collector must trace. `linkCid` makes the CID when one is needed.
 */
export type Link = Uint8Array

export interface BranchNode {
  readonly leaf: false
  readonly level: number
  readonly keys: ByteStrings
  /** child links (see `Link`) */
  readonly links: ByteStrings
  readonly counts: readonly number[]
  readonly count: number
}

export type TreeNode = LeafNode | BranchNode

/** A branch entry: one child node. */
export interface ChildRef {
  key: Uint8Array
  link: Link
  count: number
}

export interface Block {
  cid: CID
  bytes: Uint8Array
}

/** A block and its node, read from the block's own bytes (see `ByteStrings`). */
export interface NodeBlock extends Block {
  node: TreeNode
}

export function leafNode (keys: readonly Uint8Array[], values: readonly Uint8Array[]): LeafNode {
  return { leaf: true, level: 0, keys: new ListedBytes(keys), values: new ListedBytes(values), count: keys.length }
}

export function branchNode (level: number, keys: readonly Uint8Array[], links: readonly Link[], counts: readonly number[]): BranchNode {
  return makeBranch(level, new ListedBytes(keys), new ListedBytes(links), counts)
}

function makeBranch (level: number, keys: ByteStrings, links: ByteStrings, counts: readonly number[]): BranchNode {
  let count = 0
  for (const childCount of counts) {
    count += childCount
  }
  return { leaf: false, level, keys, links, counts, count }
}

/** Writes a byte string and records its span. */
function writeSpanned (out: Uint8Array, at: number, bytes: Uint8Array, spans: number[]): number {
  const end = writeBytes(out, at, bytes)
  spans.push(end - bytes.length, end)
  return end
}

/**
 * Encodes a node as canonical DAG-CBOR and hashes it into its block. The returned node is the same node read from
 * the new block, so a cache that keeps it holds no views of the entries it was built from.
 */
export function encodeNode (node: TreeNode): NodeBlock {
  const { keys, level } = node
  const size = keys.length
  let entryBytes = 0
  for (let i = 0; i < size; i++) {
    entryBytes += entryBytesAt(node, i)
  }
  const out = new Uint8Array(nodeBytes(level, size, entryBytes))
  const keySpans: number[] = []
  let at = writeHead(out, 0, MAJOR_ARRAY, node.leaf ? 3 : 4)
  at = writeHead(out, at, MAJOR_UINT, level)
  at = writeHead(out, at, MAJOR_ARRAY, size)
  for (let i = 0; i < size; i++) {
    at = writeSpanned(out, at, keys.get(i), keySpans)
  }
  at = writeHead(out, at, MAJOR_ARRAY, size)
  if (node.leaf) {
    const valueSpans: number[] = []
    for (let i = 0; i < size; i++) {
      at = writeSpanned(out, at, node.values.get(i), valueSpans)
    }
    return { cid: cidOf(out), bytes: out, node: { leaf: true, level: 0, keys: new BlockSpans(out, keySpans), values: new BlockSpans(out, valueSpans), count: size } }
  }
  const linkSpans: number[] = []
  for (let i = 0; i < size; i++) {
    const link = node.links.get(i)
    if (!isNodeLink(link)) {
      throw new InvalidNodeError(linkCid(link), 'link', 'child links must be CIDv1 dag-cbor sha2-256')
    }
    at = writeHead(out, at, MAJOR_TAG, CID_TAG)
    at = writeHead(out, at, MAJOR_BYTES, LINK_PAYLOAD_BYTES)
    out[at] = 0
    out.set(link, at + 1)
    linkSpans.push(at + 1, at + LINK_PAYLOAD_BYTES)
    at += LINK_PAYLOAD_BYTES
  }
  at = writeHead(out, at, MAJOR_ARRAY, size)
  for (const count of node.counts) {
    at = writeHead(out, at, MAJOR_UINT, count)
  }
  return { cid: cidOf(out), bytes: out, node: makeBranch(level, new BlockSpans(out, keySpans), new BlockSpans(out, linkSpans), node.counts) }
}

export function cidOf (bytes: Uint8Array): CID {
  // The CID's bytes, built directly: CIDv1, dag-cbor, sha2-256, 32-byte digest. An explicit ArrayBuffer keeps the
  // array off the V8 heap; small on-heap arrays are copied out the first time something reads their `.buffer`,
  // which multiformats does for every CID it constructs.
  const cid = new Uint8Array(new ArrayBuffer(NODE_CID_PREFIX.length + SHA2_256_BYTES))
  cid.set(NODE_CID_PREFIX, 0)
  sha256Into(bytes, cid, NODE_CID_PREFIX.length)
  return linkCid(cid)
}

/** The CID of a link, over the link's own bytes (no copy). */
export function linkCid (link: Link): CID {
  return new CID(1, DAG_CBOR_CODE, new Digest(SHA2_256_CODE, SHA2_256_BYTES, link.subarray(4), link.subarray(2)), link)
}

/** Whether a CID has the only shape a node may have: CIDv1, DAG-CBOR, 32-byte sha2-256. */
export function isNodeCid (cid: CID): boolean {
  return cid.version === 1 && cid.code === DAG_CBOR_CODE && cid.multihash.code === SHA2_256_CODE && cid.multihash.size === SHA2_256_BYTES
}

/** The link to a root given as a CID, which must have the node CID shape. */
export function rootLink (root: CID): Link {
  if (!isNodeCid(root)) {
    throw new InvalidNodeError(root, 'link', 'nodes must be CIDv1 dag-cbor sha2-256')
  }
  return root.bytes
}

/** Whether bytes are a link: the bytes of a CID of the only shape a node may have, CIDv1 dag-cbor 32-byte sha2-256. */
export function isNodeLink (link: Uint8Array): boolean {
  return link.length === NODE_CID_PREFIX.length + SHA2_256_BYTES && link[0] === NODE_CID_PREFIX[0] && link[1] === NODE_CID_PREFIX[1] &&
    link[2] === NODE_CID_PREFIX[2] && link[3] === NODE_CID_PREFIX[3]
}

/** Whether `bytes` hash to the digest in `link` (which must already have the node link shape). */
export function hashMatches (link: Link, bytes: Uint8Array): boolean {
  return sha256Matches(bytes, link, NODE_CID_PREFIX.length)
}

export function leafEntryBytes (key: Uint8Array, value: Uint8Array): number {
  return leafEntrySize(key.length, value.length)
}

export function branchEntryBytes (key: Uint8Array, count: number): number {
  return branchEntrySize(key.length, count)
}

function leafEntrySize (keyLength: number, valueLength: number): number {
  return headBytes(keyLength) + keyLength + headBytes(valueLength) + valueLength
}

function branchEntrySize (keyLength: number, count: number): number {
  return headBytes(keyLength) + keyLength + LINK_BYTES + headBytes(count)
}

/** Encoded bytes of a node's `index`th entry, as `nodeBytes` and the chunker count them. */
export function entryBytesAt (node: TreeNode, index: number): number {
  const keyLength = node.keys.byteLength(index)
  return node.leaf ? leafEntrySize(keyLength, node.values.byteLength(index)) : branchEntrySize(keyLength, node.counts[index]!)
}

/** Exact encoded size of a node at `level` holding `entries` entries whose own encodings total `entryBytes`. */
export function nodeBytes (level: number, entries: number, entryBytes: number): number {
  const lists = level === 0 ? 2 : 3
  return 1 + headBytes(level) + lists * headBytes(entries) + entryBytes
}

/** Tag 42 payload: 0x00, then CIDv1 (0x01), dag-cbor (0x71), sha2-256 (0x12), 32-byte digest (0x20). */
const LINK_PREFIX = [0x00, 0x01, DAG_CBOR_CODE, SHA2_256_CODE, SHA2_256_BYTES]
const LINK_PAYLOAD_BYTES = LINK_PREFIX.length + SHA2_256_BYTES
/** A node CID's bytes before the digest: CIDv1, dag-cbor, sha2-256, 32 bytes. */
const NODE_CID_PREFIX = Uint8Array.from(LINK_PREFIX.slice(1))

/** Strict reader for the node shape; every deviation is an InvalidNodeError naming the block. */
class NodeReader extends CborReader {
  constructor (bytes: Uint8Array, private readonly block: Link) {
    super(bytes, (detail) => { throw new InvalidNodeError(linkCid(block), 'encoding', detail) })
  }

  failWith (detail: string, reason: InvalidNodeReason): never {
    throw new InvalidNodeError(linkCid(this.block), reason, detail)
  }

  /** The keys' spans, each key checked for size and order. */
  keys (): number[] {
    const length = this.list()
    const spans = new Array<number>(2 * length)
    const block = this.bytes
    for (let i = 0; i < length; i++) {
      const start = this.byteStringStart()
      const end = this.position
      if (end - start > MAX_KEY_BYTES) {
        this.failWith(`key ${i} is ${end - start} bytes, over the ${MAX_KEY_BYTES} byte limit`, 'size')
      }
      if (i > 0 && compareSpans(block, spans[2 * i - 2]!, spans[2 * i - 1]!, block, start, end) >= 0) {
        this.failWith(`key ${i} is not greater than key ${i - 1}`, 'order')
      }
      spans[2 * i] = start
      spans[2 * i + 1] = end
    }
    return spans
  }

  /** Spans of `length` byte strings. */
  byteStrings (length: number): number[] {
    const spans = new Array<number>(2 * length)
    for (let i = 0; i < length; i++) {
      spans[2 * i] = this.byteStringStart()
      spans[2 * i + 1] = this.position
    }
    return spans
  }

  /** A link's span: the CID bytes after the tag 42 payload's 0x00. */
  link (spans: number[], index: number): void {
    if (this.head(MAJOR_TAG) !== CID_TAG) {
      this.fail('expected a CID (tag 42)')
    }
    // checked in place rather than through byteString: a branch decodes 32 of these, and each view is garbage to collect
    const start = this.byteStringStart()
    const block = this.bytes
    let shaped = this.position - start === LINK_PAYLOAD_BYTES
    for (let i = 0; shaped && i < LINK_PREFIX.length; i++) {
      shaped = block[start + i] === LINK_PREFIX[i]
    }
    if (!shaped) {
      this.failWith('child links must be CIDv1 dag-cbor sha2-256', 'link')
    }
    // the prefix is already checked, so no varint parsing or copying
    spans[2 * index] = start + 1
    spans[2 * index + 1] = this.position
  }
}

/** Decodes and shape-checks one node: sizes, levels, in-node key order and link form. Tree-wide checks live in verify. */
export function decodeNode (link: Link, bytes: Uint8Array): TreeNode {
  // a plain view, so keys and values handed out are plain Uint8Arrays even when the store returns Buffers
  const block = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const reader = new NodeReader(block, link)
  const fields = reader.list()
  if (fields !== 3 && fields !== 4) {
    reader.fail('a node is a list of 3 (leaf) or 4 (branch) fields')
  }
  const level = reader.head(MAJOR_UINT)
  if ((fields === 3) !== (level === 0) || level > MAX_LEVEL) {
    reader.failWith(`level ${level} does not fit a ${fields === 3 ? 'leaf' : 'branch'}`, 'level')
  }
  const keySpans = reader.keys()
  const size = keySpans.length >>> 1
  const keys = new BlockSpans(block, keySpans)
  if (fields === 3) {
    const values = new BlockSpans(block, reader.byteStrings(reader.list(size)))
    reader.end()
    return { leaf: true, level: 0, keys, values, count: size }
  }
  if (size === 0) {
    reader.failWith('a branch has no children', 'empty')
  }
  const linkSpans = new Array<number>(2 * reader.list(size))
  for (let i = 0; i < size; i++) {
    reader.link(linkSpans, i)
  }
  const counts = new Array<number>(reader.list(size))
  let total = 0
  for (let i = 0; i < counts.length; i++) {
    const count = reader.head(MAJOR_UINT)
    if (count === 0) {
      reader.failWith(`child ${i} claims no entries`, 'count')
    }
    total += count
    counts[i] = count
  }
  if (total > MAX_COUNT) {
    reader.failWith('subtree counts overflow', 'count')
  }
  reader.end()
  return makeBranch(level, keys, new BlockSpans(block, linkSpans), counts)
}
