import { prolly } from '@capdex/prolly'
import { indexTopic, NotASnapshotError, openSnapshot, provesExtension, selectNewest, verifyAnnouncement } from '@capdex/registry'
import { defaultLogger } from '@libp2p/logger'
import { anySignal } from 'any-signal'
import { CustomProgressEvent } from 'progress-events'
import { DEFAULT_BLOCK_TIMEOUT_MS } from '../constants.js'
import { NoPeersError } from '../errors.js'
import { DEFAULT_MAX_CHAIN_WALK, DEFAULT_RESOLVE_TIMEOUT_MS, MAX_RESOLVE_PEERS, RECORD_ATTEMPT_MIN_MS, RECORD_ATTEMPTS } from './constants.js'
import { HeadNotFoundError, IndexerMismatchError, NotExtendingError } from './errors.js'
import { bitswapBlockSource } from './sources.js'
import { trustStore } from './trust.js'
import type { BlockSource } from './sources.js'
import type { TrustedHead } from './trust.js'
import type { CapdexNode } from '../types.js'
import type { BlockStore } from '@capdex/prolly'
import type { OpenedSnapshot, Snapshot, VerifiedRecord } from '@capdex/registry'
import type { AbortOptions, ComponentLogger, Logger, PeerId } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

/** How a head was learned. */
export type HeadSource = 'record' | 'topic' | 'gateway'

/** How a head was accepted against the trusted one. */
export type HeadProof = 'first-use' | 'unchanged' | 'history' | 'prev-walk'

/** A head that passed every check and is now the trusted head of its indexer. */
export interface ResolvedHead {
  indexer: string
  cid: CID
  snapshot: Snapshot
  /** the indexer record's sequence and validity */
  sequence: bigint
  validity: Date
  source: HeadSource
  /** the peer that served the record (source `record`) or relayed the announcement (`topic`) */
  from?: string
  /** the head trusted before, undefined on first use */
  previous: TrustedHead | undefined
  proof: HeadProof
}

export type ResolveProgressEvents =
  | ProgressEvent<'node:resolve:record', { source: HeadSource, sequence: bigint, from?: string }>
  | ProgressEvent<'node:resolve:snapshot', CID>
  | ProgressEvent<'node:resolve:extension', { trusted: CID, offered: CID }>

export interface AcceptHeadComponents {
  /** where the snapshot blocks (and the history needed for the proof) come from */
  blocks: BlockSource
  datastore: Pick<Datastore, 'get' | 'put' | 'has' | 'query'>
  logger?: ComponentLogger
}

export interface AcceptHeadOptions extends AbortOptions, ProgressOptions<ResolveProgressEvents> {
  /** the network the snapshot must cover; unchecked when absent */
  network?: string
  /** @default 'record' */
  source?: HeadSource
  from?: string
  /**
   * Most `prev` links followed when the history tree does not prove the extension.
   *
   * @default 100000
   */
  maxChainWalk?: number
}

function readOnly (blocks: BlockSource): BlockStore {
  return {
    get: async (cid, options = {}) => blocks.get(cid, options),
    put: async () => {}
  }
}

/** Whether following `prev` from `head` reaches `trusted` at its height, one height at a time. */
async function reachesByPrev (store: BlockStore, head: OpenedSnapshot, trusted: TrustedHead, maxSteps: number, options: AbortOptions): Promise<boolean | 'too-long'> {
  let current = head
  for (let steps = 0; current.snapshot.height > trusted.height; steps++) {
    if (steps >= maxSteps) return 'too-long'
    const prev = current.snapshot.prev
    if (prev == null) return false
    const next = await openSnapshot(prev, store, options)
    if (next.snapshot.height !== current.snapshot.height - 1 || next.snapshot.indexer !== head.snapshot.indexer || next.snapshot.network !== head.snapshot.network) {
      return false
    }
    current = next
  }
  return current.cid.equals(trusted.cid)
}

/**
 * Checks a verified indexer record and the head it points to, then makes it the trusted head:
 * the record's value is `/ipfs/<snapshot cid>`, the snapshot names the record's indexer (and
 * `network`), and it extends the head trusted before: the same CID, or a higher one whose
 * history tree holds the trusted CID at its height (`provesExtension`), or, failing that, whose
 * `prev` chain reaches it. The first head of an indexer is trusted on first use.
 *
 * @throws NotExtendingError naming both CIDs; the refused record is kept as evidence
 * @throws IndexerMismatchError the snapshot belongs to another indexer or network
 * @throws NotASnapshotError the record does not point to a snapshot
 */
