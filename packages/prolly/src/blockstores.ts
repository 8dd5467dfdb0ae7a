import { cidKey } from './cache.js'
import { MissingBlockError } from './errors.js'
import type { AbortOptions, BlockStore } from './index.js'
import type { CID } from 'multiformats/cid'

/**
 * The parts of an interface-blockstore store that the tree uses, typed structurally so this package does not depend
 * on interface-blockstore. Version 7 returns a (sync or async) generator of chunks from `get`; older versions a
 * Uint8Array or a promise of one. `put` may return anything, sync or as a promise.
 */
export interface HeliaBlockstore {
  get(cid: CID, options?: AbortOptions): Iterable<Uint8Array> | AsyncIterable<Uint8Array> | Uint8Array | Promise<Uint8Array>
  put(cid: CID, bytes: Uint8Array, options?: AbortOptions): unknown
  has?(cid: CID, options?: AbortOptions): boolean | Promise<boolean>
}

/** Runs synchronous store work as a promise: a throw becomes a rejection. */
async function settle<T> (work: () => T): Promise<T> {
  return new Promise<T>((resolve) => { resolve(work()) })
}

class MemoryBlockStore implements BlockStore {
  private readonly blocks = new Map<string, Uint8Array>()

  async get (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    return settle(() => {
      options.signal?.throwIfAborted()
      const bytes = this.blocks.get(cidKey(cid))
      if (bytes === undefined) {
        // offline: nothing will ever bring the block, so fail at once
        throw new MissingBlockError(cid)
      }
      return bytes
    })
  }

  async put (cid: CID, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    return settle(() => {
      options.signal?.throwIfAborted()
      this.blocks.set(cidKey(cid), bytes)
    })
  }

  async has (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    return settle(() => {
      options.signal?.throwIfAborted()
      return this.blocks.has(cidKey(cid))
    })
  }
}

/** An in-memory block store; `get` of an absent block throws MissingBlockError immediately. */
export function memoryBlockStore (): BlockStore {
  return new MemoryBlockStore()
}

function isPromise<T> (value: unknown): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

async function collect (chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for await (const chunk of chunks) {
    parts.push(chunk)
    length += chunk.length
  }
  if (parts.length === 1) {
    return parts[0]!
  }
  const bytes = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    bytes.set(part, offset)
    offset += part.length
  }
  return bytes
}

async function readChunks (result: ReturnType<HeliaBlockstore['get']>): Promise<Uint8Array> {
  if (result instanceof Uint8Array || isPromise<Uint8Array>(result)) {
    return result
  }
  return collect(result)
}

/**
 * Adapts a helia / interface-blockstore store. Its NotFoundError becomes MissingBlockError, and an abort of the
 * caller's signal an AbortError naming the block, once the tree reads through it.
 */
export function fromHeliaBlockstore (store: HeliaBlockstore): BlockStore {
  const adapted: BlockStore = {
    get: async (cid, options = {}) => readChunks(store.get(cid, options)),
    put: async (cid, bytes, options = {}) => { await store.put(cid, bytes, options) }
  }
  if (store.has !== undefined) {
    adapted.has = async (cid, options = {}) => await store.has!(cid, options)
  }
  return adapted
}
