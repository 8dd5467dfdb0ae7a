import { hkdfSync } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { decodeManifest, parseSkypilotCsv } from '@capdex/manifest'
import { fromHeliaBlockstore, prolly } from '@capdex/prolly'
import { nameFromBytes, nameFromPublicKey, openSnapshot, query } from '@capdex/registry'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import {
  announcementListener, BROKER_KEY_NAME, cloudFromPath, deriveRowKey, openRepo, readSkypilotCatalog, ROW_KEY_SALT,
  skypilotImporter, skypilotRowIdentity
} from '../src/index.js'
import { connect, deferred, NETWORK, rejection, startPeer, tempDir, within } from './helpers.js'
import type { ReceivedAnnouncement, Repo, SkypilotCatalog } from '../src/index.js'

/**
 * A small synthetic catalog in the SkyPilot lambda layout (not real catalog data). Line 1 is the
 * header; line 5 is an exact duplicate of line 2; line 6 names an unknown accelerator; line 7 a
 * region with no country.
 */
const HEADER = 'InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo,SpotPrice'
const ROWS = [
  'gpu_8x_h100_sxm5,H100,8,208,1800,23.92,us-east-1,"{\'Gpus\': [{\'Name\': \'H100\', \'Manufacturer\': \'NVIDIA\', \'Count\': 8, \'MemoryInfo\': {\'SizeInMiB\': 81920}}]}",',
  'gpu_1x_a10,A10,1,30,200,0.75,us-west-1,,',
  'cpu_4x_general,,,4,16,0.2,europe-central-1,,',
  'gpu_8x_h100_sxm5,H100,8,208,1800,23.92,us-east-1,"{\'Gpus\': [{\'Name\': \'H100\', \'Manufacturer\': \'NVIDIA\', \'Count\': 8, \'MemoryInfo\': {\'SizeInMiB\': 81920}}]}",',
  'gpu_1x_quantum,QuantumX9000,1,8,32,1.00,us-east-1,,',
  'gpu_1x_a10,A10,1,30,200,0.75,europe-south-1,,'
]
const CSV = `${HEADER}\r\n${ROWS.join('\r\n')}\r\n`

