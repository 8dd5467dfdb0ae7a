import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { verifiedRecordOf, verifyAnnouncement } from '@capdex/registry'
import { InvalidOptionError } from './errors.js'
import type { VerifiedAnnouncement } from '@capdex/registry'

/** The options a pooled verification takes: the clock, and whether an expired record may pass. */
export interface PooledVerifyOptions {
  /** ms since the epoch; defaults to the clock when the announcement is checked */
  now?: number
  allowExpired?: boolean
}

/**
 * A verified announcement: its record, and its inline manifest's bytes where it has one, hashed against the record
 * value but not decoded. The caller decodes the manifest: a decoded manifest costs more to copy from a worker
 * (structured clone, on both sides) than to decode where it is needed.
 */
export type PooledAnnouncement = VerifiedAnnouncement

/**
 * Verifies provider announcements (decode, record structure, inline manifest hash, Ed25519
 * signature, expiry), spread over worker threads so this work uses every core while the calling
 * thread folds. Single calls are gathered into batches, one message per worker per batch.
 */
export interface AnnouncementVerifier {
  /** worker threads in use; 0 when everything runs in the calling thread */
  readonly workers: number
  /** One announcement; rejects with the error verification raised (same `name` and message). */
  verify(announcement: Uint8Array, options?: PooledVerifyOptions): Promise<PooledAnnouncement>
  /** Many, in order: each result is the verified announcement or the error it failed with. */
  verifyMany(announcements: readonly Uint8Array[], options?: PooledVerifyOptions): Promise<Array<PooledAnnouncement | Error>>
  close(): Promise<void>
}

export interface AnnouncementVerifierInit {
  /**
   * Worker threads; 0 verifies in the calling thread.
   *
   * @default min(2, availableParallelism())
   */
  workers?: number
  /**
   * How much lower than the calling thread the workers run, as a nice increment (0 to 19). The calling thread folds:
   * it holds back every head, so under load it should get its core while verification takes what is left. Linux
   * only, where each thread has its own nice value; elsewhere, and where the system refuses, workers run at the
   * calling thread's priority.
   *
   * @default 10
   */
  workerNice?: number
  /** where the worker script lives (tests and bundlers); defaults to the one beside this module */
  workerUrl?: URL
}

/** What a worker is started with. */
export interface WorkerInit {
  nice: number
}

/** Default for `workerNice`: CFS then weighs the calling thread about 9 times a worker. */
export const DEFAULT_VERIFY_WORKER_NICE = 10

/** One announcement as it travels to a worker. */
export interface WorkerItem {
  bytes: Uint8Array
  now?: number
  allowExpired?: boolean
}

/** What a worker sends back for one announcement: plain fields, structured-clone safe. */
export type WorkerVerdict =
  | { ok: true, name: string, publicKey: Uint8Array, value: string, sequence: bigint, validity: number, ttlNs: bigint, record: Uint8Array, manifest: Uint8Array | undefined }
  | { ok: false, name: string, message: string }

export interface WorkerJob { id: number, items: WorkerItem[] }
export interface WorkerReply { id: number, verdicts: WorkerVerdict[] }

/** Runs one item in this thread, as a worker would. */
export async function verifyItem (item: WorkerItem): Promise<WorkerVerdict> {
  try {
    const options = { ...(item.now !== undefined ? { now: item.now } : {}), ...(item.allowExpired === true ? { allowExpired: true } : {}) }
    const { record, manifestBytes } = await verifyAnnouncement(item.bytes, options)
    return { ok: true, name: record.name, publicKey: record.publicKey.raw, value: record.value, sequence: record.sequence, validity: record.validity.getTime(), ttlNs: record.ttlNs, record: record.bytes, manifest: manifestBytes }
  } catch (err) {
    return { ok: false, name: (err as Error).name, message: (err as Error).message }
  }
}

/** The announcement, or the error, a verdict stands for. */
function fromVerdict (v: WorkerVerdict): PooledAnnouncement | Error {
  if (!v.ok) return Object.assign(new Error(v.message), { name: v.name })
  const publicKey = publicKeyFromRaw(v.publicKey)
  if (publicKey.type !== 'Ed25519') return Object.assign(new Error('Worker returned a non-Ed25519 key'), { name: 'UnsupportedKeyTypeError' })
  const record = verifiedRecordOf({ name: v.name, publicKey, value: v.value, sequence: v.sequence, validity: new Date(v.validity), ttlNs: v.ttlNs, bytes: v.record })
  return v.manifest === undefined ? { record } : { record, manifestBytes: v.manifest }
}

interface Waiter { items: WorkerItem[], resolve: (verdicts: WorkerVerdict[]) => void }

