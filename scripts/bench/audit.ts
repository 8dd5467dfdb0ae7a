/**
 * `pnpm bench:audit`: the audit hot paths, each against the bound or the physical peer it must meet, measured in
 * one run. Prints a table and a last line `BENCH audit {json}`.
 *
 * - diff: two 1,000,000-provider snapshots that differ in 1% of their entries (real-shaped keys and entry values,
 *   synthetic record bytes), diffed by `auditDiff` with a cold cache: time and tree blocks touched, against the
 *   bound 3 × changes × depth.
 * - time travel: a chain of 10,000 snapshots (history tree built as a fold would, in one streaming build: the same
 *   root by history independence); `locateAt` by height, by time and by CID, each with a cold cache: blocks read,
 *   against log2(n) and against the linear `prev` walk it replaces.
 * - verify --deep: a 100,000-provider snapshot of real signed records and manifests, folded, then
 *   `verifySnapshot(…, { deep: true })`: entries/s against a raw node:crypto Ed25519 verify loop over the very same
 *   signed payloads (the single-core signature ceiling).
 *
 * Sizes can be scaled down for a quick look: BENCH_AUDIT_SCALE=0.1.
 */
import { createPublicKey, hash, verify as cryptoVerify } from 'node:crypto'
import { encodeManifest, getGpuModel, manifestCid } from '@capdex/manifest'
import { memoryBlockStore, prolly } from '@capdex/prolly'
import { auditDiff, createRecord, DEFAULT_RECORD_TTL_NS, encodeEntry, fold, historyOperations, locateAt, nameFromPublicKey, snapshotTree, verifySnapshot, writeSnapshot } from '@capdex/registry'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Manifest } from '@capdex/manifest'
import type { BlockStore, Entry, Operation } from '@capdex/prolly'
import type { Snapshot, VerifiedRecord, VerifiedUpdate } from '@capdex/registry'

const SCALE = Number(process.env.BENCH_AUDIT_SCALE ?? 1)
const DIFF_PROVIDERS = Math.round(1_000_000 * SCALE)
const CHAIN_LENGTH = Math.round(10_000 * SCALE)
const VERIFY_PROVIDERS = Math.round(100_000 * SCALE)
const T0 = Date.UTC(2024, 5, 1)
const MINUTE = 60_000
const NETWORK = 'bench'
const INDEXER = 'k51qzi5uqu5dbenchauditindexer'
type Ed25519PrivateKey = Parameters<typeof createRecord>[0]

const ED25519_SPKI_PREFIX = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00)

/** 32 deterministic pseudo-random bytes for a label, so every run sees the same workload. */
function bytesFor (label: string): Buffer {
  return hash('sha256', label, 'buffer')
}

/** A deterministic pseudo-random number in [0, 1) for a label. */
function fractionFor (label: string): number {
  return bytesFor(label).readUInt32BE(0) / 0x1_0000_0000
}

function ms (from: number): number {
  return performance.now() - from
}

