/**
 * `pnpm bench:fold`: verified updates per second folded into a 100,000- and a 1,000,000-provider
 * index, against the single-core Ed25519 verify ceiling (node:crypto, the same records' signed
 * payloads) measured in the same run. Then the same with verification spread over worker threads.
 * Ends with a line `BENCH fold {json}`.
 *
 * The pipeline per update is the indexer's: `verifyAnnouncement` (decode, record checks, inline
 * manifest hash against the record value, Ed25519 signature, expiry), then the manifest's strict
 * decode, then `fold` over the previous head in batches of the indexer's cap for the index
 * (`batchMaxFor`: 5,000 at 100,000 providers, 20,000 at 1,000,000), the size its batches reach under load.
 * Not included: gossipsub, the journal's fsync and the fsync of the fold's blocks (I/O, measured by
 * `bench:freshness` end to end). Blocks live in memory, in segment buffers outside the JS heap (as
 * a real indexer's live on disk), so the collector does not trace one object per block of the fixture.
 * Written blocks are copied into a reused arena, as a disk store takes them, so the fold's own buffers
 * are garbage once written (see `PackStore.overlay`).
 *
 * Each size folds a stream of 4 batch caps (`--caps`): 20,000 updates at 100,000 providers, 80,000 at 1,000,000.
 * A throughput is a sustained rate; a stream of one cap would measure only the pipeline's fill and drain.
 *
 * Each index is built directly with prolly `build` from sorted entries. The providers the measured
 * batches update (20,000 by default, `--live`, one update each per round of the stream) are real: Ed25519 keys,
 * signed V1+V2 records, manifests in the block store. The rest are filler: a valid entry of the same size with placeholder record bytes
 * and a manifest CID that is never read (a fold reads only the entries it updates), and their full
 * set of attribute keys. A sample check folds the real providers from genesis with `fold` and
 * requires the same roots as the direct build.
 *
 * Rows, each over the same updates and a fresh tree engine (its decoded-node cache starts cold),
 * after one untimed warm-up pass:
 * - `fold of verified updates`: the announcements are verified before the clock starts, and each batch's manifests
 *   are decoded with the clock stopped just before its fold (so one batch of decoded updates is alive at a time, as
 *   in the indexer); this is what the fold alone sustains on one core (per CPU-second), the figure the
 *   60%-of-the-ceiling target is about.
 * - `verify + fold (1 core)`: the whole pipeline on the main thread, with every thread of the process
 *   pinned to one CPU (`taskset`, where there is one): unpinned, V8's GC helper threads would run on the
 *   idle second core and the row would not be one core's.
 * - `verify in N workers + fold`: the announcements are verified in the indexer's verifier (N worker
 *   threads, up to 2, one per core, running at a lower priority than the main thread) as they
 *   arrive, all at once, in groups of 250; the main thread folds as the indexer schedules folds
 *   (`foldDelay`): as soon as a cap's worth is verified, or when the oldest verified update has waited
 *   250 ms, and then, while more announcements are still in verification than wait, until as many wait
 *   as remain, for at most the last fold's time (2 s at most). Target: ≥ 1.5× the 1-core pipeline.
 *   `--workers` and `--worker-nice` override the indexer's defaults.
 * - `same, window only`: the row above without the catch-up wait: each fold starts when its window closes.
 * Every row reads stored records back as the indexer does: from the records it verified before (the
 * announcement listener keeps 100,000 of them), verifying only on a miss.
 *
 * Times are wall-clock on a shared machine; CPU time of the process is printed beside them. Each row
 * reports the median of `--repeat` runs (3 by default).
 *
 * Usage: `pnpm bench:fold [--sizes 100000,1000000] [--live 20] [--caps 4] [--batch N] [--repeat 3] [--workers N] [--worker-nice 10] [--only fold|single|workers] [--timeline] [--heap-profile FILE]`
 */
