import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { collectBlock } from '../src/blocks.js'
import { indexBlockStore } from '../src/indexer/blocks.js'
import type { IndexBlockStore } from '../src/indexer/blocks.js'
import type { Blockstore } from 'interface-blockstore'

async function block (text: string): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(0x71, await sha256.digest(bytes)), bytes }
}

/** The node's read, offline: the repo's copy, or not found (no peers to fetch it from). */
function offlineNode (blockstore: Pick<Blockstore, 'has' | 'get'>): { getVerifiedBlock(cid: CID): Promise<Uint8Array> } {
  return {
    getVerifiedBlock: async (cid) => {
      if (await blockstore.has(cid)) return collectBlock(cid, blockstore.get(cid), 1 << 20)
      throw Object.assign(new Error(`${cid.toString()} is not here`), { name: 'BlockNotFoundError' })
    }
  }
}

describe('indexer block store (write-behind)', () => {
  let dir: string
  let blockstore: FsBlockstore
  let store: IndexBlockStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'capdex-index-blocks-'))
    blockstore = new FsBlockstore(dir)
    await blockstore.open()
    store = indexBlockStore({ node: offlineNode(blockstore), repo: { blockstore } }, { repairTimeoutMs: 1000, writeConcurrency: 2 })
  })

  afterEach(async () => {
    await blockstore.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves a block while it is written, and flush returns each put CID once after every write ended', async () => {
    const blocks = await Promise.all(Array.from({ length: 20 }, async (_, i) => block(`block ${i}`)))
    for (const b of blocks) await store.put(b.cid, b.bytes)
    await store.put(blocks[0]!.cid, blocks[0]!.bytes)
    // readable at once, from memory or from disk
    for (const b of blocks) {
      expect(await store.has(b.cid)).toBe(true)
      expect(await store.get(b.cid)).toEqual(b.bytes)
    }
    const flushed = await store.flush()
    expect(flushed.map(String).sort()).toEqual(blocks.map((b) => b.cid.toString()).sort())
    for (const b of blocks) expect(await blockstore.has(b.cid)).toBe(true)
    // a new collection starts
    expect(await store.flush()).toEqual([])
  })

  it('writes a block once when two puts of it wait for a free slot together', async () => {
    let writes = 0
    const counting = Object.assign(Object.create(blockstore) as FsBlockstore, {
      put: async (cid: CID, bytes: Uint8Array): Promise<CID> => { writes++; return blockstore.put(cid, bytes) }
    })
    const saturated = indexBlockStore({ node: offlineNode(counting), repo: { blockstore: counting } }, { repairTimeoutMs: 1000, writeConcurrency: 1 })
    const [first, twice] = await Promise.all([block('first'), block('twice')])
    await saturated.put(first.cid, first.bytes)
    // the one slot is taken: the first put of the block waits for it, and a second put beside it must not write it again
    await Promise.all([saturated.put(twice.cid, twice.bytes), saturated.put(twice.cid, twice.bytes)])
    expect((await saturated.flush()).map(String).sort()).toEqual([first.cid.toString(), twice.cid.toString()].sort())
    expect(writes).toBe(2)
    expect(await collectBlock(twice.cid, blockstore.get(twice.cid), 1 << 20)).toEqual(twice.bytes)
  })

  it('throws a failed write at flush, once, and keeps taking writes', async () => {
    // a disk that refuses every write
    const failing = Object.assign(Object.create(blockstore) as FsBlockstore, {
      put: async (): Promise<CID> => { await Promise.resolve(); throw Object.assign(new Error('disk full'), { code: 'ENOSPC' }) }
    })
    const broken = indexBlockStore({ node: offlineNode(failing), repo: { blockstore: failing } }, { repairTimeoutMs: 1000 })
    const b = await block('lost')
    await broken.put(b.cid, b.bytes)
    await expect(broken.flush()).rejects.toThrow('disk full')
    // the write ended: the block is no longer served from memory
    await expect(broken.get(b.cid)).rejects.toThrow('is not here')
    expect(await broken.flush()).toEqual([])
  })

  it('rejects a put whose signal was aborted, and writes nothing', async () => {
    const b = await block('aborted')
    await expect(store.put(b.cid, b.bytes, { signal: AbortSignal.abort() })).rejects.toThrow()
    expect(await store.flush()).toEqual([])
    expect(await blockstore.has(b.cid)).toBe(false)
  })
})
