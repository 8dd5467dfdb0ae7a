import { MAX_KEY_BYTES } from './constants.js'
import { InvalidKeyError, InvalidValueError, KeyTooLargeError } from './errors.js'
import type { ByteStrings } from './codec.js'

/** Bytewise order: a proper prefix sorts first. */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  return compareSpans(a, 0, a.length, b, 0, b.length)
}

/** `compareBytes` of `a[aStart, aEnd)` and `b[bStart, bEnd)`, without making views of them. */
export function compareSpans (a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): number {
  const aLength = aEnd - aStart
  const bLength = bEnd - bStart
  const length = Math.min(aLength, bLength)
  for (let i = 0; i < length; i++) {
    const diff = a[aStart + i]! - b[bStart + i]!
    if (diff !== 0) {
      return diff
    }
  }
  return aLength - bLength
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    return false
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      return false
    }
  }
  return true
}

export function validateKey (key: unknown): Uint8Array {
  if (!(key instanceof Uint8Array)) {
    throw new InvalidKeyError()
  }
  if (key.length > MAX_KEY_BYTES) {
    throw new KeyTooLargeError(`Key of ${key.length} bytes is over the ${MAX_KEY_BYTES} byte limit`)
  }
  return key
}

/** Range bounds only need to be comparable: any length is harmless. */
export function validateBound (bound: unknown): Uint8Array | undefined {
  if (bound === undefined) {
    return undefined
  }
  if (!(bound instanceof Uint8Array)) {
    throw new InvalidKeyError('Range bounds must be Uint8Arrays')
  }
  return bound
}

export function validateValue (value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidValueError()
  }
  return value
}

/** Index of the first key above `key` (`orEqual`: at or above it), or keys.length when there is none. */
function bound (keys: ByteStrings, key: Uint8Array, orEqual: boolean): number {
  let low = 0
  let high = keys.length
  const limit = orEqual ? 0 : 1
  while (low < high) {
    const mid = (low + high) >>> 1
    if (keys.compare(mid, key) < limit) {
      low = mid + 1
    } else {
      high = mid
    }
  }
  return low
}

/** Index of the first key >= `key` (keys.length when none). */
export function lowerBound (keys: ByteStrings, key: Uint8Array): number {
  return bound(keys, key, true)
}

/** Index of the child whose subtree would hold `key`: the last first-key <= key, or 0. */
export function childIndex (firstKeys: ByteStrings, key: Uint8Array): number {
  return Math.max(0, bound(firstKeys, key, false) - 1)
}

/** Smallest key greater than every key that starts with `prefix`, or undefined when there is none (all 0xff). */
export function prefixEnd (prefix: Uint8Array): Uint8Array | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const end = prefix.slice(0, i + 1)
      end[i] = end[i]! + 1
      return end
    }
  }
  return undefined
}