import { execFileSync } from 'node:child_process'
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto'
import { Session } from 'node:inspector/promises'
import { loadavg } from 'node:os'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { decodeManifest, encodeManifest, manifestCid } from '@capdex/manifest'
import { memoryBlockStore, prolly } from '@capdex/prolly'
import {
  attrKeysForManifest, createRecord, encodeAnnouncement, encodeEntry, entrySeen, entryUptime, fold, leaseEnd, leaseMarks,
  decodeSnapshot, mergeLease, nameFromPublicKey, nameToBytes, snapshotTree, verifyAnnouncement, verifyRecord, writeSnapshot
} from '@capdex/registry'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { DEFAULT_BATCH_MS, DEFAULT_VERIFY_WORKER_NICE, announcementVerifier, batchMaxFor, foldDelay } from '@capdex/node'
import { PackStore } from '../lib/pack-store.js'
import { seededRandom, simulatedKey, simulatedManifest } from '../lib/simulated-providers.js'
import type { Manifest } from '@capdex/manifest'
import type { BlockStore, Prolly } from '@capdex/prolly'
import type { RecordReader, Snapshot, VerifiedAnnouncement, VerifiedRecord, VerifiedUpdate } from '@capdex/registry'
import type { AnnouncementVerifier } from '@capdex/node'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    /** thousands of real providers, one signed update each per round */
    live: { type: 'string', default: '20' },
    /** how long each size's stream is, in batch caps (rounded up to whole rounds of the live providers) */
    caps: { type: 'string', default: '4' },
    /** updates per fold (default: the indexer's cap for the index, `batchMaxFor`) */
    batch: { type: 'string' },
    seed: { type: 'string', default: 'bench-fold-v1' },
    /** timed runs per row; the row reports its median run (the machines are noisy) */
    repeat: { type: 'string', default: '3' },
    /** verify worker threads (default: the indexer's, one per core up to 2) */
    workers: { type: 'string' },
    /** how much lower than the main thread the workers run (default: the indexer's) */
    'worker-nice': { type: 'string' },
    /** for profiling: `fold` runs only the fold of verified updates, `single` only the 1-core pipeline, `workers` only the worker row */
    only: { type: 'string' },
    /** print when each fold of every run started and ended (where a burst's time goes) */
    timeline: { type: 'boolean', default: false },
    /** write an allocation sampling profile (`.heapprofile`) of one fold-only run to this file */
    'heap-profile': { type: 'string' }
  },
  strict: true
})
const SIZES = values.sizes.split(',').map(Number)
/** Updates per fold in an index of `n` providers: the indexer's batch cap, reached under a backlog. */
const batchFor = (n: number): number => values.batch === undefined ? batchMaxFor(n) : Number(values.batch)
/**
 * One update per live provider in each round, so every fold of a round touches providers that no earlier fold touched, as in a large
 * registry (a provider heartbeats every 3 minutes, long after its leaf left any cache).
 */
const LIVE = 1000 * Number(values.live)
/**
 * A throughput is a rate sustained over a stream. In a stream of one batch cap, the worker row's pipeline would only
 * fill (the first batch verified, nothing to fold yet) and drain (the last fold, nothing left to verify): the second
 * core idles through half of it. So every size folds the same number of caps, `--caps`: 4 by default, 20,000 updates
 * at 100,000 providers and 80,000 at 1,000,000. Each live provider heartbeats (or changes its manifest) once per round,
 * so the longer stream needs more rounds, not more providers; a round's folds cost what the first round's do (the
 * cache is given back after every fold).
 */
const CAPS = Math.max(1, Number(values.caps))
const roundsFor = (n: number): number => Math.ceil((CAPS * batchFor(n)) / LIVE)
const ROUNDS = Math.max(...SIZES.map(roundsFor))
const REPEAT = Math.max(1, Number(values.repeat))
const SEED = values.seed
const NOW = Date.parse('2025-06-01T12:00:00Z')
const LEASE_MS = 10 * 60_000
const NETWORK = 'bench'
const DAG_JSON = 0x0129
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
/** identity multihash of a protobuf Ed25519 public key: the first 6 of a name's 38 bytes */
const NAME_PREFIX = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20)
const RANK_BITS = 2 ** 21
const EMPTY = new Uint8Array(0)
const VERSION = 'fold-bench-v4'
const CACHE_DIR = join(import.meta.dirname, '..', '..', '.bench')

type Ed25519PrivateKey = ReturnType<typeof simulatedKey>

// ---- providers ---------------------------------------------------------------------------------

interface LiveProvider {
  key: Ed25519PrivateKey
  name: string
  providerKey: Uint8Array
  manifest: Manifest
  manifestBytes: Uint8Array
  cid: CID
  record: VerifiedRecord
  entry: Uint8Array
  uptime: number | undefined
}

interface Signed { payload: Uint8Array, signature: Uint8Array, publicKey: Uint8Array }

/** createRecord with the V2 payload and signature it produced captured, for the raw-verify ceiling. */
async function signRecord (key: Ed25519PrivateKey, cid: CID, sequence: bigint, now: number): Promise<{ bytes: Uint8Array, signed: Signed }> {
  const calls: Signed[] = []
  const capturing = Object.assign(Object.create(key) as Ed25519PrivateKey, {
    sign: async (payload: Uint8Array) => {
      const signature = await key.sign(payload)
      calls.push({ payload, signature, publicKey: key.publicKey.raw })
      return signature
    }
  })
  const bytes = await createRecord(capturing, cid, sequence, { lifetimeMs: LEASE_MS, now })
  // createRecord signs the V2 payload ("ipns-signature:" ‖ data) first
  return { bytes, signed: calls[0]! }
}

