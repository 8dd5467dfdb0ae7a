/**
 * `pnpm bench:query`: the query engine on a 1,000,000-provider snapshot, side by side in one run with a naive
 * baseline that decodes every manifest and filters. Prints a table, the targets, and a last line `BENCH query {json}`.
 *
 * The snapshot is real down to the signatures: every provider has its own Ed25519 key (derived from a seed, so runs
 * agree), a schema-valid manifest and a signed V1+V2 IPNS record, folded into entries and attributes as `fold` does
 * (checked on a sample against `fold` itself, every run). What is synthetic is the hardware mix: a fixed,
 * hand-weighted distribution of GPU models, regions, statuses and prices. The trees are built directly with prolly
 * `build` from sorted entries (a 1M-provider genesis fold would take far longer); the first run signs 1M records in
 * worker threads (minutes) and caches the blocks under `.bench/` keyed by a version string and the sample's fold
 * roots, so later runs load them in seconds. Queries read an in-memory block store loaded from that cache.
 *
 * Usage: `pnpm bench:query [--providers N] [--rounds R] [--pin-providers N] [--car-rounds R] [--no-pin] [--skip query,car,pin]
 * [--build-only]`: `--no-pin` leaves out the pin and CAR figures, `--skip` any of the three parts (while iterating on one).
 */

import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { decodeManifest, encodeManifest, getGpuModel, manifestCid } from '@capdex/manifest'
import { bitswapBlockSource, createCapdexNode, DEFAULT_PIN_CONCURRENCY, exportCar, importCar, initRepo, localBlockSource, openRepo, pinStore, snapshotDag } from '@capdex/node'
import { prolly } from '@capdex/prolly'
import {
  attrKey, attrPrefix, attrsForManifest, createRecord, decodeEntry, encodeEntry, encodeString, entrySeen,
  entryUptime, fieldValues, fold, leaseEnd, leaseMarks, matchQuery, mergeLease, nameFromBytes, nameFromPublicKey,
  nameToBytes, openSnapshot, parseQuery, query, snapshotTree, verifyRecord, writeSnapshot
} from '@capdex/registry'
import { CarBlockIterator } from '@ipld/car/iterator'
import { CarWriter } from '@ipld/car/writer'
import { BaseBlockstore } from 'blockstore-core'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { PackStore } from '../lib/pack-store.js'
import { seededRandom, simulatedKey } from '../lib/simulated-providers.js'
import type { GpuClaim, Manifest, ProviderStatus } from '@capdex/manifest'
import type { BlockStore } from '@capdex/prolly'
import type { AttrName, AttrValue, Query, QueryRun } from '@capdex/registry'

const VERSION = 'query-bench-v2'
const NOW = Date.parse('2025-06-01T12:00:00Z')
const LIFETIME_MS = 3_600_000
const SAMPLE = 200
const NAIVE_CHUNKS = 16
const ROOT = join(import.meta.dirname, '..', '..')
const CACHE_DIR = join(ROOT, '.bench')

const SELECTIVE = 'gpu=GB300 region=eu-west status=available'
const FULL_SCAN = 'region~*west* gpu~*mi3* gpus>=8 status!=offline'
const BROAD_LIMITED = { expr: 'region~*west* gpu!=H100 status!=offline', limit: 100 }

// ---------------------------------------------------------------------------------------------------------------
// The synthetic hardware mix (weights are shares of providers, roughly a public GPU cloud's long tail)

const MODELS: Array<[string, number]> = [
  ['RTX4090', 14], ['H100', 12], ['A100-80GB', 8], ['RTX3090', 7], ['L40S', 6], ['A10G', 5], ['T4', 5], ['L4', 4],
  ['A100-40GB', 4], ['RTX4080', 3], ['RTXA6000', 3], ['V100-32GB', 3], ['H200', 3], ['RTX5090', 2.5], ['A40', 2],
  ['MI300X', 2], ['RTX3080-10GB', 2], ['L40', 1.5], ['H100-NVL', 1.5], ['A10', 1.5], ['B200', 1], ['RTX6000-Ada', 1],
  ['MI250X', 0.8], ['Gaudi2', 0.7], ['H800', 0.6], ['GH200-96GB', 0.5], ['MI325X', 0.3], ['Gaudi3', 0.2],
  ['B300', 0.1], ['GB300', 0.03], ['MI355X', 0.03]
]
/** USD per GPU-hour before the per-provider spread */
const BASE_PRICE: Record<string, number> = {
  RTX4090: 0.45, H100: 2.4, 'A100-80GB': 1.5, RTX3090: 0.25, L40S: 0.9, A10G: 0.6, T4: 0.2, L4: 0.4, 'A100-40GB': 1.1,
  RTX4080: 0.35, RTXA6000: 0.6, 'V100-32GB': 0.5, H200: 3.2, RTX5090: 0.7, A40: 0.5, MI300X: 2.2, 'RTX3080-10GB': 0.18,
  L40: 0.8, 'H100-NVL': 2.6, A10: 0.5, B200: 4.5, 'RTX6000-Ada': 0.9, MI250X: 1.2, Gaudi2: 1.0, H800: 2.0,
  'GH200-96GB': 3.0, MI325X: 2.8, Gaudi3: 1.8, B300: 6.0, GB300: 7.5, MI355X: 3.5
}
/** region slug ('' = none given) and weight; `COUNTRIES` holds each region's countries */
const REGIONS: Array<[string, number]> = [
  ['us-east', 18], ['us-west', 10], ['us-central', 7], ['ca-central', 3], ['eu-west', 12], ['eu-central', 11],
  ['eu-north', 4], ['eu-south', 3], ['ap-south', 6], ['ap-northeast', 8], ['ap-southeast', 6], ['sa-east', 4],
  ['me-central', 2], ['af-south', 1], ['', 5]
]
const COUNTRIES: Record<string, string[]> = {
  'us-east': ['US'], 'us-west': ['US'], 'us-central': ['US'], 'ca-central': ['CA'], 'eu-west': ['IE', 'FR', 'GB'],
  'eu-central': ['DE', 'CH'], 'eu-north': ['SE', 'FI'], 'eu-south': ['IT', 'ES'], 'ap-south': ['IN'],
  'ap-northeast': ['JP', 'KR'], 'ap-southeast': ['SG', 'AU'], 'sa-east': ['BR'], 'me-central': ['AE'],
  'af-south': ['ZA'], '': ['NL', 'PL', 'US']
}
const STATUSES: Array<[ProviderStatus, number]> = [['available', 62], ['busy', 24], ['draining', 4], ['offline', 10]]
const COUNTS: Array<[number, number]> = [[1, 30], [2, 20], [4, 20], [8, 28], [16, 2]]
const CORES = [8, 16, 32, 48, 64, 96, 128, 192]
const MEM_GIB = [32, 64, 128, 256, 512, 1024, 2048]
const UPLINKS = [1000, 10000, 25000, 100000, 200000]
/** attestation blocks (DAG-JSON CIDs of two made-up attesters) */
const ATTESTERS = ['attester-a', 'attester-b'].map((name) => CID.createV1(0x0129, Digest.create(0x12, createHash('sha256').update(name).digest())))

