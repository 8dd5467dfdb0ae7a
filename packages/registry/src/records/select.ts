import { EquivocationError, NameMismatchError, StaleRecordError } from './errors.js'
import type { VerifiedRecord } from './index.js'

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.byteLength, b.byteLength)
  for (let i = 0; i < length; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0)
    if (diff !== 0) {
      return diff
    }
  }
  return a.byteLength - b.byteLength
}

/**
 * Order two records of one name: positive when `a` is newer. Higher sequence wins; at one
 * sequence the value must agree (else equivocation), then the later EOL wins, then the
 * bytes decide, so every indexer picks the same record whatever order records arrive in.
 */
function compareRecords (a: VerifiedRecord, b: VerifiedRecord): number {
  if (a.name !== b.name) {
    throw new NameMismatchError(`Cannot order records of ${a.name} and ${b.name}`)
  }
  if (a.sequence !== b.sequence) {
    return a.sequence > b.sequence ? 1 : -1
  }
  if (a.value !== b.value) {
    throw new EquivocationError(a, b)
  }
  const validity = a.validity.getTime() - b.validity.getTime()
  if (validity !== 0) {
    return validity
  }
  return compareBytes(a.bytes, b.bytes)
}

/** The newer of two verified records of one name; throws EquivocationError for two values at one sequence. */
export function selectNewest (a: VerifiedRecord, b: VerifiedRecord): VerifiedRecord {
  return compareRecords(a, b) >= 0 ? a : b
}

/**
 * Throw unless `incoming` replaces `known`: StaleRecordError for a lower sequence (a
 * replay), a duplicate or an older lease; EquivocationError for another value at the
 * same sequence. Nothing known means anything supersedes.
 */
export function checkSupersedes (known: VerifiedRecord | undefined, incoming: VerifiedRecord): void {
  if (known !== undefined && compareRecords(incoming, known) <= 0) {
    throw new StaleRecordError(known, incoming)
  }
}