function leaseOf (validity: number, seen: number): { lease: ReturnType<typeof mergeLease>, uptime: number | undefined } {
  const marks = leaseMarks(validity, seen)
  const lease = mergeLease(undefined, leaseEnd(validity), marks === undefined ? [] : [marks])
  return { lease, uptime: entryUptime({ lease }) }
}

async function liveProvider (i: number): Promise<LiveProvider> {
  const key = simulatedKey(SEED, i)
  const name = nameFromPublicKey(key.publicKey)
  const issued = NOW - 5 * 60_000
  const manifest = simulatedManifest(name, seededRandom(i + 1), issued)
  const manifestBytes = encodeManifest(manifest)
  const cid = manifestCid(manifestBytes)
  const { bytes } = await signRecord(key, cid, 1n, issued)
  const record = await verifyRecord(name, bytes, { now: issued })
  const { lease, uptime } = leaseOf(record.validity.getTime(), entrySeen(manifest))
  const entry = encodeEntry({ record: bytes, manifest: cid, seen: entrySeen(manifest), lease })
  return { key, name, providerKey: nameToBytes(name), manifest, manifestBytes, cid, record, entry, uptime }
}

interface Filler {
  providerKey: Uint8Array
  entry: Uint8Array
  manifest: Manifest
  validity: number
  uptime: number | undefined
}

/** Provider i of the filler: the same every run; its record bytes are a placeholder of a real record's size. */
function filler (i: number, recordBytes: number): Filler {
  const rand = seededRandom(i * 2654435761 + 7)
  const providerKey = new Uint8Array(38)
  providerKey.set(NAME_PREFIX)
  for (let j = 6; j < 38; j++) providerKey[j] = Math.floor(rand() * 256)
  const issued = NOW - Math.floor(rand() * 9 * 60_000)
  const validity = issued + LEASE_MS
  // the manifest's provider field is never read back: the name is the key's
  const manifest = simulatedManifest('k51qzi5uqu5dfiller', rand, issued)
  const record = new Uint8Array(recordBytes)
  for (let j = 0; j < recordBytes; j++) record[j] = Math.floor(rand() * 256)
  const { lease, uptime } = leaseOf(validity, issued)
  const cid = CID.createV1(DAG_JSON, Digest.create(0x12, createHash('sha256').update(providerKey).digest()))
  return { providerKey, entry: encodeEntry({ record, manifest: cid, seen: issued, lease }), manifest, validity, uptime }
}

// ---- the index, built directly ----------------------------------------------------------------

interface Built { snapshot: Snapshot, cid: CID, attrKeys: number, seconds: number }

/**
 * Both trees from providers 0…n-1 (`at(i)` may be called several times per i): providers sorted by
 * key; each attribute family's keys sorted through (value rank, provider rank) packed in a float64.
 */
async function buildIndex (store: BlockStore, n: number, at: (i: number) => { providerKey: Uint8Array, entry: Uint8Array, manifest: Manifest, validity: number, uptime: number | undefined }): Promise<Built> {
  if (n >= RANK_BITS) throw new RangeError('too many providers for the rank packing')
  const started = performance.now()
  const tree = prolly({ blocks: store })
  const keys = Array.from({ length: n }, (_, i) => at(i).providerKey)
  const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => Buffer.compare(keys[a]!, keys[b]!))
  const rank = new Uint32Array(n)
  order.forEach((i, r) => { rank[i] = r })
  const providers = await snapshotTree(tree, 'providers').build((function * () {
    for (const i of order) yield { key: keys[i]!, value: at(i).entry }
  })())

  // family prefix (latin1) → distinct value parts and packed (value ordinal, provider rank)
  const families = new Map<string, { values: Map<string, number>, packed: number[] }>()
  for (let i = 0; i < n; i++) {
    const p = at(i)
    for (const key of attrKeysForManifest(p.manifest, { validity: new Date(p.validity), uptime: p.uptime }, p.providerKey)) {
      const cut = key.indexOf(0)
      const prefix = Buffer.from(key.buffer, key.byteOffset, cut + 1).toString('latin1')
      const value = Buffer.from(key.buffer, key.byteOffset + cut + 1, key.length - cut - 1 - 38).toString('latin1')
      let family = families.get(prefix)
      if (family === undefined) families.set(prefix, family = { values: new Map(), packed: [] })
      let ordinal = family.values.get(value)
      if (ordinal === undefined) family.values.set(value, ordinal = family.values.size)
      family.packed.push(ordinal * RANK_BITS + rank[i]!)
    }
  }
  let attrKeys = 0
  const sortedKeys = Array.from(order, (i) => keys[i]!)
  const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1')
  const attrs = await tree.build((function * () {
    for (const prefix of [...families.keys()].sort((a, b) => Buffer.compare(latin1(a), latin1(b)))) {
      const { values: distinct, packed } = families.get(prefix)!
      const sortedValues = [...distinct.keys()].sort((a, b) => Buffer.compare(latin1(a), latin1(b)))
      const valueRank = new Uint32Array(distinct.size)
      sortedValues.forEach((v, r) => { valueRank[distinct.get(v)!] = r })
      const remapped = Float64Array.from(packed, (x) => valueRank[Math.floor(x / RANK_BITS)]! * RANK_BITS + (x % RANK_BITS)).sort()
      const head = latin1(prefix)
      for (const x of remapped) {
        attrKeys++
        yield { key: Buffer.concat([head, latin1(sortedValues[Math.floor(x / RANK_BITS)]!), sortedKeys[x % RANK_BITS]!]), value: EMPTY }
      }
    }
  })())
  const snapshot: Snapshot = { v: 1, network: NETWORK, height: 0, time: NOW, prev: null, providers, attrs, count: n, indexer: 'k51qzi5uqu5dbenchfoldindexer', history: await tree.empty() }
  const { cid } = await writeSnapshot(snapshot, store)
  return { snapshot, cid, attrKeys, seconds: (performance.now() - started) / 1000 }
}

