import { Readable } from 'node:stream'
import * as dagCbor from '@ipld/dag-cbor'
import { CarReader } from '@ipld/car/reader'
import { CarWriter } from '@ipld/car/writer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportCar, importCar, localBlockSource, openIndex, pinStore, snapshotDag } from '../src/index.js'
import { all, foldChain, makeProviders, NOW, storedBlocks, tempRepo, updateFor } from './client-fixtures.js'
import { rejection } from './helpers.js'
import type { Chain, TestRepo } from './client-fixtures.js'
import type { CarBlockMismatchError, DagBlock, Pin } from '../src/index.js'
import type { CID } from 'multiformats/cid'

async function carOf (blocks: Array<{ cid: CID, bytes: Uint8Array }>, roots: CID[]): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create(roots)
  const collected = all(out)
  for (const block of blocks) await writer.put(block)
  await writer.close()
  return Buffer.concat(await collected)
}

describe('CAR export and import', () => {
  let origin: TestRepo
  let chain: Chain
  let head: CID
  let dag: DagBlock[]
  let car: Uint8Array

  beforeAll(async () => {
    origin = await tempRepo()
    const providers = await makeProviders(30)
    chain = await foldChain(origin.blocks, [
      await Promise.all(providers.slice(0, 15).map(updateFor)),
      await Promise.all(providers.slice(15).map(updateFor))
    ])
    head = chain.heads[1]!.cid
    const source = localBlockSource({ blockstore: origin.repo.blockstore })
    dag = await all(snapshotDag({ blocks: source }, head))
    car = Buffer.concat(await all(exportCar({ blocks: source }, head)))
  })

  afterAll(async () => { await origin.close() })

  /** Imports into a fresh repo and returns the error, checking that nothing was stored or pinned. */
  async function rejectedImport (bytes: Uint8Array): Promise<Error> {
    const t = await tempRepo()
    try {
      const before = await storedBlocks(t.repo)
      const err = await rejection(importCar({ repo: t.repo }, bytes))
      expect(await storedBlocks(t.repo)).toEqual(before)
      expect(await all(pinStore({ repo: t.repo }).ls())).toEqual([])
      return err
    } finally {
      await t.close()
    }
  }

  it('exports a CARv1 with the snapshot as its only root, the same bytes every time', async () => {
    const reader = await CarReader.fromBytes(car)
    expect(reader.version).toBe(1)
    expect((await reader.getRoots()).map(String)).toEqual([head.toString()])
    expect((await all(reader.cids())).map(String)).toEqual(dag.map((b) => b.cid.toString()))
    const again = Buffer.concat(await all(exportCar({ blocks: localBlockSource({ blockstore: origin.repo.blockstore }) }, head)))
    expect(Buffer.compare(again, car)).toBe(0)
  })

  it('round-trips: the import re-hashes, stores, pins, and the copy answers queries offline', async () => {
    const t = await tempRepo()
    try {
      // streamed in two chunks
      const imported = await importCar({ repo: t.repo }, Readable.from([car.subarray(0, 100), car.subarray(100)]))
      expect(imported.root.equals(head)).toBe(true)
      expect(imported).toMatchObject({ blocks: dag.length, stored: dag.length })
      expect(imported.pin).toMatchObject({ history: false, blocks: dag.length })
      expect((await storedBlocks(t.repo)).size).toBe(dag.length)
      const pins: Pin[] = await all(pinStore({ repo: t.repo }).ls())
      expect(pins.map((p) => p.cid.toString())).toEqual([head.toString()])

      const index = await openIndex({ blocks: localBlockSource({ blockstore: t.repo.blockstore }), pins: pinStore({ repo: t.repo }) }, head, { offline: true })
      expect(index.completeness).toBe('pinned')
      expect((await all(index.query('gpus>=1', { now: NOW }))).length).toBeGreaterThan(0)
    } finally {
      await t.close()
    }
  })

  it('carries history when asked, and the import pins it with history', async () => {
    const t = await tempRepo()
    try {
      const withHistory = Buffer.concat(await all(exportCar({ blocks: localBlockSource({ blockstore: origin.repo.blockstore }) }, head, { history: true })))
      const imported = await importCar({ repo: t.repo }, withHistory)
      expect(imported.pin.history).toBe(true)
      expect((await storedBlocks(t.repo)).size).toBeGreaterThan(dag.length)
    } finally {
      await t.close()
    }
  })

  it('export of a snapshot with missing blocks fails with IncompleteSnapshotError', async () => {
    const t = await tempRepo()
    try {
      for (const block of dag.slice(0, -2)) await t.repo.blockstore.put(block.cid, block.bytes)
      const err = await rejection(all(exportCar({ blocks: localBlockSource({ blockstore: t.repo.blockstore }) }, head)))
      expect(err.name).toBe('IncompleteSnapshotError')
      expect(err.message).toContain('2 blocks missing')
    } finally {
      await t.close()
    }
  })

  it('rejects a truncated CAR and stores nothing', async () => {
    for (const cut of [5, Math.floor(car.length / 2), car.length - 7]) {
      const err = await rejectedImport(car.subarray(0, cut))
      expect(err.name).toBe('TruncatedCarError')
    }
  })

  it('rejects a CAR with one flipped byte, naming the bad block, and stores nothing', async () => {
    const victim = dag.find((b) => b.kind === 'manifest')!
    const offset = Buffer.from(car).indexOf(Buffer.from(victim.bytes))
    expect(offset).toBeGreaterThan(0)
    const tampered = Uint8Array.from(car)
    const at = offset + Math.floor(victim.bytes.length / 2)
    tampered[at] = tampered[at]! ^ 0x01
    const err = await rejectedImport(tampered) as CarBlockMismatchError
    expect(err.name).toBe('CarBlockMismatchError')
    expect(err.cid?.equals(victim.cid)).toBe(true)
    expect(err.message).toContain(victim.cid.toString())
  })

  it('rejects a CAR whose root is not among its blocks, and stores nothing', async () => {
    const err = await rejectedImport(await carOf(dag.filter((b) => !b.cid.equals(head)), [head]))
    expect(err.name).toBe('CarRootMissingError')
    expect(err.message).toContain(head.toString())
  })

  it('rejects a CAR that lacks part of the snapshot DAG, and stores nothing', async () => {
    const err = await rejectedImport(await carOf(dag.filter((b) => b.kind !== 'manifest' || b !== dag.find((x) => x.kind === 'manifest')), [head]))
    expect(err.name).toBe('IncompleteSnapshotError')
    expect(err.message).toContain('1 block missing')
  })

  it('rejects a CAR whose root is not a snapshot, or that has two roots', async () => {
    const manifest = dag.find((b) => b.kind === 'manifest')!
    expect((await rejectedImport(await carOf([manifest], [manifest.cid]))).name).toBe('NotASnapshotError')
    expect((await rejectedImport(await carOf(dag, [head, manifest.cid]))).name).toBe('InvalidCarError')
    expect((await rejectedImport(new TextEncoder().encode('not a car at all'))).name).toMatch(/^(InvalidCarError|TruncatedCarError)$/)
  })

  it('refuses a CAR over the size cap before decoding it', async () => {
    const t = await tempRepo()
    try {
      expect((await rejection(importCar({ repo: t.repo }, car, { maxBytes: 1000 }))).name).toBe('CarTooLargeError')
    } finally {
      await t.close()
    }
  })
})

