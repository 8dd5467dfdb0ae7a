import { RECORD_MAX_SIZE, verifyRecord } from '@capdex/registry'
import { CarBlockIterator } from '@ipld/car/iterator'
import { anySignal } from 'any-signal'
import { blockMatchesCid } from '../blocks.js'
import { concatBytes } from '../bytes.js'
import { MAX_BLOCK_BYTES } from '../constants.js'
import { BlockHashMismatchError, BlockNotFoundError, BlockTooLargeError, InvalidOptionError } from '../errors.js'
import { DEFAULT_GATEWAY_TIMEOUT_MS, DEFAULT_MAX_GATEWAY_CAR_BYTES } from './constants.js'
import { CarBlockMismatchError, CarTooLargeError, GatewayRequestError, HeadNotFoundError } from './errors.js'
import type { BlockSource, BlockSourceGetOptions, PrefetchOptions, VerifiedBlock } from './sources.js'
import type { VerifiedRecord } from '@capdex/registry'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface GatewayClientInit {
  /** base URL of an HTTP trustless gateway, e.g. `http://127.0.0.1:8080` */
  url: string
  /**
   * Bound on each request, body included.
   *
   * @default 30000
   */
  timeoutMs?: number
  /**
   * Largest CAR response read by `prefetch`.
   *
   * @default 1073741824
   */
  maxCarBytes?: number
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch
}

export interface RecordRequestOptions extends AbortOptions {
  /** clock for the expiry check, ms since the epoch @default Date.now() */
  now?: number
}

/**
 * A client of an HTTP trustless gateway (`/ipfs/<cid>?format=raw|car`,
 * `/ipns/<name>?format=ipns-record`) that trusts nothing it is sent: every block is re-hashed,
 * every record verified against its name.
 */
export interface GatewayClient extends BlockSource {
  readonly url: string
  /** `GET /ipfs/<cid>?format=raw`; a 404 is `BlockNotFoundError`. */
  get(cid: CID, options?: BlockSourceGetOptions): Promise<Uint8Array>
  /**
   * `GET /ipfs/<root>?format=car` (`&history=true` with `history`), streamed: yields each block
   * once it hashes to its CID.
   *
   * @throws CarBlockMismatchError a block does not match its CID (the stream stops there)
   * @throws CarTooLargeError the response passes `maxCarBytes`
   */
  prefetch(root: CID, options?: PrefetchOptions): AsyncIterable<VerifiedBlock>
  /**
   * `GET /ipns/<name>?format=ipns-record`, verified against `name`.
   *
   * @throws HeadNotFoundError the gateway has no record for the name
   */
  record(name: string, options?: RecordRequestOptions): Promise<VerifiedRecord>
}

async function * limited (body: AsyncIterable<Uint8Array>, max: number, tooLarge: () => Error): AsyncGenerator<Uint8Array> {
  let length = 0
  for await (const chunk of body) {
    length += chunk.byteLength
    if (length > max) {
      throw tooLarge()
    }
    yield chunk
  }
}

async function readBody (body: AsyncIterable<Uint8Array>, max: number, tooLarge: () => Error): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for await (const chunk of limited(body, max, tooLarge)) {
    parts.push(chunk)
    length += chunk.byteLength
  }
  return concatBytes(parts, length)
}

class TrustlessGateway implements GatewayClient {
  readonly url: string
  private readonly timeoutMs: number
  private readonly maxCarBytes: number
  private readonly fetch: typeof globalThis.fetch

  constructor (init: GatewayClientInit) {
    let base: URL
    try {
      base = new URL(init.url)
    } catch {
      throw new InvalidOptionError(`Invalid gateway URL ${JSON.stringify(init.url)}`)
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new InvalidOptionError(`Gateway URL must be http(s), got ${init.url}`)
    }
    this.url = base.toString().replace(/\/+$/, '')
    this.timeoutMs = init.timeoutMs ?? DEFAULT_GATEWAY_TIMEOUT_MS
    this.maxCarBytes = init.maxCarBytes ?? DEFAULT_MAX_GATEWAY_CAR_BYTES
    this.fetch = init.fetch ?? globalThis.fetch.bind(globalThis)
  }

