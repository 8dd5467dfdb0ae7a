import { describe, expect, it } from 'vitest'
import { BATCH_MAX_LIMIT, DEFAULT_BATCH_MAX, batchMaxFor } from '../src/index.js'

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
