import { encodeAnnouncement, providersTopic } from '@capdex/registry'
import { CustomProgressEvent } from 'progress-events'
import { DEFAULT_PUBLISH_TIMEOUT_MS } from '../constants.js'
import { InvalidOptionError } from '../errors.js'
import { DEFAULT_IMPORT_PUBLISH_BURST, DEFAULT_IMPORT_PUBLISH_RATE, IMPORT_PROGRESS_EVERY } from './constants.js'
import type { ImportedRow, PublishImportOptions, PublishImportResult, SkypilotImporterComponents } from './types.js'
import type { PublishResult } from '../types.js'
import type { Logger } from '@libp2p/interface'

export interface PublishContext {
  node: SkypilotImporterComponents['node']
  network: string
  log: Logger
}

/**
 * A token bucket on the sending side: `burst` sends at once, then one every `1 / rate` seconds.
 * It paces the sender so that receivers' validation budgets do not drop announcements.
 */
class Pacer {
  private tokens: number
  private updated: number
  private readonly rate: number
  private readonly burst: number

  constructor (rate: number, burst: number) {
    this.rate = rate
    this.burst = burst
    this.tokens = burst
    this.updated = Date.now()
  }

  /** Resolves when one more send is allowed, and takes it. */
  async take (signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      signal?.throwIfAborted()
      const now = Date.now()
      this.tokens = Math.min(this.burst, this.tokens + (now - this.updated) * this.rate / 1000)
      this.updated = now
      if (this.tokens >= 1) {
        this.tokens -= 1
        return
      }
      await delay(Math.ceil((1 - this.tokens) * 1000 / this.rate), signal)
    }
  }
}

/** Waits `ms`, or rejects at once with the signal's reason when it aborts. */
async function delay (ms: number, signal: AbortSignal | undefined): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason as Error)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Stores every row's record through the node, then announces the rows, paced. */
export async function publishImport (ctx: PublishContext, rows: ImportedRow[], options: PublishImportOptions = {}): Promise<PublishImportResult> {
  const node = ctx.node
  if (node == null) {
    throw new InvalidOptionError('Publishing imported rows needs a node: create the importer with one')
  }
  const rate = options.ratePerSecond ?? DEFAULT_IMPORT_PUBLISH_RATE
  const burst = options.burst ?? DEFAULT_IMPORT_PUBLISH_BURST
  const timeoutMs = options.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS
  if (!(rate > 0) || !Number.isFinite(rate) || !(burst >= 1) || !Number.isFinite(burst) || !(timeoutMs > 0)) {
    throw new InvalidOptionError('ratePerSecond and timeoutMs must be positive, burst at least 1')
  }
  const signal = options.signal
  const aborts = signal != null ? { signal } : {}
  const topic = providersTopic(ctx.network)

  // the records first: peers can fetch them over the record protocol even if publishing stops
  for (const row of rows) {
    await node.putRecord(row.name, row.record.bytes, aborts)
  }
  options.onProgress?.(new CustomProgressEvent('node:import:records', { count: rows.length }))

  const pacer = new Pacer(rate, burst)
  const recipients = new Set<string>()
  let unheard = 0
  let published = 0
  const total = rows.length
  for (const row of rows) {
    await pacer.take(signal)
    const data = encodeAnnouncement({ record: row.record.bytes, manifest: row.manifestBytes })
    let result: PublishResult
    if (published === 0) {
      // once: wait until a subscribed peer can be sent to
      result = await node.publishAndAwaitPeer(topic, data, { timeoutMs, ...aborts })
    } else {
      try {
        result = await node.publish(topic, data, aborts)
      } catch (err) {
        if ((err as Error).name !== 'NoPeersError') throw err
        ctx.log('no subscribed peer left after %d of %d announcements, waiting up to %d ms', published, total, timeoutMs)
        result = await node.publishAndAwaitPeer(topic, data, { timeoutMs, ...aborts })
      }
    }
    published++
    if (result.recipients.length === 0) unheard++
    for (const peer of result.recipients) recipients.add(peer.toString())
    if (published % IMPORT_PROGRESS_EVERY === 0 || published === total) {
      options.onProgress?.(new CustomProgressEvent('node:import:publish', { done: published, total, recipients: recipients.size }))
    }
  }
  ctx.log('announced %d rows on %s to %d peer(s), %d unheard', published, topic, recipients.size, unheard)
  return { published, unheard, recipients: [...recipients] }
}
