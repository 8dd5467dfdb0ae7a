/**
 * Simulated providers: many Ed25519 provider keys behind ONE libp2p node. Each key signs real
 * V1+V2 IPNS records for a schema-valid manifest and announces them on the providers topic, on its
 * own heartbeat schedule (interval ± jitter). Keys churn: after a heartbeat a key may go silent for
 * longer than its lease (so its entry expires) and come back later with seq+1. Manifests vary
 * (GPU model, count, price, region from a small table) and change now and then (availability,
 * price), linking the previous manifest through `prev`.
 *
 * Used by `scripts/simulate.ts`, the fault tests (`test/faults`) and the benchmarks. All
 * publishing goes through one token bucket, kept below the indexer's per-peer validation budget
 * (`INDEXER_VALIDATION_BUDGET.ratePerSecond`), since every key shares the node's peer id.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto'
import { claimInterconnect, encodeManifest, getGpuModel, manifestCid } from '@capdex/manifest'
import { createRecord, encodeAnnouncement, nameFromPublicKey, providersTopic } from '@capdex/registry'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import type { Manifest, ProviderStatus } from '@capdex/manifest'
import type { CapdexNode } from '@capdex/node'
import type { CID } from 'multiformats/cid'

export interface SimulatedProvidersComponents {
  node: Pick<CapdexNode, 'network' | 'publish' | 'publishAndAwaitPeer'>
}

export interface SimulatedProvidersInit {
  /** number of simulated provider keys */
  count: number
  /**
   * Derives the keys and the hardware mix: the same seed gives the same providers.
   *
   * @default a random seed
   */
  seed?: string
  /**
   * Heartbeat interval of each key.
   *
   * @default 180000 (3 min, as `capdex provider publish --watch`)
   */
  intervalMs?: number
  /**
   * Each heartbeat lands at interval × (1 ± jitter).
   *
   * @default 0.2
   */
  jitter?: number
  /**
   * Record lifetime (the liveness lease).
   *
   * @default 600000 (10 min)
   */
  leaseMs?: number
  /**
   * Chance, after each heartbeat, that the key goes silent for `silentMs` (its lease lapses).
   *
   * @default 0.01
   */
  churn?: number
  /**
   * How long a churned key stays silent.
   *
   * @default 1.5 × leaseMs
   */
  silentMs?: number
  /**
   * Chance that a heartbeat carries a changed manifest (availability, price) instead of re-signing the last one.
   *
   * @default 0.05
   */
  changeRate?: number
  /**
   * Announcements per second, all keys together (they share one peer's validation budget at the indexer).
   *
   * @default 800
   */
  maxRatePerSecond?: number
  /**
   * The first heartbeats are spread evenly over this window.
   *
   * @default intervalMs
   */
  rampMs?: number
  /**
   * Sequence number of each key's first record.
   *
   * @default 1n
   */
  firstSequence?: bigint
  /** clock, ms since the epoch @default Date.now */
  now?: () => number
}

/** One announcement sent (or attempted) for a simulated key. */
export interface SimulatedPublish {
  index: number
  name: string
  sequence: bigint
  manifestCid: CID
  /** the announcement's bytes (DAG-CBOR `{ record, manifest }`) */
  announcement: Uint8Array
  /** ms since the epoch, taken just before `publish` */
  at: number
  /** peers it was sent to (0 when no peer was subscribed) */
  recipients: number
}

export interface HeartbeatOptions {
  /** @default false */
  awaitPeer?: boolean
  /** @default 10000 */
  timeoutMs?: number
}

export interface SimulatedProvidersStats {
  keys: number
  published: number
  /** published to at least one peer */
  delivered: number
  /** published to nobody (no subscribed peer yet) */
  unheard: number
  errors: number
  /** keys silent right now */
  silent: number
  /** times a key went silent */
  churned: number
  /** manifests changed */
  changed: number
  /** how far the latest heartbeat ran behind its schedule, ms */
  lagMs: number
}