function round (n: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** A snapshot over the given trees, stored; an empty tree where none is given. */
async function snapshotOf (blocks: BlockStore, fields: Partial<Snapshot> & Pick<Snapshot, 'height' | 'time'>): Promise<CID> {
  const empty = await prolly({ blocks }).empty()
  const snapshot: Snapshot = { v: 1, network: NETWORK, indexer: INDEXER, prev: null, providers: empty, attrs: empty, history: empty, count: 0, ...fields }
  return (await writeSnapshot(snapshot, blocks)).cid
}

// ---- diff ------------------------------------------------------------------------------------------------------

interface DiffResult {
  providers: number
  changes: number
  depth: number
  treeBlocks: number
  touched: number
  bound: number
  ms: number
  changesPerSecond: number
}

/** The i-th of n provider keys, in ascending order: a 38-byte Ed25519 name whose key bytes are sorted, then random. */
function providerKey (i: number, n: number): Uint8Array {
  const key = new Uint8Array(38)
  key.set([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
  new DataView(key.buffer).setUint32(6, Math.floor(i * 0x1_0000_0000 / n))
  key.set(bytesFor(`key ${i}`).subarray(0, 28), 10)
  return key
}

async function benchDiff (): Promise<DiffResult> {
  const n = DIFF_PROVIDERS
  const blocks = memoryBlockStore()
  const writer = prolly({ blocks })
  const pool = new Uint8Array(Buffer.concat(Array.from({ length: 128 }, (_, j) => bytesFor(`pool ${j}`))))
  const manifest = CID.createV1(0x0129, await sha256.digest(pool))
  const value = (i: number, version: number): Uint8Array => {
    const record = pool.slice(i % 3700, i % 3700 + 320)
    new DataView(record.buffer).setUint32(0, i)
    record[4] = version
    return encodeEntry({ record, manifest, seen: T0 + i })
  }
  const keys: Uint8Array[] = []
  const changed = new Set<number>()
  for (let k = 0; changed.size < n / 100; k++) changed.add(Math.floor(fractionFor(`pick ${k}`) * n))
  function * entries (): Generator<Entry> {
    for (let i = 0; i < n; i++) {
      const key = providerKey(i, n)
      if (changed.has(i)) keys.push(key)
      yield { key, value: value(i, 0) }
    }
  }
  const built = performance.now()
  const base = await snapshotTree(writer, 'providers').build(entries())
  const treeBlocks = writer.stats.blocksWritten
  const indices = [...changed].sort((a, b) => a - b)
  const batch: Operation[] = indices.map((i, j) => ({ op: 'put', key: keys[j]!, value: value(i, 1) }))
  const { root } = await snapshotTree(writer, 'providers').mutate(base, batch)
  process.stderr.write(`diff: built ${n} entries (${treeBlocks} blocks) and mutated 1% in ${round(ms(built) / 1000)} s\n`)

  const a = await snapshotOf(blocks, { height: 0, time: T0, providers: base, count: n })
  const b = await snapshotOf(blocks, { height: 1, time: T0 + MINUTE, prev: a, providers: root, count: n })
  // a cold cache: a fresh engine over the same blocks
  const reader = prolly({ blocks })
  const start = performance.now()
  const run = auditDiff({ prolly: reader, blocks }, a, b, { fields: false })
  let changes = 0
  for await (const change of run) {
    if (change.kind !== 'renewed') throw new Error(`unexpected ${change.kind} of ${change.provider}`)
    changes++
  }
  const elapsed = ms(start)
  if (changes !== changed.size) throw new Error(`diff found ${changes} changes, expected ${changed.size}`)
  const { depth, diffBlocks } = run.summary
  return { providers: n, changes, depth, treeBlocks, touched: diffBlocks, bound: 3 * changes * depth, ms: elapsed, changesPerSecond: changes / (elapsed / 1000) }
}

// ---- time travel -----------------------------------------------------------------------------------------------

interface Lookup {
  by: 'height' | 'time' | 'cid'
  target: number
  blocks: number
  /** blocks a `prev` walk from the head reads to reach the same snapshot */
  linear: number
  ms: number
}

interface TimeTravelResult {
  length: number
  historyDepth: number
  log2: number
  maxBlocks: number
  lookups: Lookup[]
}

/** Counts every block read, whoever reads it (tree nodes and snapshot blocks alike). */
function counting (blocks: BlockStore): BlockStore & { reads: number } {
  const counted = {
    reads: 0,
    get: async (cid: CID, options?: { signal?: AbortSignal }) => { counted.reads++; return blocks.get(cid, options) },
    put: async (cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal }) => blocks.put(cid, bytes, options)
  }
  return counted
}

async function benchTimeTravel (): Promise<TimeTravelResult> {
  const n = CHAIN_LENGTH
  const blocks = memoryBlockStore()
  const times: number[] = []
  const cids: CID[] = []
  const heights: Operation[] = []
  const byTime: Operation[] = []
  let prev: CID | null = null
  for (let height = 0; height < n; height++) {
    // uneven gaps, and some snapshots share a time
    const time = T0 + height * MINUTE - (height % 7 === 3 ? MINUTE : 0)
    const cid = await snapshotOf(blocks, { height, time, prev })
    const [h, t] = historyOperations(cid, { height, time })
    heights.push(h!)
    byTime.push(t!)
    times.push(time)
    cids.push(cid)
    prev = cid
  }
  const writer = prolly({ blocks })
  // the history a fold would have grown one mutate at a time, built at once: the same root
  const history = await writer.build([...heights, ...byTime].map((op) => ({ key: op.key, value: (op as { value: Uint8Array }).value })))
  const headTime = T0 + n * MINUTE
  const head = await snapshotOf(blocks, { height: n, time: headTime, prev, history })
  const historyDepth = await writer.depth(history)

  const lookups: Lookup[] = []
  const targets = [0, 1, Math.floor(n / 4), Math.floor(n / 2), Math.floor(n * 0.77), n - 2, n - 1]
  for (const target of targets) {
    for (const by of ['height', 'time', 'cid'] as const) {
      const at = by === 'height' ? String(target) : by === 'time' ? new Date(times[target]! + 30_000).toISOString() : cids[target]!.toString()
      // at a shared time the later snapshot is the one current then
      const expected = by === 'time' && times[target + 1] === times[target] ? target + 1 : target
      const store = counting(blocks)
      const start = performance.now()
      const hit = await locateAt({ prolly: prolly({ blocks: store }), blocks: store }, head, at)
      const elapsed = ms(start)
      if (hit.height !== expected) throw new Error(`--at ${at} found height ${hit.height}, expected ${expected}`)
      lookups.push({ by, target, blocks: store.reads, linear: n - expected + 1, ms: elapsed })
    }
  }
  return { length: n, historyDepth, log2: Math.log2(n), maxBlocks: Math.max(...lookups.map((l) => l.blocks)), lookups }
}

// ---- verify --deep ---------------------------------------------------------------------------------------------

interface VerifyResult {
  providers: number
  entries: number
  attrKeys: number
  blocks: number
  ms: number
  entriesPerSecond: number
  ed25519PerSecond: number
  ratio: number
  ok: boolean
}

interface Signed {
  payload: Uint8Array
  signature: Uint8Array
  publicKey: Uint8Array
}

function manifestFor (provider: string, i: number): Manifest {
  let draws = 0
  const next = (): number => fractionFor(`manifest ${i} ${draws++}`)
  const gpu = getGpuModel(['H100', 'A100-80GB', 'L40S', 'RTX4090'][i % 4]!)!
  const count = [1, 2, 4, 8][Math.floor(next() * 4)]!
  return {
    schema: 'capdex.manifest.v1',
    provider,
    issuedAt: new Date(T0 - Math.floor(next() * 86_400_000)).toISOString(),
    prev: null,
    gpus: [{ vendor: gpu.vendor, model: gpu.model, name: gpu.model, vramMiB: gpu.vramMiB, formFactor: gpu.formFactor, count, available: Math.floor(next() * (count + 1)), interconnect: gpu.interconnect }],
    cpu: { vendor: 'amd', model: 'EPYC 9654', cores: 32 * (1 + (i % 3)), threads: 64 * (1 + (i % 3)), arch: 'x86_64' },
    memory: { totalMiB: 262144, availableMiB: 131072 },
    storage: [{ kind: 'nvme', totalGiB: 3840, freeGiB: 1000 + (i % 2000) }],
    network: { uplinkMbps: 1000 * (1 + (i % 10)), downlinkMbps: 10000 },
    location: { country: ['DE', 'US', 'FR', 'JP'][i % 4]!, region: ['eu-central', 'us-east', 'eu-west', 'ap-northeast'][i % 4]! },
    pricing: [{ unit: 'gpu-hour', amount: (0.5 + next() * 3).toFixed(2), currency: 'USD' }],
    status: 'available',
    endpoints: [`/dns4/gpu-${i}.example.net/tcp/4001`],
    attestations: []
  }
}

/** Signs a record and keeps the exact V2 payload and signature it produced, for the raw-verify ceiling. */
async function signedUpdate (key: Ed25519PrivateKey, i: number): Promise<{ update: VerifiedUpdate, signed: Signed }> {
  const name = nameFromPublicKey(key.publicKey)
  const manifest = manifestFor(name, i)
  const bytes = encodeManifest(manifest)
  const cid = manifestCid(bytes)
  const calls: Array<{ payload: Uint8Array, signature: Uint8Array }> = []
  const capturing = Object.assign(Object.create(key) as Ed25519PrivateKey, {
    sign: async (payload: Uint8Array) => {
      const signature = await key.sign(payload)
      calls.push({ payload, signature })
      return signature
    }
  })
  const now = T0 - MINUTE
  const lifetimeMs = 10 * MINUTE
  // the fields fold reads; the signature is verified once, by the audit
  const record: VerifiedRecord = {
    name,
    publicKey: key.publicKey,
    value: `/ipfs/${cid.toString()}`,
    valueCid: cid,
    sequence: 1n,
    validity: new Date(now + lifetimeMs),
    ttlNs: DEFAULT_RECORD_TTL_NS,
    bytes: await createRecord(capturing, cid, 1, { lifetimeMs, now })
  }
  // createRecord signs the V2 payload ("ipns-signature:" ‖ data) first
  const v2 = calls[0]!
  return { update: { record, manifest, manifestCid: cid, seen: now, manifestBytes: bytes }, signed: { ...v2, publicKey: key.publicKey.raw } }
}

/** The ceiling: node:crypto Ed25519 verifications per second of the very same signed payloads (keys imported once). */
function ed25519Ceiling (signed: Signed[]): number {
  const keys = signed.map((s) => createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, s.publicKey]), format: 'der', type: 'spki' }))
  const start = performance.now()
  for (let i = 0; i < signed.length; i++) {
    const s = signed[i]!
    if (!cryptoVerify(null, s.payload, keys[i]!, s.signature)) throw new Error('a payload does not verify')
  }
  return signed.length / (ms(start) / 1000)
}