function weighted<T> (rand: () => number, table: ReadonlyArray<readonly [T, number]>): T {
  const total = table.reduce((sum, row) => sum + row[1], 0)
  let x = rand() * total
  for (const [value, weight] of table) {
    x -= weight
    if (x < 0) return value
  }
  return table[table.length - 1]![0]
}

function gpuClaim (model: string, count: number): GpuClaim {
  const table = getGpuModel(model)
  if (table === undefined) throw new Error(`bench GPU ${model} is not in the table`)
  return { vendor: table.vendor, model: table.model, name: model, vramMiB: table.vramMiB, formFactor: table.formFactor, count, available: count, interconnect: table.interconnect }
}

interface Synthetic {
  manifest: Manifest
  /** the record's `now`: its validity is `now + LIFETIME_MS` */
  recordNow: number
}

/** Provider i's manifest and lease; the same on every run and in every worker. */
function synthetic (i: number, name: string): Synthetic {
  const rand = seededRandom(i * 2654435761 + 17)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
  const gpus: GpuClaim[] = []
  if (rand() >= 0.04) {
    const first = weighted(rand, MODELS)
    gpus.push(gpuClaim(first, weighted(rand, COUNTS)))
    if (rand() < 0.08) {
      const second = weighted(rand, MODELS)
      if (second !== first) gpus.push(gpuClaim(second, weighted(rand, COUNTS)))
    }
  }
  const region = weighted(rand, REGIONS)
  const countries = COUNTRIES[region] ?? ['US']
  const gpuTotal = gpus.reduce((n, g) => n + g.count, 0)
  const pricing: Manifest['pricing'] = []
  if (rand() >= 0.03) {
    const base = gpus.length === 0 ? 0.08 : BASE_PRICE[gpus[0]!.model] ?? 1
    const perGpu = base * (0.6 + rand())
    const instance = rand() < 0.25 && gpuTotal > 0
    pricing.push({ unit: instance || gpuTotal === 0 ? 'instance-hour' : 'gpu-hour', amount: (instance ? perGpu * gpuTotal : perGpu).toFixed(2), currency: rand() < 0.92 ? 'USD' : 'EUR' })
  }
  const expired = rand() < 0.03
  const recordNow = expired ? NOW - 2 * LIFETIME_MS - Math.floor(rand() * 10 * LIFETIME_MS) : NOW - Math.floor(rand() * 50 * 60_000)
  const cores = pick(CORES)
  const memGiB = pick(MEM_GIB)
  const uplink = pick(UPLINKS)
  const manifest: Manifest = {
    schema: 'capdex.manifest.v1',
    provider: name,
    issuedAt: new Date(recordNow).toISOString(),
    prev: null,
    gpus,
    cpu: { vendor: 'amd', model: 'EPYC', cores, threads: cores * 2, arch: 'x86_64' },
    memory: { totalMiB: memGiB * 1024, availableMiB: memGiB * 512 },
    storage: [{ kind: 'nvme', totalGiB: 2000, freeGiB: 1000 }],
    network: { uplinkMbps: uplink, downlinkMbps: uplink },
    location: { country: pick(countries), region },
    pricing,
    status: weighted(rand, STATUSES),
    endpoints: [`/dns4/p${i}.example.net/tcp/4001`],
    attestations: rand() < 0.06 ? [pick(ATTESTERS)] : []
  }
  return { manifest, recordNow }
}

/** Everything the trees need of one provider, signed. */
interface Built {
  providerKey: Uint8Array
  entry: Uint8Array
  manifestBytes: Uint8Array
  manifestCid: Uint8Array
  validity: number
  uptime: number | undefined
  record: Uint8Array
}

async function buildProvider (i: number): Promise<Built> {
  const key = simulatedKey(VERSION, i)
  const name = nameFromPublicKey(key.publicKey)
  const { manifest, recordNow } = synthetic(i, name)
  const manifestBytes = encodeManifest(manifest)
  const cid = manifestCid(manifestBytes)
  const record = await createRecord(key, cid, 1n, { lifetimeMs: LIFETIME_MS, now: recordNow })
  const validity = recordNow + LIFETIME_MS
  const seen = entrySeen(manifest)
  const marks = leaseMarks(validity, seen)
  const lease = mergeLease(undefined, leaseEnd(validity), marks === undefined ? [] : [marks])
  const entry = encodeEntry({ record, manifest: cid, seen, lease })
  return { providerKey: nameToBytes(name), entry, manifestBytes, manifestCid: cid.bytes, validity, uptime: entryUptime({ lease }), record }
}

// ---------------------------------------------------------------------------------------------------------------
// Workers: sign providers [start, end) and send them back packed

interface Packed {
  start: number
  keys: Uint8Array
  entries: Uint8Array
  entryEnds: Uint32Array
  manifests: Uint8Array
  manifestEnds: Uint32Array
  cids: Uint8Array
  cidEnds: Uint32Array
  validity: Float64Array
  uptime: Float64Array
}

