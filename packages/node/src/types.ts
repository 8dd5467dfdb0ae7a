import type { ValidationBudget, ValidationBudgetInit } from './budget.js'
import type { Repo } from './repo.js'
import type { VerifiedRecord } from '@capdex/registry'
import type { GossipSub, PublishResult } from '@libp2p/gossipsub'
import type { Helia } from '@helia/interface'
import type { Identify } from '@libp2p/identify'
import type { AbortOptions, ComponentLogger, Libp2p, PeerId } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

export type { PublishResult }

/** The libp2p services of a capdex node. */
// a type alias, not an interface: libp2p's ServiceMap needs an index signature
export type CapdexServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
}

export interface CapdexNodeComponents {
  repo: Repo
  logger?: ComponentLogger
}

export interface CapdexNodeInit {
  /**
   * Network name; selects the topics `capdex/<network>/providers/1` and `capdex/<network>/index/1`.
   *
   * @default repo.config.network ('main' in a new repo)
   */
  network?: string
  /**
   * Listen multiaddrs (TCP only).
   *
   * @default ['/ip4/127.0.0.1/tcp/0']
   */
  listen?: string[]
  /**
   * Multiaddrs with `/p2p/<peer id>` dialed at start and kept connected. There are no public
   * bootstrap peers.
   *
   * @default []
   */
  bootstrap?: string[]
  /**
   * Bound on each bootstrap dial; failures are logged, not thrown.
   *
   * @default 10000
   */
  bootstrapTimeoutMs?: number
  /**
   * Topics besides the network's providers and index topics that this node may join.
   * Gossipsub ignores subscriptions to any other topic.
   *
   * @default []
   */
  topics?: string[]
  /**
   * Let `publish` succeed when no peer is subscribed (the message is then only gossiped later).
   *
   * @default false
   */
  allowPublishToZeroTopicPeers?: boolean
  /**
   * IP networks (multiaddrs with `/ipcidr/`) exempt from the per-host inbound connection rate limit.
   *
   * @default ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'] (loopback only)
   */
  allowList?: string[]
  /** Per-peer token bucket on validation work. */
  validationBudget?: ValidationBudgetInit
  /**
   * Largest pubsub message payload.
   *
   * @default 1048576
   */
  maxMessageBytes?: number
  /**
   * Largest block fetched over bitswap (the bitswap message cap is this plus 64 KiB).
   *
   * @default 1048576
   */
  maxBlockBytes?: number
  /**
   * Keychain name of the libp2p peer key.
   *
   * @default repo.config.keys.peer ('self')
   */
  peerKeyName?: string
}

/** A message as a topic validator sees it. */
export interface TopicMessage {
  topic: string
  data: Uint8Array
  /** message id: hex sha256 of `data` */
  id: string
}

/**
 * A validator's answer. `{ accept: value }` accepts and hands `value` to `onMessage`, so work
 * done while validating (decoding, verifying) is not repeated.
 */
export type Verdict<T = undefined> = 'accept' | 'reject' | 'ignore' | { accept: T }

export interface TopicHandler<T = undefined> {
  /**
   * Runs before a message is delivered or forwarded. Reject: the message is invalid and the
   * sender is penalized (one Reject takes its score below the graylist threshold). Ignore:
   * stale, duplicate or unverifiable, no penalty. A validator that throws counts as Ignore.
   * Each message first costs its sender one unit of the validation budget (over budget: Ignore).
   *
   * @default () => 'accept'
   */
  validate?(msg: TopicMessage, from: PeerId): Verdict<T> | Promise<Verdict<T>>
  /** Receives each accepted message; errors are logged. */
  onMessage(data: Uint8Array, from: PeerId, msg: TopicMessage & { value: T | undefined }): void | Promise<void>
}

export type PublishOptions = AbortOptions

export interface PublishAndAwaitPeerOptions extends AbortOptions {
  /**
   * How long to wait for a subscribed peer to receive the message.
   *
   * @default 10000
   */
  timeoutMs?: number
}

export interface WaitForTopicPeersOptions extends AbortOptions {
  /**
   * @default 1
   */
  min?: number
}

export type GetBlockProgressEvents =
  ProgressEvent<'node:get-block:local', CID> |
  ProgressEvent<'node:get-block:corrupt', CID> |
  ProgressEvent<'node:get-block:network', CID>

export interface GetVerifiedBlockOptions extends AbortOptions, ProgressOptions<GetBlockProgressEvents> {
  /**
   * Largest acceptable block.
   *
   * @default 1048576 (the node's maxBlockBytes)
   */
  maxBytes?: number
  /**
   * Bound on a network fetch.
   *
   * @default 10000
   */
  timeoutMs?: number
  /**
   * Only read the local blockstore.
   *
   * @default false
   */
  offline?: boolean
  /**
   * Peers known to hold the block (e.g. the peer that relayed an announcement naming it): bitswap
   * asks them directly instead of only the peers it already tracks.
   */
  providers?: PeerId[]
}

