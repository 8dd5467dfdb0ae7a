import { decodeManifest, encodeManifest, MANIFEST_MAX_BYTES, manifestCid } from '@capdex/manifest'
import { createRecord, encodeAnnouncement, nameFromPublicKey, providersTopic, verifyRecord } from '@capdex/registry'
import { defaultLogger } from '@libp2p/logger'
import { CustomProgressEvent } from 'progress-events'
import { equals } from 'uint8arrays/equals'
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_LEASE_MS, DEFAULT_PUBLISH_TIMEOUT_MS } from './constants.js'
import { InvalidOptionError, MissingManifestError } from './errors.js'
import type { Repo } from './repo.js'
import type { CapdexNode } from './types.js'
import type { Manifest } from '@capdex/manifest'
import type { VerifiedRecord } from '@capdex/registry'
import type { AbortOptions, ComponentLogger, Logger, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

export interface ProviderServiceComponents {
  node: Pick<CapdexNode, 'network' | 'putBlock' | 'getVerifiedBlock' | 'putRecord' | 'getRecord' | 'publishAndAwaitPeer'>
  repo: Pick<Repo, 'getOrCreateKey' | 'config'>
  logger?: ComponentLogger
}

export interface ProviderServiceInit {
  /**
   * Keychain name of the provider key.
   *
   * @default repo.config.keys.provider ('provider')
   */
  keyName?: string
  /**
   * Network to announce on.
   *
   * @default node.network
   */
  network?: string
  /** Detects the current manifest when `publishOnce` gets none (the CLI passes one). */
  detect?: () => Promise<Manifest>
}

export type ProviderPublishProgressEvents =
  ProgressEvent<'node:publish:manifest', CID> |
  ProgressEvent<'node:publish:record', { name: string, sequence: bigint }> |
  ProgressEvent<'node:publish:announce', { topic: string }>

export interface PublishOnceOptions extends AbortOptions, ProgressOptions<ProviderPublishProgressEvents> {
  /** The manifest to publish; `provider` and `prev` are set by the service. @default init.detect() */
  manifest?: Manifest
  /**
   * Record lifetime: the liveness lease.
   *
   * @default 600000 (10 min)
   */
  lifetimeMs?: number
  /**
   * How long to wait for a subscribed peer to receive the announcement.
   *
   * @default 10000
   */
  timeoutMs?: number
  /** clock, ms since the epoch @default Date.now() */
  now?: number
  /**
   * When the manifest equals the last published one (ignoring `issuedAt` and `prev`), re-sign
   * the last manifest CID with seq+1 instead of writing a new manifest, so heartbeats do not
   * grow the provider's `prev` chain.
   *
   * @default false
   */
  reuseUnchanged?: boolean
}

export interface ProviderPublished {
  /** the provider's IPNS name (`k51…`) */
  name: string
  manifestCid: CID
  sequence: bigint
  /** the EOL: end of the liveness lease */
  validity: Date
  /** peers the announcement was sent to */
  recipients: PeerId[]
  /** whether the last manifest was re-signed rather than a new one written */
  reused: boolean
}

export interface WatchOptions extends AbortOptions {
  /**
   * Heartbeat interval.
   *
   * @default 180000 (3 min)
   */
  intervalMs?: number
  /**
   * Record lifetime; must exceed `intervalMs`.
   *
   * @default 600000 (10 min)
   */
  lifetimeMs?: number
  /** @default init.detect */
  detect?: () => Promise<Manifest>
  /** how long each heartbeat waits for a subscribed peer @default 10000 */
  timeoutMs?: number
  onPublished?(result: ProviderPublished): void
  /** a heartbeat that reached nobody (it was still stored locally) */
  onUnheard?(err: Error): void
}

export interface ProviderService {
  /** The provider's IPNS name (creates the provider key on first use). */
  name(options?: AbortOptions): Promise<string>
  /**
   * Writes the manifest block (prev = the last published manifest), signs a record with
   * sequence = last + 1, stores it and announces it on the providers topic.
   *
   * @throws NoPeersError when no subscribed peer received the announcement in time (the record is stored locally)
   * @throws MissingManifestError when no manifest is given and there is no `detect`
   */
  publishOnce(options?: PublishOnceOptions): Promise<ProviderPublished>
  /**
   * Re-detects and heartbeats every `intervalMs` until the signal aborts, then resolves.
   * A heartbeat that reaches nobody is logged (and passed to `onUnheard`); other errors reject.
   */
  watch(options?: WatchOptions): Promise<void>
}

interface LastPublished {
  record: VerifiedRecord
  cid: CID | undefined
}

class DefaultProviderService implements ProviderService {
  private readonly node: ProviderServiceComponents['node']
  private readonly repo: ProviderServiceComponents['repo']
  private readonly log: Logger
  private readonly keyName: string
  private readonly network: string
  private readonly detect: (() => Promise<Manifest>) | undefined
  /** one publish at a time: sequence numbers and prev links must not interleave */
  private queue: Promise<unknown> = Promise.resolve()

  constructor (components: ProviderServiceComponents, init: ProviderServiceInit) {
    this.node = components.node
    this.repo = components.repo
    this.log = (components.logger ?? defaultLogger()).forComponent('capdex:provider')
    this.keyName = init.keyName ?? components.repo.config.keys.provider
    this.network = init.network ?? components.node.network
    this.detect = init.detect
    // fail at construction on a bad network name
    providersTopic(this.network)
  }

  async name (options: AbortOptions = {}): Promise<string> {
    const key = await this.repo.getOrCreateKey(this.keyName, options)
    return nameFromPublicKey(key.publicKey)
  }

  private async last (name: string, options: AbortOptions): Promise<LastPublished | undefined> {
    const bytes = await this.node.getRecord(name, options)
    if (bytes == null) {
      return undefined
    }
    const record = await verifyRecord(name, bytes, { allowExpired: true })
    return { record, cid: record.valueCid }
  }

  /** The last manifest's bytes if `candidate` says the same thing, else undefined. */
  private async unchanged (cid: CID, candidate: Manifest, options: AbortOptions): Promise<Uint8Array | undefined> {
    try {
      const bytes = await this.node.getVerifiedBlock(cid, { offline: true, maxBytes: MANIFEST_MAX_BYTES, ...(options.signal != null ? { signal: options.signal } : {}) })
      const last = decodeManifest(bytes)
      const same = encodeManifest({ ...candidate, issuedAt: last.issuedAt, prev: last.prev })
      return equals(same, bytes) ? bytes : undefined
    } catch (err) {
      this.log('cannot compare with the last manifest %c - %e', cid, err)
      return undefined
    }
  }

  async publishOnce (options: PublishOnceOptions = {}): Promise<ProviderPublished> {
    const job = this.queue.catch(() => {}).then(async () => this.publishNow(options))
    this.queue = job
    return job
  }

  private async publishNow (options: PublishOnceOptions): Promise<ProviderPublished> {
    const lifetimeMs = options.lifetimeMs ?? DEFAULT_LEASE_MS
    if (!Number.isSafeInteger(lifetimeMs) || lifetimeMs <= 0) {
      throw new InvalidOptionError(`lifetimeMs must be a positive integer, got ${lifetimeMs}`)
    }
    const signal = options.signal
    const abortOptions: AbortOptions = signal != null ? { signal } : {}
    const key = await this.repo.getOrCreateKey(this.keyName, abortOptions)
    const name = nameFromPublicKey(key.publicKey)

    const manifest = options.manifest ?? await this.detect?.()
    if (manifest == null) {
      throw new MissingManifestError('publishOnce needs a manifest: pass one, or give the provider service a detect function')
    }
    signal?.throwIfAborted()

    const last = await this.last(name, abortOptions)
    const candidate: Manifest = { ...manifest, provider: name, prev: last?.cid ?? null }

    // a heartbeat with nothing new re-signs the last manifest
    const same = options.reuseUnchanged === true && last?.cid != null
      ? await this.unchanged(last.cid, candidate, abortOptions)
      : undefined
    let bytes: Uint8Array
    let cid: CID
    let reused = false
    if (same != null && last?.cid != null) {
      bytes = same
      cid = last.cid
      reused = true
    } else {
      bytes = encodeManifest(candidate)
      cid = manifestCid(bytes)
      await this.node.putBlock(bytes, cid.code, abortOptions)
    }
    options.onProgress?.(new CustomProgressEvent('node:publish:manifest', cid))

    const sequence = (last?.record.sequence ?? 0n) + 1n
    const recordBytes = await createRecord(key, cid, sequence, {
      lifetimeMs,
      ...(options.now != null ? { now: options.now } : {}),
      ...(signal != null ? { signal } : {})
    })
    const record = await this.node.putRecord(name, recordBytes, {
      ...(options.now != null ? { now: options.now } : {}),
      ...abortOptions
    })
    options.onProgress?.(new CustomProgressEvent('node:publish:record', { name, sequence }))
    this.log('%s manifest %c as %s seq %s (lease until %s)', reused ? 're-signed' : 'published', cid, name, sequence, record.validity.toISOString())

    const topic = providersTopic(this.network)
    // the codec inlines manifests up to 16 KiB; larger ones are fetched by CID over bitswap
    const announcement = encodeAnnouncement({ record: recordBytes, manifest: bytes })
    options.onProgress?.(new CustomProgressEvent('node:publish:announce', { topic }))
    const { recipients } = await this.node.publishAndAwaitPeer(topic, announcement, {
      timeoutMs: options.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS,
      ...abortOptions
    })
    this.log('announced seq %s to %d peer(s)', sequence, recipients.length)

    return { name, manifestCid: cid, sequence, validity: record.validity, recipients, reused }
  }

  async watch (options: WatchOptions = {}): Promise<void> {
    const intervalMs = options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    const lifetimeMs = options.lifetimeMs ?? DEFAULT_LEASE_MS
    if (!(intervalMs > 0) || !(lifetimeMs > intervalMs)) {
      throw new InvalidOptionError(`watch needs 0 < intervalMs (${intervalMs}) < lifetimeMs (${lifetimeMs}), or the lease lapses between heartbeats`)
    }
    const detect = options.detect ?? this.detect
    if (detect == null) {
      throw new MissingManifestError('watch needs a detect function')
    }
    const signal = options.signal

    while (!isAborted(signal)) {
      try {
        const manifest = await detect()
        const result = await this.publishOnce({
          manifest,
          lifetimeMs,
          reuseUnchanged: true,
          ...(options.timeoutMs != null ? { timeoutMs: options.timeoutMs } : {}),
          ...(signal != null ? { signal } : {})
        })
        options.onPublished?.(result)
      } catch (err) {
        if (isAborted(signal)) {
          break
        }
        if ((err as Error).name !== 'NoPeersError') {
          throw err
        }
        this.log('heartbeat reached no peer, will retry in %d ms - %e', intervalMs, err)
        options.onUnheard?.(err as Error)
      }
      await waitOrAbort(intervalMs, signal)
    }
    this.log('watch stopped')
  }
}

function isAborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

/** Resolves after `ms`, or at once when the signal aborts (the schedule between heartbeats). */
async function waitOrAbort (ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted === true) {
    return
  }
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** The provider side: publish a signed manifest and keep its lease alive. */
export function providerService (components: ProviderServiceComponents, init: ProviderServiceInit = {}): ProviderService {
  return new DefaultProviderService(components, init)
}