export interface SimulatedProviders {
  /** the keys' IPNS names, by index */
  readonly names: readonly string[]
  /** Starts the heartbeat schedule. */
  start(): void
  /** Stops scheduling and waits for the announcement in flight. */
  stop(): Promise<void>
  /**
   * Signs and announces key `index` now, out of schedule (seq+1). With `awaitPeer`, waits (up to
   * `timeoutMs`, default 10 s) until a subscribed peer can be sent it, as `capdex provider publish` does.
   */
  heartbeat(index: number, options?: HeartbeatOptions): Promise<SimulatedPublish>
  /** The last sequence signed for key `index` (0n before the first). */
  sequence(index: number): bigint
  /** Told of every announcement sent or attempted. */
  onPublish(listener: (p: SimulatedPublish) => void): () => void
  stats(): SimulatedProvidersStats
}

// ---- the hardware mix -----------------------------------------------------------------------

/** [canonical model, weight, USD per GPU-hour] */
const GPUS: ReadonlyArray<readonly [string, number, number]> = [
  ['H100', 14, 2.4], ['A100-80GB', 10, 1.5], ['RTX4090', 16, 0.45], ['L40S', 8, 0.9], ['A10G', 6, 0.6],
  ['L4', 6, 0.4], ['H200', 4, 3.2], ['MI300X', 3, 2.1], ['RTX3090', 8, 0.25], ['B200', 2, 4.5], ['T4', 5, 0.2]
]
const COUNTS: readonly number[] = [1, 1, 2, 4, 8, 8]
const REGIONS: ReadonlyArray<readonly [string, string]> = [
  ['eu-west', 'FR'], ['eu-central', 'DE'], ['us-east', 'US'], ['us-west', 'US'], ['ap-northeast', 'JP'], ['ap-southeast', 'SG']
]
const STATUSES: readonly ProviderStatus[] = ['available', 'available', 'available', 'busy', 'draining']
type Ed25519PrivateKey = Extract<ReturnType<typeof privateKeyFromRaw>, { type: 'Ed25519' }>

/** PKCS#8 DER header of an Ed25519 private key (RFC 8410) */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/** mulberry32: a small seeded PRNG, so a seed gives the same mix every run. */
export function seededRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A 32-bit number from a string (the first 4 bytes of its sha256). */
export function seedNumber (text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0)
}

/** Ed25519 key `index` of `seed`: node:crypto derives the public key from the seed far faster than JS. */
export function simulatedKey (seed: string, index: number): Ed25519PrivateKey {
  const raw = createHash('sha256').update(`capdex-sim/${seed}/${index}`).digest()
  const pub = createPublicKey(createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' }))
    .export({ format: 'der', type: 'spki' }).subarray(-32)
  const key = privateKeyFromRaw(Buffer.concat([raw, pub]))
  if (key.type !== 'Ed25519') throw new TypeError('expected an Ed25519 key')
  return key
}

/** A schema-valid manifest for `provider`, drawn from the table with `rand`. */
export function simulatedManifest (provider: string, rand: () => number, issuedAt: number, prev: CID | null = null): Manifest {
  const total = GPUS.reduce((sum, g) => sum + g[1], 0)
  let x = rand() * total
  const row = GPUS.find((g) => (x -= g[1]) < 0) ?? GPUS[0]!
  const model = getGpuModel(row[0])
  if (model === undefined) throw new TypeError(`GPU ${row[0]} is not in the manifest table`)
  const count = COUNTS[Math.floor(rand() * COUNTS.length)]!
  const [region, country] = REGIONS[Math.floor(rand() * REGIONS.length)]!
  const cores = 8 * (1 + Math.floor(rand() * 24))
  return {
    schema: 'capdex.manifest.v1',
    provider,
    issuedAt: new Date(issuedAt).toISOString(),
    prev,
    gpus: [{ vendor: model.vendor, model: model.model, name: model.model, vramMiB: model.vramMiB, formFactor: model.formFactor, count, available: Math.floor(rand() * (count + 1)), interconnect: claimInterconnect(model, count) }],
    cpu: { vendor: 'amd', model: 'EPYC', cores, threads: cores * 2, arch: 'x86_64' },
    memory: { totalMiB: cores * 8192, availableMiB: cores * 4096 },
    storage: [{ kind: 'nvme', totalGiB: 2000, freeGiB: 1000 }],
    network: { uplinkMbps: 10000, downlinkMbps: 10000 },
    location: { country, region },
    pricing: [{ unit: 'gpu-hour', amount: (row[2] * (0.7 + rand() * 0.6)).toFixed(2), currency: 'USD' }],
    status: STATUSES[Math.floor(rand() * STATUSES.length)]!,
    endpoints: [],
    attestations: []
  }
}

// ---- the engine -------------------------------------------------------------------------------

interface Key {
  key: Ed25519PrivateKey
  name: string
  sequence: bigint
  manifest: Manifest | undefined
  manifestBytes: Uint8Array | undefined
  cid: CID | undefined
  silentUntil: number
}

/** A binary min-heap of (due time, key index). */
class Schedule {
  private readonly due: number[] = []
  private readonly index: number[] = []

  get size (): number { return this.due.length }
  peek (): number | undefined { return this.due[0] }

  push (due: number, index: number): void {
    this.due.push(due)
    this.index.push(index)
    let i = this.due.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.due[parent]! <= due) break
      this.swap(i, parent)
      i = parent
    }
  }

  pop (): { due: number, index: number } | undefined {
    if (this.due.length === 0) return undefined
    const top = { due: this.due[0]!, index: this.index[0]! }
    const lastDue = this.due.pop()!
    const lastIndex = this.index.pop()!
    if (this.due.length > 0) {
      this.due[0] = lastDue
      this.index[0] = lastIndex
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < this.due.length && this.due[l]! < this.due[m]!) m = l
        if (r < this.due.length && this.due[r]! < this.due[m]!) m = r
        if (m === i) break
        this.swap(i, m)
        i = m
      }
    }
    return top
  }

  private swap (a: number, b: number): void {
    [this.due[a], this.due[b]] = [this.due[b]!, this.due[a]!];
    [this.index[a], this.index[b]] = [this.index[b]!, this.index[a]!]
  }
}

