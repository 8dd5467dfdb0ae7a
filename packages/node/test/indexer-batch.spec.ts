import { describe, expect, it } from 'vitest'
import { BATCH_MAX_LIMIT, CATCH_UP_MAX_MS, DEFAULT_BATCH_MAX, batchMaxFor, foldDelay } from '../src/index.js'
import type { BatchState } from '../src/index.js'

describe('indexer batch cap', () => {
  it('is DEFAULT_BATCH_MAX for an empty or small index', () => {
    expect(batchMaxFor(0)).toBe(DEFAULT_BATCH_MAX)
    expect(batchMaxFor(100_000)).toBe(DEFAULT_BATCH_MAX)
  })

  it('grows with the index: 2% of its providers', () => {
    expect(batchMaxFor(1_000_000)).toBe(20_000)
    expect(batchMaxFor(1_234_567)).toBe(24_692)
  })

  it('stops at BATCH_MAX_LIMIT', () => {
    expect(batchMaxFor(10_000_000)).toBe(BATCH_MAX_LIMIT)
    expect(batchMaxFor(Number.MAX_SAFE_INTEGER)).toBe(BATCH_MAX_LIMIT)
  })
})

describe('when a batch folds', () => {
  const steady: BatchState = { pending: 10, oldestWaitedMs: 100, verifying: 0, batchMax: 5000, batchMs: 250, lastFoldMs: 60 }

  it('never while nothing is pending', () => {
    expect(foldDelay({ ...steady, pending: 0 })).toBeUndefined()
  })

  it('at the end of the oldest update\'s window', () => {
    expect(foldDelay(steady)).toBe(150)
    expect(foldDelay({ ...steady, oldestWaitedMs: 250 })).toBe(0)
    expect(foldDelay({ ...steady, oldestWaitedMs: 900 })).toBe(0)
  })

  it('at once when the batch is full, window or backlog', () => {
    expect(foldDelay({ ...steady, pending: 5000 })).toBe(0)
    expect(foldDelay({ ...steady, pending: 5000, oldestWaitedMs: 0, verifying: 100_000, lastFoldMs: 5000 })).toBe(0)
  })

  it('after its window, waits for a larger backlog still in verification, for at most the last fold\'s time', () => {
    const backlog = { ...steady, pending: 4000, oldestWaitedMs: 300, verifying: 16_000, lastFoldMs: 800 }
    expect(foldDelay(backlog)).toBe(750)
    expect(foldDelay({ ...backlog, oldestWaitedMs: 1050 })).toBe(0)
    // a backlog no larger than the batch: fold now
    expect(foldDelay({ ...backlog, verifying: 4000 })).toBe(0)
    // quick folds: the wait is as short as they are
    expect(foldDelay({ ...backlog, lastFoldMs: 60 })).toBe(10)
    expect(foldDelay({ ...backlog, lastFoldMs: 0 })).toBe(0)
  })

  it('waits for a backlog at most CATCH_UP_MAX_MS past the window, however long folds take', () => {
    const backlog = { ...steady, pending: 4000, oldestWaitedMs: 250, verifying: 16_000, lastFoldMs: 60_000 }
    expect(foldDelay(backlog)).toBe(CATCH_UP_MAX_MS)
    expect(foldDelay({ ...backlog, oldestWaitedMs: 250 + CATCH_UP_MAX_MS })).toBe(0)
  })
})
