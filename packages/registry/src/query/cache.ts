import { DEFAULT_MANIFEST_CACHE_SIZE, DEFAULT_RECORD_CACHE_SIZE } from './constants.js'
import type { CheckedManifest, LoadedEntry, VerifiedEntry } from './verify-entry.js'
import type { VerifiedRecord } from '../records/index.js'

/** A bounded map that forgets the least recently used entry first. */
export interface LruCache<V> {
  get(key: string): V | undefined
  set(key: string, value: V): void
  readonly size: number
}

/**
 * Records already verified, keyed by the sha256 of the record bytes. Ed25519 verification
 * (~6,500/s) would otherwise dominate selective queries. A hit counts only for the name it was
 * verified under, so a record copied under a foreign name is verified afresh (and fails).
 */
export type RecordCache = LruCache<VerifiedRecord>

/**
 * Manifests already re-hashed and decoded, keyed by their CID's bytes: content addressing makes a
 * hit as good as the check. The record → CID and manifest → provider checks still run on every entry.
 */
export type ManifestCache = LruCache<CheckedManifest>

export interface LruCacheInit {
  /** Most entries kept. */
  maxSize?: number
}

class Lru<V> implements LruCache<V> {
  private readonly entries = new Map<string, V>()
  private readonly maxSize: number

  constructor (maxSize: number) {
    this.maxSize = Math.max(1, maxSize)
  }

  get size (): number {
    return this.entries.size
  }

  get (key: string): V | undefined {
    const value = this.entries.get(key)
    if (value !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }

  set (key: string, value: V): void {
    this.entries.delete(key)
    this.entries.set(key, value)
    if (this.entries.size > this.maxSize) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) this.entries.delete(oldest.value)
    }
  }
}

/** A verified-record cache to share between queries; `maxSize` defaults to `DEFAULT_RECORD_CACHE_SIZE` (100,000). */
export function recordCache (init: LruCacheInit = {}): RecordCache {
  return new Lru(init.maxSize ?? DEFAULT_RECORD_CACHE_SIZE)
}

/** A decoded-manifest cache to share between queries; `maxSize` defaults to `DEFAULT_MANIFEST_CACHE_SIZE` (10,000). */
export function manifestCache (init: LruCacheInit = {}): ManifestCache {
  return new Lru(init.maxSize ?? DEFAULT_MANIFEST_CACHE_SIZE)
}

/**
 * Entries already loaded (and verified), keyed by the entry bytes themselves, as the tree engine's
 * decoded-node cache holds them: while a node stays cached its values are the same objects, so a
 * repeated query skips the strict decode, the manifest checks and the record lookup. Keys are held
 * weakly, so an entry is forgotten with its node. Content addressing makes a hit as good as the
 * checks: the bytes are those of a node that re-hashed to its CID.
 */
export interface EntryCache {
  get(bytes: Uint8Array): { loaded: LoadedEntry, verified?: VerifiedEntry } | undefined
  set(bytes: Uint8Array, value: { loaded: LoadedEntry, verified?: VerifiedEntry }): void
}

/** An entry cache to share between queries over one tree engine. */
export function entryCache (): EntryCache {
  return new WeakMap()
}