class PooledVerifier implements AnnouncementVerifier {
  private readonly threads: Worker[] = []
  private readonly waiting = new Map<number, Waiter>()
  private readonly busy = new Map<Worker, number>()
  private queue: Array<{ item: WorkerItem, resolve: (v: WorkerVerdict) => void }> = []
  private flushing = false
  private nextId = 0
  /** set when a worker fails to start or dies: from then on everything runs in this thread */
  private degraded = false

  constructor (size: number, url: URL, init: WorkerInit) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(url, { workerData: init })
      worker.unref()
      worker.on('message', ({ id, verdicts }: WorkerReply) => {
        const waiter = this.waiting.get(id)
        this.waiting.delete(id)
        this.busy.set(worker, (this.busy.get(worker) ?? 1) - 1)
        waiter?.resolve(verdicts)
      })
      // a worker that cannot load (no TypeScript loader in this process) or dies: verify here instead
      const fail = (): void => { this.degrade() }
      worker.on('error', fail)
      worker.on('exit', fail)
      this.busy.set(worker, 0)
      this.threads.push(worker)
    }
  }

  get workers (): number {
    return this.degraded ? 0 : this.threads.length
  }

  async verify (announcement: Uint8Array, options: PooledVerifyOptions = {}): Promise<PooledAnnouncement> {
    const verdict = await new Promise<WorkerVerdict>((resolve) => {
      this.queue.push({ item: itemOf(announcement, options), resolve })
      this.scheduleFlush()
    })
    const result = fromVerdict(verdict)
    if (result instanceof Error) throw result
    return result
  }

  async verifyMany (announcements: readonly Uint8Array[], options: PooledVerifyOptions = {}): Promise<Array<PooledAnnouncement | Error>> {
    const verdicts = await this.run(announcements.map((a) => itemOf(a, options)))
    return verdicts.map(fromVerdict)
  }

  async close (): Promise<void> {
    this.degraded = true
    await Promise.all(this.threads.map(async (w) => { w.removeAllListeners('exit'); await w.terminate() }))
  }

  private scheduleFlush (): void {
    if (this.flushing) return
    this.flushing = true
    // gather what arrives in the same turn of the event loop into one batch
    setImmediate(() => {
      this.flushing = false
      const batch = this.queue
      this.queue = []
      void this.run(batch.map((b) => b.item)).then((verdicts) => { verdicts.forEach((v, i) => { batch[i]!.resolve(v) }) })
    })
  }

  /** Splits the items over the workers, least busy first; verdicts come back in order. */
  private async run (items: WorkerItem[]): Promise<WorkerVerdict[]> {
    if (items.length === 0) return []
    if (this.degraded || this.threads.length === 0) return this.inThread(items)
    const workers = [...this.threads].sort((a, b) => (this.busy.get(a) ?? 0) - (this.busy.get(b) ?? 0))
    const per = Math.ceil(items.length / workers.length)
    const parts = await Promise.all(workers.map(async (worker, w) => {
      const slice = items.slice(w * per, (w + 1) * per)
      if (slice.length === 0) return []
      const id = this.nextId++
      return new Promise<WorkerVerdict[]>((resolve) => {
        this.waiting.set(id, { items: slice, resolve })
        this.busy.set(worker, (this.busy.get(worker) ?? 0) + 1)
        worker.postMessage({ id, items: slice } satisfies WorkerJob)
      })
    }))
    return parts.flat()
  }

  private async inThread (items: WorkerItem[]): Promise<WorkerVerdict[]> {
    const out: WorkerVerdict[] = []
    for (const item of items) out.push(await verifyItem(item))
    return out
  }

  private degrade (): void {
    if (this.degraded) return
    this.degraded = true
    // jobs in flight on workers go through this thread instead
    const pending = [...this.waiting.values()]
    this.waiting.clear()
    for (const waiter of pending) void this.inThread(waiter.items).then(waiter.resolve)
    for (const worker of this.threads) void worker.terminate()
  }
}

function itemOf (bytes: Uint8Array, options: PooledVerifyOptions): WorkerItem {
  return {
    bytes,
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(options.allowExpired === true ? { allowExpired: true } : {})
  }
}

/** The worker script beside this module: TypeScript when running from sources, JavaScript when built. */
function defaultWorkerUrl (): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './verify-worker.ts' : './verify-worker.js', import.meta.url)
}

/**
 * An announcement verifier over `workers` threads (0: in this thread). Workers inherit this
 * process's loader flags; where they cannot start, verification falls back to this thread.
 */
export function announcementVerifier (init: AnnouncementVerifierInit = {}): AnnouncementVerifier {
  const size = Math.max(0, Math.floor(init.workers ?? Math.min(2, availableParallelism())))
  const nice = init.workerNice ?? DEFAULT_VERIFY_WORKER_NICE
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) {
    throw new InvalidOptionError(`workerNice must be an integer from 0 to 19, got ${nice}`)
  }
  return new PooledVerifier(size, init.workerUrl ?? defaultWorkerUrl(), { nice })
}
