import { hash } from 'node:crypto'

/**
 * sha2-256 through node:crypto's one-shot hash: for the small blocks of a tree it is several times faster than
 * multiformats' hasher, which goes through an async WebCrypto call or a Hash object per block.
 */
export function sha256 (bytes: Uint8Array): Uint8Array {
  return hash('sha256', bytes, 'buffer')
}