async function benchVerify (): Promise<VerifyResult> {
  const n = VERIFY_PROVIDERS
  const blocks = memoryBlockStore()
  const writer = prolly({ blocks })
  const made = performance.now()
  const updates: VerifiedUpdate[] = []
  const signed: Signed[] = []
  for (let i = 0; i < n; i++) {
    const { update, signed: s } = await signedUpdate(await generateKeyPair('Ed25519'), i)
    updates.push(update)
    signed.push(s)
    if ((i + 1) % 20_000 === 0) process.stderr.write(`verify: signed ${i + 1}/${n} records\n`)
  }
  const { cid } = await fold({ prolly: writer, blocks }, null, updates, { now: T0, network: NETWORK, indexer: INDEXER })
  process.stderr.write(`verify: ${n} signed providers folded in ${round(ms(made) / 1000)} s\n`)
  updates.length = 0

  const before = ed25519Ceiling(signed)
  const start = performance.now()
  const report = await verifySnapshot({ prolly: prolly({ blocks }), blocks }, cid, { deep: true })
  const elapsed = ms(start)
  if (!report.ok) throw new Error(`verify failed: ${report.verdict}`)

  // measured before and after the audit's own run and averaged: other load on the machine shifts both alike
  const ed25519PerSecond = (before + ed25519Ceiling(signed)) / 2
  const entriesPerSecond = report.entries / (elapsed / 1000)
  return {
    providers: n,
    entries: report.entries,
    attrKeys: report.attrKeys,
    blocks: report.treeBlocks + report.manifestBlocks + report.snapshots,
    ms: elapsed,
    entriesPerSecond,
    ed25519PerSecond,
    ratio: entriesPerSecond / ed25519PerSecond,
    ok: report.ok
  }
}

