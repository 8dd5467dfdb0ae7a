import { once } from 'node:events'
import { createServer } from 'node:http'
import { publicKeyFromName, verifyRecord } from '@capdex/registry'
import { defaultLogger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { exportCar } from '../client/car.js'
import { formatPrometheus } from '../indexer/metrics.js'
import { isSnapshot, pipeCar, singleBlockCar } from './car.js'
import { CAR_CONTENT_TYPE, DEFAULT_GATEWAY_HOST, DEFAULT_GATEWAY_REPAIR_TIMEOUT_MS, IMMUTABLE_CACHE_CONTROL, MAX_IPNS_CACHE_SECONDS, MEDIA_CAR, MEDIA_IPNS_RECORD, MEDIA_RAW, METRICS_CONTENT_TYPE } from './constants.js'
import type { BlockSource } from '../client/sources.js'
import type { HttpGateway, HttpGatewayComponents, HttpGatewayInit } from './index.js'
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

type Format = 'raw' | 'car' | 'ipns-record'

const FORMATS: Record<string, Format> = {
  raw: 'raw',
  car: 'car',
  'ipns-record': 'ipns-record',
  [MEDIA_RAW]: 'raw',
  [MEDIA_CAR]: 'car',
  [MEDIA_IPNS_RECORD]: 'ipns-record'
}

/** An HTTP error answer: status and a short text body. */
class HttpError extends Error {
  static override name = 'HttpError'
  override name = 'HttpError'
  readonly status: number

  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

/**
 * The response format: `format` wins over `Accept` (as the spec says); undefined when neither
 * names a supported one.
 */
function requestedFormat (url: URL, req: IncomingMessage): { format: Format | undefined, carVersion: string | undefined } {
  const param = url.searchParams.get('format')
  const carVersion = url.searchParams.get('car-version') ?? undefined
  if (param != null) {
    return { format: FORMATS[param], carVersion }
  }
  for (const item of (req.headers.accept ?? '').split(',')) {
    const [media = '', ...params] = item.split(';').map(part => part.trim().toLowerCase())
    const format = FORMATS[media]
    if (format != null) {
      const version = params.find(p => p.startsWith('version='))?.slice('version='.length)
      return { format, carVersion: carVersion ?? version }
    }
  }
  return { format: undefined, carVersion }
}

function commonHeaders (extra: OutgoingHttpHeaders): OutgoingHttpHeaders {
  return { 'X-Content-Type-Options': 'nosniff', Vary: 'Accept', ...extra }
}

export class DefaultHttpGateway implements HttpGateway {
  url: string | undefined
  private readonly node: HttpGatewayComponents['node']
  private readonly indexer: HttpGatewayComponents['indexer']
  private readonly log: Logger
  private readonly host: string
  private readonly port: number
  private readonly repairTimeoutMs: number
  private server: Server | undefined
  /** the local blocks, for CAR export */
  private readonly blocks: BlockSource

  constructor (components: HttpGatewayComponents, init: HttpGatewayInit) {
    this.node = components.node
    this.indexer = components.indexer
    this.log = (components.logger ?? defaultLogger()).forComponent('capdex:gateway')
    this.host = init.host ?? DEFAULT_GATEWAY_HOST
    this.port = init.port ?? 0
    this.repairTimeoutMs = init.repairTimeoutMs ?? DEFAULT_GATEWAY_REPAIR_TIMEOUT_MS
    this.blocks = { get: async (cid, options = {}) => this.readBlock(cid, options) }
  }

  async start (): Promise<string> {
    if (this.server != null && this.url != null) {
      return this.url
    }
    const server = createServer((req, res) => { void this.handle(req, res) })
    server.listen(this.port, this.host)
    await once(server, 'listening')
    this.server = server
    const { port } = server.address() as AddressInfo
    this.url = `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${port}`
    this.log('serving on %s', this.url)
    return this.url
  }

  async stop (): Promise<void> {
    const server = this.server
    if (server == null) {
      return
    }
    this.server = undefined
    const closed = once(server, 'close')
    server.close()
    server.closeAllConnections()
    await closed
    this.log('stopped')
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = new AbortController()
    res.once('close', () => { controller.abort() })
    try {
      await this.route(req, res, { signal: controller.signal })
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500
      if (status === 500) {
        this.log.error('%s %s failed - %e', req.method, req.url, err)
      }
      if (res.headersSent) {
        res.destroy()
      } else {
        const body = `${status === 500 ? 'internal error' : (err as Error).message}\n`
        res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : body)
      }
    }
  }

  private async route (req: IncomingMessage, res: ServerResponse, options: AbortOptions): Promise<void> {
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      throw new HttpError(405, `${method} is not supported: use GET or HEAD`)
    }
    const url = new URL(req.url ?? '/', 'http://gateway.invalid')
    if (url.pathname === '/v1/head') {
      await this.serveHead(req, res, options)
      return
    }
    if (url.pathname === '/metrics') {
      await this.serveMetrics(req, res, options)
      return
    }
    const match = /^\/(ipfs|ipns)\/([^/]+)(\/.*)?$/.exec(url.pathname)
    if (match == null) {
      throw new HttpError(404, 'Not found: use /ipfs/<cid>, /ipns/<name>, /v1/head or /metrics')
    }
    const [, namespace, id = '', subpath] = match
    if (subpath != null && subpath !== '/') {
      throw new HttpError(400, 'Content paths are not supported: request /ipfs/<cid> itself')
    }
    const { format, carVersion } = requestedFormat(url, req)
    if (namespace === 'ipns') {
      if (format !== 'ipns-record') {
        throw new HttpError(400, 'Only verifiable IPNS records are served: add ?format=ipns-record or Accept: application/vnd.ipfs.ipns-record')
      }
      await this.serveRecord(req, res, id, options)
      return
    }
    if (format == null || format === 'ipns-record') {
      throw new HttpError(400, 'Only verifiable responses are served: add ?format=raw or ?format=car (or Accept: application/vnd.ipld.raw or application/vnd.ipld.car)')
    }
    if (format === 'car' && carVersion != null && carVersion !== '1') {
      throw new HttpError(400, `CAR version ${carVersion} is not supported: only version 1`)
    }
    let cid: CID
    try {
      cid = CID.parse(id)
    } catch {
      throw new HttpError(400, `Invalid CID ${JSON.stringify(id)}`)
    }
    await this.serveBlock(req, res, url, cid, format, options)
  }

  /**
   * A local block, re-hashed. A corrupt copy is deleted by the node and fetched again from
   * peers where possible; the gateway fetches nothing else from the network.
   */
  private async readBlock (cid: CID, options: AbortOptions & { maxBytes?: number }): Promise<Uint8Array> {
    const limits = { ...(options.signal != null ? { signal: options.signal } : {}), ...(options.maxBytes != null ? { maxBytes: options.maxBytes } : {}) }
    try {
      return await this.node.getVerifiedBlock(cid, { offline: true, ...limits })
    } catch (err) {
      if ((err as Error).name !== 'BlockHashMismatchError') {
        throw err
      }
      this.log.error('local copy of %c was corrupt and is deleted; fetching it again from peers', cid)
      return this.node.getVerifiedBlock(cid, { timeoutMs: this.repairTimeoutMs, ...limits })
    }
  }

  /** The root block, or the HTTP error that answers its absence. */
  private async readRoot (req: IncomingMessage, cid: CID, options: AbortOptions): Promise<Uint8Array> {
    try {
      return await this.readBlock(cid, options)
    } catch (err) {
      const name = (err as Error).name
      if (name === 'BlockNotFoundError') {
        const onlyIfCached = /only-if-cached/i.test(req.headers['cache-control'] ?? '')
        throw new HttpError(onlyIfCached ? 412 : 404, `Block ${cid.toString()} is not held by this gateway`)
      }
      if (name === 'UnsupportedHashError') {
        throw new HttpError(400, (err as Error).message)
      }
      if (name === 'BlockFetchTimeoutError' || name === 'BlockHashMismatchError' || name === 'BlockTooLargeError') {
        throw new HttpError(502, `Block ${cid.toString()} is unavailable: ${(err as Error).message}`)
      }
      throw err
    }
  }

  private async serveBlock (req: IncomingMessage, res: ServerResponse, url: URL, cid: CID, format: 'raw' | 'car', options: AbortOptions): Promise<void> {
    const bytes = await this.readRoot(req, cid, options)
    const scope = url.searchParams.get('dag-scope') ?? 'all'
    if (scope !== 'all' && scope !== 'entity' && scope !== 'block') {
      throw new HttpError(400, `Invalid dag-scope ${JSON.stringify(scope)}: use block, entity or all`)
    }
    const history = format === 'car' && scope === 'all' && url.searchParams.get('history') === 'true'
    const etag = format === 'raw' ? `"${cid.toString()}.raw"` : `"${cid.toString()}.car.${scope}${history ? '.history' : ''}"`
    const headers = commonHeaders({
      Etag: etag,
      'Cache-Control': IMMUTABLE_CACHE_CONTROL,
      'X-Ipfs-Path': `/ipfs/${cid.toString()}`,
      'X-Ipfs-Roots': cid.toString()
    })
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    if (format === 'raw') {
      res.writeHead(200, { ...headers, 'Content-Type': MEDIA_RAW, 'Content-Length': bytes.byteLength, 'Content-Disposition': `attachment; filename="${cid.toString()}.bin"` })
      res.end(req.method === 'HEAD' ? undefined : bytes)
      return
    }
    res.writeHead(200, { ...headers, 'Content-Type': CAR_CONTENT_TYPE, 'Content-Disposition': `attachment; filename="${cid.toString()}.car"` })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = scope === 'all' && isSnapshot(cid, bytes)
      ? exportCar({ blocks: this.blocks }, cid, { history, ...options })
      : [await singleBlockCar(cid, bytes)]
    const error = await pipeCar(res, chunks)
    if (error != null) {
      this.log.error('CAR of %c cut short - %e', cid, error)
    }
  }

  private async serveRecord (req: IncomingMessage, res: ServerResponse, name: string, options: AbortOptions): Promise<void> {
    try {
      publicKeyFromName(name)
    } catch (err) {
      throw new HttpError(400, `Invalid IPNS name: ${(err as Error).message}`)
    }
    const bytes = await this.node.getRecord(name, options)
    if (bytes == null) {
      throw new HttpError(404, `No IPNS record for ${name}`)
    }
    let validity: Date
    let ttlSeconds: number
    try {
      const record = await verifyRecord(name, bytes, { allowExpired: true })
      validity = record.validity
      ttlSeconds = Number(record.ttlNs / 1_000_000_000n)
    } catch (err) {
      this.log.error('stored record for %s does not verify, not serving it - %e', name, err)
      throw new HttpError(502, `The stored record for ${name} does not verify`)
    }
    const remaining = Math.max(0, Math.floor((validity.getTime() - Date.now()) / 1000))
    res.writeHead(200, commonHeaders({
      'Content-Type': MEDIA_IPNS_RECORD,
      'Content-Length': bytes.byteLength,
      'Content-Disposition': `attachment; filename="${name}.ipns-record"`,
      'Cache-Control': `public, max-age=${Math.min(ttlSeconds, remaining, MAX_IPNS_CACHE_SECONDS)}`,
      'X-Ipfs-Path': `/ipns/${name}`
    }))
    res.end(req.method === 'HEAD' ? undefined : bytes)
  }

  private async serveHead (req: IncomingMessage, res: ServerResponse, options: AbortOptions): Promise<void> {
    const status = await this.indexer?.status(options)
    if (status == null) {
      throw new HttpError(404, this.indexer == null ? 'This gateway runs no indexer' : 'No head yet')
    }
    const body = JSON.stringify({ ...status, cid: status.cid.toString() })
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  private async serveMetrics (req: IncomingMessage, res: ServerResponse, options: AbortOptions): Promise<void> {
    if (this.indexer == null) {
      throw new HttpError(404, 'This gateway runs no indexer')
    }
    const body = formatPrometheus(await this.indexer.metrics(options))
    res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : body)
  }
}
