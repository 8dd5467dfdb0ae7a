/**
 * `pnpm bench:manifest`: capdex's manifest and record hot paths against their physical peers, side by side
 * in one run, plus publish-to-heard latency between two real nodes on loopback.
 *
 * - manifest validate + encode + hash vs plain @ipld/dag-json encode + sha256 of the same object (target ≥ 0.5)
 * - decodeManifest (JSON.parse fast path) vs decodeManifestStrict (@ipld/dag-json decode + re-encode
 *   + compare), both validating, over the recorded fixtures and simulated manifests (target ≤ 30 µs)
 * - record verification vs raw node:crypto Ed25519 verify of the same signed bytes (target ≥ 0.8)
 * - publish → heard latency on loopback: median and max of 20 runs
 */
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeManifest, decodeManifestStrict, detectManifest, encodeManifest, manifestCid, systemInfoFromSnapshot, validateManifest } from '@capdex/manifest'
import { announcementListener, createCapdexNode, initRepo, openRepo, providerService } from '@capdex/node'
import { createRecord, nameFromPublicKey, verifyRecord } from '@capdex/registry'
import * as dagJson from '@ipld/dag-json'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { seededRandom, simulatedManifest } from '../lib/simulated-providers.js'
import type { Manifest, SystemInfoSnapshot } from '@capdex/manifest'

const FIXTURES = join(import.meta.dirname, '..', '..', 'packages', 'manifest', 'test', 'fixtures')
const FIXTURE = join(FIXTURES, 'h100-sxm-server.json')
const FIXTURE_NAMES = ['h100-sxm-server', 'mi300x-server', 'rtx4090-desktop', 'cpu-only-server', 'unknown-gpu-workstation']
const SIMULATED_MANIFESTS = 64

/** Runs `fn` for about `ms` and returns operations per second. */
async function rate (fn: () => unknown, ms: number): Promise<number> {
  let ops = 0
  const start = performance.now()
  let now = start
  while (now - start < ms) {
    for (let i = 0; i < 50; i++) await fn()
    ops += 50
    now = performance.now()
  }
  return ops / ((now - start) / 1000)
}

/**
 * Measures capdex and its peer in alternating short rounds, so background load hits both alike,
 * and reports the median rates and the median of the per-round ratios.
 */
async function sideBySide (capdex: () => unknown, peer: () => unknown, rounds = 9, roundMs = 300): Promise<{ capdex: number, peer: number, ratio: number }> {
  for (let i = 0; i < 300; i++) { await capdex(); await peer() } // warm-up
  const c: number[] = []
  const p: number[] = []
  const ratios: number[] = []
  for (let round = 0; round < rounds; round++) {
    const a = await rate(capdex, roundMs)
    const b = await rate(peer, roundMs)
    c.push(a)
    p.push(b)
    ratios.push(a / b)
  }
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0
  return { capdex: median(c), peer: median(p), ratio: median(ratios) }
}