export async function acceptHead (components: AcceptHeadComponents, record: VerifiedRecord, options: AcceptHeadOptions = {}): Promise<ResolvedHead> {
  const log = (components.logger ?? defaultLogger()).forComponent('capdex:resolve')
  const trust = trustStore({ datastore: components.datastore })
  const abort: AbortOptions = options.signal != null ? { signal: options.signal } : {}
  const indexer = record.name
  const cid = record.valueCid
  if (cid == null) {
    throw new NotASnapshotError(`The record of indexer ${indexer} points to ${record.value}, not to /ipfs/<snapshot cid>`)
  }
  const store = readOnly(components.blocks)
  options.onProgress?.(new CustomProgressEvent('node:resolve:snapshot', cid))
  const opened = await openSnapshot(cid, store, abort)
  const { snapshot } = opened
  if (snapshot.indexer !== indexer) {
    throw new IndexerMismatchError(`Snapshot ${cid.toString()} names indexer ${snapshot.indexer}, but the record that points to it is signed by ${indexer}`)
  }
  if (options.network != null && snapshot.network !== options.network) {
    throw new IndexerMismatchError(`Snapshot ${cid.toString()} covers network ${snapshot.network}, not ${options.network}`)
  }

  const previous = await trust.get(indexer, abort)
  let proof: HeadProof
  if (previous == null) {
    proof = 'first-use'
  } else if (previous.cid.toString() === cid.toString()) {
    proof = 'unchanged'
  } else {
    options.onProgress?.(new CustomProgressEvent('node:resolve:extension', { trusted: previous.cid, offered: cid }))
    const refuse = async (why: string): Promise<never> => {
      await trust.addEvidence({ indexer, cid, record: record.bytes }, abort)
      throw new NotExtendingError(
        `Head ${cid.toString()} (height ${snapshot.height}) of indexer ${indexer} does not extend the trusted head ${previous.cid.toString()} (height ${previous.height}): ${why}; refused and kept as evidence`,
        { trusted: previous.cid, offered: cid }
      )
    }
    if (snapshot.height <= previous.height) {
      return refuse(snapshot.height === previous.height ? 'two different heads at one height (equivocation)' : 'it is older (a rollback)')
    }
    let proven = false
    try {
      proven = await provesExtension({ prolly: prolly({ blocks: store }), blocks: store }, cid, previous.cid, abort)
    } catch (err) {
      options.signal?.throwIfAborted()
      log('history tree of %c does not prove the extension, walking prev - %e', cid, err)
    }
    proof = 'history'
    if (!proven) {
      const walked = await reachesByPrev(store, opened, previous, options.maxChainWalk ?? DEFAULT_MAX_CHAIN_WALK, abort)
      if (walked === 'too-long') {
        return refuse(`its prev chain could not be followed down to height ${previous.height} within ${options.maxChainWalk ?? DEFAULT_MAX_CHAIN_WALK} links`)
      }
      if (!walked) {
        return refuse(`its prev chain does not pass through the trusted head at height ${previous.height} (a fork)`)
      }
      proof = 'prev-walk'
    }
  }

  await trust.set({ indexer, cid, height: snapshot.height, time: snapshot.time }, abort)
  log('trusting head %c of %s at height %d (%s)', cid, indexer, snapshot.height, proof)
  return {
    indexer,
    cid,
    snapshot,
    sequence: record.sequence,
    validity: record.validity,
    source: options.source ?? 'record',
    ...(options.from != null ? { from: options.from } : {}),
    previous,
    proof
  }
}

export interface ResolveHeadComponents {
  node: Pick<CapdexNode, 'network' | 'libp2p' | 'fetchRecord' | 'putRecord' | 'subscribe' | 'getVerifiedBlock'>
  datastore: Pick<Datastore, 'get' | 'put' | 'has' | 'query'>
  logger?: ComponentLogger
}

export interface ResolveHeadOptions extends Omit<AcceptHeadOptions, 'source' | 'from' | 'network'> {
  /** the indexer's IPNS name */
  indexer: string
  /**
   * Bound on learning the head: record requests to connected peers, then waiting for an
   * announcement on the index topic.
   *
   * @default 10000
   */
  timeoutMs?: number
  /**
   * Bound on each block fetch (the snapshot and the proof).
   *
   * @default 10000
   */
  blockTimeoutMs?: number
  /** clock for record expiry, ms since the epoch @default Date.now() */
  now?: number
}

interface Candidate {
  record: VerifiedRecord
  source: HeadSource
  from: string
}