// ---- report ----------------------------------------------------------------------------------------------------

function table (rows: Array<Array<string | number>>): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)))
  return rows.map((r) => r.map((cell, c) => String(cell).padEnd(widths[c]!)).join('  ').trimEnd()).join('\n')
}

const diff = await benchDiff()
const travel = await benchTimeTravel()
const verify = await benchVerify()

const byKind = (by: Lookup['by']): Lookup[] => travel.lookups.filter((l) => l.by === by)
console.info(table([
  ['benchmark', 'measure', 'value', 'target', 'met'],
  ['diff', `${diff.providers} providers, 1% changed`, `${diff.changes} changes in ${round(diff.ms)} ms (${Math.round(diff.changesPerSecond)}/s)`, '', ''],
  ['diff', 'tree blocks touched (cold cache)', `${diff.touched} of ${diff.treeBlocks} (depth ${diff.depth})`, `≤ 3 × changes × depth = ${diff.bound}`, diff.touched <= diff.bound ? 'yes' : 'NO'],
  ['time travel', `${travel.length} snapshots, history depth ${travel.historyDepth}`, `max ${travel.maxBlocks} blocks per lookup`, `O(log n): log2 n = ${round(travel.log2)}`, travel.maxBlocks <= 2 * travel.historyDepth + 2 ? 'yes' : 'NO'],
  ...(['height', 'time', 'cid'] as const).map((by) => ['time travel', `--at <${by}>: blocks per target`, byKind(by).map((l) => `${l.target}:${l.blocks}`).join(' '), `prev walk: ${byKind(by).map((l) => l.linear).join(' ')}`, '']),
  ['verify --deep', `${verify.providers} signed providers`, `${Math.round(verify.entriesPerSecond)} entries/s (${round(verify.ms / 1000, 2)} s, ${verify.attrKeys} attr keys)`, `Ed25519 ceiling ${Math.round(verify.ed25519PerSecond)}/s`, `ratio ${round(verify.ratio, 2)}`]
]))

console.info(`BENCH audit ${JSON.stringify({
  diff: { providers: diff.providers, changes: diff.changes, depth: diff.depth, touched: diff.touched, bound: diff.bound, treeBlocks: diff.treeBlocks, ms: round(diff.ms), withinBound: diff.touched <= diff.bound },
  timeTravel: { snapshots: travel.length, historyDepth: travel.historyDepth, log2: round(travel.log2, 2), maxBlocks: travel.maxBlocks, lookups: travel.lookups.map((l) => ({ by: l.by, target: l.target, blocks: l.blocks, linear: l.linear, ms: round(l.ms, 2) })) },
  verifyDeep: { providers: verify.providers, entries: verify.entries, attrKeys: verify.attrKeys, blocks: verify.blocks, ms: round(verify.ms), entriesPerSecond: Math.round(verify.entriesPerSecond), ed25519PerSecond: Math.round(verify.ed25519PerSecond), ratio: round(verify.ratio, 3) }
})}`)
