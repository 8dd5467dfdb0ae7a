/**
 * The libp2p + helia stack of a capdex node. `node.ts` imports this module lazily, so that
 * importing `@capdex/node` for its repo functions does not load the network stack.
 */
import { indexTopic, providersTopic } from '@capdex/registry'
import { withBitswap } from '@helia/bitswap'
import { gossipsub } from '@libp2p/gossipsub'
import { createPeerScoreParams, createTopicScoreParams } from '@libp2p/gossipsub/score'
import { identify } from '@libp2p/identify'
import { KEEP_ALIVE } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { noise } from '@libp2p/noise'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import * as dagCbor from '@ipld/dag-cbor'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { createLibp2p } from 'libp2p'
import { BlockHelpers } from './blocks.js'
import { validationBudget } from './budget.js'
import { BITSWAP_MESSAGE_OVERHEAD_BYTES, DEFAULT_BOOTSTRAP_DIAL_TIMEOUT_MS, DEFAULT_CONNECTION_ALLOW_LIST, DEFAULT_LISTEN, GOSSIPSUB_HEARTBEAT_INTERVAL_MS, GRAYLIST_RETAIN_SCORE_MS, INVALID_MESSAGE_DECAY, INVALID_MESSAGE_WEIGHT, MAX_BLOCK_BYTES, MAX_PUBSUB_MESSAGE_BYTES, PUBSUB_RPC_OVERHEAD_BYTES, SCORE_THRESHOLDS } from './constants.js'
import { InvalidOptionError, NodeStoppedError } from './errors.js'
import { verifiedBlockstore } from './gateway/verified-blockstore.js'
import { GraylistGuard, PubsubHelpers, messageId, messageIdToString } from './pubsub.js'
import { RecordStore } from './records.js'
import type { ValidationBudget } from './budget.js'
import type { Repo } from './repo.js'
import type { CapdexNode, CapdexNodeComponents, CapdexNodeInit, CapdexServices, FetchRecordOptions, GetVerifiedBlockOptions, PublishAndAwaitPeerOptions, PublishOptions, PublishResult, PutBlockOptions, PutRecordOptions, TopicHandler, WaitForTopicPeersOptions } from './types.js'
import type { VerifiedRecord } from '@capdex/registry'
import type { Helia } from '@helia/interface'
import type { TopicScoreParams } from '@libp2p/gossipsub/score'
import type { AbortOptions, Libp2p, Logger, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

/**
 * Score parameters of every capdex topic. The topics carry few, self-certifying messages, so
 * only invalid deliveries (Rejects) count against a peer, and first deliveries a little in
 * its favour; mesh delivery rates are not scored (a quiet topic must not penalize anyone).
 */
export function capdexTopicScoreParams (): TopicScoreParams {
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 300,
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: 0.999,
    firstMessageDeliveriesCap: 5,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: INVALID_MESSAGE_WEIGHT,
    invalidMessageDeliveriesDecay: INVALID_MESSAGE_DECAY
  })
}

function positiveInteger (value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(`${name} must be a positive integer, got ${value}`)
  }
  return value
}