/** Records of `indexer` from connected peers and from the index topic, within the timeout. */
async function learnHead (node: ResolveHeadComponents['node'], indexer: string, options: ResolveHeadOptions, log: Logger): Promise<Candidate[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = anySignal([timeout, options.signal])
  const candidates: Candidate[] = []
  let wake: (() => void) | undefined
  let unsubscribe: (() => void) | undefined
  const now = options.now
  try {
    try {
      unsubscribe = node.subscribe<VerifiedRecord>(indexTopic(node.network), {
        validate: async (msg) => {
          try {
            const { record } = await verifyAnnouncement(msg.data, now != null ? { now } : {})
            return { accept: record }
          } catch (err) {
            return (err as Error).name === 'RecordExpiredError' ? 'ignore' : 'reject'
          }
        },
        onMessage: (_data, from, msg) => {
          if (msg.value?.name !== indexer) return
          candidates.push({ record: msg.value, source: 'topic', from: from.toString() })
          options.onProgress?.(new CustomProgressEvent('node:resolve:record', { source: 'topic', sequence: msg.value.sequence, from: from.toString() }))
          wake?.()
        }
      })
    } catch (err) {
      // someone in this process listens on the index topic already: records only
      log('not listening on the index topic - %e', err)
    }

    const peers: PeerId[] = node.libp2p.getPeers().slice(0, MAX_RESOLVE_PEERS)
    const deadline = Date.now() + timeoutMs
    await Promise.all(peers.map(async (peer) => {
      // a request that stalls is retried on a fresh stream while time is left; an answer
      // (found, not found, invalid) is final
      for (let attempt = 1; ; attempt++) {
        const remaining = deadline - Date.now()
        try {
          const record = await node.fetchRecord(peer, indexer, { timeoutMs: Math.max(1, Math.min(remaining, Math.max(RECORD_ATTEMPT_MIN_MS, timeoutMs / RECORD_ATTEMPTS))), signal, ...(now != null ? { now } : {}) })
          candidates.push({ record, source: 'record', from: peer.toString() })
          options.onProgress?.(new CustomProgressEvent('node:resolve:record', { source: 'record', sequence: record.sequence, from: peer.toString() }))
          return
        } catch (err) {
          log('no record of %s from %p (attempt %d) - %e', indexer, peer, attempt, err)
          if ((err as Error).name !== 'RecordFetchTimeoutError' || signal.aborted || deadline - Date.now() < RECORD_ATTEMPT_MIN_MS / 2) return
        }
      }
    }))

    if (candidates.length === 0 && !signal.aborted && unsubscribe != null) {
      // nobody had a record: the next announcement on the index topic may bring one
      await new Promise<void>((resolve) => {
        const done = (): void => {
          signal.removeEventListener('abort', done)
          resolve()
        }
        wake = done
        signal.addEventListener('abort', done, { once: true })
      })
    }
    options.signal?.throwIfAborted()
    if (candidates.length === 0) {
      if (peers.length === 0 && unsubscribe == null) {
        throw new NoPeersError(`No connected peers to ask for the head of indexer ${indexer}: bootstrap to the indexer or a peer that knows it`)
      }
      throw new HeadNotFoundError(`No head for indexer ${indexer}: ${peers.length} connected peer(s) had no valid record and no announcement was heard within ${timeoutMs} ms`)
    }
    return candidates
  } finally {
    wake = undefined
    unsubscribe?.()
    signal.clear()
  }
}

/**
 * Learns an indexer's head over libp2p (its IPNS record from connected peers over
 * `/capdex/ipns-record/1.0.0`, and announcements on `capdex/<network>/index/1`), takes the newest
 * record, fetches the snapshot over bitswap and accepts it with `acceptHead`. The accepted record
 * is stored, so this node serves it to others.
 *
 * @throws HeadNotFoundError, NoPeersError, NotExtendingError, IndexerMismatchError, EquivocationError
 */
export async function resolveHead (components: ResolveHeadComponents, options: ResolveHeadOptions): Promise<ResolvedHead> {
  const { node } = components
  const log = (components.logger ?? defaultLogger()).forComponent('capdex:resolve')
  const candidates = await learnHead(node, options.indexer, options, log)
  let best = candidates[0]
  for (const candidate of candidates.slice(1)) {
    if (best == null || selectNewest(candidate.record, best.record) === candidate.record) best = candidate
  }
  if (best == null) {
    throw new HeadNotFoundError(`No head for indexer ${options.indexer}`)
  }
  const blocks = bitswapBlockSource({ node }, { timeoutMs: options.blockTimeoutMs ?? DEFAULT_BLOCK_TIMEOUT_MS })
  const head = await acceptHead({ blocks, datastore: components.datastore, ...(components.logger != null ? { logger: components.logger } : {}) }, best.record, {
    ...options,
    network: node.network,
    source: best.source,
    from: best.from
  })
  try {
    await node.putRecord(head.indexer, best.record.bytes, options.now != null ? { now: options.now } : {})
  } catch (err) {
    log('not storing the record of %s - %e', head.indexer, err)
  }
  return head
}