function pack (start: number, built: Built[]): Packed {
  const concat = (parts: Uint8Array[]): { bytes: Uint8Array, ends: Uint32Array } => {
    const ends = new Uint32Array(parts.length)
    let length = 0
    parts.forEach((p, i) => { length += p.length; ends[i] = length })
    const bytes = new Uint8Array(length)
    let offset = 0
    for (const p of parts) { bytes.set(p, offset); offset += p.length }
    return { bytes, ends }
  }
  const entries = concat(built.map((b) => b.entry))
  const manifests = concat(built.map((b) => b.manifestBytes))
  const cids = concat(built.map((b) => b.manifestCid))
  return {
    start,
    keys: concat(built.map((b) => b.providerKey)).bytes,
    entries: entries.bytes,
    entryEnds: entries.ends,
    manifests: manifests.bytes,
    manifestEnds: manifests.ends,
    cids: cids.bytes,
    cidEnds: cids.ends,
    validity: Float64Array.from(built.map((b) => b.validity)),
    uptime: Float64Array.from(built.map((b) => b.uptime ?? Number.NaN))
  }
}

if (!isMainThread) {
  const { start, end, step } = workerData as { start: number, end: number, step: number }
  for (let from = start; from < end; from += step) {
    const built: Built[] = []
    for (let i = from; i < Math.min(end, from + step); i++) built.push(await buildProvider(i))
    const packed = pack(from, built)
    parentPort?.postMessage(packed, [packed.keys.buffer, packed.entries.buffer, packed.manifests.buffer, packed.cids.buffer] as ArrayBuffer[])
  }
  parentPort?.close()
}

// ---------------------------------------------------------------------------------------------------------------
// Building the snapshot: providers and attrs trees straight from sorted entries

const EMPTY = new Uint8Array(0)
const RANK_BITS = 2 ** 21

interface Trees {
  providers: CID
  attrs: CID
  history: CID
  attrKeys: number
}

/**
 * Builds both trees for providers `built` (any order): entries sorted by key; attribute keys per attribute family
 * sorted by (encoded value, provider key) through integer ranks, so no 12M-key comparison sort is needed.
 */
async function buildTrees (store: BlockStore, count: number, at: (i: number) => { key: Uint8Array, entry: Uint8Array, manifest: Manifest | (() => Manifest), validity: number, uptime: number | undefined }): Promise<Trees> {
  if (count >= RANK_BITS) throw new Error('too many providers for the rank packing')
  const tree = prolly({ blocks: store })
  const keys = Array.from({ length: count }, (_, i) => at(i).key)
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => Buffer.compare(keys[a]!, keys[b]!))
  const rank = new Uint32Array(count)
  order.forEach((i, r) => { rank[i] = r })
  const providers = await snapshotTree(tree, 'providers').build((function * () {
    for (const i of order) yield { key: keys[i]!, value: at(i).entry }
  })())

  // per family: the distinct values, then (value ordinal, provider rank) packed in one float64 each
  const families = new Map<AttrName, { values: Map<AttrValue, number>, packed: number[] }>()
  for (let i = 0; i < count; i++) {
    const p = at(i)
    const manifest = typeof p.manifest === 'function' ? p.manifest() : p.manifest
    const pairs = attrsForManifest(manifest, { validity: new Date(p.validity), uptime: p.uptime })
    for (const { attr, value } of pairs) {
      let family = families.get(attr)
      if (family === undefined) families.set(attr, family = { values: new Map(), packed: [] })
      const v = typeof value === 'string' ? value.normalize('NFC').toLowerCase() : value === 0 ? 0 : value
      if (!family.values.has(v)) family.values.set(v, family.values.size)
      family.packed.push(family.values.get(v)! * RANK_BITS + rank[i]!)
    }
  }
  let attrKeys = 0
  const familyOrder = [...families.keys()].sort((a, b) => Buffer.compare(attrPrefix(a), attrPrefix(b)))
  const sortedKeys = order.map((i) => keys[i]!)
  const attrs = await tree.build((function * () {
    for (const attr of familyOrder) {
      const { values, packed } = families.get(attr)!
      const distinct = [...values.keys()]
      const sortedValues = [...distinct].sort((a, b) => typeof a === 'number' && typeof b === 'number' ? a - b : Buffer.compare(encodeString(String(a)), encodeString(String(b))))
      const ordinalRank = new Uint32Array(distinct.length)
      sortedValues.forEach((v, r) => { ordinalRank[values.get(v)!] = r })
      const remapped = Float64Array.from(packed, (x) => ordinalRank[Math.floor(x / RANK_BITS)]! * RANK_BITS + (x % RANK_BITS))
      remapped.sort()
      for (const x of remapped) {
        attrKeys++
        yield { key: attrKey(attr, sortedValues[Math.floor(x / RANK_BITS)]!, sortedKeys[x % RANK_BITS]!), value: EMPTY }
      }
    }
  })())
  return { providers, attrs, history: await tree.empty(), attrKeys }
}

/** Folds the first `SAMPLE` providers with `fold` and builds them directly: the roots must agree. */
async function sampleCheck (): Promise<{ equal: boolean, fold: string }> {
  const built = await Promise.all(Array.from({ length: SAMPLE }, async (_, i) => buildProvider(i)))
  const foldStore = new PackStore()
  const updates = await Promise.all(built.map(async (b) => {
    const manifest = decodeManifest(b.manifestBytes)
    return {
      record: await verifyRecord(manifest.provider, b.record, { now: NOW, allowExpired: true }),
      manifest,
      manifestCid: CID.decode(b.manifestCid),
      manifestBytes: b.manifestBytes,
      seen: NOW
    }
  }))
  const folded = await fold({ prolly: prolly({ blocks: foldStore }), blocks: foldStore }, null, updates, { now: NOW, network: 'bench', indexer: updates[0]!.record.name })
  const direct = await buildTrees(new PackStore(), SAMPLE, (i) => {
    const b = built[i]!
    return { key: b.providerKey, entry: b.entry, manifest: decodeManifest(b.manifestBytes), validity: b.validity, uptime: b.uptime }
  })
  const equal = direct.providers.equals(folded.snapshot.providers) && direct.attrs.equals(folded.snapshot.attrs)
  return { equal, fold: `${folded.snapshot.providers.toString()}/${folded.snapshot.attrs.toString()}` }
}