// ---- measuring ------------------------------------------------------------------------------------

interface Update { announcement: Uint8Array, signed: Signed, name: string }

interface RunResult {
  updatesPerSecond: number
  cpuUpdatesPerSecond: number
  seconds: number
  blocksPerFold: number
  changed: number
  folds: number
}

function cpuSeconds (since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since)
  return (d.user + d.system) / 1e6
}

/** node:crypto Ed25519 verifications per second of the same signed payloads, keys imported once. */
function ceiling (signed: Signed[]): { wall: number, cpu: number } {
  const keys = signed.map((s) => createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, s.publicKey]), format: 'der', type: 'spki' }))
  const cpu = process.cpuUsage()
  const start = performance.now()
  for (let i = 0; i < signed.length; i++) {
    const s = signed[i]!
    if (!cryptoVerify(null, s.payload, keys[i]!, s.signature)) throw new Error('a payload does not verify')
  }
  return { wall: signed.length / ((performance.now() - start) / 1000), cpu: signed.length / cpuSeconds(cpu) }
}

/**
 * The listener's checks after the announcement verified: its inline manifest already hashed to the record value
 * there, so what is left is the manifest's strict decode and its provider field.
 */
function toUpdate (record: VerifiedRecord, manifestBytes: Uint8Array | undefined): VerifiedUpdate {
  const cid = record.valueCid
  if (manifestBytes === undefined || cid === undefined) throw new Error('the announcement carries no manifest')
  const manifest = decodeManifest(manifestBytes)
  if (manifest.provider !== record.name) throw new Error('manifest names another provider')
  verifiedRecords.set(recordId(record.bytes), record)
  return { record, manifest, manifestCid: cid, seen: NOW, manifestBytes }
}

/** How long the last fold of any run took: an indexer under load knows its recent folds' duration (`foldDelay`). */
let lastFoldMs = 0

/** Announcements handed to the verifier per call in the worker row: as the listener hands them over, in small groups. */
const ARRIVAL_GROUP = 250

interface RunOptions {
  /** verify in these workers, and fold as the indexer schedules folds (see `foldAsTheIndexer`) */
  pool?: AnnouncementVerifier
  /** with `pool`: fold when the window closes, without the indexer's wait for announcements still in verification */
  windowOnly?: boolean
  readRecord?: RecordReader
  /**
   * The batches' announcements, verified beforehand: each batch's manifests are decoded and folded with the clock
   * stopped around the decoding, so only the fold is timed, and only one batch's decoded updates are alive at once.
   */
  preverified?: VerifiedAnnouncement[][]
}

