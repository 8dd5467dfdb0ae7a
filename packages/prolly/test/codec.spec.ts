import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { describe, expect, it } from 'vitest'
import { branchEntryBytes, branchNode, decodeNode, encodeNode, leafEntryBytes, leafNode, nodeBytes } from '../src/codec.js'
import { compareBytes } from '../src/keys.js'
import type { ByteStrings, TreeNode } from '../src/codec.js'
import { caught, hex } from './fixtures.js'

const distinctSortedKeys = (maxLength: number) => fc.uniqueArray(fc.uint8Array({ maxLength: 300 }), { maxLength, comparator: (a, b) => compareBytes(a, b) === 0 })
  .map((keys) => keys.sort(compareBytes))

/** A node with its byte strings as plain arrays, to compare nodes whatever holds their bytes. */
const plain = (node: TreeNode): Record<string, unknown> => {
  const list = (strings: ByteStrings): Uint8Array[] => Array.from({ length: strings.length }, (_, i) => strings.get(i))
  return node.leaf
    ? { level: node.level, keys: list(node.keys), values: list(node.values), count: node.count }
    : { level: node.level, keys: list(node.keys), links: list(node.links), counts: node.counts, count: node.count }
}

const digestArb = fc.uint8Array({ minLength: 32, maxLength: 32 })
const linkOf = (digest: Uint8Array): CID => CID.createV1(0x71, Digest.create(0x12, digest))
const someCid = linkOf(new Uint8Array(32))

