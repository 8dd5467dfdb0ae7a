import { defaultLogger } from '@libp2p/logger'
import { BaseBlockstore } from 'blockstore-core'
import { blockMatchesCid, collectBlock } from '../blocks.js'
import { MAX_BLOCK_BYTES } from '../constants.js'
import { BlockHashMismatchError } from '../errors.js'
import type { AbortOptions, ComponentLogger, Logger } from '@libp2p/interface'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

export interface VerifiedBlockstoreComponents {
  /** the store to read from and write to (the repo's blockstore-fs) */
  blockstore: Blockstore
  logger?: ComponentLogger
}

export interface VerifiedBlockstoreInit {
  /**
   * Largest block read back; a larger stored block is refused.
   *
   * @default 1048576
   */
  maxBlockBytes?: number
  /** told of each corrupt block found (and deleted) */
  onCorrupt?: (cid: CID) => void
}

/**
 * Re-hashes every block on `get` (and `getMany`) before handing it out. A stored block whose
 * bytes do not hash to its CID is deleted and the read fails with `BlockHashMismatchError`, so
 * whatever serves from this store (helia's bitswap, a gateway) never sends corrupt bytes, and
 * the next read of the CID is a miss that fetches it again from the network where possible.
 * Writes, deletes, `has` and `getAll` go straight through.
 */
class VerifiedBlockstore extends BaseBlockstore {
  private readonly child: Blockstore
  private readonly log: Logger
  private readonly maxBlockBytes: number
  private readonly onCorrupt: ((cid: CID) => void) | undefined

  constructor (components: VerifiedBlockstoreComponents, init: VerifiedBlockstoreInit) {
    super()
    this.child = components.blockstore
    this.log = (components.logger ?? defaultLogger()).forComponent('capdex:node:verified-blockstore')
    this.maxBlockBytes = init.maxBlockBytes ?? MAX_BLOCK_BYTES
    this.onCorrupt = init.onCorrupt
  }

  override async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    return this.child.has(cid, options)
  }

  override async put (cid: CID, bytes: InputPair['bytes'], options?: AbortOptions): Promise<CID> {
    return this.child.put(cid, bytes, options)
  }

  override async * get (cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    const bytes = await collectBlock(cid, this.child.get(cid, options), this.maxBlockBytes)
    if (!await blockMatchesCid(cid, bytes)) {
      this.log.error('stored block %c does not match its CID: deleted, not served', cid)
      await this.child.delete(cid, options)
      this.onCorrupt?.(cid)
      throw new BlockHashMismatchError(`The stored bytes of block ${cid.toString()} do not match its CID; the corrupt copy was deleted`)
    }
    yield bytes
  }

  override async delete (cid: CID, options?: AbortOptions): Promise<void> {
    await this.child.delete(cid, options)
  }

  override getAll (options?: AbortOptions): AsyncGenerator<Pair> | Generator<Pair> {
    return this.child.getAll(options)
  }
}

/** Wraps a blockstore so that nothing read through it is corrupt (see `VerifiedBlockstore`). */
export function verifiedBlockstore (components: VerifiedBlockstoreComponents, init: VerifiedBlockstoreInit = {}): Blockstore {
  return new VerifiedBlockstore(components, init)
}