async function run (index: PackStore, base: Built, batches: Update[][], options: RunOptions): Promise<RunResult> {
  // a fresh engine: its decoded-node cache starts cold in every variant
  // the run's new blocks go to an overlay, so every variant starts from the same index
  const store = index.overlay()
  const tree: Prolly = prolly({ blocks: store })
  const components = { prolly: tree, blocks: store, ...(options.readRecord !== undefined ? { readRecord: options.readRecord } : {}) }
  let head: { snapshot: Snapshot, cid: CID } = { snapshot: base.snapshot, cid: base.cid }
  let written = 0
  let changed = 0
  let updates = 0
  const verifyBatch = async (batch: Update[]): Promise<VerifiedUpdate[]> => {
    if (options.pool === undefined) {
      const out: VerifiedUpdate[] = []
      for (const u of batch) {
        const { record, manifestBytes } = await verifyAnnouncement(u.announcement, { now: NOW })
        out.push(toUpdate(record, manifestBytes))
      }
      return out
    }
    const verdicts = await options.pool.verifyMany(batch.map((u) => u.announcement), { now: NOW })
    return verdicts.map((v) => {
      if (v instanceof Error) throw new Error(`an update did not verify: ${v.name}`)
      return toUpdate(v.record, v.manifestBytes)
    })
  }
  let folds = 0
  const foldNext = async (verified: VerifiedUpdate[]): Promise<void> => {
    const started = performance.now()
    const result = await fold(components, head, verified, { now: NOW + folds + 1, network: NETWORK, indexer: base.snapshot.indexer })
    head = { snapshot: result.snapshot, cid: result.cid }
    written += result.written
    changed += result.changed
    updates += verified.length
    folds++
    lastFoldMs = performance.now() - started
    if (values.timeline === true) console.log(`    fold ${folds} of ${fmt(verified.length)} updates: ${fmt(started - start)}–${fmt(performance.now() - start)} ms after the run started`)
  }
  const start = performance.now()
  // the clock runs over the whole stream, less the decoding of preverified batches
  let seconds = 0
  let cpuUsed = 0
  const timed = async (section: () => Promise<void>): Promise<void> => {
    const cpu = process.cpuUsage()
    const started = performance.now()
    await section()
    seconds += (performance.now() - started) / 1000
    cpuUsed += cpuSeconds(cpu)
  }
  if (options.pool !== undefined) {
    await timed(async () => foldAsTheIndexer(batches.flat(), batches[0]!.length, verifyBatch, foldNext, options.windowOnly === true))
  } else {
    // in this thread, each batch is verified when its turn comes, then folded
    for (const [b, batch] of batches.entries()) {
      const done = options.preverified?.[b]
      const ready = done?.map(({ record, manifestBytes }) => toUpdate(record, manifestBytes))
      await timed(async () => {
        const verifyStarted = performance.now()
        const verified = ready ?? await verifyBatch(batch)
        if (values.timeline === true && ready === undefined) console.log(`    verified ${fmt(batch.length)} updates: ${fmt(verifyStarted - start)}–${fmt(performance.now() - start)} ms after the run started`)
        await foldNext(verified)
      })
    }
  }
  return { updatesPerSecond: updates / seconds, cpuUpdatesPerSecond: updates / cpuUsed, seconds, blocksPerFold: written / folds, changed, folds }
}

/**
 * The indexer's schedule over a backlog: every announcement arrives at once and goes to the verifier in groups as the
 * listener hands them over; verified updates queue, and a fold takes up to `cap` of them when `foldDelay` says so (the
 * indexer's `schedule`): at once for a full batch, else once the oldest has waited `DEFAULT_BATCH_MS` and, unless
 * `windowOnly`, the backlog still in verification is no larger than the batch (or the catch-up wait is over). So the
 * first fold starts before the whole backlog is verified, and while one folds, the workers verify the next.
 */
async function foldAsTheIndexer (all: Update[], cap: number, verify: (group: Update[]) => Promise<VerifiedUpdate[]>, foldNext: (verified: VerifiedUpdate[]) => Promise<void>, windowOnly: boolean): Promise<void> {
  const waiting: Array<{ arrived: number, update: VerifiedUpdate }> = []
  let arrivals = 0
  let wake: (() => void) | undefined
  let failure: Error | undefined
  for (let g = 0; g < all.length; g += ARRIVAL_GROUP) {
    const group = all.slice(g, g + ARRIVAL_GROUP)
    verify(group).then((verified) => {
      const arrived = performance.now()
      for (const update of verified) waiting.push({ arrived, update })
      arrivals += group.length
    }, (err: unknown) => { failure = err instanceof Error ? err : new Error(String(err)) }).finally(() => wake?.())
  }
  const nextArrival = async (ms?: number): Promise<void> => new Promise((resolve) => {
    const timer = ms === undefined ? undefined : setTimeout(resolve, ms)
    wake = () => { clearTimeout(timer); wake = undefined; resolve() }
  })
  let folded = 0
  while (folded < all.length) {
    if (failure !== undefined) throw failure
    const oldest = waiting[0]
    if (oldest === undefined) {
      await nextArrival()
      continue
    }
    // the indexer's `foldDelay`: announcements handed to the verifier and not back yet are still being verified
    const delay = foldDelay({ pending: waiting.length, oldestWaitedMs: performance.now() - oldest.arrived, verifying: windowOnly ? 0 : all.length - arrivals, batchMax: cap, batchMs: DEFAULT_BATCH_MS, lastFoldMs }) ?? 0
    if (delay > 0 && arrivals < all.length) {
      await nextArrival(delay)
      continue
    }
    const batch = waiting.splice(0, cap).map((w) => w.update)
    await foldNext(batch)
    folded += batch.length
  }
}

/**
 * Runs `measure` with every thread of this process on one CPU (Linux `taskset`), so that a 1-core figure is one
 * core's: unpinned, V8's GC helper threads run on the idle second core. Elsewhere, or where taskset is missing or
 * refused, it runs unpinned and says so.
 */
