import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeEntry, encodeEntry, entryUptime, leaseCovered, leaseEnd, leaseFromList, leaseMarks, leaseToList, leaseUptime, mergeLease,
  UPTIME_BUCKET_MS, UPTIME_WINDOW_BUCKETS
} from '../src/entries/index.js'
import { T0 } from './audit-fixtures.js'
import { CID } from 'multiformats/cid'
import type { LeaseMarks } from '../src/entries/index.js'

const B = UPTIME_BUCKET_MS
const MANIFEST = CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')

describe('lease summary (the uptime attribute)', () => {
  it('credits the last 10 minutes of a lease, marking the buckets it covers for at least half', () => {
    // a 10-minute lease aligned on a bucket marks exactly that bucket
    expect(leaseMarks(T0 + B, 0)).toEqual({ from: T0 / B, to: T0 / B })
    // 4 minutes in one bucket and 6 in the next: only the next
    expect(leaseMarks(T0 + B + 6 * 60_000, 0)).toEqual({ from: T0 / B + 1, to: T0 / B + 1 })
    // a long lease is credited only its last 10 minutes; a manifest issued later shortens it
    expect(leaseMarks(T0 + 24 * 3_600_000, 0)).toEqual({ from: T0 / B + 143, to: T0 / B + 143 })
    expect(leaseMarks(T0 + B, T0 + 8 * 60_000)).toBeUndefined()
    expect(leaseEnd(T0 + B)).toBe(T0 / B)
  })

  it('is a function of the set of marks, whatever their order, within the window of the winner', () => {
    const end = 10_000
    const mark = fc.integer({ min: end - UPTIME_WINDOW_BUCKETS - 20, max: end + 20 }).chain((from) => fc.integer({ min: from, max: from + 3 }).map((to): LeaseMarks => ({ from, to })))
    fc.assert(fc.property(fc.array(mark, { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (marks, batches) => {
      const once = mergeLease(undefined, end, marks)
      let folded = undefined
      const size = Math.ceil(marks.length / batches)
      for (let i = 0; i < marks.length || folded === undefined; i += size) folded = mergeLease(folded, end, [...marks.slice(i, i + size)].reverse())
      expect(folded).toEqual(once)
      // the exact count of distinct buckets within the window
      const inWindow = new Set(marks.flatMap(({ from, to }) => Array.from({ length: to - from + 1 }, (_, i) => from + i)).filter((b) => b > end - UPTIME_WINDOW_BUCKETS && b <= end))
      expect(leaseCovered(once)).toBe(inWindow.size)
      expect(leaseFromList(leaseToList(once))).toEqual(once)
    }))
  })

  it('matches a flag-per-bucket reference, also when the window end moves', () => {
    const W = UPTIME_WINDOW_BUCKETS
    const reference = (previous: { end: number, runs: number[] } | undefined, end: number, marks: LeaseMarks[]): { end: number, runs: number[] } => {
      const flags = new Uint8Array(W)
      const set = (b: number): void => { if (end - b >= 0 && end - b < W) flags[end - b] = 1 }
      if (previous !== undefined) {
        let bucket = previous.end
        previous.runs.forEach((length, i) => {
          if (i % 2 === 0) for (let b = bucket; b > bucket - length; b--) set(b)
          bucket -= length
        })
      }
      for (const { from, to } of marks) for (let b = from; b <= to; b++) set(b)
      const runs: number[] = []
      let covered = true
      let length = 0
      for (const flag of flags) {
        if ((flag === 1) !== covered) { runs.push(length); covered = !covered; length = 0 }
        length++
      }
      if (covered) runs.push(length)
      if (runs.length === 1 && runs[0] === 0) runs.pop()
      return { end, runs }
    }
    const marksNear = (end: number): fc.Arbitrary<LeaseMarks[]> => fc.array(fc.integer({ min: end - W - 30, max: end + 30 }).chain((from) => fc.integer({ min: from, max: from + 200 }).map((to): LeaseMarks => ({ from, to }))), { maxLength: 12 })
    fc.assert(fc.property(fc.integer({ min: -W - 50, max: W + 50 }), marksNear(20_000), marksNear(20_000), fc.boolean(), (shift, first, second, fromNothing) => {
      const previous = fromNothing ? undefined : mergeLease(undefined, 20_000, first)
      if (previous !== undefined) expect(previous).toEqual(reference(undefined, 20_000, first))
      expect(mergeLease(previous, 20_000 + shift, second)).toEqual(reference(previous, 20_000 + shift, second))
    }), { numRuns: 300 })
  })

  it('rounds the uptime down to 0.01 of the 30-day window', () => {
    const full = mergeLease(undefined, 5000, [{ from: 5000 - UPTIME_WINDOW_BUCKETS + 1, to: 5000 }])
    expect(full.runs).toEqual([UPTIME_WINDOW_BUCKETS])
    expect(leaseUptime(full)).toBe(1)
    const almost = mergeLease(undefined, 5000, [{ from: 5000 - UPTIME_WINDOW_BUCKETS + 45, to: 5000 }])
    expect(leaseUptime(almost)).toBe(0.98)
    const gap = mergeLease(undefined, 5000, [{ from: 4990, to: 4995 }])
    expect(gap.runs).toEqual([0, 5, 6])
    expect(leaseUptime(mergeLease(undefined, 5000, []))).toBe(0)
  })

  it('travels in the entry, strictly decoded, and old entries without one still decode', () => {
    const lease = mergeLease(undefined, 5000, [{ from: 4990, to: 4995 }, { from: 4999, to: 5000 }])
    const entry = { record: Uint8Array.of(1), manifest: MANIFEST, seen: 7, lease }
    expect(decodeEntry(encodeEntry(entry))).toEqual(entry)
    expect(entryUptime(entry)).toBe(0)
    expect(entryUptime({})).toBeUndefined()
    expect(decodeEntry(encodeEntry({ record: Uint8Array.of(1), manifest: MANIFEST, seen: 7 }))).not.toHaveProperty('lease')
    for (const bad of [[], [5000, 0], [5000, 2, 1], [5000, 2, 0, 3], [5000, UPTIME_WINDOW_BUCKETS + 1], [5000, -1], [1.5], 'x']) {
      expect(() => leaseFromList(bad)).toThrow(expect.objectContaining({ name: 'InvalidEntryError' }))
    }
  })
})