interface Meta {
  version: string
  providers: number
  snapshot: string
  blocks: number
  bytes: number
  attrKeys: number
  buildSeconds: number
}

async function buildSnapshot (n: number, dir: string): Promise<{ store: PackStore, meta: Meta }> {
  const start = performance.now()
  const workers = Math.max(1, Math.min(availableParallelism(), 4))
  const step = 2000
  const chunks: Packed[] = []
  let done = 0
  // each worker's share is whole chunks: `slot` finds a provider's chunk by index / step
  const per = Math.ceil(n / workers / step) * step
  await Promise.all(Array.from({ length: Math.ceil(n / per) }, async (_, w) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { start: w * per, end: Math.min(n, (w + 1) * per), step } })
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (packed: Packed) => {
        chunks.push(packed)
        done += packed.validity.length
        if (done % 50_000 < step) process.stderr.write(`\r  signing providers: ${done}/${n}`)
      })
      worker.on('error', reject)
      worker.on('exit', () => { resolve() })
    })
  }))
  process.stderr.write(`\n  signed in ${fmt((performance.now() - start) / 1000, 0)} s\n`)
  chunks.sort((a, b) => a.start - b.start)
  const store = new PackStore()
  const slot = (i: number): { chunk: Packed, j: number } => {
    const chunk = chunks[Math.floor(i / step)]!
    return { chunk, j: i - chunk.start }
  }
  const slice = (bytes: Uint8Array, ends: Uint32Array, j: number): Uint8Array => bytes.subarray(j === 0 ? 0 : ends[j - 1], ends[j])
  for (let i = 0; i < n; i++) {
    const { chunk, j } = slot(i)
    await store.put(CID.decode(slice(chunk.cids, chunk.cidEnds, j)), slice(chunk.manifests, chunk.manifestEnds, j))
  }
  process.stderr.write('  building trees…\n')
  const trees = await buildTrees(store, n, (i) => {
    const { chunk, j } = slot(i)
    const uptime = chunk.uptime[j]!
    return {
      key: chunk.keys.subarray(j * 38, j * 38 + 38),
      entry: slice(chunk.entries, chunk.entryEnds, j),
      manifest: () => synthetic(i, nameFromBytes(chunk.keys.subarray(j * 38, j * 38 + 38))).manifest,
      validity: chunk.validity[j]!,
      uptime: Number.isNaN(uptime) ? undefined : uptime
    }
  })
  process.stderr.write(`  trees built at ${fmt((performance.now() - start) / 1000, 0)} s\n`)
  const first = nameFromBytes(chunks[0]!.keys.subarray(0, 38))
  const { cid } = await writeSnapshot({ v: 1, network: 'bench', height: 0, time: NOW, prev: null, providers: trees.providers, attrs: trees.attrs, count: n, indexer: first, history: trees.history }, store)
  const meta: Meta = { version: VERSION, providers: n, snapshot: cid.toString(), blocks: store.size, bytes: store.bytes, attrKeys: trees.attrKeys, buildSeconds: (performance.now() - start) / 1000 }
  await store.save(dir)
  await writeFile(join(dir, 'meta.json'), JSON.stringify(meta, null, 2))
  return { store, meta }
}

// ---------------------------------------------------------------------------------------------------------------
// Measurements

/** The naive baseline: every entry decoded, every manifest fetched and decoded, the query filtered on it. */
async function naivePass (store: BlockStore, providersRoot: CID, queries: Query[], gte: Uint8Array | undefined, lt: Uint8Array | undefined, out: string[][]): Promise<number> {
  const tree = prolly({ blocks: store }, { cacheSize: 0 })
  let n = 0
  for await (const { value } of tree.range(providersRoot, { ...(gte === undefined ? {} : { gte }), ...(lt === undefined ? {} : { lt }) })) {
    n++
    const entry = decodeEntry(value)
    const manifest = decodeManifest(await store.get(entry.manifest))
    const fields = fieldValues(manifest.provider, attrsForManifest(manifest, { validity: new Date(0), uptime: entryUptime(entry) }))
    for (let q = 0; q < queries.length; q++) {
      if (!matchQuery(queries[q]!, fields)) continue
      const record = await verifyRecord(manifest.provider, entry.record, { now: NOW, allowExpired: true })
      if (record.validity.getTime() > NOW && record.valueCid?.equals(entry.manifest) === true) out[q]!.push(manifest.provider)
    }
  }
  return n
}

async function timed (run: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await run()
  return performance.now() - start
}

async function drain (run: QueryRun): Promise<string[]> {
  const names: string[] = []
  for await (const r of run) names.push(r.provider)
  return names
}

function percentile (xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN
}

const fmt = (n: number, digits = 1): string => Number.isFinite(n) ? n.toFixed(digits) : '—'

function arg (name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? fallback : Number(process.argv[i + 1])
}

/** The parts named by `--skip` (query, car, pin). */
function skips (): Set<string> {
  const i = process.argv.indexOf('--skip')
  return new Set(i < 0 ? [] : (process.argv[i + 1] ?? '').split(','))
}


interface CarFigures {
  /** blocks in the CAR (the snapshot DAG) */
  blocks: number
  /** size of the snapshot CAR */
  mib: number
  rounds: number
  /** medians over the rounds, ms */
  exportMs: number
  /** CarWriter over the same blocks, each read from the same store by CID (no walk, no hashing) */
  rawWriteMs: number
  /** CarWriter over the blocks already in an array */
  pureWriteMs: number
  importMs: number
  /** CarBlockIterator, each block put into the same kind of store (no hashing, no DAG check) */
  rawIterateMs: number
  /** CarBlockIterator alone */
  pureIterateMs: number
  /** one import into an on-disk repo (blockstore-fs, fsynced), as `capdex snapshot import` does */
  diskImportMs: number
}

interface PinFigures {
  blocks: number
  mib: number
  seconds: number
  concurrency: number
}

interface PinCarFigures {
  providers: number
  car: CarFigures | string
  pin: PinFigures | string
}