async function onOneCore<T> (measure: () => Promise<T>): Promise<{ result: T, pinned: boolean }> {
  const pid = String(process.pid)
  let mask: string | undefined
  try {
    mask = /: ([0-9a-f]+)\s*$/.exec(execFileSync('taskset', ['-p', pid], { encoding: 'utf8' }))?.[1]
    if (mask !== undefined) execFileSync('taskset', ['-a', '-p', '1', pid], { stdio: 'ignore' })
  } catch {
    mask = undefined
  }
  try {
    return { result: await measure(), pinned: mask !== undefined }
  } finally {
    if (mask !== undefined) execFileSync('taskset', ['-a', '-p', mask, pid], { stdio: 'ignore' })
  }
}

/** The median of REPEAT runs, by the figure the row reports. */
async function median (measure: () => Promise<RunResult>, by: (r: RunResult) => number): Promise<RunResult> {
  const runs: RunResult[] = []
  for (let i = 0; i < REPEAT; i++) runs.push(await measure())
  return runs.sort((a, b) => by(a) - by(b))[Math.floor((runs.length - 1) / 2)]!
}

// ---- main -------------------------------------------------------------------------------------------

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const mib = (bytes: number): number => Math.round(bytes / 1048576)

async function sampleCheck (live: LiveProvider[]): Promise<boolean> {
  const folded = memoryBlockStore()
  const updates = live.map((p) => ({ record: p.record, manifest: p.manifest, manifestCid: p.cid, seen: NOW, manifestBytes: p.manifestBytes }))
  const viaFold = await fold({ prolly: prolly({ blocks: folded }), blocks: folded }, null, updates, { now: NOW, network: NETWORK, indexer: 'k51qzi5uqu5dbenchfoldindexer' })
  const direct = await buildIndex(memoryBlockStore(), live.length, (i) => ({ ...live[i]!, validity: live[i]!.record.validity.getTime() }))
  return direct.snapshot.providers.equals(viaFold.snapshot.providers) && direct.snapshot.attrs.equals(viaFold.snapshot.attrs)
}