export async function createNode (components: CapdexNodeComponents, init: CapdexNodeInit = {}): Promise<CapdexNode> {
  const { repo } = components
  const logger = components.logger ?? defaultLogger()
  const log = logger.forComponent('capdex:node')
  const network = init.network ?? repo.config.network
  const maxMessageBytes = positiveInteger(init.maxMessageBytes ?? MAX_PUBSUB_MESSAGE_BYTES, 'maxMessageBytes')
  const maxBlockBytes = positiveInteger(init.maxBlockBytes ?? MAX_BLOCK_BYTES, 'maxBlockBytes')
  const scoredTopics = [providersTopic(network), indexTopic(network)]
  const topics = [...new Set([...scoredTopics, ...(init.topics ?? [])])]
  const budget = validationBudget(init.validationBudget)
  const privateKey = await repo.getOrCreateKey(init.peerKeyName ?? repo.config.keys.peer)
  // the guard needs gossipsub, the gater is needed to create it: until it exists nobody has a score to be refused for
  const gate: { guard?: GraylistGuard } = {}
  const graylisted = (peer: PeerId): boolean => gate.guard?.denies(peer) ?? false

  const libp2p = await createLibp2p<CapdexServices>({
    privateKey,
    logger,
    datastore: repo.datastore,
    nodeInfo: { name: 'capdex' },
    addresses: { listen: [...(init.listen ?? DEFAULT_LISTEN)] },
    connectionManager: {
      // hosts on the allow list skip the per-host inbound rate limit (5 dials/s by default), which
      // many processes of one machine dialing a local indexer would otherwise trip
      allow: [...(init.allowList ?? DEFAULT_CONNECTION_ALLOW_LIST)]
    },
    // a graylisted peer we hung up on stays cut off while gossipsub retains its score
    connectionGater: {
      denyDialPeer: graylisted,
      denyInboundEncryptedConnection: graylisted,
      denyOutboundEncryptedConnection: graylisted
    },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: (msg) => messageId(msg.data),
        msgIdToStrFn: messageIdToString,
        allowPublishToZeroTopicPeers: init.allowPublishToZeroTopicPeers ?? false,
        allowedTopics: topics,
        maxInboundDataLength: maxMessageBytes + PUBSUB_RPC_OVERHEAD_BYTES,
        heartbeatInterval: GOSSIPSUB_HEARTBEAT_INTERVAL_MS,
        scoreParams: createPeerScoreParams({
          topics: Object.fromEntries(topics.map(t => [t, capdexTopicScoreParams()])),
          // loopback simulations put many peers on one IP
          IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1']),
          retainScore: GRAYLIST_RETAIN_SCORE_MS
        }),
        scoreThresholds: { ...SCORE_THRESHOLDS }
      })
    },
    start: false
  })

  const helia = withBitswap(Object.assign(createHeliaLight({
    // re-hashes blocks on read, so bitswap never serves a corrupt local copy
    blockstore: verifiedBlockstore({ blockstore: repo.blockstore, logger }, { maxBlockBytes }),
    datastore: repo.datastore,
    codecs: [dagCbor],
    logger
  }), { libp2p }), {
    maxIncomingMessageSize: maxBlockBytes + BITSWAP_MESSAGE_OVERHEAD_BYTES,
    maxOutgoingMessageSize: maxBlockBytes + BITSWAP_MESSAGE_OVERHEAD_BYTES
  })

  const records = new RecordStore({ datastore: repo.datastore, libp2p, log: logger.forComponent('capdex:node:records') })
  const pubsubLog = logger.forComponent('capdex:node:pubsub')
  const graylist = gate.guard = new GraylistGuard({ pubsub: libp2p.services.pubsub, hangUp: async (peer) => { await libp2p.hangUp(peer) }, log: pubsubLog }, {
    graylistThreshold: SCORE_THRESHOLDS.graylistThreshold,
    scoreCacheMs: GOSSIPSUB_HEARTBEAT_INTERVAL_MS
  })

  await libp2p.start()
  graylist.start()
  try {
    await helia.start()
    await records.start()
  } catch (err) {
    await libp2p.stop()
    throw err
  }

  const node = new CapdexNodeImpl({
    repo,
    libp2p,
    helia,
    records,
    budget,
    log,
    graylist,
    pubsub: new PubsubHelpers({ pubsub: libp2p.services.pubsub, budget, graylist, log: pubsubLog }, { allowedTopics: new Set(topics) }),
    blocks: new BlockHelpers({ helia, blockstore: repo.blockstore, log: logger.forComponent('capdex:node:blocks') }, { maxBlockBytes })
  }, { network, topics })

  log('started %p on %s (network %s)', libp2p.peerId, libp2p.getMultiaddrs().map(String).join(', '), network)

  const bootstrap = init.bootstrap ?? []
  if (bootstrap.length > 0) {
    const timeoutMs = init.bootstrapTimeoutMs ?? DEFAULT_BOOTSTRAP_DIAL_TIMEOUT_MS
    await Promise.all(bootstrap.map(async (addr) => {
      try {
        const ma = multiaddr(addr)
        const peerId = ma.getComponents().findLast(c => c.name === 'p2p')?.value
        await node.dial(ma, { signal: AbortSignal.timeout(timeoutMs) })
        if (peerId != null) {
          // libp2p redials peers tagged keep-alive when they drop
          await libp2p.peerStore.merge(peerIdFromString(peerId), { tags: { [KEEP_ALIVE]: { value: 1 } } })
        }
      } catch (err) {
        log.error('bootstrap dial to %s failed - %e', addr, err)
      }
    }))
  }

  return node
}

