import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { cidTable } from '../src/client/cid-table.js'

describe('cidTable', () => {
  it('numbers CIDs in the order they are added, finds them by their bytes, and grows', async () => {
    const table = cidTable()
    const cids: CID[] = []
    for (let i = 0; i < 20000; i++) cids.push(CID.createV1(i % 2 === 0 ? 0x71 : 0x0129, await sha256.digest(Uint8Array.of(i & 0xff, i >> 8))))
    cids.push(CID.createV1(0x55, identity.digest(Uint8Array.of(1, 2, 3))), CID.createV1(0x55, identity.digest(Uint8Array.of())))
    cids.forEach((cid, i) => {
      expect(table.add(cid.bytes)).toBe(i)
      expect(table.added).toBe(true)
    })
    expect(table.size).toBe(cids.length)
    cids.forEach((cid, i) => {
      expect(table.find(cid.bytes)).toBe(i)
      expect(table.add(cid.bytes)).toBe(i)
      expect(table.added).toBe(false)
    })
    // by a range of a larger buffer, and a CID that differs only in its codec
    const framed = Uint8Array.from([9, 9, ...cids[7]!.bytes, 9])
    expect(table.find(framed, 2, 2 + cids[7]!.bytes.byteLength)).toBe(7)
    expect(table.find(CID.createV1(0x70, cids[7]!.multihash).bytes)).toBe(-1)
    expect(table.find(Uint8Array.of())).toBe(-1)
  })
})
