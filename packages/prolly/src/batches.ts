/**
 * An AsyncIterableIterator over items produced in batches (a leaf's worth at a time). Items of a batch in hand are
 * handed out as already-settled promises, which costs a fraction of an async generator's per-item machinery; only
 * moving to the next batch awaits anything.
 */
export class BatchIterator<T> implements AsyncIterableIterator<T> {
  private batch: readonly T[] = []
  private index = 0
  private finished = false

  /** `fill` returns the next non-empty batch, or undefined at the end. */
  constructor (private readonly fill: () => Promise<readonly T[] | undefined>) {}

  [Symbol.asyncIterator] (): AsyncIterableIterator<T> {
    return this
  }

  async next (): Promise<IteratorResult<T, undefined>> {
    if (this.index < this.batch.length) {
      return { done: false, value: this.batch[this.index++]! }
    }
    if (this.finished) {
      return { done: true, value: undefined }
    }
    const batch = await this.fill()
    if (batch === undefined || batch.length === 0) {
      this.finished = true
      return { done: true, value: undefined }
    }
    this.batch = batch
    this.index = 1
    return { done: false, value: batch[0]! }
  }

  async return (): Promise<IteratorResult<T, undefined>> {
    this.finished = true
    this.batch = []
    return Promise.resolve({ done: true, value: undefined })
  }
}
