import { createHash } from 'node:crypto'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { anySignal } from 'any-signal'
import { plainBytes } from './bytes.js'
import { DEFAULT_PUBLISH_TIMEOUT_MS } from './constants.js'
import { AlreadySubscribedError, DuplicateMessageError, NoPeersError, TopicNotAllowedError } from './errors.js'
import type { ValidationBudget } from './budget.js'
import type { PublishOptions, PublishAndAwaitPeerOptions, TopicHandler, TopicMessage, Verdict, WaitForTopicPeersOptions } from './types.js'
import type { GossipSub, GossipsubMessage, Message, PublishResult } from '@libp2p/gossipsub'
import type { Logger, PeerId } from '@libp2p/interface'

/** Message id = sha256 of the data (DESIGN), shown as hex. */
export function messageId (data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}

export function messageIdToString (id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')
}

interface OutboundStreams {
  streamsOutbound: ReadonlyMap<string, unknown>
}

/** gossipsub's class exposes its outbound streams; a message can only go to peers that have one */
function hasOutboundStreams (pubsub: object): pubsub is OutboundStreams {
  return (pubsub as Partial<OutboundStreams>).streamsOutbound instanceof Map
}

interface ScoredPubsub {
  getScore(peerId: string): number
}

function hasScore (pubsub: object): pubsub is ScoredPubsub {
  return typeof (pubsub as Partial<ScoredPubsub>).getScore === 'function'
}

export interface GraylistGuardComponents {
  pubsub: GossipSub
  /** closes every connection to the peer (`libp2p.hangUp`) */
  hangUp: (peer: PeerId) => Promise<void>
  log: Logger
}

export interface GraylistGuardInit {
  /** gossipsub's graylist threshold */
  graylistThreshold: number
  /** how long gossipsub may serve a peer's score from its cache (its heartbeat interval) */
  scoreCacheMs: number
}

/**
 * Stops all work on peers whose gossipsub score fell below the graylist threshold. Gossipsub
 * ignores a graylisted peer's RPCs, but only after reading, decrypting and decoding each one, and
 * its cached score lags a Reject by up to a heartbeat, during which every message goes on to be
 * validated. So: after a Reject, the peer's messages are ignored unvalidated (`suspect`) until its
 * fresh score decides; a peer below the threshold is hung up on, and the connection gater refuses
 * it (`denies`) for as long as gossipsub retains its score (a disconnected peer's score does not
 * decay, and is dropped after `retainScore`).
 */
export class GraylistGuard {
  private readonly pubsub: GossipSub
  private readonly hangUp: (peer: PeerId) => Promise<void>
  private readonly log: Logger
  private readonly threshold: number
  private readonly scoreCacheMs: number
  /** peers that sent a rejected message, and when, until a fresh score decides */
  private readonly suspects = new Map<string, number>()
  private readonly onHeartbeat = (): void => { this.sweep() }

  constructor (components: GraylistGuardComponents, init: GraylistGuardInit) {
    this.pubsub = components.pubsub
    this.hangUp = components.hangUp
    this.log = components.log
    this.threshold = init.graylistThreshold
    this.scoreCacheMs = init.scoreCacheMs
  }

  start (): void {
    this.pubsub.addEventListener('gossipsub:heartbeat', this.onHeartbeat)
  }

  stop (): void {
    this.pubsub.removeEventListener('gossipsub:heartbeat', this.onHeartbeat)
    this.suspects.clear()
  }

  private graylisted (id: string): boolean {
    return hasScore(this.pubsub) && this.pubsub.getScore(id) < this.threshold
  }

  /** A validator rejected a message of `peer`. */
  rejected (peer: PeerId): void {
    const id = peer.toString()
    if (!this.suspects.has(id)) {
      this.suspects.set(id, Date.now())
    }
  }

  /** Whether the peer's messages are to be ignored without validation. */
  suspect (peer: PeerId): boolean {
    return this.suspects.has(peer.toString())
  }

  /** For the connection gater: whether the peer is graylisted (a retained score of a peer we hung up on counts). */
  denies (peer: PeerId): boolean {
    return this.graylisted(peer.toString())
  }

  private cutOff (peer: PeerId): void {
    this.log('hanging up on %p: its score %d is below the graylist threshold', peer, hasScore(this.pubsub) ? this.pubsub.getScore(peer.toString()) : 0)
    this.hangUp(peer).catch((err: unknown) => { this.log('hanging up on %p failed - %e', peer, err) })
  }