export interface PutBlockOptions extends AbortOptions {
  /**
   * @default 1048576 (the node's maxBlockBytes)
   */
  maxBytes?: number
}

export interface PutRecordOptions extends AbortOptions {
  /**
   * Clock for the expiry check, ms since the epoch.
   *
   * @default Date.now()
   */
  now?: number
  /**
   * The record as the caller already verified it (an announcement listener has): when its name
   * and bytes are the ones being put, the signature is not checked a second time.
   */
  verified?: VerifiedRecord
}

export interface FetchRecordOptions extends AbortOptions {
  /**
   * @default 10000
   */
  timeoutMs?: number
  /**
   * Clock for the expiry check, ms since the epoch.
   *
   * @default Date.now()
   */
  now?: number
  /**
   * Return an expired record instead of failing.
   *
   * @default false
   */
  allowExpired?: boolean
}

/**
 * A capdex peer: lean libp2p (TCP, noise, yamux, identify, ping, gossipsub) with helia and
 * bitswap over the repo's blockstore, plus the IPNS record protocol.
 */
export interface CapdexNode {
  readonly network: string
  readonly helia: Helia
  readonly libp2p: Libp2p<CapdexServices>
  readonly peerId: PeerId
  readonly repo: Repo
  /** per-peer validation work budget; validators may charge extra with `take` */
  readonly validationBudget: ValidationBudget
  /** the topics this node may join */
  readonly topics: readonly string[]

  multiaddrs(): Multiaddr[]
  /** Dials a peer (multiaddr with `/p2p/`, or a known peer id). */
  dial(peer: PeerId | Multiaddr | string, options?: AbortOptions): Promise<void>

  /**
   * Publishes to the topic's subscribed peers.
   *
   * @throws NoPeersError when nobody is subscribed (unless allowPublishToZeroTopicPeers)
   * @throws DuplicateMessageError when the same bytes were published before
   */
  publish(topic: string, data: Uint8Array, options?: PublishOptions): Promise<PublishResult>
  /**
   * Waits until a peer subscribes to the topic, then publishes; returns once the message was
   * sent to at least one subscribed peer.
   *
   * @throws NoPeersError when no subscribed peer received it within `timeoutMs`
   */
  publishAndAwaitPeer(topic: string, data: Uint8Array, options?: PublishAndAwaitPeerOptions): Promise<PublishResult>
  /** Subscribes with a validator; returns the unsubscribe function. One subscriber per topic. */
  subscribe<T = undefined>(topic: string, handler: TopicHandler<T>): () => void
  /** Resolves with the subscribed peers once there are at least `min`. */
  waitForTopicPeers(topic: string, options?: WaitForTopicPeersOptions): Promise<PeerId[]>
  /** Peers known to be subscribed to the topic. */
  topicPeers(topic: string): PeerId[]
  /** The gossipsub score of a peer. */
  peerScore(peer: PeerId): number

  /**
   * A block, read locally or fetched over bitswap, always re-hashed. A corrupt local copy is
   * deleted and refetched (when online).
   *
   * @throws BlockNotFoundError offline and not local
   * @throws BlockHashMismatchError the bytes do not hash to the CID (offline)
   * @throws BlockTooLargeError larger than `maxBytes`
   * @throws BlockFetchTimeoutError no peer sent it within `timeoutMs`
   */
  getVerifiedBlock(cid: CID, options?: GetVerifiedBlockOptions): Promise<Uint8Array>
  /** Stores a block (CIDv1, sha2-256) and tells bitswap peers that want it. */
  putBlock(bytes: Uint8Array, codec: number, options?: PutBlockOptions): Promise<CID>

  /**
   * Stores the record for `name` if it verifies and is strictly newer than the stored one.
   *
   * @throws StaleRecordError, EquivocationError (from @capdex/registry) and verification errors
   */
  putRecord(name: string, bytes: Uint8Array, options?: PutRecordOptions): Promise<VerifiedRecord>
  /** The stored record bytes for `name`, not re-verified. */
  getRecord(name: string, options?: AbortOptions): Promise<Uint8Array | undefined>
  /**
   * Asks a peer for its record for `name` over `/capdex/ipns-record/1.0.0` and verifies it.
   *
   * @throws RecordNotFoundError, RecordFetchTimeoutError, RecordProtocolError
   */
  fetchRecord(peer: PeerId | Multiaddr, name: string, options?: FetchRecordOptions): Promise<VerifiedRecord>

  /** Stops helia and libp2p. The repo stays open: its owner closes it. */
  stop(): Promise<void>
}
