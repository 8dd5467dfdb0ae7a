import type { Repo } from '../repo.js'
import type { CapdexNode } from '../types.js'
import type { AbortOptions, BlockStore } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'

export interface IndexBlockStoreComponents {
  node: Pick<CapdexNode, 'getVerifiedBlock'>
  repo: Pick<Repo, 'blockstore'>
}

export interface IndexBlockStoreInit {
  /** bound on fetching a missing or corrupt block from peers */
  repairTimeoutMs: number
}

/**
 * The block store the indexer folds over. Reads are re-hashed; a corrupt local copy is deleted
 * and fetched again from connected peers (bounded by `repairTimeoutMs`), so neither a fold nor a
 * snapshot check ever works from corrupt bytes. Writes go to the repo blockstore, and their CIDs
 * are collected so the fold can make exactly those blocks durable before the head moves.
 */
export interface IndexBlockStore extends BlockStore {
  /** The CIDs put since the last call, each once; starts a new collection. */
  takeWritten(): CID[]
}

class RecordingBlockStore implements IndexBlockStore {
  private readonly node: IndexBlockStoreComponents['node']
  private readonly repo: IndexBlockStoreComponents['repo']
  private readonly repairTimeoutMs: number
  private written = new Map<string, CID>()

  constructor (components: IndexBlockStoreComponents, init: IndexBlockStoreInit) {
    this.node = components.node
    this.repo = components.repo
    this.repairTimeoutMs = init.repairTimeoutMs
  }

  async get (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    return this.node.getVerifiedBlock(cid, { timeoutMs: this.repairTimeoutMs, ...(options.signal != null ? { signal: options.signal } : {}) })
  }

  async put (cid: CID, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    await this.repo.blockstore.put(cid, bytes, options)
    this.written.set(cid.toString(), cid)
  }

  async has (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    return this.repo.blockstore.has(cid, options)
  }

  takeWritten (): CID[] {
    const cids = [...this.written.values()]
    this.written = new Map()
    return cids
  }
}

export function indexBlockStore (components: IndexBlockStoreComponents, init: IndexBlockStoreInit): IndexBlockStore {
  return new RecordingBlockStore(components, init)
}