  /**
   * At each heartbeat (scores freshly decayed): suspects whose Reject is older than the score cache
   * are decided by their fresh score below, so they are validated again unless they are cut off;
   * every graylisted peer is cut off.
   */
  private sweep (): void {
    const now = Date.now()
    for (const [id, at] of this.suspects) {
      // a score read within the cache lifetime of the Reject may predate it
      if (now - at > this.scoreCacheMs) this.suspects.delete(id)
    }
    for (const peer of this.pubsub.getPeers()) {
      if (this.graylisted(peer.toString())) this.cutOff(peer)
    }
  }
}

export interface PubsubHelpersComponents {
  pubsub: GossipSub
  budget: ValidationBudget
  /** when given, rejected senders are ignored unvalidated and graylisted ones cut off */
  graylist?: GraylistGuard
  log: Logger
}

export interface PubsubHelpersInit {
  allowedTopics: ReadonlySet<string>
}

interface Subscription {
  onMessage: (evt: CustomEvent<GossipsubMessage>) => void
}

/** The pubsub half of a capdex node; see `CapdexNode` for the documentation of each method. */
export class PubsubHelpers {
  private readonly pubsub: GossipSub
  private readonly budget: ValidationBudget
  private readonly graylist: GraylistGuard | undefined
  private readonly log: Logger
  private readonly allowedTopics: ReadonlySet<string>
  private readonly subscriptions = new Map<string, Subscription>()
  /** results of validators, handed to onMessage (gossipsub passes the same message object) */
  private readonly accepted = new WeakMap<Message, unknown>()

  constructor (components: PubsubHelpersComponents, init: PubsubHelpersInit) {
    this.pubsub = components.pubsub
    this.budget = components.budget
    this.graylist = components.graylist
    this.log = components.log
    this.allowedTopics = init.allowedTopics
  }

  private assertAllowed (topic: string): void {
    if (!this.allowedTopics.has(topic)) {
      throw new TopicNotAllowedError(`Topic ${topic} is not one of this node's topics (${[...this.allowedTopics].join(', ')}); pass it in init.topics`)
    }
  }

  topicPeers (topic: string): PeerId[] {
    return this.pubsub.getSubscribers(topic)
  }

  peerScore (peer: PeerId): number {
    return hasScore(this.pubsub) ? this.pubsub.getScore(peer.toString()) : 0
  }

  /** Subscribers of the topic that we have an outbound gossipsub stream to. */
  private reachableSubscribers (topic: string): number {
    const subscribers = this.pubsub.getSubscribers(topic)
    if (!hasOutboundStreams(this.pubsub)) {
      return subscribers.length
    }
    const streams = this.pubsub.streamsOutbound
    return subscribers.filter(peer => streams.has(peer.toString())).length
  }

  async publish (topic: string, data: Uint8Array, options: PublishOptions = {}): Promise<PublishResult> {
    this.assertAllowed(topic)
    options.signal?.throwIfAborted()
    try {
      return await this.pubsub.publish(topic, data)
    } catch (err) {
      const message = (err as Error).message
      if (message === 'PublishError.NoPeersSubscribedToTopic') {
        throw new NoPeersError(`No peers subscribed to ${topic}`)
      }
      if (message === 'PublishError.Duplicate') {
        throw new DuplicateMessageError(`This message (id ${messageIdToString(messageId(data))}) was already published on ${topic}`)
      }
      throw err
    }
  }