describe('CAR export and import, more', () => {
  let origin: TestRepo
  let head: CID
  let car: Uint8Array
  let dag: DagBlock[]

  beforeAll(async () => {
    origin = await tempRepo()
    const chain = await foldChain(origin.blocks, [await Promise.all((await makeProviders(8)).map(updateFor))])
    head = chain.heads[0]!.cid
    const source = localBlockSource({ blockstore: origin.repo.blockstore })
    dag = await all(snapshotDag({ blocks: source }, head))
    car = Buffer.concat(await all(exportCar({ blocks: source }, head)))
  })

  afterAll(async () => { await origin.close() })

  it('imports the same blocks from a CARv2 wrapping the CARv1', async () => {
    // pragma, then characteristics, data offset, data size, index offset, then the CARv1
    const pragma = Uint8Array.of(0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02)
    const header = new DataView(new ArrayBuffer(40))
    header.setBigUint64(16, BigInt(pragma.length + 40), true)
    header.setBigUint64(24, BigInt(car.length), true)
    const v2 = Buffer.concat([pragma, new Uint8Array(header.buffer), car])
    expect((await all((await CarReader.fromBytes(v2)).cids())).length).toBe(dag.length)
    const t = await tempRepo()
    try {
      const imported = await importCar({ repo: t.repo }, v2)
      expect(imported).toMatchObject({ blocks: dag.length, stored: dag.length })
      expect(imported.root.equals(head)).toBe(true)
    } finally {
      await t.close()
    }
  })

  it('counts what is already local as stored before, and pins the whole DAG', async () => {
    const t = await tempRepo()
    try {
      for (const block of dag.slice(0, 3)) await t.repo.blockstore.put(block.cid, block.bytes)
      const imported = await importCar({ repo: t.repo }, car)
      expect(imported).toMatchObject({ blocks: dag.length, stored: dag.length - 3, pin: { blocks: dag.length } })
      // a CAR that lacks blocks the repo has is whole with them
      const partial = await carOf(dag.filter((b) => b.kind !== 'manifest'), [head])
      const again = await tempRepo()
      try {
        for (const block of dag.filter((b) => b.kind === 'manifest')) await again.repo.blockstore.put(block.cid, block.bytes)
        expect(await importCar({ repo: again.repo }, partial)).toMatchObject({ stored: dag.filter((b) => b.kind !== 'manifest').length, pin: { blocks: dag.length } })
      } finally {
        await again.close()
      }
    } finally {
      await t.close()
    }
  })

  it('export of a snapshot with a corrupt local block fails, naming it', async () => {
    const t = await tempRepo()
    try {
      const victim = dag.find((b) => b.kind === 'attrs')!
      for (const block of dag) await t.repo.blockstore.put(block.cid, block === victim ? dagCbor.encode([0, [], []]) : block.bytes)
      const err = await rejection(all(exportCar({ blocks: localBlockSource({ blockstore: t.repo.blockstore }) }, head)))
      expect(err.name).toBe('BlockHashMismatchError')
      expect(err.message).toContain(victim.cid.toString())
    } finally {
      await t.close()
    }
  })

  it('rejects a CAR with a tampered tree node, naming it before reading inside it', async () => {
    const victim = dag.find((b) => b.kind === 'providers')!
    const offset = Buffer.from(car).indexOf(Buffer.from(victim.bytes))
    const tampered = Uint8Array.from(car)
    tampered[offset] = 0xff
    const t = await tempRepo()
    try {
      const err = await rejection(importCar({ repo: t.repo }, tampered)) as CarBlockMismatchError
      expect(err.name).toBe('CarBlockMismatchError')
      expect(err.cid?.equals(victim.cid)).toBe(true)
      expect((await storedBlocks(t.repo)).size).toBe(0)
    } finally {
      await t.close()
    }
  })
})