type Repo = Awaited<ReturnType<typeof openRepo>>

/**
 * An in-memory blockstore keyed by multihash (a Map with latin1 string keys), standing in for the repo's blockstore in
 * the in-memory CAR figures. blockstore-core's MemoryBlockstore base32-encodes the multihash on every call, which for
 * the 142k blocks of a 100k-provider snapshot costs more than @ipld/car's whole raw iterate: measured through it, the
 * figures were the store's, not export's and import's.
 */
class MapBlockstore extends BaseBlockstore {
  private readonly blocks = new Map<string, Uint8Array>()

  private key (cid: CID): string {
    const bytes = cid.multihash.bytes
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  }

  override has (cid: CID): boolean {
    return this.blocks.has(this.key(cid))
  }

  override put (cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): CID {
    if (!(bytes instanceof Uint8Array)) throw new Error('MapBlockstore takes whole blocks')
    this.blocks.set(this.key(cid), bytes)
    return cid
  }

  override * putMany (source: Iterable<{ cid: CID, bytes: Uint8Array }> | AsyncIterable<{ cid: CID, bytes: Uint8Array }>): Generator<CID> {
    if (!(Symbol.iterator in source)) throw new Error('MapBlockstore takes blocks synchronously')
    for (const { cid, bytes } of source) yield this.put(cid, bytes)
  }

  override * get (cid: CID): Generator<Uint8Array> {
    const bytes = this.blocks.get(this.key(cid))
    if (bytes === undefined) throw Object.assign(new Error(`block ${cid.toString()} not found`), { name: 'NotFoundError' })
    yield bytes
  }

  override delete (cid: CID): void {
    this.blocks.delete(this.key(cid))
  }
}

/**
 * A repo held in memory, for the CAR import figure: a `MapBlockstore` and a map for the few datastore calls the pin
 * store makes (get, put, delete, query by prefix), so the figure is the import itself, not the disk.
 */
function memoryRepo (path: string): Pick<Repo, 'path' | 'blockstore' | 'datastore' | 'syncBlocks'> {
  const entries = new Map<string, Uint8Array>()
  const missing = (key: { toString: () => string }): Error => Object.assign(new Error(`${key.toString()} not found`), { name: 'NotFoundError' })
  const datastore = {
    get: async (key: { toString: () => string }) => entries.get(key.toString()) ?? Promise.reject(missing(key)),
    put: async (key: { toString: () => string }, value: Uint8Array) => { entries.set(key.toString(), value); return Promise.resolve(key) },
    delete: async (key: { toString: () => string }) => { entries.delete(key.toString()); return Promise.resolve() },
    has: async (key: { toString: () => string }) => Promise.resolve(entries.has(key.toString())),
    query: async function * (q: { prefix?: string }) {
      for (const [key, value] of entries) if (q.prefix === undefined || key.startsWith(q.prefix)) yield await Promise.resolve({ key, value })
    }
  }
  return {
    path,
    blockstore: new MapBlockstore(),
    datastore: datastore as unknown as Repo['datastore'],
    syncBlocks: async (cids) => { let n = 0; for await (const _ of cids) n++; return n }
  }
}

async function concatChunks (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return Buffer.concat(parts)
}

/** Runs `measure`, or says why it did not. */
async function attempt<T> (skipped: boolean, measure: () => Promise<T>): Promise<T | string> {
  if (skipped) return 'skipped'
  try {
    return await measure()
  } catch (err) {
    return `failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`
  }
}

/**
 * CAR export and import of the snapshot through the client API against @ipld/car writing (CarWriter) and iterating
 * (CarBlockIterator) the same blocks, in alternating rounds, all in memory. capdex's export reads its blocks from a
 * `MapBlockstore` and its import writes them to one, so the raw baselines do the same (write: each block read from the
 * same store by CID, in the same order; iterate: each block put into a fresh store): the difference is the walk, the
 * hashing and the checks. The pure figures (CarWriter over an array, CarBlockIterator alone) are reported too. Then one
 * import into an on-disk repo, as `capdex snapshot import` does.
 */
async function carFigures (dag: Array<{ cid: CID, bytes: Uint8Array }>, root: CID, dir: string, rounds: number): Promise<CarFigures> {
  const memory = new MapBlockstore()
  for (const { cid, bytes } of dag) memory.put(cid, bytes)
  const exported = async (): Promise<Uint8Array> => concatChunks(exportCar({ blocks: localBlockSource({ blockstore: memory }) }, root))
  const car = await exported()
  const write = async (read: (cid: CID, i: number) => Uint8Array | Promise<Uint8Array>): Promise<void> => {
    const { writer, out } = CarWriter.create([root])
    const bytes = concatChunks(out)
    for (let i = 0; i < dag.length; i++) {
      const { cid } = dag[i]!
      await writer.put({ cid, bytes: await read(cid, i) })
    }
    await writer.close()
    await bytes
  }
  // read as any reader of a blockstore does: its `get` may be sync or async
  const store: Pick<Repo['blockstore'], 'get'> = memory
  const fromStore = async (cid: CID): Promise<Uint8Array> => {
    const parts: Uint8Array[] = []
    for await (const chunk of store.get(cid)) parts.push(chunk)
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  }
  const times: Record<'exports' | 'writes' | 'pureWrites' | 'imports' | 'iterates' | 'pureIterates', number[]> = { exports: [], writes: [], pureWrites: [], imports: [], iterates: [], pureIterates: [] }
  for (let round = 0; round < rounds; round++) {
    times.exports.push(await timed(exported))
    times.writes.push(await timed(async () => write(fromStore)))
    times.pureWrites.push(await timed(async () => write((_, i) => dag[i]!.bytes)))
    times.imports.push(await timed(async () => importCar({ repo: memoryRepo(join(dir, `memory-${round}`)) }, car)))
    times.iterates.push(await timed(async () => {
      const store = new MapBlockstore()
      for await (const block of await CarBlockIterator.fromBytes(car)) store.put(block.cid, block.bytes)
    }))
    times.pureIterates.push(await timed(async () => {
      for await (const block of await CarBlockIterator.fromBytes(car)) if (block.bytes.length < 0) break
    }))
    process.stderr.write(`\r  CAR round ${round + 1}/${rounds}`)
  }
  process.stderr.write('\n')
  await initRepo(join(dir, 'import-disk'), { network: 'bench' })
  const target = await openRepo(join(dir, 'import-disk'))
  let diskImportMs: number
  try {
    diskImportMs = await timed(async () => importCar({ repo: target }, car))
  } finally {
    await target.close()
  }
  return {
    blocks: dag.length,
    mib: car.byteLength / 2 ** 20,
    rounds,
    exportMs: percentile(times.exports, 0.5),
    rawWriteMs: percentile(times.writes, 0.5),
    pureWriteMs: percentile(times.pureWrites, 0.5),
    importMs: percentile(times.imports, 0.5),
    rawIterateMs: percentile(times.iterates, 0.5),
    pureIterateMs: percentile(times.pureIterates, 0.5),
    diskImportMs
  }
}