console.log(`bench:fold: ${SIZES.map((n) => fmt(n)).join(' and ')} providers, streams of ${SIZES.map((n) => fmt(LIVE * roundsFor(n))).join(' and ')} signed updates (${SIZES.map(roundsFor).join(' and ')} for each of ${fmt(LIVE)} providers) in folds of ${SIZES.map((n) => fmt(batchFor(n))).join(' and ')}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
const prepStart = performance.now()
const live: LiveProvider[] = []
for (let i = 0; i < LIVE; i++) live.push(await liveProvider(i))
const sampleOk = await sampleCheck(live.slice(0, 200))
if (!sampleOk) throw new Error('sample check failed: the direct build does not give fold\'s roots')

// the measured updates, one per live provider and round: 70% heartbeats (same manifest, next sequence) and 30%
// changed manifests
const updates: Update[] = []
const current = live.map(({ manifest, manifestBytes, cid }) => ({ manifest, manifestBytes, cid }))
for (let round = 0; round < ROUNDS; round++) {
  // each round's records are a second later, so later rounds win
  const issued = NOW - 60_000 + 1000 * round
  for (const [i, p] of live.entries()) {
    const rand = seededRandom(1_000_000 + LIVE * round + i)
    let { manifest, manifestBytes, cid } = current[i]!
    if (rand() < 0.3) {
      manifest = { ...manifest, issuedAt: new Date(issued).toISOString(), prev: cid, status: manifest.status === 'available' ? 'busy' : 'available' }
      manifestBytes = encodeManifest(manifest)
      cid = manifestCid(manifestBytes)
      current[i] = { manifest, manifestBytes, cid }
    }
    const { bytes, signed } = await signRecord(p.key, cid, 2n + BigInt(round), issued)
    updates.push({ announcement: encodeAnnouncement({ record: bytes, manifest: manifestBytes }), signed, name: p.name })
  }
}
// the records this process verified, as the indexer keeps them, by their bytes
const verifiedRecords = new Map<string, VerifiedRecord>()
const recordId = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
for (const p of live) verifiedRecords.set(recordId(p.record.bytes), p.record)
const cachedReader: RecordReader = async (name, bytes, options) => {
  const hit = verifiedRecords.get(recordId(bytes))
  if (hit !== undefined && hit.name === name) return hit
  return verifyRecord(name, bytes, { allowExpired: true, ...options })
}
console.log(`prepared ${fmt(LIVE)} signed providers and their ${fmt(updates.length)} updates in ${fmt((performance.now() - prepStart) / 1000, 1)} s (sample check: direct build = fold: ${sampleOk})`)

const recordBytes = live[0]!.record.bytes.length

interface Meta { version: string, providers: number, live: number, seed: string, snapshot: string, attrKeys: number, buildSeconds: number }

/** The n-provider index: loaded from `.bench/` when a run built it before, else built and saved there. */
async function index (n: number): Promise<{ store: PackStore, base: Built, cached: boolean }> {
  const dir = join(CACHE_DIR, `${VERSION}-${SEED}-${n}-${LIVE}`)
  try {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Meta
    const loaded = await PackStore.load(dir)
    if (loaded !== undefined && meta.version === VERSION) {
      const cid = CID.parse(meta.snapshot)
      return { store: loaded, base: { snapshot: decodeSnapshot(await loaded.get(cid)), cid, attrKeys: meta.attrKeys, seconds: meta.buildSeconds }, cached: true }
    }
  } catch { /* not built yet */ }
  const built = new PackStore()
  for (const p of live) await built.put(p.cid, p.manifestBytes)
  const base = await buildIndex(built, n, (i) => i < LIVE ? { ...live[i]!, validity: live[i]!.record.validity.getTime() } : filler(i, recordBytes))
  await built.save(dir)
  const meta: Meta = { version: VERSION, providers: n, live: LIVE, seed: SEED, snapshot: base.cid.toString(), attrKeys: base.attrKeys, buildSeconds: base.seconds }
  await writeFile(join(dir, 'meta.json'), JSON.stringify(meta, null, 2))
  // measured from the saved segments, as on later runs: a fresh build holds its blocks in a map, one object each
  const saved = await PackStore.load(dir)
  if (saved === undefined) throw new Error(`no blocks saved in ${dir}`)
  return { store: saved, base, cached: false }
}

const workerNice = values['worker-nice'] === undefined ? DEFAULT_VERIFY_WORKER_NICE : Number(values['worker-nice'])
const pool = announcementVerifier({ ...(values.workers === undefined ? {} : { workers: Number(values.workers) }), workerNice })
const results: Array<Record<string, unknown>> = []
try {
  for (const n of SIZES) {
    const { store, base, cached: fromCache } = await index(n)
    const rssBuilt = process.memoryUsage.rss()
    console.log(`\n${fmt(n)} providers: ${fromCache ? `loaded from .bench/ (built in ${fmt(base.seconds, 0)} s by an earlier run)` : `built in ${fmt(base.seconds, 1)} s, saved to .bench/`}; ${fmt(base.attrKeys)} attribute keys, ${fmt(store.size)} blocks, ${mib(store.bytes)} MiB; RSS ${mib(rssBuilt)} MiB`)
    const batch = batchFor(n)
    // the first rounds: updates are in round order
    const stream = updates.slice(0, LIVE * roundsFor(n))
    const batches = Array.from({ length: Math.ceil(stream.length / batch) }, (_, b) => stream.slice(b * batch, (b + 1) * batch))
    const before = ceiling(stream.map((u) => u.signed))
    // verified outside the timed section: what the fold alone sustains
    const preverified: VerifiedAnnouncement[][] = []
    for (const updatesOfFold of batches) {
      const out: VerifiedAnnouncement[] = []
      for (const u of updatesOfFold) out.push(await verifyAnnouncement(u.announcement, { now: NOW }))
      preverified.push(out)
    }
    // one untimed pass first: JIT warm-up and the first touch of the loaded index pages
    await run(store, base, batches, { readRecord: cachedReader, preverified })
    const measureWorkers = async (): Promise<RunResult> => {
      // the workers' JIT and key caches warm up untimed too, as the main thread's did above
      await pool.verifyMany(stream.map((u) => u.announcement), { now: NOW })
      return median(async () => run(store, base, batches, { pool, readRecord: cachedReader }), (r) => r.updatesPerSecond)
    }
    const measureSingle = async (): Promise<{ result: RunResult, pinned: boolean }> =>
      onOneCore(async () => median(async () => run(store, base, batches, { readRecord: cachedReader }), (r) => r.updatesPerSecond))
    if (values.only === 'workers') {
      const workers = await measureWorkers()
      console.log(`  verify in ${pool.workers} workers + fold  ${fmt(workers.updatesPerSecond)} updates/s wall-clock, ${fmt(workers.cpuUpdatesPerSecond)} per CPU-second (${workers.folds} folds)`)
      continue
    }
    if (values.only === 'single') {
      const { result: single } = await measureSingle()
      console.log(`  verify + fold (1 core)  ${fmt(single.updatesPerSecond)} updates/s wall-clock, ${fmt(single.cpuUpdatesPerSecond)} per CPU-second`)
      continue
    }
    const heapProfile = values['heap-profile']
    if (heapProfile !== undefined) {
      // every allocation of one untimed fold-only run, the collected ones included: what the collector has to clear
      const session = new Session()
      session.connect()
      await session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
      await run(store, base, batches, { readRecord: cachedReader, preverified })
      const { profile } = await session.post('HeapProfiler.stopSampling')
      session.disconnect()
      await writeFile(heapProfile, JSON.stringify(profile))
      console.log(`  allocation profile of one fold-only run written to ${heapProfile} (open it in Chrome DevTools, Memory tab)`)
    }
    const foldOnly = await median(async () => run(store, base, batches, { readRecord: cachedReader, preverified }), (r) => r.cpuUpdatesPerSecond)
    if (values.only === 'fold') {
      console.log(`  fold of verified updates (1 core)  ${fmt(foldOnly.cpuUpdatesPerSecond)} updates/s per CPU-second, ${fmt(foldOnly.blocksPerFold, 1)} blocks written per fold`)
      continue
    }
    const { result: single, pinned } = await measureSingle()
    const workers = await measureWorkers()
    const windowOnly = await median(async () => run(store, base, batches, { pool, readRecord: cachedReader, windowOnly: true }), (r) => r.updatesPerSecond)
    const after = ceiling(stream.map((u) => u.signed))
    const verifyCeiling = Math.max(before.cpu, after.cpu)
    const rss = process.memoryUsage.rss()
    const pct = (r: RunResult): string => `${fmt((100 * r.cpuUpdatesPerSecond) / verifyCeiling, 0)}% of the ceiling`
    console.log(`  Ed25519 verify ceiling (node:crypto, 1 core, CPU time): ${fmt(verifyCeiling)} verifies/s (before ${fmt(before.cpu)}, after ${fmt(after.cpu)}; wall-clock ${fmt(before.wall)} and ${fmt(after.wall)})`)
    console.log(`  fold of verified updates (1 core)  ${fmt(foldOnly.cpuUpdatesPerSecond).padStart(6)} updates/s per CPU-second = ${pct(foldOnly)} (wall-clock ${fmt(foldOnly.updatesPerSecond)}/s), ${fmt(foldOnly.blocksPerFold, 1)} blocks written per fold`)
    console.log(`  verify + fold (1 core)             ${fmt(single.cpuUpdatesPerSecond).padStart(6)} updates/s per CPU-second = ${pct(single)} (wall-clock ${fmt(single.updatesPerSecond)}/s, ${pinned ? 'every thread pinned to one CPU' : 'not pinned: taskset unavailable, GC helper threads ran on another core'})`)
    console.log(`  verify in ${pool.workers} workers + fold         ${fmt(workers.updatesPerSecond).padStart(6)} updates/s wall-clock = ${fmt(workers.updatesPerSecond / single.updatesPerSecond, 2)}× verify + fold on 1 core (${workers.folds} folds as the indexer schedules them; workers at nice +${workerNice})`)
    console.log(`                                     = ${fmt(workers.updatesPerSecond / single.cpuUpdatesPerSecond, 2)}× its ${fmt(single.cpuUpdatesPerSecond)} updates/s per CPU-second`)
    console.log(`    same, window only (no catch-up)  ${fmt(windowOnly.updatesPerSecond).padStart(6)} updates/s wall-clock = ${fmt(windowOnly.updatesPerSecond / single.updatesPerSecond, 2)}× (${windowOnly.folds} folds: each when its window closes, however many announcements are still in verification)`)
    console.log(`  RSS ${mib(rss)} MiB`)
    results.push({
      providers: n,
      verifyCeiling: Math.round(verifyCeiling),
      foldPerCpuSecond: Math.round(foldOnly.cpuUpdatesPerSecond),
      foldVsCeiling: Math.round((1000 * foldOnly.cpuUpdatesPerSecond) / verifyCeiling) / 1000,
      pipelinePerCpuSecond: Math.round(single.cpuUpdatesPerSecond),
      pipelineVsCeiling: Math.round((1000 * single.cpuUpdatesPerSecond) / verifyCeiling) / 1000,
      pipelineWall: Math.round(single.updatesPerSecond),
      workersWall: Math.round(workers.updatesPerSecond),
      workersVsSingleCore: Math.round((100 * workers.updatesPerSecond) / single.updatesPerSecond) / 100,
      workersVsSingleCoreCpu: Math.round((100 * workers.updatesPerSecond) / single.cpuUpdatesPerSecond) / 100,
      singleCorePinned: pinned,
      workerFolds: workers.folds,
      windowOnlyWall: Math.round(windowOnly.updatesPerSecond),
      windowOnlyVsSingleCore: Math.round((100 * windowOnly.updatesPerSecond) / single.updatesPerSecond) / 100,
      windowOnlyFolds: windowOnly.folds,
      workers: pool.workers,
      workerNice,
      blocksPerFold: Math.round(foldOnly.blocksPerFold * 10) / 10,
      batch,
      updates: stream.length,
      buildSeconds: Math.round(base.seconds),
      rssMiB: mib(rss)
    })
  }
} finally {
  await pool.close()
}
console.log('\ntargets: fold of verified updates on 1 core ≥ 60% of the verify ceiling; verify in workers + fold ≥ 1.5× verify + fold on 1 core')
console.log(`BENCH fold ${JSON.stringify({ sizes: results, loadavg: Math.round(loadavg()[0]! * 10) / 10 })}`)