describe('node codec', () => {
  it('decodes exactly what @ipld/dag-cbor encodes for leaves, and sizes them exactly', () => {
    fc.assert(fc.property(distinctSortedKeys(40).chain((keys) => fc.tuple(fc.constant(keys), fc.array(fc.uint8Array({ maxLength: 70_000 }), { minLength: keys.length, maxLength: keys.length }))), ([keys, values]) => {
      const node = leafNode(keys, values)
      const { cid, bytes } = encodeNode(node)
      expect(hex(bytes)).toBe(hex(dagCbor.encode([0, keys, values])))
      const decoded = decodeNode(cid.bytes, bytes)
      expect(plain(decoded)).toEqual(plain(node))
      // the node that encodeNode hands back is the one decoding its block gives
      expect(encodeNode(node).node).toEqual(decoded)
      const entryBytes = keys.reduce((sum, key, i) => sum + leafEntryBytes(key, values[i]!), 0)
      expect(nodeBytes(0, keys.length, entryBytes)).toBe(bytes.length)
    }), { numRuns: 60 })
  })

  it('decodes exactly what @ipld/dag-cbor encodes for branches, and sizes them exactly', () => {
    const branchArb = distinctSortedKeys(40).filter((keys) => keys.length > 0).chain((keys) => fc.tuple(
      fc.integer({ min: 1, max: 64 }),
      fc.constant(keys),
      fc.array(digestArb, { minLength: keys.length, maxLength: keys.length }),
      fc.array(fc.oneof(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 2 ** 40 })), { minLength: keys.length, maxLength: keys.length })
    ))
    fc.assert(fc.property(branchArb, ([level, keys, digests, counts]) => {
      const node = branchNode(level, keys, digests.map((digest) => linkOf(digest).bytes), counts)
      const { cid, bytes } = encodeNode(node)
      expect(hex(bytes)).toBe(hex(dagCbor.encode([level, keys, digests.map(linkOf), counts])))
      const decoded = decodeNode(cid.bytes, bytes)
      expect(plain(decoded)).toEqual(plain(node))
      expect(encodeNode(node).node).toEqual(decoded)
      const entryBytes = keys.reduce((sum, key, i) => sum + branchEntryBytes(key, counts[i]!), 0)
      expect(nodeBytes(level, keys.length, entryBytes)).toBe(bytes.length)
    }), { numRuns: 60 })
  })

  it('accepts a mutated block only if it is still the canonical encoding of a node', () => {
    const { bytes } = encodeNode(branchNode(1, [new Uint8Array([1]), new Uint8Array([2, 3])], [someCid.bytes, linkOf(new Uint8Array(32).fill(7)).bytes], [3, 300]))
    fc.assert(fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
      const mutated = Uint8Array.from(bytes)
      mutated[at] = byte
      let decoded
      try {
        decoded = decodeNode(someCid.bytes, mutated)
      } catch (err) {
        expect((err as Error).name).toBe('InvalidNodeError')
        return
      }
      expect(hex(encodeNode(decoded).bytes)).toBe(hex(mutated))
    }), { numRuns: 300 })
  })

  const rejects = async (value: Uint8Array, reason: string): Promise<void> => {
    const err = await caught(async () => Promise.resolve().then(() => decodeNode(someCid.bytes, value)))
    expect(err.name).toBe('InvalidNodeError')
    expect(err.reason).toBe(reason)
    expect(err.message).toContain(someCid.toString())
  }

  it('rejects non-canonical and malformed encodings', async () => {
    // level 0 written in two bytes instead of one
    await rejects(Uint8Array.from([0x83, 0x18, 0x00, 0x80, 0x80]), 'encoding')
    // indefinite-length list
    await rejects(Uint8Array.from([0x9f, 0x00, 0x80, 0x80, 0xff]), 'encoding')
    // trailing byte
    await rejects(Uint8Array.from([0x83, 0x00, 0x80, 0x80, 0x00]), 'encoding')
    // truncated
    await rejects(Uint8Array.from([0x83, 0x00, 0x81]), 'encoding')
    // a map instead of a list
    await rejects(dagCbor.encode({ l: 0, k: [], v: [] }), 'encoding')
    // text keys instead of bytes
    await rejects(dagCbor.encode([0, ['a'], [new Uint8Array()]]), 'encoding')
    // keys and values of different lengths
    await rejects(dagCbor.encode([0, [new Uint8Array([1])], []]), 'encoding')
  })

  it('rejects bad levels, links, counts and oversized keys', async () => {
    await rejects(dagCbor.encode([1, [new Uint8Array([1])], [new Uint8Array([1])]]), 'level')
    await rejects(dagCbor.encode([0, [new Uint8Array([1])], [someCid], [1]]), 'level')
    await rejects(dagCbor.encode([65, [new Uint8Array([1])], [someCid], [1]]), 'level')
    await rejects(dagCbor.encode([1, [new Uint8Array([1])], [CID.createV1(0x55, Digest.create(0x12, new Uint8Array(32)))], [1]]), 'link')
    await rejects(dagCbor.encode([1, [new Uint8Array([1])], [someCid], [0]]), 'count')
    await rejects(dagCbor.encode([1, [], [], []]), 'empty')
    await rejects(dagCbor.encode([0, [new Uint8Array(4097)], [new Uint8Array()]]), 'size')
    await rejects(dagCbor.encode([0, [new Uint8Array([2]), new Uint8Array([1])], [new Uint8Array(), new Uint8Array()]]), 'order')
  })
  it('reads a decoded node\'s byte strings in place, and refuses an index out of range', () => {
    const keys = [new Uint8Array([1]), new Uint8Array([2, 3])]
    const { cid, bytes } = encodeNode(leafNode(keys, [new Uint8Array(0), new Uint8Array([9, 9, 9])]))
    const node = decodeNode(cid.bytes, bytes)
    expect(node.keys.get(1)).toEqual(keys[1])
    expect(node.keys.get(1).buffer).toBe(bytes.buffer)
    expect(node.keys.byteLength(1)).toBe(2)
    expect(node.keys.compare(0, new Uint8Array([1, 0]))).toBeLessThan(0)
    expect(node.keys.compare(1, new Uint8Array([2, 3]))).toBe(0)
    expect(node.leaf && node.values.get(0)).toEqual(new Uint8Array(0))
    for (const index of [-1, 2, 0.5, Number.NaN]) {
      expect(() => node.keys.get(index)).toThrow(RangeError)
      expect(() => node.keys.compare(index, keys[0]!)).toThrow(RangeError)
    }
    expect(() => leafNode(keys, keys).keys.get(2)).toThrow(RangeError)
  })
})
