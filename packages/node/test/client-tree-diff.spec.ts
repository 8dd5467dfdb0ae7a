/**
 * `fetchTreeDiff`: a level per round, only the nodes the two trees do not share, and afterwards
 * `prolly.diff` needs nothing else.
 */
import { memoryBlockStore, prolly } from '@capdex/prolly'
import { describe, expect, it } from 'vitest'
import { fetchTreeDiff } from '../src/index.js'
import type { BlockStore, Entry } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'

const encoder = new TextEncoder()

function entries (count: number, version = (_i: number) => 0): Entry[] {
  return Array.from({ length: count }, (_, i) => ({ key: encoder.encode(`key-${String(i).padStart(6, '0')}`), value: encoder.encode(`value-${i}-${version(i)}`) }))
}

/** A source over `full` with a network's delay that records what is asked for, and how many round trips that took. */
function recordingSource (full: BlockStore): { get: BlockStore['get'], asked: CID[], rounds: number } {
  const state = { asked: [] as CID[], rounds: 0 }
  let open = false
  return {
    asked: state.asked,
    get rounds () { return state.rounds },
    get: async (cid, options) => {
      // asks made before the first answer share its round trip
      if (!open) {
        open = true
        state.rounds++
        setTimeout(() => { open = false }, 0)
      }
      state.asked.push(cid)
      await new Promise((resolve) => setTimeout(resolve, 5))
      return full.get(cid, options)
    }
  }
}

/** The diff of `a` and `b` read from a store that holds only `cids` (copied from `full`). */
async function diffFrom (full: BlockStore, cids: CID[], a: CID, b: CID): Promise<string[]> {
  const partial = memoryBlockStore()
  for (const cid of cids) await partial.put(cid, await full.get(cid))
  const changes: string[] = []
  for await (const change of prolly({ blocks: partial }).diff(a, b)) changes.push(new TextDecoder().decode(change.key))
  return changes
}

describe('fetchTreeDiff', () => {
  it('fetches what the diff reads, one round per level, skipping shared subtrees', async () => {
    const full = memoryBlockStore()
    const tree = prolly({ blocks: full })
    const before = await tree.build(entries(5000))
    const changed = new Set([17, 1234, 1235, 4999])
    const { root: after } = await tree.mutate(before, [
      ...[...changed].map((i) => ({ op: 'put' as const, key: encoder.encode(`key-${String(i).padStart(6, '0')}`), value: encoder.encode(`value-${i}-1`) })),
      { op: 'put', key: encoder.encode('key-002500a'), value: encoder.encode('new') },
      { op: 'delete', key: encoder.encode('key-003000') }
    ])
    const source = recordingSource(full)

    const asked = await fetchTreeDiff({ blocks: source }, before, after)

    expect(asked).toBe(source.asked.length)
    const depth = await tree.depth(after)
    // the roots, then one round per level below them
    expect(source.rounds).toBe(depth)
    expect(new Set(source.asked.map(String)).size).toBe(source.asked.length)
    // a few paths, not the trees
    let blocks = 0
    for await (const _ of tree.walk(after)) blocks++
    expect(source.asked.length).toBeLessThan(blocks / 4)
    const expected = ['key-000017', 'key-001234', 'key-001235', 'key-002500a', 'key-003000', 'key-004999']
    expect(await diffFrom(full, source.asked, before, after)).toEqual(expected)
  })

  it('handles trees of different heights and equal roots', async () => {
    const full = memoryBlockStore()
    const tree = prolly({ blocks: full })
    const small = await tree.build(entries(3))
    const large = await tree.build(entries(3000, (i) => i % 2))
    expect(await tree.depth(large)).toBeGreaterThan(await tree.depth(small))
    const source = recordingSource(full)
    await fetchTreeDiff({ blocks: source }, small, large)
    // key-000001 changed, 2997 added
    expect(await diffFrom(full, source.asked, small, large)).toHaveLength(2998)

    expect(await fetchTreeDiff({ blocks: source }, large, large)).toBe(0)
  })

  it('refuses a bad concurrency', async () => {
    const full = memoryBlockStore()
    const root = await prolly({ blocks: full }).build(entries(1))
    await expect(fetchTreeDiff({ blocks: full }, root, root, { concurrency: 0 })).rejects.toMatchObject({ name: 'InvalidOptionError' })
  })
})