interface CapdexNodeParts {
  repo: Repo
  libp2p: Libp2p<CapdexServices>
  helia: Helia
  records: RecordStore
  budget: ValidationBudget
  graylist: GraylistGuard
  pubsub: PubsubHelpers
  blocks: BlockHelpers
  log: Logger
}

class CapdexNodeImpl implements CapdexNode {
  readonly network: string
  readonly topics: readonly string[]
  readonly repo: Repo
  readonly libp2p: Libp2p<CapdexServices>
  readonly helia: Helia
  readonly validationBudget: ValidationBudget
  private readonly records: RecordStore
  private readonly pubsub: PubsubHelpers
  private readonly graylist: GraylistGuard
  private readonly blocks: BlockHelpers
  private readonly log: Logger
  private stopped = false

  constructor (parts: CapdexNodeParts, init: { network: string, topics: string[] }) {
    this.network = init.network
    this.topics = Object.freeze([...init.topics])
    this.repo = parts.repo
    this.libp2p = parts.libp2p
    this.helia = parts.helia
    this.validationBudget = parts.budget
    this.records = parts.records
    this.pubsub = parts.pubsub
    this.graylist = parts.graylist
    this.blocks = parts.blocks
    this.log = parts.log
  }

  get peerId (): PeerId {
    return this.libp2p.peerId
  }

  private assertRunning (): void {
    if (this.stopped) {
      throw new NodeStoppedError()
    }
  }

  multiaddrs (): Multiaddr[] {
    return this.libp2p.getMultiaddrs()
  }

  async dial (peer: PeerId | Multiaddr | string, options: AbortOptions = {}): Promise<void> {
    this.assertRunning()
    await this.libp2p.dial(typeof peer === 'string' ? multiaddr(peer) : peer, options)
  }

  async publish (topic: string, data: Uint8Array, options?: PublishOptions): Promise<PublishResult> {
    this.assertRunning()
    return this.pubsub.publish(topic, data, options)
  }

  async publishAndAwaitPeer (topic: string, data: Uint8Array, options?: PublishAndAwaitPeerOptions): Promise<PublishResult> {
    this.assertRunning()
    return this.pubsub.publishAndAwaitPeer(topic, data, options)
  }

  subscribe<T = undefined>(topic: string, handler: TopicHandler<T>): () => void {
    this.assertRunning()
    return this.pubsub.subscribe(topic, handler)
  }

  async waitForTopicPeers (topic: string, options?: WaitForTopicPeersOptions): Promise<PeerId[]> {
    this.assertRunning()
    return this.pubsub.waitForTopicPeers(topic, options)
  }

  topicPeers (topic: string): PeerId[] {
    return this.pubsub.topicPeers(topic)
  }

  peerScore (peer: PeerId): number {
    return this.pubsub.peerScore(peer)
  }

  async getVerifiedBlock (cid: CID, options?: GetVerifiedBlockOptions): Promise<Uint8Array> {
    this.assertRunning()
    return this.blocks.getVerifiedBlock(cid, options)
  }

  async putBlock (bytes: Uint8Array, codec: number, options?: PutBlockOptions): Promise<CID> {
    this.assertRunning()
    return this.blocks.putBlock(bytes, codec, options)
  }

  async putRecord (name: string, bytes: Uint8Array, options?: PutRecordOptions): Promise<VerifiedRecord> {
    this.assertRunning()
    return this.records.putRecord(name, bytes, options)
  }

  async getRecord (name: string, options?: AbortOptions): Promise<Uint8Array | undefined> {
    this.assertRunning()
    return this.records.getRecord(name, options)
  }

  async fetchRecord (peer: PeerId | Multiaddr, name: string, options?: FetchRecordOptions): Promise<VerifiedRecord> {
    this.assertRunning()
    return this.records.fetchRecord(peer, name, options)
  }

  async stop (): Promise<void> {
    if (this.stopped) {
      return
    }
    this.stopped = true
    this.graylist.stop()
    this.pubsub.unsubscribeAll()
    try {
      await this.records.stop()
      await this.helia.stop()
    } finally {
      await this.libp2p.stop()
      this.log('stopped')
    }
  }
}
