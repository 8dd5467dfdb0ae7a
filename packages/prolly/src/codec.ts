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

/**
 * A child link as a branch holds it: the 36 bytes of a node CID (CIDv1, dag-cbor, sha2-256, 32-byte digest), which
 * are also that CID's `bytes`. Not a CID object: one is five objects, a decoded branch has 32 links, and every
 * decoded node that a fold keeps is garbage the collector must trace. `linkCid` makes the CID when one is needed.
 */
export type Link = Uint8Array

export interface BranchNode {
  readonly leaf: false
  readonly level: number
  readonly keys: readonly Uint8Array[]
  readonly links: readonly Link[]
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

export function leafNode (keys: readonly Uint8Array[], values: readonly Uint8Array[]): LeafNode {
  return { leaf: true, level: 0, keys, values, count: keys.length }
}

export function branchNode (level: number, keys: readonly Uint8Array[], links: readonly Link[], counts: readonly number[]): BranchNode {
  let count = 0
  for (const childCount of counts) {
    count += childCount
  }
  return { leaf: false, level, keys, links, counts, count }
}

/** Encodes a node as canonical DAG-CBOR and hashes it into its block. */
export function encodeNode (node: TreeNode): Block {
  const { keys, level } = node
  let entryBytes = 0
  for (let i = 0; i < keys.length; i++) {
    entryBytes += node.leaf ? leafEntryBytes(keys[i]!, node.values[i]!) : branchEntryBytes(keys[i]!, node.counts[i]!)
  }
  const out = new Uint8Array(nodeBytes(level, keys.length, entryBytes))
  let at = writeHead(out, 0, MAJOR_ARRAY, node.leaf ? 3 : 4)
  at = writeHead(out, at, MAJOR_UINT, level)
  at = writeHead(out, at, MAJOR_ARRAY, keys.length)
  for (const key of keys) {
    at = writeBytes(out, at, key)
  }
  if (node.leaf) {
    at = writeHead(out, at, MAJOR_ARRAY, keys.length)
    for (const value of node.values) {
      at = writeBytes(out, at, value)
    }
  } else {
    at = writeHead(out, at, MAJOR_ARRAY, keys.length)
    for (const link of node.links) {
      if (!isNodeLink(link)) {
        throw new InvalidNodeError(linkCid(link), 'link', 'child links must be CIDv1 dag-cbor sha2-256')
      }
      at = writeHead(out, at, MAJOR_TAG, CID_TAG)
      at = writeHead(out, at, MAJOR_BYTES, LINK_PAYLOAD_BYTES)
      out[at] = 0
      out.set(link, at + 1)
      at += LINK_PAYLOAD_BYTES
    }
    at = writeHead(out, at, MAJOR_ARRAY, keys.length)
    for (const count of node.counts) {
      at = writeHead(out, at, MAJOR_UINT, count)
    }
  }
  return { cid: cidOf(out), bytes: out }
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

  keys (): Uint8Array[] {
    const length = this.list()
    const keys = new Array<Uint8Array>(length)
    for (let i = 0; i < length; i++) {
      const key = this.byteString()
      if (key.length > MAX_KEY_BYTES) {
        this.failWith(`key ${i} is ${key.length} bytes, over the ${MAX_KEY_BYTES} byte limit`, 'size')
      }
      if (i > 0 && compareBytes(keys[i - 1]!, key) >= 0) {
        this.failWith(`key ${i} is not greater than key ${i - 1}`, 'order')
      }
      keys[i] = key
    }
    return keys
  }

  link (): Link {
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
    // a view of the block's bytes: the prefix is already checked, so no varint parsing or copying
    return block.subarray(start + 1, this.position)
  }
}

/** Decodes and shape-checks one node: sizes, levels, in-node key order and link form. Tree-wide checks live in verify. */
export function decodeNode (link: Link, bytes: Uint8Array): TreeNode {
  // a plain view, so keys and values handed out are plain Uint8Arrays even when the store returns Buffers
  const reader = new NodeReader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), link)
  const fields = reader.list()
  if (fields !== 3 && fields !== 4) {
    reader.fail('a node is a list of 3 (leaf) or 4 (branch) fields')
  }
  const level = reader.head(MAJOR_UINT)
  if ((fields === 3) !== (level === 0) || level > MAX_LEVEL) {
    reader.failWith(`level ${level} does not fit a ${fields === 3 ? 'leaf' : 'branch'}`, 'level')
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
    reader.failWith('a branch has no children', 'empty')
  }
  const links = new Array<Link>(reader.list(keys.length))
  for (let i = 0; i < links.length; i++) {
    links[i] = reader.link()
  }
  const counts = new Array<number>(reader.list(keys.length))
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
  return branchNode(level, keys, links, counts)
}