/** Pinning the snapshot from a peer over loopback: two real nodes, bitswap, both repos on disk. */
async function pinFigures (dag: Array<{ cid: CID, bytes: Uint8Array }>, root: CID, dir: string): Promise<PinFigures> {
  const repos: Repo[] = []
  const repo = async (name: string): Promise<Repo> => {
    await initRepo(join(dir, name), { network: 'bench' })
    const opened = await openRepo(join(dir, name))
    repos.push(opened)
    return opened
  }
  try {
    // the serving peer holds every block; the pinning peer starts empty
    const serving = await repo('serving')
    for (let i = 0; i < dag.length; i += 256) await Promise.all(dag.slice(i, i + 256).map(async ({ cid, bytes }) => serving.blockstore.put(cid, bytes)))
    const pinning = await repo('pinning')
    const servingNode = await createCapdexNode({ repo: serving }, { network: 'bench' })
    const pinningNode = await createCapdexNode({ repo: pinning }, { network: 'bench', bootstrap: servingNode.multiaddrs().map(String) })
    try {
      process.stderr.write(`  pinning ${dag.length} blocks over loopback…\n`)
      const start = performance.now()
      const pin = await pinStore({ repo: pinning }).add(root, { source: bitswapBlockSource({ node: pinningNode }) })
      return { blocks: pin.blocks, mib: pin.bytes / 2 ** 20, seconds: (performance.now() - start) / 1000, concurrency: DEFAULT_PIN_CONCURRENCY }
    } finally {
      await pinningNode.stop()
      await servingNode.stop()
    }
  } finally {
    for (const opened of repos) await opened.close()
  }
}