describe('skypilot importer', () => {
  const cleanups: Array<() => Promise<void>> = []

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function repoWithCatalog (csv = CSV, file = 'lambda.csv'): Promise<{ repo: Repo, file: string, dir: string }> {
    const { dir, remove } = await tempDir('capdex-importer-')
    const repo = await openRepo(path.join(dir, 'repo'), { create: true, init: { network: NETWORK } })
    cleanups.push(remove, async () => { await repo.close() })
    const target = path.join(dir, file)
    await fs.mkdir(path.dirname(target), { recursive: true })
    await fs.writeFile(target, csv)
    return { repo, file: target, dir }
  }

  it('derives each row key from the broker key with HKDF-SHA256 over the row identity', async () => {
    const { repo } = await repoWithCatalog()
    const importer = skypilotImporter({ repo })
    const broker = await repo.getOrCreateKey(BROKER_KEY_NAME)
    expect(await importer.brokerName()).toBe(nameFromPublicKey(broker.publicKey))

    const identity = skypilotRowIdentity('lambda', { instanceType: 'gpu_1x_a10', region: 'us-west-1', availabilityZone: '' })
    expect(identity).toBe('["skypilot","lambda","gpu_1x_a10","us-west-1","",0]')
    const seed = new Uint8Array(hkdfSync('sha256', broker.raw.subarray(0, 32), ROW_KEY_SALT, identity, 32))
    const expected = await generateKeyPairFromSeed('Ed25519', seed)
    expect((await deriveRowKey(broker, identity)).equals(expected)).toBe(true)
    expect((await importer.rowKey(identity)).equals(expected)).toBe(true)
    expect(skypilotRowIdentity('lambda', { instanceType: 'gpu_1x_a10', region: 'us-west-1', availabilityZone: '' }, 1)).not.toBe(identity)
  })

  it('keeps each row\'s name across imports, raises its sequence and links its manifests', async () => {
    const { repo, file } = await repoWithCatalog()
    const importer = skypilotImporter({ repo })
    const catalog = await readSkypilotCatalog(file)
    expect(catalog.cloud).toBe('lambda')

    const blocks = fromHeliaBlockstore(repo.blockstore)
    const first = await importer.prepare([catalog], { now: 1_700_000_000_000, lifetimeMs: 60_000 })
    expect(first.imported.map((r) => r.line)).toEqual([2, 3, 4, 5])
    expect(new Set(first.imported.map((r) => r.name)).size).toBe(4) // the duplicate row is a provider of its own
    expect(first.imported[3]?.identity).toBe(skypilotRowIdentity('lambda', { instanceType: 'gpu_8x_h100_sxm5', region: 'us-east-1', availabilityZone: '' }, 1))
    for (const row of first.imported) {
      expect(row.sequence).toBe(1n)
      expect(row.manifest.prev).toBeNull()
      expect(row.manifest.provider).toBe(row.name)
      expect(row.record.name).toBe(row.name)
      expect(row.record.valueCid?.equals(row.manifestCid)).toBe(true)
      expect(row.record.validity.getTime()).toBe(1_700_000_060_000)
      expect(decodeManifest(await blocks.get(row.manifestCid))).toEqual(row.manifest)
      expect(nameFromPublicKey((await importer.rowKey(row.identity)).publicKey)).toBe(row.name)
    }

    // a second importer over the same repo: the state lives in the repo, not the object
    const again = await skypilotImporter({ repo }).prepare([await readSkypilotCatalog(file)], { now: 1_700_000_100_000 })
    expect(again.imported.map((r) => r.name)).toEqual(first.imported.map((r) => r.name))
    expect(again.broker).toBe(first.broker)
    for (const [i, row] of again.imported.entries()) {
      expect(row.sequence).toBe(2n)
      expect(row.manifest.prev?.equals(first.imported[i]?.manifestCid)).toBe(true)
      expect(row.manifestCid.equals(first.imported[i]!.manifestCid)).toBe(false)
    }
  })

  it('reports every row it cannot normalize with its file and line', async () => {
    const { repo, file } = await repoWithCatalog()
    const importer = skypilotImporter({ repo })
    const rejected: unknown[] = []
    const prepared = await importer.prepare([await readSkypilotCatalog(file)], {
      onProgress: (evt) => { if (evt.type === 'node:import:rejected') rejected.push(evt.detail) }
    })
    expect(prepared.rows).toBe(6)
    expect(prepared.rejected).toEqual([
      { source: file, cloud: 'lambda', line: 6, reason: 'unknown accelerator "QuantumX9000"' },
      { source: file, cloud: 'lambda', line: 7, reason: 'region "europe-south-1" names no country' }
    ])
    expect(rejected).toEqual(prepared.rejected)
    expect(prepared.imported.length + prepared.rejected.length).toBe(prepared.rows)

    // a fallback country locates the row that named none, and only that one
    const withCountry = await importer.prepare([await readSkypilotCatalog(file)], { country: 'IT' })
    expect(withCountry.rejected.map((r) => r.line)).toEqual([6])
    const located = withCountry.imported.find((r) => r.line === 7)
    expect(located?.manifest.location).toEqual({ country: 'IT', region: 'europe-south-1' })
    expect(withCountry.imported.find((r) => r.line === 2)?.manifest.location.country).toBe('US')
  })

  it('folds exactly the imported rows into a snapshot the query engine reads', async () => {
    const { repo, file } = await repoWithCatalog()
    const importer = skypilotImporter({ repo })
    const prepared = await importer.prepare([await readSkypilotCatalog(file)], { lifetimeMs: 3_600_000 })
    const folded = await importer.fold(prepared.imported)
    expect(folded.snapshot).toMatchObject({ network: NETWORK, height: 0, prev: null, count: 4, indexer: prepared.broker })

    const blocks = fromHeliaBlockstore(repo.blockstore)
    const trees = prolly({ blocks })
    const opened = await openSnapshot(folded.cid, blocks)
    const names: string[] = []
    for await (const { key } of trees.range(opened.snapshot.providers)) names.push(nameFromBytes(key))
    expect(names.sort()).toEqual(prepared.imported.map((r) => r.name).sort())

    const h100: string[] = []
    for await (const result of query({ prolly: trees, blocks }, opened, 'gpu=H100 gpus>=8')) h100.push(result.provider)
    expect(h100.sort()).toEqual(prepared.imported.filter((r) => r.manifest.gpus[0]?.model === 'H100').map((r) => r.name).sort())
    expect(h100).toHaveLength(2)
  })

  it('announces every row to a subscribed peer, which verifies each one', async () => {
    const { repo, file } = await repoWithCatalog()
    await repo.close() // the broker peer below opens its own repo
    const broker = await startPeer()
    const listener = await startPeer()
    cleanups.push(async () => { await broker.stop() }, async () => { await listener.stop() })
    const heard: ReceivedAnnouncement[] = []
    const all = deferred<undefined>()
    const rows = 4
    announcementListener({ node: listener.node }, {
      onAnnouncement: (a) => {
        heard.push(a)
        if (heard.length === rows) all.resolve(undefined)
      }
    })
    await connect(broker.node, listener.node)

    const importer = skypilotImporter({ repo: broker.repo, node: broker.node })
    const prepared = await importer.prepare([await readSkypilotCatalog(file)])
    expect(prepared.imported).toHaveLength(rows)
    const progress: Array<{ done: number, total: number }> = []
    const published = await importer.publish(prepared.imported, {
      ratePerSecond: 1000,
      onProgress: (evt) => { if (evt.type === 'node:import:publish') progress.push(evt.detail) }
    })
    expect(published).toEqual({ published: rows, unheard: 0, recipients: [listener.node.peerId.toString()] })
    expect(progress.at(-1)).toMatchObject({ done: rows, total: rows })
    await within(all.promise, 10_000, 'all announcements')

    const byName = new Map(prepared.imported.map((r) => [r.name, r]))
    for (const a of heard) {
      const row = byName.get(a.name)
      expect(row).toBeDefined()
      expect(a.record.sequence).toBe(row?.sequence)
      expect(a.manifestCid.equals(row!.manifestCid)).toBe(true)
      expect(a.manifest).toEqual(row?.manifest)
    }
    expect(new Set(heard.map((a) => a.name)).size).toBe(rows)
    // the records are stored and served by the broker's node
    for (const row of prepared.imported) expect(await broker.node.getRecord(row.name)).toEqual(row.record.bytes)
  })

  it('fails on unreadable, headerless and empty catalogs', async () => {
    const { dir } = await repoWithCatalog()
    expect((await rejection(readSkypilotCatalog(path.join(dir, 'missing.csv')))).name).toBe('UnreadableCsvError')
    expect((await rejection(readSkypilotCatalog(dir))).name).toBe('UnreadableCsvError')

    const headerless = path.join(dir, 'headerless.csv')
    await fs.writeFile(headerless, 'name,price\nfoo,1\n')
    expect((await rejection(readSkypilotCatalog(headerless))).name).toBe('MissingCsvColumnError')

    const empty = path.join(dir, 'empty.csv')
    await fs.writeFile(empty, '')
    expect((await rejection(readSkypilotCatalog(empty))).name).toBe('MissingCsvColumnError')

    const big = await rejection(readSkypilotCatalog(path.join(dir, 'lambda.csv'), { maxBytes: 10 }))
    expect(big.name).toBe('CatalogTooLargeError')
  })

  it('takes the cloud from the file name or SkyPilot\'s folder layout', async () => {
    expect(cloudFromPath('/data/Lambda.csv')).toBe('lambda')
    expect(cloudFromPath('catalogs/v8/oci/vms.csv')).toBe('oci')
    expect(() => cloudFromPath('/data/my catalog.csv')).toThrow(expect.objectContaining({ name: 'InvalidCloudNameError' }))
    const { dir } = await repoWithCatalog(CSV, 'nebius/vms.csv')
    const catalog = await readSkypilotCatalog(path.join(dir, 'nebius', 'vms.csv'))
    expect(catalog.cloud).toBe('nebius')
    expect((await readSkypilotCatalog(path.join(dir, 'nebius', 'vms.csv'), { cloud: 'Lambda' })).cloud).toBe('lambda')
  })

  it('refuses to publish without a node, and writes nothing for a catalog with no rows', async () => {
    const { repo } = await repoWithCatalog()
    const importer = skypilotImporter({ repo })
    expect((await rejection(importer.publish([]))).name).toBe('InvalidOptionError')

    const headerOnly: SkypilotCatalog = { source: 'header-only.csv', cloud: 'lambda', rows: parseSkypilotCsv(`${HEADER}\n`) }
    const prepared = await importer.prepare([headerOnly])
    expect(prepared).toMatchObject({ rows: 0, imported: [], rejected: [] })
    const keys: string[] = []
    for await (const key of repo.datastore.queryKeys({ prefix: '/capdex/import' })) keys.push(key.toString())
    expect(keys).toEqual([])
    expect(await repo.datastore.has(new Key('/capdex/import/lambda'))).toBe(false)
  })
})