  /** Runs `use` on the response body; the timeout covers the body too. */
  private async request<T> (path: string, accept: string, options: AbortOptions, use: (response: Response, body: AsyncIterable<Uint8Array>) => Promise<T>): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const signal = anySignal([timeout, options.signal])
    const url = `${this.url}${path}`
    try {
      const response = await this.fetch(url, { headers: { accept }, signal })
      const body: AsyncIterable<Uint8Array> = response.body ?? (async function * () {})()
      return await use(response, body)
    } catch (err) {
      if (timeout.aborted && options.signal?.aborted !== true) {
        throw new GatewayRequestError(`GET ${url} timed out after ${this.timeoutMs} ms`)
      }
      if (err instanceof TypeError) {
        throw new GatewayRequestError(`GET ${url} failed: ${err.message}`)
      }
      throw err
    } finally {
      signal.clear()
    }
  }

  async get (cid: CID, options: BlockSourceGetOptions = {}): Promise<Uint8Array> {
    const maxBytes = options.maxBytes ?? MAX_BLOCK_BYTES
    const bytes = await this.request(`/ipfs/${cid.toString()}?format=raw`, 'application/vnd.ipld.raw', options, async (response, body) => {
      if (response.status === 404) {
        throw new BlockNotFoundError(`The gateway ${this.url} does not have block ${cid.toString()}`)
      }
      if (!response.ok) {
        throw new GatewayRequestError(`GET ${this.url}/ipfs/${cid.toString()} answered ${response.status}`, response.status)
      }
      return readBody(body, maxBytes, () => new BlockTooLargeError(`Block ${cid.toString()} from ${this.url} is larger than ${maxBytes} bytes`))
    })
    if (!await blockMatchesCid(cid, bytes)) {
      throw new BlockHashMismatchError(`Block ${cid.toString()} from the gateway ${this.url} does not match its CID`)
    }
    return bytes
  }

  async * prefetch (root: CID, options: PrefetchOptions = {}): AsyncGenerator<VerifiedBlock> {
    // a generator cannot yield from inside `request`'s callback: collect per chunk of the stream
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const signal = anySignal([timeout, options.signal])
    const url = `${this.url}/ipfs/${root.toString()}?format=car&dag-scope=all${options.history === true ? '&history=true' : ''}`
    try {
      let response: Response
      try {
        response = await this.fetch(url, { headers: { accept: 'application/vnd.ipld.car' }, signal })
      } catch (err) {
        if (err instanceof TypeError) throw new GatewayRequestError(`GET ${url} failed: ${err.message}`)
        throw err
      }
      if (!response.ok || response.body == null) {
        throw new GatewayRequestError(`GET ${url} answered ${response.status}`, response.status)
      }
      const body = limited(response.body, this.maxCarBytes, () => new CarTooLargeError(`The CAR from ${url} is larger than ${this.maxCarBytes} bytes`))
      const blocks = await CarBlockIterator.fromIterable(body)
      let index = 0
      for await (const { cid, bytes } of blocks) {
        if (!await blockMatchesCid(cid, bytes)) {
          throw new CarBlockMismatchError(`Block ${cid.toString()} (#${index}) of the CAR from ${url} does not match its CID`, { cid, index })
        }
        index++
        yield { cid, bytes }
      }
    } catch (err) {
      if (timeout.aborted && options.signal?.aborted !== true) {
        throw new GatewayRequestError(`GET ${url} timed out after ${this.timeoutMs} ms`)
      }
      throw err
    } finally {
      signal.clear()
    }
  }

  async record (name: string, options: RecordRequestOptions = {}): Promise<VerifiedRecord> {
    const bytes = await this.request(`/ipns/${encodeURIComponent(name)}?format=ipns-record`, 'application/vnd.ipfs.ipns-record', options, async (response, body) => {
      if (response.status === 404) {
        throw new HeadNotFoundError(`The gateway ${this.url} has no record for ${name}`)
      }
      if (!response.ok) {
        throw new GatewayRequestError(`GET ${this.url}/ipns/${name} answered ${response.status}`, response.status)
      }
      return readBody(body, RECORD_MAX_SIZE, () => new GatewayRequestError(`The record for ${name} from ${this.url} is larger than ${RECORD_MAX_SIZE} bytes`))
    })
    return verifyRecord(name, bytes, options.now != null ? { now: options.now } : {})
  }
}

/** A trustless-gateway client; see `GatewayClient`. */
export function gatewayClient (init: GatewayClientInit): GatewayClient {
  return new TrustlessGateway(init)
}
