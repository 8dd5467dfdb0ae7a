import { MemoryBlockstore } from 'blockstore-core/memory'
import { describe, expect, it } from 'vitest'
import { fromHeliaBlockstore, memoryBlockStore } from '../src/index.js'
import { blockStoreCompliance } from './block-store-compliance.js'
import { bytes, putBytes } from './fixtures.js'

blockStoreCompliance('memoryBlockStore', () => memoryBlockStore())
blockStoreCompliance('fromHeliaBlockstore(blockstore-core MemoryBlockstore)', () => fromHeliaBlockstore(new MemoryBlockstore()))

describe('fromHeliaBlockstore', () => {
  it('joins a block that the store returns in several chunks, and accepts older stores that return bytes', async () => {
    function * chunks (): Generator<Uint8Array> {
      yield bytes('ab')
      yield bytes('cd')
    }
    const chunked = fromHeliaBlockstore({ get: () => chunks(), put: () => {} })
    expect(await chunked.get(await putBytes(memoryBlockStore(), bytes('x')))).toEqual(bytes('abcd'))
    const older = fromHeliaBlockstore({ get: async () => Promise.resolve(bytes('whole')), put: () => {} })
    expect(await older.get(await putBytes(memoryBlockStore(), bytes('x')))).toEqual(bytes('whole'))
    expect('has' in older).toBe(false)
  })
})
