import { describe, expect, it } from 'vitest'
import { prolly } from '../src/index.js'
import { absentCid, bytes, caught, putBytes, sequentialEntries } from './fixtures.js'
import type { BlockStore } from '../src/index.js'

/** The contract every BlockStore implementation must meet; each implementation runs this suite. */
export function blockStoreCompliance (name: string, create: () => BlockStore): void {
  describe(`BlockStore compliance: ${name}`, () => {
    it('returns the bytes that were put', async () => {
      const store = create()
      const block = bytes('some block')
      const cid = await putBytes(store, block)
      expect(await store.get(cid)).toEqual(block)
    })

    it('rejects a get of an absent block with a not-found error, which the tree reports as MissingBlockError', async () => {
      const store = create()
      const err = await caught(async () => store.get(absentCid()))
      expect(['MissingBlockError', 'NotFoundError']).toContain(err.name)
      const tree = prolly({ blocks: store })
      expect((await caught(async () => tree.get(absentCid(), bytes('k')))).name).toBe('MissingBlockError')
    })

    it('answers has, when it has one', async () => {
      const store = create()
      if (store.has === undefined) {
        return
      }
      const cid = await putBytes(store, bytes('present'))
      expect(await store.has(cid)).toBe(true)
      expect(await store.has(absentCid(9))).toBe(false)
    })

    it('refuses work under an aborted signal', async () => {
      const store = create()
      const cid = await putBytes(store, bytes('present'))
      const controller = new AbortController()
      controller.abort()
      await expect(store.get(cid, { signal: controller.signal })).rejects.toThrow()
      const tree = prolly({ blocks: store })
      expect((await caught(async () => tree.get(cid, bytes('k'), { signal: controller.signal }))).name).toBe('AbortError')
    })

    it('holds a whole tree', async () => {
      const tree = prolly({ blocks: create() }, { targetFanout: 8 })
      const entries = sequentialEntries(400)
      const root = await tree.build(entries)
      expect(await tree.verify(root)).toMatchObject({ entries: 400 })
      expect(await tree.get(root, entries[123]!.key)).toEqual(entries[123]!.value)
    })
  })
}