function sha256 (bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest()
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

async function manifestFigures (): Promise<{ capdex: number, peer: number, ratio: number, bytes: number }> {
  const key = await generateKeyPair('Ed25519')
  const snapshot = JSON.parse(await readFile(FIXTURE, 'utf8')) as SystemInfoSnapshot
  const { manifest } = await detectManifest({ system: systemInfoFromSnapshot(snapshot) }, {
    provider: nameFromPublicKey(key.publicKey),
    now: new Date('2026-11-24T00:00:00Z'),
    overrides: { location: { country: 'DE', region: 'eu-central' }, pricing: [{ unit: 'gpu-hour', amount: '2.10', currency: 'USD' }], endpoints: ['/dns4/gpu1.example.net/tcp/4001'] }
  })
  // a plain object as it would arrive from a config file or the network (no shared references)
  const input = dagJson.decode<Manifest>(dagJson.encode(manifest))
  const figures = await sideBySide(() => manifestCid(encodeManifest(validateManifest(input))), () => sha256(dagJson.encode(input)))
  return { ...figures, bytes: encodeManifest(manifest).byteLength }
}

/**
 * Typical manifests as an indexer receives them: the recorded fixtures through detectManifest, and
 * simulated providers' heartbeats, which link the previous manifest through `prev`.
 */
async function typicalManifests (): Promise<Uint8Array[]> {
  const key = await generateKeyPair('Ed25519')
  const provider = nameFromPublicKey(key.publicKey)
  const now = new Date('2026-11-24T00:00:00Z')
  const out: Uint8Array[] = []
  for (const name of FIXTURE_NAMES) {
    const snapshot = JSON.parse(await readFile(join(FIXTURES, `${name}.json`), 'utf8')) as SystemInfoSnapshot
    const { manifest } = await detectManifest({ system: systemInfoFromSnapshot(snapshot) }, {
      provider, now, overrides: { location: { country: 'DE', region: 'eu-central' }, endpoints: ['/dns4/gpu1.example.net/tcp/4001'] }
    })
    out.push(encodeManifest(manifest))
  }
  const rand = seededRandom(1)
  let prev = manifestCid(out[0] ?? new Uint8Array())
  for (let i = 0; i < SIMULATED_MANIFESTS; i++) {
    const bytes = encodeManifest(simulatedManifest(provider, rand, now.getTime() + i * 180_000, i === 0 ? null : prev))
    prev = manifestCid(bytes)
    out.push(bytes)
  }
  return out
}

/** decodeManifest vs decodeManifestStrict over the same manifests, in µs per manifest. */
async function decodeFigures (): Promise<{ fast: number, strict: number, ratio: number, manifests: number, meanBytes: number }> {
  const manifests = await typicalManifests()
  for (const bytes of manifests) {
    // the fast path must give what the strict path gives; the property tests prove it, this guards the bench
    if (JSON.stringify(decodeManifest(bytes)) !== JSON.stringify(decodeManifestStrict(bytes))) throw new Error('fast and strict decode disagree')
  }
  const figures = await sideBySide(() => { for (const bytes of manifests) decodeManifest(bytes) }, () => { for (const bytes of manifests) decodeManifestStrict(bytes) }, 9, 400)
  const perManifest = (opsPerSecond: number): number => 1e6 / (opsPerSecond * manifests.length)
  const meanBytes = manifests.reduce((sum, bytes) => sum + bytes.byteLength, 0) / manifests.length
  return { fast: perManifest(figures.capdex), strict: perManifest(figures.peer), ratio: figures.ratio, manifests: manifests.length, meanBytes }
}

async function recordFigures (): Promise<{ capdex: number, peer: number, ratio: number }> {
  const key = await generateKeyPair('Ed25519')
  const name = nameFromPublicKey(key.publicKey)
  const value = '/ipfs/baguqeerasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea'
  const bytes = await createRecord(key, value, 1n, { lifetimeMs: 600_000 })
  // the exact bytes capdex verifies: "ipns-signature:" ‖ data, against signatureV2
  const { signatureV2, data } = decodeSignedParts(bytes)
  const payload = Buffer.concat([Buffer.from('ipns-signature:'), data])
  const keyObject = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.publicKey.raw]), format: 'der', type: 'spki' })
  if (!cryptoVerify(null, payload, keyObject, signatureV2)) throw new Error('baseline payload does not verify')
  await verifyRecord(name, bytes)
  return sideBySide(async () => verifyRecord(name, bytes), () => cryptoVerify(null, payload, keyObject, signatureV2))
}

/** Minimal protobuf walk for the baseline: fields 8 (signatureV2) and 9 (data) of IpnsEntry. */
function decodeSignedParts (bytes: Uint8Array): { signatureV2: Uint8Array, data: Uint8Array } {
  const out: Record<number, Uint8Array> = {}
  let i = 0
  const varint = (): number => { let v = 0; let s = 0; for (;;) { const b = bytes[i++] ?? 0; v += (b & 0x7f) * 2 ** s; s += 7; if (b < 0x80) return v } }
  while (i < bytes.length) {
    const tag = varint()
    const field = tag >>> 3
    const wire = tag & 7
    if (wire === 0) { varint(); continue }
    if (wire !== 2) throw new Error('unexpected wire type')
    const len = varint()
    out[field] = bytes.subarray(i, i + len)
    i += len
  }
  if (out[8] == null || out[9] == null) throw new Error('record lacks V2 fields')
  return { signatureV2: out[8], data: out[9] }
}

