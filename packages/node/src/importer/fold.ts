import { fromHeliaBlockstore, prolly } from '@capdex/prolly'
import { fold, nameFromPublicKey } from '@capdex/registry'
import { CustomProgressEvent } from 'progress-events'
import { InvalidOptionError } from '../errors.js'
import type { FoldImportOptions, FoldImportResult, ImportedRow, SkypilotImporterComponents } from './types.js'
import type { BlockStore } from '@capdex/prolly'
import type { VerifiedUpdate } from '@capdex/registry'
import type { AbortOptions, Ed25519PrivateKey, Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface FoldContext {
  repo: SkypilotImporterComponents['repo']
  network: string
  log: Logger
  broker(options: AbortOptions): Promise<Ed25519PrivateKey>
}

/** A block store that remembers what was put through it, so exactly those blocks are synced. */
function recordingBlockStore (inner: BlockStore): { blocks: BlockStore, written: CID[] } {
  const written: CID[] = []
  const blocks: BlockStore = {
    get: async (cid, options) => inner.get(cid, options),
    put: async (cid, bytes, options) => {
      await inner.put(cid, bytes, options)
      written.push(cid)
    }
  }
  return { blocks, written }
}

/**
 * Folds the rows into a genesis snapshot (height 0, no prev) with the broker as indexer. The
 * manifests are already in the blockstore (`prepare` wrote them). Every block the fold wrote is
 * made durable before the CID is returned.
 */
export async function foldImport (ctx: FoldContext, rows: ImportedRow[], options: FoldImportOptions = {}): Promise<FoldImportResult> {
  const now = options.now ?? Date.now()
  if (!Number.isSafeInteger(now) || now < 0) {
    throw new InvalidOptionError(`now must be a non-negative integer (ms), got ${now}`)
  }
  const aborts: AbortOptions = options.signal != null ? { signal: options.signal } : {}
  const indexer = nameFromPublicKey((await ctx.broker(aborts)).publicKey)
  const { blocks, written } = recordingBlockStore(fromHeliaBlockstore(ctx.repo.blockstore))
  const updates: VerifiedUpdate[] = rows.map((row) => ({
    record: row.record,
    manifest: row.manifest,
    manifestCid: row.manifestCid,
    seen: now
  }))
  const result = await fold({ prolly: prolly({ blocks }), blocks }, null, updates, { now, network: ctx.network, indexer }, {
    ...aborts,
    ...(options.onProgress != null ? { onProgress: options.onProgress } : {})
  })
  const synced = await ctx.repo.syncBlocks(written, aborts)
  options.onProgress?.(new CustomProgressEvent('node:import:sync', { blocks: synced }))
  ctx.log('folded %d rows into snapshot %c (%d blocks)', rows.length, result.cid, result.written)
  return { cid: result.cid, snapshot: result.snapshot, written: result.written }
}
