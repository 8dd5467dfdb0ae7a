/**
 * An HTTP trustless gateway over a capdex node's blocks and records, plus the indexer's head and
 * metrics:
 *
 * - `GET|HEAD /ipfs/<cid>?format=raw` (or `Accept: application/vnd.ipld.raw`): one block.
 * - `GET|HEAD /ipfs/<cid>?format=car` (or `Accept: application/vnd.ipld.car`): a CARv1 rooted at
 *   the CID. For a snapshot: the snapshot block, its providers, attrs and history trees and the
 *   manifest of every entry; `history=true` adds every earlier snapshot through `prev`;
 *   `dag-scope=block` (or `entity`) sends the root block alone. Any other CID: that block.
 * - `GET|HEAD /ipns/<name>?format=ipns-record` (or `Accept: application/vnd.ipfs.ipns-record`):
 *   the stored IPNS record, checked against the name (an expired record is still served).
 * - `GET /v1/head`: the indexer's head as JSON; `GET /metrics`: Prometheus text.
 *
 * Every block is re-hashed before it is sent: a corrupt local copy is deleted, never served, and
 * fetched again from connected peers where possible (502 when that fails). A missing root block
 * is a 404 (412 with `Cache-Control: only-if-cached`); the gateway never fetches from the network
 * on behalf of a client, except to repair its own corrupt copy. A request without a supported
 * `format` or `Accept` is a 400, as in the spec's strict trustless mode. A CAR whose stream fails
 * after the headers went out is cut off (no final chunk), never ended as if whole.
 */

import { InvalidHostPortError } from './errors.js'
import { DefaultHttpGateway } from './server.js'
import type { IndexerService } from '../indexer/index.js'
import type { CapdexNode } from '../types.js'
import type { ComponentLogger } from '@libp2p/interface'

export { verifiedBlockstore } from './verified-blockstore.js'
export { InvalidHostPortError } from './errors.js'
export type { VerifiedBlockstoreComponents, VerifiedBlockstoreInit } from './verified-blockstore.js'

export interface HttpGatewayComponents {
  node: Pick<CapdexNode, 'getVerifiedBlock' | 'getRecord'>
  /** serves `/v1/head` and `/metrics` when given (404 otherwise) */
  indexer?: Pick<IndexerService, 'status' | 'metrics'>
  logger?: ComponentLogger
}

export interface HttpGatewayInit {
  /**
   * Address to bind.
   *
   * @default '127.0.0.1'
   */
  host?: string
  /**
   * Port to bind; 0 picks a free one (see `url`).
   *
   * @default 0
   */
  port?: number
  /**
   * Bound on fetching a good copy of a block whose local copy was corrupt.
   *
   * @default 5000
   */
  repairTimeoutMs?: number
}

export interface HttpGateway {
  /** `http://host:port` once started */
  readonly url: string | undefined
  /** Binds and starts serving; resolves with `url`. */
  start(): Promise<string>
  /** Stops accepting, cuts open connections. Safe to call twice. */
  stop(): Promise<void>
}

/** Parses `host:port` (`[::1]:8080` for IPv6); the port may be 0. */
export function parseHostPort (text: string): { host: string, port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  const port = Number(match?.[3])
  const host = match?.[1] ?? match?.[2]
  if (match == null || host == null || !Number.isInteger(port) || port > 65535) {
    throw new InvalidHostPortError(`Expected host:port (e.g. 127.0.0.1:8080, [::1]:0), got ${JSON.stringify(text)}`)
  }
  return { host, port }
}

export function httpGateway (components: HttpGatewayComponents, init: HttpGatewayInit = {}): HttpGateway {
  return new DefaultHttpGateway(components, init)
}
