import { anySignal } from 'any-signal'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { CustomProgressEvent } from 'progress-events'
import { equals } from 'uint8arrays/equals'
import { concatBytes } from './bytes.js'
import { DEFAULT_BLOCK_TIMEOUT_MS } from './constants.js'
import { BlockFetchTimeoutError, BlockHashMismatchError, BlockNotFoundError, BlockTooLargeError, UnsupportedHashError } from './errors.js'
import type { GetVerifiedBlockOptions, PutBlockOptions } from './types.js'
import type { Helia } from '@helia/interface'
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

/** Whether `bytes` hash to `cid` (sha2-256 or identity). */
export async function blockMatchesCid (cid: CID, bytes: Uint8Array): Promise<boolean> {
  const { code, digest } = cid.multihash
  if (code === identity.code) {
    return equals(digest, bytes)
  }
  if (code !== sha256.code) {
    throw new UnsupportedHashError(`Cannot verify ${cid.toString()}: multihash 0x${code.toString(16)} is not sha2-256 or identity`)
  }
  const hash = await sha256.digest(bytes)
  return equals(hash.digest, digest)
}

/** Concatenates a block's chunks, failing as soon as they pass `maxBytes`. */
export async function collectBlock (cid: CID, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for await (const chunk of chunks) {
    length += chunk.byteLength
    if (length > maxBytes) {
      throw new BlockTooLargeError(`Block ${cid.toString()} is larger than ${maxBytes} bytes`)
    }
    parts.push(chunk)
  }
  return concatBytes(parts, length)
}

export interface BlockHelpersComponents {
  helia: Pick<Helia, 'blockstore'>
  /** the repo's raw blockstore (helia's wrapper would go to the network for a miss) */
  blockstore: Blockstore
  log: Logger
}

export interface BlockHelpersInit {
  maxBlockBytes: number
}

export class BlockHelpers {
  private readonly helia: Pick<Helia, 'blockstore'>
  private readonly blockstore: Blockstore
  private readonly log: Logger
  private readonly maxBlockBytes: number

  constructor (components: BlockHelpersComponents, init: BlockHelpersInit) {
    this.helia = components.helia
    this.blockstore = components.blockstore
    this.log = components.log
    this.maxBlockBytes = init.maxBlockBytes
  }

  /** The local bytes, or undefined when the block is not (or no longer) stored. */
  private async readLocal (cid: CID, maxBytes: number, options: AbortOptions): Promise<Uint8Array | undefined> {
    // no `has` first: a missing block is the get's NotFoundError, one system call fewer per read
    try {
      return await collectBlock(cid, this.blockstore.get(cid, options), maxBytes)
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') {
        return undefined
      }
      throw err
    }
  }

  async getVerifiedBlock (cid: CID, options: GetVerifiedBlockOptions = {}): Promise<Uint8Array> {
    const maxBytes = Math.min(options.maxBytes ?? this.maxBlockBytes, this.maxBlockBytes)
    const offline = options.offline === true

    options.onProgress?.(new CustomProgressEvent('node:get-block:local', cid))
    const local = await this.readLocal(cid, maxBytes, options)
    if (local !== undefined) {
      if (await blockMatchesCid(cid, local)) {
        return local
      }
      this.log.error('local copy of %c is corrupt, deleting it', cid)
      options.onProgress?.(new CustomProgressEvent('node:get-block:corrupt', cid))
      await this.blockstore.delete(cid, options)
      if (offline) {
        throw new BlockHashMismatchError(`The stored bytes of block ${cid.toString()} do not match its CID; the corrupt copy was deleted`)
      }
    } else if (offline) {
      throw new BlockNotFoundError(`Block ${cid.toString()} is not in the local blockstore (offline)`)
    }

    if (cid.multihash.code !== sha256.code && cid.multihash.code !== identity.code) {
      throw new UnsupportedHashError(`Cannot verify ${cid.toString()}: multihash 0x${cid.multihash.code.toString(16)} is not sha2-256 or identity`)
    }

    options.onProgress?.(new CustomProgressEvent('node:get-block:network', cid))
    const timeoutMs = options.timeoutMs ?? DEFAULT_BLOCK_TIMEOUT_MS
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal = anySignal([timeout, options.signal])
    let bytes: Uint8Array
    try {
      // helia verifies the hash of network blocks and stores them in the repo blockstore
      const providers = options.providers?.map((peer) => peer.toCID())
      bytes = await collectBlock(cid, this.helia.blockstore.get(cid, { signal, ...(providers != null ? { providers } : {}) }), maxBytes)
    } catch (err) {
      if (timeout.aborted && options.signal?.aborted !== true) {
        throw new BlockFetchTimeoutError(`Block ${cid.toString()} was not received from any connected peer within ${timeoutMs} ms`)
      }
      if ((err as Error).name === 'BlockTooLargeError') {
        await this.blockstore.delete(cid)
      }
      throw err
    } finally {
      signal.clear()
    }

    // belt and braces: never hand out bytes we did not hash ourselves
    if (!await blockMatchesCid(cid, bytes)) {
      await this.blockstore.delete(cid)
      throw new BlockHashMismatchError(`Block ${cid.toString()} received from the network does not match its CID`)
    }
    return bytes
  }

  async putBlock (bytes: Uint8Array, codec: number, options: PutBlockOptions = {}): Promise<CID> {
    const maxBytes = options.maxBytes ?? this.maxBlockBytes
    if (bytes.byteLength > maxBytes) {
      throw new BlockTooLargeError(`Block of ${bytes.byteLength} bytes is larger than ${maxBytes} bytes`)
    }
    const cid = CID.createV1(codec, await sha256.digest(bytes))
    await this.helia.blockstore.put(cid, bytes, options)
    return cid
  }
}