  async waitForTopicPeers (topic: string, options: WaitForTopicPeersOptions = {}): Promise<PeerId[]> {
    const min = options.min ?? 1
    const current = this.pubsub.getSubscribers(topic)
    if (current.length >= min) {
      return current
    }
    options.signal?.throwIfAborted()
    return new Promise<PeerId[]>((resolve, reject) => {
      const onChange = (): void => {
        const peers = this.pubsub.getSubscribers(topic)
        if (peers.length >= min) {
          cleanup()
          resolve(peers)
        }
      }
      const onAbort = (): void => {
        cleanup()
        reject(options.signal?.reason as Error)
      }
      const cleanup = (): void => {
        this.pubsub.removeEventListener('subscription-change', onChange)
        options.signal?.removeEventListener('abort', onAbort)
      }
      this.pubsub.addEventListener('subscription-change', onChange)
      options.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  async publishAndAwaitPeer (topic: string, data: Uint8Array, options: PublishAndAwaitPeerOptions = {}): Promise<PublishResult> {
    this.assertAllowed(topic)
    const timeoutMs = options.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal = anySignal([timeout, options.signal])
    const noPeers = (): NoPeersError => new NoPeersError(`No peers subscribed to ${topic} within ${timeoutMs} ms: is the node connected to an indexer or another peer on this network?`)
    try {
      // retry on subscription changes and heartbeats until a subscribed peer can be sent to:
      // a peer's subscription can arrive before our outbound stream to it is open, and a
      // message sent to nobody cannot be sent again (gossipsub remembers its id)
      for (;;) {
        try {
          await this.waitForTopicPeers(topic, { min: 1, signal })
        } catch (err) {
          if (timeout.aborted && options.signal?.aborted !== true) {
            throw noPeers()
          }
          throw err
        }
        if (this.reachableSubscribers(topic) > 0) {
          const result = await this.publish(topic, data, { signal })
          if (result.recipients.length > 0) {
            return result
          }
          throw new NoPeersError(`No subscribed peer of ${topic} could be sent the message; it stays queued for gossip`)
        }
        this.log('subscribers of %s have no open stream yet, waiting', topic)
        await this.nextTick(signal).catch((err: unknown) => {
          if (timeout.aborted && options.signal?.aborted !== true) {
            throw noPeers()
          }
          throw err
        })
      }
    } finally {
      signal.clear()
    }
  }

  /** Resolves at the next subscription change or gossipsub heartbeat. */
  private async nextTick (signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        cleanup()
        resolve()
      }
      const onAbort = (): void => {
        cleanup()
        reject(signal.reason as Error)
      }
      const cleanup = (): void => {
        this.pubsub.removeEventListener('subscription-change', done)
        this.pubsub.removeEventListener('gossipsub:heartbeat', done)
        signal.removeEventListener('abort', onAbort)
      }
      this.pubsub.addEventListener('subscription-change', done)
      this.pubsub.addEventListener('gossipsub:heartbeat', done)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  subscribe<T = undefined>(topic: string, handler: TopicHandler<T>): () => void {
    this.assertAllowed(topic)
    if (this.subscriptions.has(topic)) {
      throw new AlreadySubscribedError(`Topic ${topic} already has a subscriber on this node`)
    }
    const log = this.log

    this.pubsub.topicValidators.set(topic, async (from: PeerId, message: Message): Promise<TopicValidatorResult> => {
      if (this.graylist?.suspect(from) === true) {
        return TopicValidatorResult.Ignore
      }
      if (!this.budget.take(from)) {
        log('ignoring message on %s from %p: over validation budget', topic, from)
        return TopicValidatorResult.Ignore
      }
      if (handler.validate == null) {
        return TopicValidatorResult.Accept
      }
      const msg: TopicMessage = { topic, data: plainBytes(message.data), id: messageIdToString(messageId(message.data)) }
      let verdict: Verdict<T>
      try {
        verdict = await handler.validate(msg, from)
      } catch (err) {
        // a throwing validator is our bug, not the peer's fault: do not penalize
        log.error('validator for %s threw, ignoring message from %p - %e', topic, from, err)
        return TopicValidatorResult.Ignore
      }
      if (typeof verdict === 'object') {
        this.accepted.set(message, verdict.accept)
        return TopicValidatorResult.Accept
      }
      switch (verdict) {
        case 'accept': return TopicValidatorResult.Accept
        case 'reject':
          this.graylist?.rejected(from)
          return TopicValidatorResult.Reject
        default: return TopicValidatorResult.Ignore
      }
    })

    const subscription: Subscription = {
      onMessage: (evt) => {
        const { msg: message, propagationSource, msgId } = evt.detail
        if (message.topic !== topic) {
          return
        }
        const value = this.accepted.get(message) as T | undefined
        this.accepted.delete(message)
        const data = plainBytes(message.data)
        void Promise.resolve()
          .then(async () => { await handler.onMessage(data, propagationSource, { topic, data, id: msgId, value }) })
          .catch((err: unknown) => { log.error('onMessage for %s failed - %e', topic, err) })
      }
    }
    this.subscriptions.set(topic, subscription)
    this.pubsub.addEventListener('gossipsub:message', subscription.onMessage)
    this.pubsub.subscribe(topic)
    log('subscribed to %s', topic)

    let active = true
    return () => {
      if (!active) {
        return
      }
      active = false
      this.pubsub.removeEventListener('gossipsub:message', subscription.onMessage)
      this.pubsub.topicValidators.delete(topic)
      this.subscriptions.delete(topic)
      try {
        this.pubsub.unsubscribe(topic)
      } catch (err) {
        // pubsub already stopped
        log('unsubscribe from %s after stop - %e', topic, err)
      }
      log('unsubscribed from %s', topic)
    }
  }

  /** Drops every subscription (on stop). */
  unsubscribeAll (): void {
    for (const topic of [...this.subscriptions.keys()]) {
      const sub = this.subscriptions.get(topic)
      if (sub != null) {
        this.pubsub.removeEventListener('gossipsub:message', sub.onMessage)
      }
      this.pubsub.topicValidators.delete(topic)
      this.subscriptions.delete(topic)
    }
  }
}
