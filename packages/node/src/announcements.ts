import { decodeManifest, MANIFEST_MAX_BYTES, manifestCid } from '@capdex/manifest'
import { checkSupersedes, providersTopic, verifyAnnouncement } from '@capdex/registry'
import { defaultLogger } from '@libp2p/logger'
import { DEFAULT_MANIFEST_FETCH_COST, DEFAULT_MANIFEST_FETCH_TIMEOUT_MS, MAX_KNOWN_RECORDS } from './constants.js'
import { setNewest } from './maps.js'
import type { CapdexNode, TopicMessage, Verdict } from './types.js'
import type { AnnouncementVerifier, PooledAnnouncement } from './verify-pool.js'
import type { Manifest } from '@capdex/manifest'
import type { VerifiedRecord, VerifyAnnouncementOptions } from '@capdex/registry'
import type { ComponentLogger, Logger, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface AnnouncementListenerComponents {
  node: Pick<CapdexNode, 'network' | 'subscribe' | 'getVerifiedBlock' | 'putBlock' | 'putRecord' | 'validationBudget'>
  logger?: ComponentLogger
  /** where record checks run (worker threads); without one they run in this thread */
  verifier?: Pick<AnnouncementVerifier, 'verify'>
}

/** A provider announcement that passed every check. */
export interface ReceivedAnnouncement {
  /** the provider's IPNS name, from the key embedded in the record */
  name: string
  record: VerifiedRecord
  manifest: Manifest
  manifestCid: CID
  manifestBytes: Uint8Array
  /** the peer that relayed it (not necessarily the provider) */
  from: PeerId
  /** gossipsub message id (hex sha256 of the announcement) */
  id: string
}

export interface AnnouncementListenerInit {
  /** @default node.network */
  network?: string
  /** clock for the expiry check, ms since the epoch @default Date.now */
  now?: () => number
  onAnnouncement: (announcement: ReceivedAnnouncement) => void | Promise<void>
  /**
   * Bound on fetching a manifest that was not inlined.
   *
   * @default 10000
   */
  manifestTimeoutMs?: number
  /**
   * Validation budget units a bitswap fetch costs the relaying peer (a message costs 1).
   *
   * @default 4
   */
  fetchCost?: number
  /**
   * Store accepted records (so this node serves them over the record protocol) and inline manifests.
   *
   * @default true
   */
  store?: boolean
  /**
   * Told of every verdict with its reason, for metrics: `accepted`, the name of the error that
   * decided it (`SignatureVerificationError`, `StaleRecordError`, `BlockFetchTimeoutError`…), or
   * one of `value-not-cid`, `fetch-budget`, `manifest-hash`, `manifest-provider`.
   */
  onVerdict?: (verdict: 'accept' | 'reject' | 'ignore', reason: string, from: PeerId) => void
}

export interface AnnouncementListenerStats {
  accepted: number
  rejected: number
  ignored: number
  /** announcements whose validation is under way */
  validating: number
}

export interface AnnouncementListener {
  stats(): AnnouncementListenerStats
  /** Unsubscribes from the providers topic. */
  stop(): void
}

type Accepted = Omit<ReceivedAnnouncement, 'from' | 'id'>

interface Judged {
  verdict: Verdict<Accepted>
  reason: string
}

/** Errors that mean "not now" rather than "invalid": no penalty for the relayer. */
const IGNORABLE = new Set(['RecordExpiredError', 'StaleRecordError', 'EquivocationError'])

class DefaultAnnouncementListener implements AnnouncementListener {
  private readonly node: AnnouncementListenerComponents['node']
  private readonly verifier: AnnouncementListenerComponents['verifier']
  private readonly log: Logger
  private readonly init: AnnouncementListenerInit
  private readonly known = new Map<string, VerifiedRecord>()
  private readonly counts: AnnouncementListenerStats = { accepted: 0, rejected: 0, ignored: 0, validating: 0 }
  private readonly unsubscribe: () => void

  constructor (components: AnnouncementListenerComponents, init: AnnouncementListenerInit) {
    this.node = components.node
    this.verifier = components.verifier
    this.log = (components.logger ?? defaultLogger()).forComponent('capdex:announcements')
    this.init = init
    const topic = providersTopic(init.network ?? components.node.network)
    this.unsubscribe = this.node.subscribe<Accepted>(topic, {
      validate: async (msg, from) => {
        this.counts.validating++
        let judged: Judged
        try {
          judged = await this.validate(msg, from)
        } finally {
          this.counts.validating--
        }
        const { verdict, reason } = judged
        if (verdict === 'reject') this.counts.rejected++
        else if (verdict === 'ignore') this.counts.ignored++
        else this.counts.accepted++
        this.init.onVerdict?.(typeof verdict === 'object' ? 'accept' : verdict, reason, from)
        return verdict
      },
      onMessage: async (_data, from, msg) => {
        if (msg.value != null) {
          await this.init.onAnnouncement({ ...msg.value, from, id: msg.id })
        }
      }
    })
  }

  private remember (record: VerifiedRecord): void {
    setNewest(this.known, record.name, record, MAX_KNOWN_RECORDS)
  }

  private judge (err: unknown, what: string, from: PeerId): Judged {
    const name = (err as Error).name
    const verdict = IGNORABLE.has(name) ? 'ignore' : 'reject'
    if (name === 'EquivocationError') {
      this.log.error('equivocation relayed by %p: %s', from, (err as Error).message)
    } else {
      this.log('%s announcement from %p: %s - %e', verdict, from, what, err)
    }
    return { verdict, reason: name }
  }

  private async validate (msg: TopicMessage, from: PeerId): Promise<Judged> {
    const now = this.init.now?.()
    const options: VerifyAnnouncementOptions = now != null ? { now } : {}

    // decode, record structure, inline manifest hash, signature, expiry
    let record: VerifiedRecord
    let inline: Uint8Array | undefined
    try {
      const verified: PooledAnnouncement = this.verifier != null
        ? await this.verifier.verify(msg.data, now != null ? { now } : {})
        : await verifyAnnouncement(msg.data, options)
      record = verified.record
      inline = verified.manifestBytes
      checkSupersedes(this.known.get(record.name), record)
    } catch (err) {
      return this.judge(err, 'record', from)
    }

    const cid = record.valueCid
    if (cid == null) {
      this.log('reject announcement from %p: record value %s is not /ipfs/<cid>', from, record.value)
      return { verdict: 'reject', reason: 'value-not-cid' }
    }

    let bytes: Uint8Array
    if (inline != null) {
      bytes = inline
    } else {
      if (!this.node.validationBudget.take(from, this.init.fetchCost ?? DEFAULT_MANIFEST_FETCH_COST)) {
        this.log('ignore announcement from %p: no budget to fetch manifest %c', from, cid)
        return { verdict: 'ignore', reason: 'fetch-budget' }
      }
      try {
        bytes = await this.node.getVerifiedBlock(cid, {
          // the relaying peer announced it, so it is the likeliest holder
          providers: [from],
          maxBytes: MANIFEST_MAX_BYTES,
          timeoutMs: this.init.manifestTimeoutMs ?? DEFAULT_MANIFEST_FETCH_TIMEOUT_MS
        })
      } catch (err) {
        // an oversized block is the provider's fault; a slow or missing one may be the network's
        if ((err as Error).name === 'BlockTooLargeError') {
          return this.judge(err, 'manifest', from)
        }
        this.log('ignore announcement from %p: manifest %c not fetched - %e', from, cid, err)
        return { verdict: 'ignore', reason: (err as Error).name }
      }
    }

    let manifest: Manifest
    try {
      // an inline manifest was hashed against the record value when the announcement was verified
      if (inline == null && !manifestCid(bytes).equals(cid)) {
        this.log('reject announcement from %p: manifest does not hash to %c', from, cid)
        return { verdict: 'reject', reason: 'manifest-hash' }
      }
      manifest = decodeManifest(bytes)
    } catch (err) {
      return this.judge(err, 'manifest', from)
    }
    if (manifest.provider !== record.name) {
      this.log('reject announcement from %p: manifest provider %s is not the record name %s', from, manifest.provider, record.name)
      return { verdict: 'reject', reason: 'manifest-provider' }
    }

    if (this.init.store !== false) {
      try {
        if (inline != null) {
          await this.node.putBlock(bytes, cid.code)
        }
        await this.node.putRecord(record.name, record.bytes, { ...(now != null ? { now } : {}), verified: record })
      } catch (err) {
        return this.judge(err, 'store', from)
      }
    }
    this.remember(record)
    return { verdict: { accept: { name: record.name, record, manifest, manifestCid: cid, manifestBytes: bytes } }, reason: 'accepted' }
  }

  stats (): AnnouncementListenerStats {
    return { ...this.counts }
  }

  stop (): void {
    this.unsubscribe()
  }
}

/**
 * Subscribes to the providers topic and validates each announcement before gossipsub
 * forwards it: record checks (Reject when invalid, Ignore when expired or stale), the
 * manifest inline or fetched over bitswap (64 KiB cap, bounded time), its hash against the
 * record value, the manifest schema and its provider field against the record name. Accepted
 * announcements are stored and handed to `onAnnouncement`.
 */
export function announcementListener (components: AnnouncementListenerComponents, init: AnnouncementListenerInit): AnnouncementListener {
  return new DefaultAnnouncementListener(components, init)
}
