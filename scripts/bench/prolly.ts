/**
 * `pnpm bench:prolly`: @capdex/prolly against @web3-storage/pail and prolly-trees, side by side in one process, on
 * the same workload (38-byte keys shaped like provider names, ~300-byte values), with DAG-CBOR and sha2-256.
 * Prints a table per N, the targets, and a last line `BENCH prolly {json}`.
 *
 * All three read and write one kind of in-memory store, which hands out a fresh copy of the bytes on every read, as
 * a persistent helia blockstore (fs, level) does. That is the setting the issue's peer figures match: pail's decode
 * cache is keyed by the identity of the bytes object, so it only helps when a store returns the very object it was
 * given. The peers' best in-memory setting (pail over its own MemoryBlockstore, prolly-trees with an unbounded node
 * cache) is measured for gets too and reported as "warm peers".
 *
 * Times are CPU time of this process (user + system), not wall time: the machine is shared, and CPU time is what
 * the work costs whatever else runs. Slow peers are timed on fewer operations and reported as rates. The
 * 1,000,000-entry streaming build runs in a child process (this script with --rss-child) so that its peak RSS
 * measures that build alone.
 */

import { spawnSync } from 'node:child_process'
import { hash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import * as dagCbor from '@ipld/dag-cbor'
import { memoryBlockStore, prolly } from '@capdex/prolly'
import { get as pailGet, entries as pailEntries } from '@web3-storage/pail'
import * as PailBatch from '@web3-storage/pail/batch'
import { MemoryBlockstore as PailBlockstore } from '@web3-storage/pail/block'
import type { BlockFetcher, ShardLink, UnknownLink as PailLink } from '@web3-storage/pail/api'
import { difference as pailDifference } from '@web3-storage/pail/diff'
import { ShardBlock } from '@web3-storage/pail/shard'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import type { BlockStore, Entry, Operation } from '@capdex/prolly'
import { seededRandom } from '../lib/simulated-providers.js'

const KEY_PREFIX = 'k51qzi5uqu5d'
const KEY_BYTES = 38
const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz'
const RAW_CODE = 0x55
const RSS_ENTRIES = 1_000_000
const encoder = new TextEncoder()


function providerKey (next: () => number): string {
  let key = KEY_PREFIX
  while (key.length < KEY_BYTES) {
    key += BASE36[Math.floor(next() * 36)]
  }
  return key
}

function valueBytes (next: () => number): Uint8Array {
  const value = new Uint8Array(290 + Math.floor(next() * 21))
  for (let i = 0; i < value.length; i++) {
    value[i] = Math.floor(next() * 256)
  }
  return value
}

interface Workload {
  n: number
  keys: string[]
  entries: Entry[]
  /** keys to look up, in random order */
  lookups: number[]
  /** the 1% batch: new values for existing keys */
  updates: Array<{ index: number, value: Uint8Array }>
}

function workload (n: number): Workload {
  const next = seededRandom(n)
  const keys = new Set<string>()
  while (keys.size < n) {
    keys.add(providerKey(next))
  }
  const sorted = [...keys].sort()
  const entries = sorted.map((key) => ({ key: encoder.encode(key), value: valueBytes(next) }))
  const lookups = Array.from({ length: n }, () => Math.floor(next() * n))
  const chosen = new Set<number>()
  while (chosen.size < n / 100) {
    chosen.add(Math.floor(next() * n))
  }
  const updates = [...chosen].map((index) => ({ index, value: valueBytes(next) }))
  return { n, keys: sorted, entries, lookups, updates }
}

/** CPU milliseconds used by this process so far. */
function cpuMs (): number {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/** Runs each measured operation this many times and keeps the fastest, for every library alike. */
const REPEAT = 3

/** Best (least) CPU time over `repeat` runs of `run`, with the last run's result. */
async function timed<T> (run: () => Promise<T>, repeat = REPEAT): Promise<{ ms: number, result: T }> {
  let best = Infinity
  let result: T | undefined
  for (let i = 0; i < repeat; i++) {
    const start = cpuMs()
    result = await run()
    best = Math.min(best, cpuMs() - start)
  }
  return { ms: best, result: result! }
}

/**
 * The in-memory store every library runs on: each read returns a fresh copy, as reading a persistent helia
 * blockstore does. Exposed as a @capdex/prolly BlockStore and as a pail BlockFetcher.
 */
class FreshReadStore implements BlockStore {
  private readonly blocks = new Map<string, Uint8Array>()

  async get (cid: CID): Promise<Uint8Array> {
    const bytes = this.blocks.get(cid.toString())
    if (bytes === undefined) {
      throw Object.assign(new Error(`block ${cid.toString()} not found`), { name: 'NotFoundError' })
    }
    return Promise.resolve(bytes.slice())
  }

  async put (cid: { toString(): string }, bytes: Uint8Array): Promise<void> {
    this.blocks.set(cid.toString(), bytes)
    return Promise.resolve()
  }

  * entries (): Generator<[PailLink, Uint8Array]> {
    for (const [key, bytes] of this.blocks) {
      yield [pailParse(key), bytes]
    }
  }

  /** pail's BlockFetcher shape (pail has its own multiformats, so its CID type is its own) */
  readonly fetcher: BlockFetcher = {
    get: async (link) => {
      const bytes = this.blocks.get(link.toString())
      return Promise.resolve(bytes === undefined ? undefined : { cid: link, bytes: bytes.slice() })
    }
  }
}

/** Operations per second. */
const rate = (ops: number, ms: number): number => ops / (ms / 1000)

interface PeerResult {
  buildPerS: number
  /** gets through the shared fresh-copy store, without a node cache */
  getPerS: number
  /** gets in the peer's best in-memory setting */
  getWarmPerS: number
  updateMs: number
  diffMs?: number
  scanMs: number
}

interface CapdexResult {
  buildPerS: number
  ceilingPerS: number
  getPerS: number
  getColdPerS: number
  updateMs: number
  diffMs: number
  scanMs: number
  scanTrustingMs: number
  blocksPerGetWarm: number
  blocksPerGetCold: number
  blocksPerDiff: number
  updateWritten: number
  changed: number
  depth: number
  mixedUpdateMs: number
  mixedWritten: number
  verifyMs: number
}

async function benchCapdex (w: Workload): Promise<CapdexResult> {
  const blocks = new FreshReadStore()
  const tree = prolly({ blocks })
  const build = await timed(async () => tree.build(w.entries))
  const root = build.result
  const depth = await tree.depth(root)

  // ceiling: @ipld/dag-cbor encode + sha256 of exactly the nodes the build produced
  const values: unknown[] = []
  for await (const block of tree.walk(root)) {
    values.push(dagCbor.decode(block.bytes))
  }
  const ceiling = await timed(async () => {
    for (const value of values) {
      hash('sha256', dagCbor.encode(value), 'buffer')
    }
    return Promise.resolve()
  })

  const gets = w.lookups.length
  tree.resetStats()
  const warm = await timed(async () => {
    for (const index of w.lookups) {
      await tree.get(root, w.entries[index]!.key)
    }
  }, 1)
  const blocksPerGetWarm = (tree.stats.blocksRead + tree.stats.cacheHits) / gets

  const cold = prolly({ blocks }, { cacheSize: 0 })
  const coldGets = Math.min(20_000, w.n)
  const coldRun = await timed(async () => {
    for (const index of w.lookups.slice(0, coldGets)) {
      await cold.get(root, w.entries[index]!.key)
    }
  }, 1)
  const blocksPerGetCold = (cold.stats.blocksRead + cold.stats.cacheHits) / coldGets

  const ops: Operation[] = w.updates.map(({ index, value }) => ({ op: 'put', key: w.entries[index]!.key, value }))
  const update = await timed(async () => tree.mutate(root, ops))
  const updated = update.result.root

  tree.resetStats()
  const diff = await timed(async () => {
    let changes = 0
    for await (const _change of tree.diff(root, updated)) {
      changes++
    }
    return changes
  })
  const blocksPerDiff = (tree.stats.blocksRead + tree.stats.cacheHits) / REPEAT
  if (diff.result !== ops.length) {
    throw new Error(`diff found ${diff.result} changes, expected ${ops.length}`)
  }

  // a mixed 1% batch (a third each of updates, inserts and deletes): ours only, pail batches cannot delete
  const next = seededRandom(w.n + 1)
  const mixed: Operation[] = w.updates.map(({ index, value }, i) => i % 3 === 0
    ? { op: 'put', key: w.entries[index]!.key, value }
    : i % 3 === 1 ? { op: 'put', key: encoder.encode(providerKey(next)), value } : { op: 'delete', key: w.entries[index]!.key })
  const mixedUpdate = await timed(async () => tree.mutate(root, mixed))

  // a fresh engine each time: the scan reads every block from the store
  const scan = await timed(async () => {
    let scanned = 0
    for await (const _entry of prolly({ blocks }).range(root)) {
      scanned++
    }
    return scanned
  })
  if (scan.result !== w.n) {
    throw new Error(`scan found ${scan.result} entries, expected ${w.n}`)
  }
  // like for like with the peers, which do not check blocks against their CIDs on read
  const scanTrusting = await timed(async () => {
    let scanned = 0
    for await (const _entry of prolly({ blocks }, { verifyBlocks: false }).range(root)) {
      scanned++
    }
    return scanned
  })
  const verify = await timed(async () => tree.verify(updated), 1)

  return {
    buildPerS: rate(w.n, build.ms),
    ceilingPerS: rate(w.n, ceiling.ms),
    getPerS: rate(gets, warm.ms),
    getColdPerS: rate(coldGets, coldRun.ms),
    updateMs: update.ms,
    diffMs: diff.ms,
    scanMs: scan.ms,
    scanTrustingMs: scanTrusting.ms,
    blocksPerGetWarm,
    blocksPerGetCold,
    blocksPerDiff,
    updateWritten: update.result.written,
    changed: ops.length,
    depth,
    mixedUpdateMs: mixedUpdate.ms,
    mixedWritten: mixedUpdate.result.written,
    verifyMs: verify.ms
  }
}

/** pail stores links as values: an identity CID carries the same bytes inline. */
const pailValue = (value: Uint8Array): PailLink => CID.createV1(RAW_CODE, identity.digest(value))

const pailParse = (text: string): PailLink => CID.parse(text)

async function pailGets (blocks: BlockFetcher, root: ShardLink, w: Workload, sample: number): Promise<number> {
  const gets = w.lookups.slice(0, sample)
  const run = await timed(async () => {
    for (const index of gets) {
      await pailGet(blocks, root, w.keys[index]!)
    }
  }, 1)
  return rate(gets.length, run.ms)
}

async function benchPail (w: Workload, sample: number): Promise<PeerResult> {
  const store = new FreshReadStore()
  const blocks = store.fetcher
  const init = await ShardBlock.create()
  await store.put(init.cid, init.bytes)
  const build = await timed(async () => {
    const batch = await PailBatch.create(blocks, init.cid)
    for (let i = 0; i < w.n; i++) {
      await batch.put(w.keys[i]!, pailValue(w.entries[i]!.value))
    }
    const { root, additions } = await batch.commit()
    for (const block of additions) {
      await store.put(block.cid, block.bytes)
    }
    return root
  })
  const root = build.result
  const getPerS = await pailGets(blocks, root, w, sample)

  // warm: pail's own MemoryBlockstore returns the very bytes it was given, so pail's decode cache hits
  const own = new PailBlockstore()
  for (const [cid, bytes] of store.entries()) {
    own.putSync(cid, bytes)
  }
  await pailGets(own, root, w, sample)
  const getWarmPerS = await pailGets(own, root, w, sample)

  const update = await timed(async () => {
    const batch = await PailBatch.create(blocks, root)
    for (const { index, value } of w.updates) {
      await batch.put(w.keys[index]!, pailValue(value))
    }
    const result = await batch.commit()
    for (const block of result.additions) {
      await store.put(block.cid, block.bytes)
    }
    return result.root
  })

  const diff = await timed(async () => pailDifference(blocks, root, update.result))
  if (diff.result.keys.length !== w.updates.length) {
    throw new Error(`pail diff found ${diff.result.keys.length} changes`)
  }

  const scan = await timed(async () => {
    let scanned = 0
    for await (const _entry of pailEntries(blocks, root)) {
      scanned++
    }
    return scanned
  })
  if (scan.result !== w.n) {
    throw new Error(`pail scan found ${scan.result} entries`)
  }
  return { buildPerS: rate(w.n, build.ms), getPerS, getWarmPerS, updateMs: update.ms, diffMs: diff.ms, scanMs: scan.ms }
}

/** The parts of prolly-trees (untyped JavaScript) this benchmark uses. */
interface PtNode {
  address: Promise<CID> | CID
  block: Promise<{ cid: CID, bytes: Uint8Array }> | { cid: CID, bytes: Uint8Array }
  get(key: Uint8Array): Promise<{ result: Uint8Array }>
  bulk(ops: Array<{ key: Uint8Array, value?: Uint8Array, del?: boolean }>): Promise<{ root: PtNode, blocks: Array<{ cid: CID, bytes: Uint8Array }> }>
  getAllEntries(): Promise<{ result: Array<{ key: Uint8Array, value: Uint8Array }> }>
}

interface PtCache {
  has(cid: CID): boolean
  get(cid: CID): PtNode
  set(node: PtNode): unknown
}

interface PtOptions {
  get(cid: CID): Promise<{ cid: CID, bytes: Uint8Array, value: unknown }>
  cache: PtCache
  chunker: unknown
  codec: typeof dagCbor
  hasher: typeof sha256
  compare(a: Uint8Array, b: Uint8Array): number
}

interface PtMap {
  create(options: PtOptions & { list: Entry[], sorted: boolean }): AsyncIterable<PtNode>
  load(options: PtOptions & { cid: CID }): Promise<PtNode>
}

interface PtUtils {
  bf(factor: number): unknown
  binaryCompare(a: Uint8Array, b: Uint8Array): number
}

interface PtCacheModule {
  nocache: PtCache
}

/** Loads an untyped module through a variable specifier and names the shape we rely on. */
async function untyped<T> (specifier: string): Promise<T> {
  return await import(specifier) as T
}

/** An unbounded node cache for prolly-trees' warm setting. */
function ptMapCache (): PtCache {
  const nodes = new Map<string, PtNode>()
  return {
    has: (cid) => nodes.has(cid.toString()),
    get: (cid) => nodes.get(cid.toString())!,
    set: async (node) => { nodes.set((await node.address).toString(), node) }
  }
}

async function ptGets (root: PtNode, w: Workload, sample: number): Promise<number> {
  const gets = w.lookups.slice(0, sample)
  const run = await timed(async () => {
    for (const index of gets) {
      await root.get(w.entries[index]!.key)
    }
  }, 1)
  return rate(gets.length, run.ms)
}

async function benchProllyTrees (w: Workload, sample: number): Promise<PeerResult> {
  const map = await untyped<PtMap>('prolly-trees/map')
  const utils = await untyped<PtUtils>('prolly-trees/utils')
  const { nocache } = await untyped<PtCacheModule>('prolly-trees/cache')
  const store = new FreshReadStore()
  const get = async (cid: CID): Promise<{ cid: CID, bytes: Uint8Array, value: unknown }> => {
    const bytes = await store.get(cid)
    return { cid, bytes, value: dagCbor.decode(bytes) }
  }
  const options = (cache: PtCache): PtOptions => ({ get, cache, chunker: utils.bf(32), codec: dagCbor, hasher: sha256, compare: (a, b) => utils.binaryCompare(a, b) })

  const build = await timed(async () => {
    let last: PtNode | undefined
    for await (const node of map.create({ ...options(nocache), list: w.entries, sorted: true })) {
      const block = await node.block
      await store.put(block.cid, block.bytes)
      last = node
    }
    return await last!.address
  })
  const rootCid = build.result

  const root = await map.load({ ...options(nocache), cid: rootCid })
  const getPerS = await ptGets(root, w, sample)
  const warmRoot = await map.load({ ...options(ptMapCache()), cid: rootCid })
  await ptGets(warmRoot, w, sample)
  const getWarmPerS = await ptGets(warmRoot, w, sample)

  const update = await timed(async () => {
    const result = await root.bulk(w.updates.map(({ index, value }) => ({ key: w.entries[index]!.key, value })))
    for (const block of result.blocks) {
      await store.put(block.cid, block.bytes)
    }
    return result.root
  })

  const scan = await timed(async () => (await root.getAllEntries()).result.length)
  if (scan.result !== w.n) {
    throw new Error(`prolly-trees scan found ${scan.result} entries`)
  }
  return { buildPerS: rate(w.n, build.ms), getPerS, getWarmPerS, updateMs: update.ms, scanMs: scan.ms }
}

interface RssResult {
  store: string
  maxRssMiB: number
  seconds: number
  blocks: number
}

/** Child process: stream N entries into a build (no array of entries ever exists) and report the peak RSS. */
async function rssChild (store: string): Promise<void> {
  const next = seededRandom(RSS_ENTRIES)
  // sorted keys without holding them: a counter in base 36, left-padded, after the provider-name prefix
  function * stream (): Generator<Entry> {
    for (let i = 0; i < RSS_ENTRIES; i++) {
      yield { key: encoder.encode(KEY_PREFIX + i.toString(36).padStart(KEY_BYTES - KEY_PREFIX.length, '0')), value: valueBytes(next) }
    }
  }
  let written = 0
  const blocks: BlockStore = store === 'memory'
    ? memoryBlockStore()
    : { get: async () => Promise.reject(new Error('write-only store')), put: async () => { written++; return Promise.resolve() } }
  const tree = prolly({ blocks })
  const start = performance.now()
  await tree.build(stream())
  const result: RssResult = {
    store,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    seconds: (performance.now() - start) / 1000,
    blocks: store === 'memory' ? tree.stats.blocksWritten : written
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

function measureRss (store: string): RssResult {
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--rss-child', store], { encoding: 'utf8' })
  const line = child.stdout.trim().split('\n').at(-1) ?? ''
  if (child.status !== 0 || !line.startsWith('{')) {
    throw new Error(`RSS child failed: ${child.stderr}`)
  }
  return JSON.parse(line) as RssResult
}

const fmt = (value: number, digits = 0): string => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const ratio = (value: number): string => `${fmt(value, 1)}×`

interface Row {
  metric: string
  capdex: string
  pail: string
  prollyTrees: string
  vsPail: number | undefined
  vsProllyTrees: number | undefined
  target: string
  ok: boolean | undefined
}

function printTable (title: string, rows: Row[]): void {
  const header = ['metric', 'capdex', 'pail', 'prolly-trees', '× pail', '× prolly-trees', 'target', 'met']
  const cells = rows.map((row) => [row.metric, row.capdex, row.pail, row.prollyTrees, row.vsPail === undefined ? '-' : ratio(row.vsPail), row.vsProllyTrees === undefined ? '-' : ratio(row.vsProllyTrees), row.target, row.ok === undefined ? '' : row.ok ? 'yes' : 'NO'])
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((cell) => cell[i]!.length)))
  const line = (cell: string[]): string => cell.map((text, i) => i === 0 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!)).join('  ')
  console.log(`\n${title}`)
  console.log(line(header))
  console.log(widths.map((width) => '-'.repeat(width)).join('  '))
  for (const cell of cells) {
    console.log(line(cell))
  }
}

interface Comparison {
  n: number
  capdex: CapdexResult
  pail: PeerResult
  prollyTrees: PeerResult
  rows: Row[]
  ratios: Record<string, number>
}

async function compare (n: number): Promise<Comparison> {
  const w = workload(n)
  const capdex = await benchCapdex(w)
  const sample = Math.min(2000, n)
  const pail = await benchPail(w, sample)
  const prollyTrees = await benchProllyTrees(w, sample)
  const ratios = {
    build_vs_pail: capdex.buildPerS / pail.buildPerS,
    build_vs_prolly_trees: capdex.buildPerS / prollyTrees.buildPerS,
    get_vs_pail: capdex.getPerS / pail.getPerS,
    get_vs_prolly_trees: capdex.getPerS / prollyTrees.getPerS,
    get_vs_pail_warm: capdex.getPerS / pail.getWarmPerS,
    get_vs_prolly_trees_warm: capdex.getPerS / prollyTrees.getWarmPerS,
    get_cold_vs_pail: capdex.getColdPerS / pail.getPerS,
    get_cold_vs_prolly_trees: capdex.getColdPerS / prollyTrees.getPerS,
    update_vs_pail: pail.updateMs / capdex.updateMs,
    update_vs_prolly_trees: prollyTrees.updateMs / capdex.updateMs,
    diff_vs_pail: pail.diffMs! / capdex.diffMs,
    scan_vs_pail: pail.scanMs / capdex.scanMs,
    scan_vs_prolly_trees: prollyTrees.scanMs / capdex.scanMs,
    scan_unverified_vs_prolly_trees: prollyTrees.scanMs / capdex.scanTrustingMs
  }
  const writeBound = 3 * capdex.changed * capdex.depth
  const report = (metric: string, value: string, target = 'report', ok?: boolean): Row =>
    ({ metric, capdex: value, pail: '', prollyTrees: '', vsPail: undefined, vsProllyTrees: undefined, target, ok })
  const rows: Row[] = [
    { metric: 'bulk build (entries/s)', capdex: fmt(capdex.buildPerS), pail: fmt(pail.buildPerS), prollyTrees: fmt(prollyTrees.buildPerS), vsPail: ratios.build_vs_pail, vsProllyTrees: ratios.build_vs_prolly_trees, target: '≥10× pail, ≥6× p-t', ok: ratios.build_vs_pail >= 10 && ratios.build_vs_prolly_trees >= 6 },
    { metric: 'random get, capdex warm cache (gets/s)', capdex: fmt(capdex.getPerS), pail: fmt(pail.getPerS), prollyTrees: fmt(prollyTrees.getPerS), vsPail: ratios.get_vs_pail, vsProllyTrees: ratios.get_vs_prolly_trees, target: '≥50× both', ok: ratios.get_vs_pail >= 50 && ratios.get_vs_prolly_trees >= 50 },
    { metric: '  the same against warm peers (gets/s)', capdex: fmt(capdex.getPerS), pail: fmt(pail.getWarmPerS), prollyTrees: fmt(prollyTrees.getWarmPerS), vsPail: ratios.get_vs_pail_warm, vsProllyTrees: ratios.get_vs_prolly_trees_warm, target: 'report', ok: undefined },
    { metric: 'random get, capdex cold, no cache (gets/s)', capdex: fmt(capdex.getColdPerS), pail: fmt(pail.getPerS), prollyTrees: fmt(prollyTrees.getPerS), vsPail: ratios.get_cold_vs_pail, vsProllyTrees: ratios.get_cold_vs_prolly_trees, target: 'report', ok: undefined },
    { metric: '1% batch update (ms)', capdex: fmt(capdex.updateMs, 1), pail: fmt(pail.updateMs, 1), prollyTrees: fmt(prollyTrees.updateMs, 1), vsPail: ratios.update_vs_pail, vsProllyTrees: ratios.update_vs_prolly_trees, target: '≥10× pail', ok: ratios.update_vs_pail >= 10 },
    { metric: 'diff of the two roots (ms)', capdex: fmt(capdex.diffMs, 1), pail: fmt(pail.diffMs!, 1), prollyTrees: 'n/a', vsPail: ratios.diff_vs_pail, vsProllyTrees: undefined, target: '≥10× pail', ok: ratios.diff_vs_pail >= 10 },
    { metric: 'full scan, blocks re-hashed (ms)', capdex: fmt(capdex.scanMs, 1), pail: fmt(pail.scanMs, 1), prollyTrees: fmt(prollyTrees.scanMs, 1), vsPail: ratios.scan_vs_pail, vsProllyTrees: ratios.scan_vs_prolly_trees, target: '≥5× p-t', ok: ratios.scan_vs_prolly_trees >= 5 },
    { metric: '  the same, verifyBlocks: false (ms)', capdex: fmt(capdex.scanTrustingMs, 1), pail: fmt(pail.scanMs, 1), prollyTrees: fmt(prollyTrees.scanMs, 1), vsPail: pail.scanMs / capdex.scanTrustingMs, vsProllyTrees: ratios.scan_unverified_vs_prolly_trees, target: 'report', ok: undefined },
    report('blocks touched per get (warm / cold)', `${fmt(capdex.blocksPerGetWarm, 1)} / ${fmt(capdex.blocksPerGetCold, 1)}`),
    report('blocks touched per diff', fmt(capdex.blocksPerDiff)),
    report(`blocks written, 1% update (${capdex.changed} × depth ${capdex.depth})`, fmt(capdex.updateWritten), `≤ ${fmt(writeBound)}`, capdex.updateWritten <= writeBound),
    report('mixed 1% put/insert/delete (ms, written)', `${fmt(capdex.mixedUpdateMs, 1)}, ${fmt(capdex.mixedWritten)}`, `≤ ${fmt(writeBound)} written`, capdex.mixedWritten <= writeBound),
    report('build / ceiling (@ipld/dag-cbor encode + sha256)', `${fmt(capdex.buildPerS)} / ${fmt(capdex.ceilingPerS)} = ${fmt(capdex.buildPerS / capdex.ceilingPerS, 2)}`),
    report('verify (ms)', fmt(capdex.verifyMs, 1))
  ]
  return { n, capdex, pail, prollyTrees, rows, ratios }
}

async function main (): Promise<void> {
  if (process.argv.includes('--rss-child')) {
    await rssChild(process.argv.at(-1) ?? 'memory')
    return
  }
  console.log(`prolly bench: Node ${process.version}, in-memory stores, DAG-CBOR + sha2-256, pail 0.6.2, prolly-trees 1.0.4 (chunker bf(32))`)
  console.log(`one shared in-memory store that returns a fresh copy per read (like a persistent helia blockstore); times are CPU time of this process, best of ${REPEAT} runs (gets: one run)`)
  console.log('pail values are identity CIDs carrying the same bytes; peers are timed on 2,000 gets; warm peers: pail over its own MemoryBlockstore, prolly-trees with an unbounded node cache')
  const comparisons: Comparison[] = []
  for (const n of [10_000, 100_000]) {
    const comparison = await compare(n)
    printTable(`N = ${fmt(n)}`, comparison.rows)
    comparisons.push(comparison)
  }
  const rss = measureRss('memory')
  const rssDiscard = measureRss('discard')
  console.log(`\nstreaming build of N = ${fmt(RSS_ENTRIES)}: peak RSS ${fmt(rss.maxRssMiB)} MiB with the in-memory store holding every block (${fmt(rss.blocks)} blocks, ${fmt(rss.seconds, 1)} s); ${fmt(rssDiscard.maxRssMiB)} MiB when blocks are discarded (the builder alone); limit 1,024 MiB: ${rss.maxRssMiB <= 1024 ? 'met' : 'NOT MET'}`)
  const main100k = comparisons.at(-1)!
  const capdex = main100k.capdex
  const summary = {
    n: main100k.n,
    ...Object.fromEntries(Object.entries(main100k.ratios).map(([key, value]) => [key, Number(value.toFixed(2))])),
    build_per_s: Math.round(capdex.buildPerS),
    build_ceiling_fraction: Number((capdex.buildPerS / capdex.ceilingPerS).toFixed(3)),
    get_warm_per_s: Math.round(capdex.getPerS),
    get_cold_per_s: Math.round(capdex.getColdPerS),
    update_ms: Number(capdex.updateMs.toFixed(1)),
    diff_ms: Number(capdex.diffMs.toFixed(1)),
    scan_ms: Number(capdex.scanMs.toFixed(1)),
    blocks_per_get_warm: Number(capdex.blocksPerGetWarm.toFixed(2)),
    blocks_per_get_cold: Number(capdex.blocksPerGetCold.toFixed(2)),
    blocks_per_diff: capdex.blocksPerDiff,
    blocks_written_update: capdex.updateWritten,
    blocks_written_bound: 3 * capdex.changed * capdex.depth,
    depth: capdex.depth,
    rss_1m_mib: Math.round(rss.maxRssMiB),
    rss_1m_discard_mib: Math.round(rssDiscard.maxRssMiB)
  }
  console.log(`BENCH prolly ${JSON.stringify(summary)}`)
}

await main()
