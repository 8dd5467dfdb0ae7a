import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryBlockStore, prolly } from '../src/index.js'
import { compareBytes } from '../src/keys.js'
import { applyOps, collect, hex, modelOf, plain, sortedEntries } from './fixtures.js'
import type { Entry, Operation, Prolly } from '../src/index.js'

// Small fan-out and node bound with values up to 3 KB: trees of a few hundred entries get several levels, and
// forced (size) splits happen alongside hash boundaries.
// Every other run cuts leaves at their own fan-out (2), as a tree of large values does.
let runs = 0
const small = (): Prolly => prolly({ blocks: memoryBlockStore() }, { targetFanout: 4, maxNodeBytes: 16_384, ...(runs++ % 2 === 1 ? { leafFanout: 2 } : {}) })

// Keys over a 3-letter alphabet of length 0-5: many shared prefixes, and the empty key.
const keyArb = fc.uint8Array({ min: 0, max: 2, maxLength: 5 })
const valueArb = fc.oneof(
  { weight: 5, arbitrary: fc.uint8Array({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 3000 }) }
)
const entriesArb = fc.uniqueArray(fc.record({ key: keyArb, value: valueArb }), { maxLength: 150, selector: (entry) => hex(entry.key) })
const opArb: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb }),
  fc.record({ op: fc.constant('delete' as const), key: keyArb })
)
const sorted = (entries: Entry[]): Entry[] => [...entries].sort((a, b) => compareBytes(a.key, b.key))

describe('properties', () => {
  it('history independence: any order of inserts and deletes, in any batch split, gives the root of build', async () => {
    await fc.assert(fc.asyncProperty(
      entriesArb.chain((entries) => fc.tuple(
        fc.constant(entries),
        fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }),
        fc.array(opArb, { maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 8 })
      )),
      async ([entries, shuffled, noise, cuts]) => {
        const tree = small()
        const expected = await tree.build(sorted(entries))
        // arbitrary puts and deletes, then the wanted entries in shuffled order, then deletes of every other key
        const wanted = new Set(entries.map((entry) => hex(entry.key)))
        const ops: Operation[] = [
          ...noise,
          ...shuffled.map((entry): Operation => ({ op: 'put', ...entry })),
          ...noise.filter((op) => !wanted.has(hex(op.key))).map((op): Operation => ({ op: 'delete', key: op.key }))
        ]
        const ends = [...new Set(cuts.map((cut) => Math.floor(cut * ops.length / 1000))), ops.length].sort((a, b) => a - b)
        let root = await tree.empty()
        let start = 0
        for (const end of ends) {
          root = (await tree.mutate(root, ops.slice(start, end))).root
          start = end
        }
        expect(root.toString()).toBe(expected.toString())
      }
    ), { numRuns: 60 })
  })

  it('mutate(build(A), ops) has the root of build(apply(A, ops)), and verifies', async () => {
    await fc.assert(fc.asyncProperty(entriesArb, fc.array(opArb, { maxLength: 80 }), async (entries, ops) => {
      const tree = small()
      const before = await tree.build(sorted(entries))
      const { root, written } = await tree.mutate(before, ops)
      const expected = await tree.build(sortedEntries(applyOps(modelOf(entries), ops)))
      expect(root.toString()).toBe(expected.toString())
      const { entries: count } = await tree.verify(root)
      expect(count).toBe(applyOps(modelOf(entries), ops).size)
      if (root.equals(before)) {
        expect(written).toBe(0)
      }
    }), { numRuns: 60 })
  })

  it('diff equals the naive set difference, in key order', async () => {
    await fc.assert(fc.asyncProperty(entriesArb, fc.array(opArb, { maxLength: 60 }), async (entries, ops) => {
      const tree = small()
      const a = await tree.build(sorted(entries))
      const { root: b } = await tree.mutate(a, ops)
      const before = modelOf(entries)
      const after = applyOps(before, ops)
      const expected = [...new Set([...before.keys(), ...after.keys()])].sort().flatMap((key) => {
        const left = before.get(key)
        const right = after.get(key)
        if (left !== undefined && right !== undefined && hex(left) === hex(right)) {
          return []
        }
        return [[key, left === undefined ? null : hex(left), right === undefined ? null : hex(right)]]
      })
      const actual = (await collect(tree.diff(a, b))).map((change) => [hex(change.key), change.before === undefined ? null : hex(change.before), change.after === undefined ? null : hex(change.after)])
      expect(actual).toEqual(expected)
      const reversed = (await collect(tree.diff(b, a))).map((change) => [hex(change.key), change.after === undefined ? null : hex(change.after), change.before === undefined ? null : hex(change.before)])
      expect(reversed).toEqual(expected)
    }), { numRuns: 60 })
  })

  it('count equals the number of entries range enumerates, and range equals the naive filter', async () => {
    const boundArb = fc.option(keyArb, { nil: undefined })
    await fc.assert(fc.asyncProperty(entriesArb, boundArb, boundArb, fc.boolean(), fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }), async (entries, gte, lt, reverse, limit) => {
      const tree = small()
      const root = await tree.build(sorted(entries))
      const bounds = { ...(gte === undefined ? {} : { gte }), ...(lt === undefined ? {} : { lt }) }
      const inRange = sorted(entries).filter((entry) => (gte === undefined || compareBytes(entry.key, gte) >= 0) && (lt === undefined || compareBytes(entry.key, lt) < 0))
      expect(await tree.count(root, bounds)).toBe(inRange.length)
      expect((await collect(tree.range(root, bounds))).length).toBe(inRange.length)
      const ordered = reverse ? [...inRange].reverse() : inRange
      const expected = limit === undefined ? ordered : ordered.slice(0, limit)
      const actual = await collect(tree.range(root, { ...bounds, reverse, ...(limit === undefined ? {} : { limit }) }))
      expect(plain(actual)).toEqual(plain(expected))
    }), { numRuns: 80 })
  })
})