async function latencyFigures (runs = 20): Promise<{ median: number, max: number, samples: number[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'capdex-bench-'))
  const repos = []
  try {
    for (const name of ['provider', 'listener']) {
      await initRepo(join(dir, name), { network: 'bench' })
      repos.push(await openRepo(join(dir, name)))
    }
    const [providerRepo, listenerRepo] = repos as [typeof repos[0], typeof repos[0]]
    const listenerNode = await createCapdexNode({ repo: listenerRepo }, { network: 'bench' })
    const providerNode = await createCapdexNode({ repo: providerRepo }, { network: 'bench', bootstrap: listenerNode.multiaddrs().map(String) })
    const heard = new Map<bigint, number>()
    const waiters = new Map<bigint, () => void>()
    const listener = announcementListener({ node: listenerNode }, {
      onAnnouncement: (a) => { heard.set(a.record.sequence, performance.now()); waiters.get(a.record.sequence)?.() }
    })
    const service = providerService({ node: providerNode, repo: providerRepo }, {})
    const name = await service.name()
    const snapshot = JSON.parse(await readFile(FIXTURE, 'utf8')) as SystemInfoSnapshot
    const samples: number[] = []
    for (let run = 0; run <= runs; run++) {
      const { manifest } = await detectManifest({ system: systemInfoFromSnapshot(snapshot) }, { provider: name, overrides: { location: { country: 'DE', region: 'eu-central' } } })
      const start = performance.now()
      const published = await service.publishOnce({ manifest, lifetimeMs: 600_000, timeoutMs: 10_000 })
      if (!heard.has(published.sequence)) await new Promise<void>((resolve) => waiters.set(published.sequence, resolve))
      // the first run includes connection and gossipsub stream set-up: report steady state
      if (run > 0) samples.push((heard.get(published.sequence) ?? Number.NaN) - start)
    }
    listener.stop()
    await providerNode.stop()
    await listenerNode.stop()
    samples.sort((a, b) => a - b)
    const median = ((samples[Math.floor((samples.length - 1) / 2)] ?? 0) + (samples[Math.ceil((samples.length - 1) / 2)] ?? 0)) / 2
    return { median, max: samples[samples.length - 1] ?? 0, samples }
  } finally {
    for (const repo of repos) await repo.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const m = await manifestFigures()
const d = await decodeFigures()
const r = await recordFigures()
const l = await latencyFigures()
const manifestRatio = m.ratio
const recordRatio = r.ratio

console.log('capdex bench:manifest (one process, side by side)\n')
const row = (label: string, c: number, p: number, ratio: number, target: string, peer: string): string =>
  `${label.padEnd(40)}${fmt(c).padStart(10)}${fmt(p).padStart(12)}${fmt(ratio, 2).padStart(8)}  ${target}  (peer: ${peer})`
console.log(`${'operation'.padEnd(40)}${'capdex/s'.padStart(10)}${'peer/s'.padStart(12)}${'ratio'.padStart(8)}  target`)
console.log(row(`manifest validate+encode+hash (${m.bytes} B)`, m.capdex, m.peer, manifestRatio, '≥ 0.50', '@ipld/dag-json encode + sha256'))
console.log(row('record verify', r.capdex, r.peer, recordRatio, '≥ 0.80', 'node:crypto Ed25519 verify'))
console.log(`manifest decode, ${d.manifests} typical (mean ${fmt(d.meanBytes)} B): fast ${fmt(d.fast, 1)} µs, strict ${fmt(d.strict, 1)} µs per manifest, ${fmt(d.ratio, 1)}× (target ≤ 30 µs)`)
console.log(`publish → heard on loopback, ${l.samples.length} runs: median ${fmt(l.median, 1)} ms, max ${fmt(l.max, 1)} ms`)
console.log(`\nBENCH manifest ${JSON.stringify({
  manifest_ops_per_s: Math.round(m.capdex),
  dagjson_sha256_ops_per_s: Math.round(m.peer),
  manifest_ratio: Number(manifestRatio.toFixed(3)),
  record_verify_per_s: Math.round(r.capdex),
  ed25519_verify_per_s: Math.round(r.peer),
  record_ratio: Number(recordRatio.toFixed(3)),
  decode_fast_us: Number(d.fast.toFixed(2)),
  decode_strict_us: Number(d.strict.toFixed(2)),
  decode_speedup: Number(d.ratio.toFixed(2)),
  decode_manifests: d.manifests,
  publish_heard_median_ms: Number(l.median.toFixed(1)),
  publish_heard_max_ms: Number(l.max.toFixed(1)),
  publish_heard_runs: l.samples.length
})}`)
process.exit(0)