class DefaultSimulatedProviders implements SimulatedProviders {
  readonly names: readonly string[]
  private readonly node: SimulatedProvidersComponents['node']
  private readonly topic: string
  private readonly keys: Key[]
  private readonly rand: () => number
  private readonly intervalMs: number
  private readonly jitter: number
  private readonly leaseMs: number
  private readonly churn: number
  private readonly silentMs: number
  private readonly changeRate: number
  private readonly rate: number
  private readonly rampMs: number
  private readonly now: () => number
  private readonly schedule = new Schedule()
  private readonly listeners = new Set<(p: SimulatedPublish) => void>()
  private readonly counts = { published: 0, delivered: 0, unheard: 0, errors: 0, churned: 0, changed: 0, lagMs: 0 }
  private tokens: number
  private refilled = performance.now()
  private timer: ReturnType<typeof setTimeout> | undefined
  private running = false
  private loop: Promise<void> | undefined

  constructor (components: SimulatedProvidersComponents, init: SimulatedProvidersInit) {
    if (!Number.isSafeInteger(init.count) || init.count < 0) throw new RangeError(`count must be a non-negative integer, got ${init.count}`)
    this.node = components.node
    this.topic = providersTopic(components.node.network)
    const seed = init.seed ?? createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 16)
    this.rand = seededRandom(seedNumber(seed))
    this.intervalMs = init.intervalMs ?? 180_000
    this.jitter = Math.min(1, Math.max(0, init.jitter ?? 0.2))
    this.leaseMs = init.leaseMs ?? 600_000
    this.churn = init.churn ?? 0.01
    this.silentMs = init.silentMs ?? this.leaseMs * 1.5
    this.changeRate = init.changeRate ?? 0.05
    this.rate = init.maxRatePerSecond ?? 800
    this.rampMs = init.rampMs ?? this.intervalMs
    this.now = init.now ?? Date.now
    if (!(this.intervalMs > 0) || !(this.leaseMs > 0) || !(this.rate > 0)) throw new RangeError('intervalMs, leaseMs and maxRatePerSecond must be positive')
    this.tokens = Math.min(this.rate, 64)
    const first = (init.firstSequence ?? 1n) - 1n
    this.keys = Array.from({ length: init.count }, (_, i) => {
      const key = simulatedKey(seed, i)
      return { key, name: nameFromPublicKey(key.publicKey), sequence: first, manifest: undefined, manifestBytes: undefined, cid: undefined, silentUntil: 0 }
    })
    this.names = Object.freeze(this.keys.map((k) => k.name))
  }

  start (): void {
    if (this.running) return
    this.running = true
    const start = performance.now()
    const n = this.keys.length
    for (let i = 0; i < n; i++) this.schedule.push(start + (n <= 1 ? 0 : (this.rampMs * i) / n), i)
    this.wake()
  }

  async stop (): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
    await this.loop
  }

  sequence (index: number): bigint {
    return this.key(index).sequence
  }

  onPublish (listener: (p: SimulatedPublish) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  stats (): SimulatedProvidersStats {
    const now = this.now()
    return { keys: this.keys.length, silent: this.keys.filter((k) => k.silentUntil > now).length, ...this.counts }
  }

  async heartbeat (index: number, options: HeartbeatOptions = {}): Promise<SimulatedPublish> {
    const k = this.key(index)
    const now = this.now()
    if (k.manifest === undefined || k.cid === undefined || k.manifestBytes === undefined || this.rand() < this.changeRate) {
      if (k.manifest !== undefined) this.counts.changed++
      const manifest = k.manifest === undefined
        ? simulatedManifest(k.name, this.rand, now)
        : { ...k.manifest, issuedAt: new Date(now).toISOString(), prev: k.cid ?? null, gpus: k.manifest.gpus.map((g) => ({ ...g, available: Math.floor(this.rand() * (g.count + 1)) })), pricing: k.manifest.pricing.map((p) => ({ ...p, amount: (Number(p.amount) * (0.9 + this.rand() * 0.2)).toFixed(2) })) }
      k.manifest = manifest
      k.manifestBytes = encodeManifest(manifest)
      k.cid = manifestCid(k.manifestBytes)
    }
    k.sequence++
    const record = await createRecord(k.key, k.cid, k.sequence, { lifetimeMs: this.leaseMs, now })
    const announcement = encodeAnnouncement({ record, manifest: k.manifestBytes })
    const published: SimulatedPublish = { index, name: k.name, sequence: k.sequence, manifestCid: k.cid, announcement, at: Date.now(), recipients: 0 }
    this.counts.published++
    try {
      const result = options.awaitPeer === true
        ? await this.node.publishAndAwaitPeer(this.topic, announcement, { timeoutMs: options.timeoutMs ?? 10_000 })
        : await this.node.publish(this.topic, announcement)
      published.recipients = result.recipients.length
      this.counts.delivered++
    } catch (err) {
      if ((err as Error).name === 'NoPeersError') this.counts.unheard++
      else this.counts.errors++
    }
    for (const listener of this.listeners) listener(published)
    return published
  }

  private key (index: number): Key {
    const k = this.keys[index]
    if (k === undefined) throw new RangeError(`no simulated provider ${index}`)
    return k
  }

  /** Arms the timer for the next due heartbeat. */
  private wake (): void {
    if (!this.running || this.loop !== undefined || this.timer !== undefined) return
    const due = this.schedule.peek()
    if (due === undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.loop = this.drain().finally(() => {
        this.loop = undefined
        this.wake()
      })
    }, Math.max(0, due - performance.now()))
  }

  /** Publishes every due heartbeat, within the rate, yielding to the event loop between them. */
  private async drain (): Promise<void> {
    while (this.running) {
      const now = performance.now()
      const due = this.schedule.peek()
      if (due === undefined || due > now) return
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.refilled) / 1000) * this.rate)
      this.refilled = now
      if (this.tokens < 1) {
        await new Promise<void>((resolve) => setTimeout(resolve, Math.ceil(((1 - this.tokens) / this.rate) * 1000)))
        continue
      }
      this.tokens--
      const { index } = this.schedule.pop()!
      this.counts.lagMs = now - due
      const k = this.key(index)
      const wall = this.now()
      if (k.silentUntil <= wall) {
        await this.heartbeat(index).catch(() => { this.counts.errors++ })
      }
      let next = this.intervalMs * (1 - this.jitter + 2 * this.jitter * this.rand())
      if (this.rand() < this.churn) {
        this.counts.churned++
        k.silentUntil = wall + this.silentMs
        next = Math.max(next, this.silentMs)
      }
      this.schedule.push(performance.now() + next, index)
      // let libp2p write what was published
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }
}

/** Creates the engine (keys derived at once, nothing sent until `start` or `heartbeat`). */
export function simulatedProviders (components: SimulatedProvidersComponents, init: SimulatedProvidersInit): SimulatedProviders {
  return new DefaultSimulatedProviders(components, init)
}