/** The CAR figures, then the pin figures, for the `providers`-provider snapshot (each unless skipped). */
async function pinAndCarFigures (fold: string, providers: number, skip: ReadonlySet<string>): Promise<PinCarFigures> {
  const { store, meta } = await snapshotStore(providers, fold)
  const root = CID.parse(meta.snapshot)
  const dir = await mkdtemp(join(tmpdir(), 'capdex-bench-query-'))
  try {
    // the snapshot DAG's blocks, in `snapshotDag` order
    const dag: Array<{ cid: CID, bytes: Uint8Array }> = []
    for await (const block of snapshotDag({ blocks: store }, root)) dag.push(block)
    const car = await attempt(skip.has('car'), async () => carFigures(dag, root, dir, arg('car-rounds', 5)))
    const pin = await attempt(skip.has('pin'), async () => pinFigures(dag, root, dir))
    return { providers, car, pin }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Prints the pin and CAR lines and targets; returns their part of the BENCH line. */
function reportPinCar (figures: PinCarFigures | string): { pin: Record<string, number> | null, car: Record<string, number> | null } {
  if (typeof figures === 'string') {
    console.log(`  pin and CAR: not measured (${figures})`)
    return { pin: null, car: null }
  }
  const { car, pin, providers } = figures
  let carJson: Record<string, number> | null = null
  if (typeof car === 'string') {
    console.log(`  CAR: not measured (${car})`)
  } else {
    const rates = (ms: number): { mibs: number, blocks: number } => ({ mibs: car.mib / (ms / 1000), blocks: car.blocks / (ms / 1000) })
    const exp = rates(car.exportMs)
    const write = rates(car.rawWriteMs)
    const pureWrite = rates(car.pureWriteMs)
    const imp = rates(car.importMs)
    const iterate = rates(car.rawIterateMs)
    const pureIterate = rates(car.pureIterateMs)
    const exportRatio = exp.mibs / write.mibs
    const importRatio = imp.mibs / iterate.mibs
    console.log(`  CAR export ≥ 0.5 × @ipld/car write: ${fmt(exp.mibs, 1)} vs ${fmt(write.mibs, 1)} MiB/s = ${fmt(exportRatio, 2)} ${exportRatio >= 0.5 ? 'met' : 'MISSED'} (both read the same store; vs CarWriter over an array: ${fmt(exp.mibs / pureWrite.mibs, 2)})`)
    console.log(`  CAR import ≥ 0.5 × @ipld/car iterate: ${fmt(imp.mibs, 1)} vs ${fmt(iterate.mibs, 1)} MiB/s = ${fmt(importRatio, 2)} ${importRatio >= 0.5 ? 'met' : 'MISSED'} (both write the same store; vs CarBlockIterator alone: ${fmt(imp.mibs / pureIterate.mibs, 2)})`)
    console.log(`\nCAR of the ${providers.toLocaleString('en')}-provider snapshot: ${car.blocks} blocks, ${fmt(car.mib, 1)} MiB; medians of ${car.rounds} alternating rounds, in memory (store: a Map by multihash)`)
    const row = (label: string, ms: number, r: { mibs: number, blocks: number }): string => `  ${label.padEnd(62)}${fmt(ms, 0).padStart(7)} ms${fmt(r.blocks, 0).padStart(9)} blocks/s${fmt(r.mibs, 1).padStart(8)} MiB/s`
    console.log(row('capdex export (walk from the store, hash every block, frame)', car.exportMs, exp))
    console.log(row('@ipld/car CarWriter, same blocks read from the store', car.rawWriteMs, write))
    console.log(row('@ipld/car CarWriter, same blocks from an array', car.pureWriteMs, pureWrite))
    console.log(row('capdex import (hash every block, DAG check, store, pin)', car.importMs, imp))
    console.log(row('@ipld/car CarBlockIterator, each block put into a store', car.rawIterateMs, iterate))
    console.log(row('@ipld/car CarBlockIterator alone', car.pureIterateMs, pureIterate))
    console.log(`  import into an on-disk repo (blockstore-fs, fsynced), once: ${fmt(car.diskImportMs, 0)} ms = ${fmt(car.mib / (car.diskImportMs / 1000), 1)} MiB/s`)
    carJson = {
      blocks: car.blocks,
      mib: Number(car.mib.toFixed(1)),
      export_ms: Number(car.exportMs.toFixed(0)),
      export_blocks_s: Math.round(exp.blocks),
      export_mib_s: Number(exp.mibs.toFixed(1)),
      raw_write_blocks_s: Math.round(write.blocks),
      raw_write_mib_s: Number(write.mibs.toFixed(1)),
      export_ratio: Number(exportRatio.toFixed(2)),
      pure_write_mib_s: Number(pureWrite.mibs.toFixed(1)),
      export_ratio_pure: Number((exp.mibs / pureWrite.mibs).toFixed(2)),
      import_ms: Number(car.importMs.toFixed(0)),
      import_blocks_s: Math.round(imp.blocks),
      import_mib_s: Number(imp.mibs.toFixed(1)),
      raw_iterate_blocks_s: Math.round(iterate.blocks),
      raw_iterate_mib_s: Number(iterate.mibs.toFixed(1)),
      import_ratio: Number(importRatio.toFixed(2)),
      pure_iterate_mib_s: Number(pureIterate.mibs.toFixed(1)),
      import_ratio_pure: Number((imp.mibs / pureIterate.mibs).toFixed(2)),
      disk_import_mib_s: Number((car.mib / (car.diskImportMs / 1000)).toFixed(2))
    }
  }
  let pinJson: Record<string, number> | null = null
  if (typeof pin === 'string') {
    console.log(`pin: not measured (${pin})`)
  } else {
    console.log(`\npin over loopback (${providers.toLocaleString('en')} providers, two nodes, bitswap, on-disk repos, ${pin.concurrency} blocks in flight): ${pin.blocks} blocks, ${fmt(pin.mib, 1)} MiB in ${fmt(pin.seconds, 1)} s = ${fmt(pin.blocks / pin.seconds, 0)} blocks/s, ${fmt(pin.mib / pin.seconds, 2)} MiB/s`)
    pinJson = { providers, blocks: pin.blocks, mib: Number(pin.mib.toFixed(1)), seconds: Number(pin.seconds.toFixed(2)), blocks_per_s: Math.round(pin.blocks / pin.seconds), mib_per_s: Number((pin.mib / pin.seconds).toFixed(2)), concurrency: pin.concurrency }
  }
  return { pin: pinJson, car: carJson }
}

/** The n-provider snapshot: loaded from `.bench/` when a run of this version built it already, else built and saved. */
async function snapshotStore (n: number, fold: string): Promise<{ store: PackStore, meta: Meta, loadSeconds: number }> {
  const dir = join(CACHE_DIR, `${VERSION}-${n}-${createHash('sha256').update(fold).digest('hex').slice(0, 12)}`)
  try {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Meta
    const start = performance.now()
    const store = await PackStore.load(dir)
    if (store === undefined) throw new Error(`no blocks in ${dir}`)
    return { store, meta, loadSeconds: (performance.now() - start) / 1000 }
  } catch {
    process.stderr.write(`building the ${n}-provider snapshot (first run for this version; cached in ${dir.slice(ROOT.length + 1)})…\n`)
    return { ...await buildSnapshot(n, dir), loadSeconds: Number.NaN }
  }
}

async function main (): Promise<void> {
  const n = arg('providers', 1_000_000)
  const rounds = arg('rounds', NAIVE_CHUNKS)
  console.log(`capdex bench:query — ${n.toLocaleString('en')} providers, one process, measured side by side\n`)

  const sample = await sampleCheck()
  if (skips().has('query')) {
    // only the pin and CAR parts (`--skip query`), for iterating on them
    const pinCar = reportPinCar(await attempt(false, async () => pinAndCarFigures(sample.fold, arg('pin-providers', 100_000), skips())))
    console.log(`\nBENCH query ${JSON.stringify({ fold_equivalent: sample.equal, ...pinCar })}`)
    return
  }
  const { store, meta, loadSeconds } = await snapshotStore(n, sample.fold)
  if (process.argv.includes('--build-only')) return
  const snapshotCid = CID.parse(meta.snapshot)
  console.log(`snapshot ${meta.snapshot}: ${meta.providers.toLocaleString('en')} providers, ${meta.attrKeys.toLocaleString('en')} attrs keys, ${meta.blocks.toLocaleString('en')} blocks, ${fmt(meta.bytes / 2 ** 20, 0)} MiB`)
  console.log(`  real: Ed25519 keys, signed V1+V2 IPNS records, schema-valid manifests, entries and attrs as fold writes them`)
  console.log(`  synthetic: the hardware mix (hand-weighted models, regions, statuses, prices); 3% of leases expired`)
  console.log(`  fold check: a ${SAMPLE}-provider sample built directly has fold's roots: ${sample.equal ? 'yes' : 'NO (the numbers below are for the direct build)'}`)
  console.log(`  store: in-memory block store (a Map), ${Number.isNaN(loadSeconds) ? `built in ${fmt(meta.buildSeconds, 0)} s` : `loaded in ${fmt(loadSeconds, 1)} s from .bench/ (built once in ${fmt(meta.buildSeconds, 0)} s)`}\n`)

  const queries = [SELECTIVE, FULL_SCAN].map(parseQuery)
  const options = { now: NOW }

  // cold: a fresh store object, so a fresh engine with empty node, record and manifest caches
  const coldStore: BlockStore = { get: store.get.bind(store), put: store.put.bind(store) }
  const cold = await openSnapshot(snapshotCid, coldStore)
  let selectiveNames: string[] = []
  const selectiveCold = await timed(async () => { selectiveNames = await drain(query(cold, SELECTIVE, options)) })
  let fullNames: string[] = []
  const fullCold = await timed(async () => { fullNames = await drain(query(cold, FULL_SCAN, options)) })

  // warm, in alternating rounds: selective queries, a full-scan query, the broad limited query, a naive chunk
  const snapshot = await openSnapshot(snapshotCid, store)
  await drain(query(snapshot, SELECTIVE, options))
  await drain(query(snapshot, FULL_SCAN, options))
  const selective: number[] = []
  const full: number[] = []
  const broad: number[] = []
  let naiveMs = 0
  let naiveEntries = 0
  const naiveNames: string[][] = [[], []]
  const prefix = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20)
  const bound = (r: number): Uint8Array | undefined => r <= 0 || r >= rounds ? undefined : Uint8Array.from([...prefix, Math.floor(r * 256 / rounds)])
  let selectiveRun: QueryRun | undefined
  let fullRun: QueryRun | undefined
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < 10; i++) selective.push(await timed(async () => drain(selectiveRun = query(snapshot, SELECTIVE, options))))
    full.push(await timed(async () => drain(fullRun = query(snapshot, FULL_SCAN, options))))
    broad.push(await timed(async () => drain(query(snapshot, BROAD_LIMITED.expr, { ...options, limit: BROAD_LIMITED.limit }))))
    const start = performance.now()
    naiveEntries += await naivePass(store, (await openSnapshot(snapshotCid, store)).providers, queries, bound(r), bound(r + 1), naiveNames)
    naiveMs += performance.now() - start
    process.stderr.write(`\r  round ${r + 1}/${rounds}`)
  }
  process.stderr.write('\n')

  const sameSelective = JSON.stringify([...selectiveNames].sort()) === JSON.stringify([...naiveNames[0]!].sort())
  const sameFull = JSON.stringify([...fullNames].sort()) === JSON.stringify([...naiveNames[1]!].sort())
  const p50 = percentile(selective, 0.5)
  const p95 = percentile(selective, 0.95)
  const fullMs = percentile(full, 0.5)
  const ratio = naiveMs / p50
  const row = (label: string, expr: string, results: number, a: string, b: string, c: string): string =>
    `${label.padEnd(12)}${expr.padEnd(52)}${String(results).padStart(8)}${a.padStart(10)}${b.padStart(10)}${c.padStart(10)}`
  console.log(`${'query'.padEnd(12)}${'expression'.padEnd(52)}${'results'.padStart(8)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}${'cold ms'.padStart(10)}`)
  console.log(row('selective', SELECTIVE, selectiveNames.length, fmt(p50, 2), fmt(p95, 2), fmt(selectiveCold, 1)))
  console.log(row('full scan', FULL_SCAN, fullNames.length, fmt(fullMs, 0), fmt(percentile(full, 0.95), 0), fmt(fullCold, 0)))
  console.log(row('broad+limit', `${BROAD_LIMITED.expr} limit ${BROAD_LIMITED.limit}`, BROAD_LIMITED.limit, fmt(percentile(broad, 0.5), 1), fmt(percentile(broad, 0.95), 1), '—'))
  console.log(row('naive', 'decode every entry + manifest, filter', naiveEntries, fmt(naiveMs, 0), '', ''))
  console.log(`\n  samples: ${selective.length} selective, ${full.length} full-scan runs over ${rounds} rounds, alternating with the naive baseline, which covered all ${naiveEntries.toLocaleString('en')} entries once (in ${rounds} key-range chunks, one per round)`)
  console.log(`  plans: selective filters ${selectiveRun?.summary.filtersApplied.join(', ') ?? '?'}; ${selectiveRun?.summary.keysScanned} keys scanned, ${selectiveRun?.summary.probes} probed, ${selectiveRun?.summary.scanned} entries read`)
  console.log(`         full scan filters ${fullRun?.summary.filtersApplied.join(', ') ?? '?'}; ${fullRun?.summary.keysScanned} keys scanned, ${fullRun?.summary.probes} probed, ${fullRun?.summary.scanned} entries read`)
  console.log(`  results identical to the naive baseline: selective ${sameSelective ? 'yes' : 'NO'} (${naiveNames[0]!.length}), full scan ${sameFull ? 'yes' : 'NO'} (${naiveNames[1]!.length})`)
  console.log('\ntargets')
  console.log(`  selective p50 ≤ 5 ms: ${fmt(p50, 2)} ms ${p50 <= 5 ? 'met' : 'MISSED'}`)
  console.log(`  full scan ≤ 2000 ms: ${fmt(fullMs, 0)} ms ${fullMs <= 2000 ? 'met' : 'MISSED'}`)
  console.log(`  selective ≥ 50× naive: ${fmt(ratio, 0)}× ${ratio >= 50 ? 'met' : 'MISSED'}`)
  const pinCar = reportPinCar(await attempt(process.argv.includes('--no-pin'), async () => pinAndCarFigures(sample.fold, arg('pin-providers', 100_000), skips())))
  console.log(`\nBENCH query ${JSON.stringify({
    providers: meta.providers,
    selective_p50_ms: Number(p50.toFixed(3)),
    selective_p95_ms: Number(p95.toFixed(3)),
    selective_cold_ms: Number(selectiveCold.toFixed(2)),
    selective_results: selectiveNames.length,
    full_scan_ms: Number(fullMs.toFixed(1)),
    full_scan_cold_ms: Number(fullCold.toFixed(1)),
    full_scan_results: fullNames.length,
    broad_limit_ms: Number(percentile(broad, 0.5).toFixed(2)),
    naive_ms: Number(naiveMs.toFixed(0)),
    selective_vs_naive: Number(ratio.toFixed(0)),
    results_match_naive: sameSelective && sameFull,
    fold_equivalent: sample.equal,
    pin: pinCar.pin,
    car: pinCar.car
  })}`)
}

if (isMainThread) {
  await main()
}
