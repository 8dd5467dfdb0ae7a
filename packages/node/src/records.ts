import { checkSupersedes, RECORD_MAX_SIZE, verifyRecord } from '@capdex/registry'
import { anySignal } from 'any-signal'
import { Key } from 'interface-datastore'
import { equals } from 'uint8arrays/equals'
import { concatBytes, plainBytes } from './bytes.js'
import { DEFAULT_RECORD_TIMEOUT_MS, WRITTEN_RECORDS_KEPT, IPNS_RECORD_PREFIX, IPNS_RECORD_PROTOCOL, MAX_RECORD_REQUEST_BYTES, RECORD_MAX_INBOUND_STREAMS, RECORD_STATUS_FOUND, RECORD_STATUS_NOT_FOUND } from './constants.js'
import { RecordFetchTimeoutError, RecordNotFoundError, RecordProtocolError } from './errors.js'
import { setNewest } from './maps.js'
import type { FetchRecordOptions, PutRecordOptions } from './types.js'
import type { VerifiedRecord, VerifyRecordOptions } from '@capdex/registry'
import type { AbortOptions, Connection, Libp2p, Logger, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'

const NAME_PATTERN = /^[A-Za-z0-9]{1,200}$/

function recordKey (name: string): Key {
  return new Key(`${IPNS_RECORD_PREFIX}/${name}`)
}

/**
 * Reads a request line: bytes up to the first newline. The request is delimited in-band rather
 * than by the client closing its write side, so it never depends on the close reaching the handler.
 */
async function readLine (stream: Stream, max: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for await (const chunk of stream) {
    const bytes = chunk.subarray()
    const newline = bytes.indexOf(0x0a)
    const part = newline === -1 ? bytes : bytes.subarray(0, newline)
    length += part.byteLength
    if (length > max) {
      throw new RecordProtocolError(`IPNS record protocol message is larger than ${max} bytes`)
    }
    parts.push(part)
    if (newline !== -1) return concatBytes(parts, length)
  }
  throw new RecordProtocolError('IPNS record request ended before its newline')
}

/** Reads a stream to its end, failing past `max` bytes. */
async function readAll (stream: Stream, max: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for await (const chunk of stream) {
    const bytes = chunk.subarray()
    length += bytes.byteLength
    if (length > max) {
      throw new RecordProtocolError(`IPNS record protocol message is larger than ${max} bytes`)
    }
    parts.push(bytes)
  }
  return concatBytes(parts, length)
}

export interface RecordStoreComponents {
  datastore: Datastore
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  log: Logger
}

/**
 * The newest IPNS record per name, in the datastore under `/capdex/ipns/<name>`, served to
 * peers over `/capdex/ipns-record/1.0.0`.
 *
 * Wire format: the client opens a stream and writes the name (UTF-8, at most 256 bytes) and a
 * newline; the server answers one status byte (0 found, 1 not found), then the record bytes (at
 * most 10 KiB) when found, and closes. Both sides give up after 10 s.
 */
export class RecordStore {
  private readonly datastore: Datastore
  private readonly libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  private readonly log: Logger
  /** one put at a time per name, so check-then-write cannot interleave */
  private readonly queues = new Map<string, Promise<unknown>>()
  /** the records this store wrote last, by name (bounded, oldest out first) */
  private readonly written = new Map<string, VerifiedRecord>()

  constructor (components: RecordStoreComponents) {
    this.datastore = components.datastore
    this.libp2p = components.libp2p
    this.log = components.log
  }

  async start (): Promise<void> {
    await this.libp2p.handle(IPNS_RECORD_PROTOCOL, async (stream, connection) => {
      await this.serve(stream, connection)
    }, { maxInboundStreams: RECORD_MAX_INBOUND_STREAMS })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(IPNS_RECORD_PROTOCOL)
  }

  async getRecord (name: string, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    if (!NAME_PATTERN.test(name)) {
      return undefined
    }
    try {
      return plainBytes(await this.datastore.get(recordKey(name), options))
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') {
        return undefined
      }
      throw err
    }
  }

  async putRecord (name: string, bytes: Uint8Array, options: PutRecordOptions = {}): Promise<VerifiedRecord> {
    const previous = this.queues.get(name) ?? Promise.resolve()
    const job = previous.catch(() => {}).then(async () => this.putRecordNow(name, bytes, options))
    this.queues.set(name, job)
    try {
      return await job
    } finally {
      if (this.queues.get(name) === job) {
        this.queues.delete(name)
      }
    }
  }

  private async putRecordNow (name: string, bytes: Uint8Array, options: PutRecordOptions): Promise<VerifiedRecord> {
    const given = options.verified
    const incoming = given != null && given.name === name && equals(given.bytes, bytes)
      ? given
      : await verifyRecord(name, bytes, options.now != null ? { now: options.now } : {})
    const storedBytes = await this.getRecord(name, options)
    if (storedBytes != null) {
      if (equals(storedBytes, bytes)) {
        return incoming
      }
      let known = this.written.get(name)
      if (known == null || !equals(known.bytes, storedBytes)) {
        known = undefined
        try {
          known = await verifyRecord(name, storedBytes, { allowExpired: true })
        } catch (err) {
          this.log.error('stored record for %s does not verify, replacing it - %e', name, err)
        }
      }
      checkSupersedes(known, incoming)
    }
    options.signal?.throwIfAborted()
    await this.datastore.put(recordKey(name), bytes, options)
    this.remember(incoming)
    this.log('stored record for %s seq %s', name, incoming.sequence)
    return incoming
  }

  /** Keeps the records this store wrote, so the next put of a name need not verify the stored one again. */
  private remember (record: VerifiedRecord): void {
    setNewest(this.written, record.name, record, WRITTEN_RECORDS_KEPT)
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(DEFAULT_RECORD_TIMEOUT_MS)
    const onAbort = (): void => { stream.abort(new RecordFetchTimeoutError('IPNS record request timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const request = await readLine(stream, MAX_RECORD_REQUEST_BYTES)
      let name: string
      try {
        name = new TextDecoder('utf-8', { fatal: true }).decode(request)
      } catch {
        throw new RecordProtocolError('IPNS record request is not UTF-8')
      }
      const record = await this.getRecord(name, { signal })
      this.log('record request for %s from %p: %s', name, connection.remotePeer, record == null ? 'not found' : 'found')
      if (record == null) {
        stream.send(Uint8Array.of(RECORD_STATUS_NOT_FOUND))
      } else {
        const response = new Uint8Array(1 + record.byteLength)
        response[0] = RECORD_STATUS_FOUND
        response.set(record, 1)
        stream.send(response)
      }
      await stream.close({ signal })
    } catch (err) {
      this.log('record request from %p failed - %e', connection.remotePeer, err)
      stream.abort(err as Error)
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  async fetchRecord (peer: PeerId | Multiaddr, name: string, options: FetchRecordOptions = {}): Promise<VerifiedRecord> {
    const request = new TextEncoder().encode(name)
    if (request.byteLength > MAX_RECORD_REQUEST_BYTES) {
      throw new RecordProtocolError(`IPNS name is longer than ${MAX_RECORD_REQUEST_BYTES} bytes`)
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_RECORD_TIMEOUT_MS
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal = anySignal([timeout, options.signal])
    let stream: Stream | undefined
    let response: Uint8Array
    const onAbort = (): void => { stream?.abort(new RecordFetchTimeoutError()) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      stream = await this.libp2p.dialProtocol(peer, IPNS_RECORD_PROTOCOL, { signal })
      stream.send(Uint8Array.from([...request, 0x0a]))
      // the server answers once it has the line and then closes; read that before closing our side
      response = await readAll(stream, 1 + RECORD_MAX_SIZE)
      await stream.close({ signal })
    } catch (err) {
      if (timeout.aborted && options.signal?.aborted !== true) {
        throw new RecordFetchTimeoutError(`No IPNS record for ${name} from ${peer.toString()} within ${timeoutMs} ms`)
      }
      options.signal?.throwIfAborted()
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
      signal.clear()
    }

    const status = response[0]
    if (status === RECORD_STATUS_NOT_FOUND && response.byteLength === 1) {
      throw new RecordNotFoundError(`${peer.toString()} holds no IPNS record for ${name}`)
    }
    if (status !== RECORD_STATUS_FOUND || response.byteLength < 2) {
      throw new RecordProtocolError(`Malformed IPNS record response from ${peer.toString()}`)
    }
    const verifyOptions: VerifyRecordOptions = {}
    if (options.now != null) verifyOptions.now = options.now
    if (options.allowExpired != null) verifyOptions.allowExpired = options.allowExpired
    return verifyRecord(name, response.subarray(1), verifyOptions)
  }
}
