import { describe, expect, it } from 'vitest'
import { auditLog, checkConsistency, verifySnapshot } from '../src/audit/index.js'
import { attrKey, decodeEntry, encodeEntry } from '../src/entries/index.js'
import { nameToBytes } from '../src/records/index.js'
import { historyOperations } from '../src/snapshot/index.js'
import { snapshotTree } from '../src/snapshot/trees.js'
import { chain, cold, collect, HOUR, MINUTE, publish, putSnapshot, story, T0, world } from './audit-fixtures.js'
import type { Story, World } from './audit-fixtures.js'
import type { ProblemKind, VerifyReport } from '../src/audit/index.js'
import type { FoldResult, Snapshot } from '../src/snapshot/index.js'
import type { BlockStore } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'

/** Each tampering must be caught: by `verifySnapshot` (problems, not throws) or by the consistency check. */

function kinds (report: VerifyReport): ProblemKind[] {
  return [...new Set(report.problems.map((p) => p.kind))].sort()
}

/** Re-encodes a snapshot with changed fields and stores it. */
async function rewrite (w: World, snapshot: Snapshot, changes: Partial<Snapshot>): Promise<{ cid: CID, snapshot: Snapshot }> {
  const next = { ...snapshot, ...changes }
  return { cid: await putSnapshot(w, next), snapshot: next }
}

/** The providers' shared story, fresh per test: tampering writes blocks. */
async function fresh (): Promise<Story> {
  return story()
}

describe('tampering', () => {
  it('a rewritten middle snapshot breaks the history check and the consistency proof', async () => {
    const { w, heads } = await fresh()
    const [, h1, h2, h3, h4] = heads as [FoldResult, FoldResult, FoldResult, FoldResult, FoldResult]
    // height 2 rewritten to undo its changes; heights 3 and 4 re-linked onto it with their history as it was
    const h2x = await rewrite(w, h2.snapshot, { providers: h1.snapshot.providers, attrs: h1.snapshot.attrs })
    const h3x = await rewrite(w, h3.snapshot, { prev: h2x.cid })
    const h4x = await rewrite(w, h4.snapshot, { prev: h3x.cid })
    const report = await verifySnapshot(cold(w), h4x.cid, { deep: true })
    expect(report.ok).toBe(false)
    expect(kinds(report)).toContain('history')
    expect(report.verdict).toMatch(/^FAILED: \d+ problems?/)
    await expect(checkConsistency(cold(w), h2.cid, h4x.cid)).rejects.toMatchObject({ name: 'NotExtendingError', reason: 'history-mismatch' })

    // a forger who also rewrites the history is caught as equivocation at height 2
    const history3 = (await w.tree.mutate(h2.snapshot.history, historyOperations(h2x.cid, h2x.snapshot))).root
    const h3y = await rewrite(w, h3.snapshot, { prev: h2x.cid, history: history3 })
    const history4 = (await w.tree.mutate(history3, historyOperations(h3y.cid, h3y.snapshot))).root
    const h4y = await rewrite(w, h4.snapshot, { prev: h3y.cid, history: history4 })
    expect((await verifySnapshot(cold(w), h4y.cid, { deep: true })).ok).toBe(true)
    await expect(checkConsistency(cold(w), h2.cid, h4y.cid)).rejects.toMatchObject({ name: 'EquivocationEvidenceError', evidence: { height: 2 } })
  })

  it('a head that skips a height', async () => {
    const { w, heads } = await fresh()
    const h4 = heads[4]!
    const skip = await rewrite(w, h4.snapshot, { height: 5 })
    const report = await verifySnapshot(cold(w), skip.cid)
    expect(kinds(report)).toEqual(['height', 'history'])
    await expect(collect(auditLog(cold(w), skip.cid))).rejects.toMatchObject({ name: 'ChainBrokenError' })
  })

  it('a prev that points into an unrelated chain', async () => {
    const { w, heads } = await fresh()
    const h4 = heads[4]!
    // the same indexer and network, but another history: only the history tree gives it away
    const unrelated = await chain(w, Array.from({ length: 4 }, (_, i) => ({ now: T0 + i * MINUTE, updates: [] })))
    const grafted = await rewrite(w, h4.snapshot, { prev: unrelated[3]!.cid })
    expect(kinds(await verifySnapshot(cold(w), grafted.cid))).toEqual(['history'])
    // another indexer's chain breaks the chain rule itself
    const foreign = await chain(w, Array.from({ length: 4 }, (_, i) => ({ now: T0 + i * MINUTE, updates: [] })), null, { indexer: 'k51qzi5uqu5other' })
    const crossed = await rewrite(w, h4.snapshot, { prev: foreign[3]!.cid })
    expect(kinds(await verifySnapshot(cold(w), crossed.cid))).toEqual(['chain', 'history'])
  })

  it('two heads at the same height', async () => {
    const { w, heads, providers } = await fresh()
    const [other] = await chain(w, [{ now: T0 + 26 * HOUR, updates: [await publish(providers[1]!, { now: T0 + 26 * HOUR })] }], heads[3])
    expect(other!.snapshot.height).toBe(heads[4]!.snapshot.height)
    const err = await checkConsistency(cold(w), heads[4]!.cid, other!.cid).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'EquivocationEvidenceError', evidence: { height: 4 } })
  })

  it('an attrs tree with an extra key, or with a missing key', async () => {
    const { w, heads, providers } = await fresh()
    const h4 = heads[4]!
    const pk = nameToBytes(providers[0]!.name)
    const extra = (await w.tree.mutate(h4.snapshot.attrs, [{ op: 'put', key: attrKey('gpu', 'b200', pk), value: new Uint8Array(0) }])).root
    const withExtra = await rewrite(w, h4.snapshot, { attrs: extra })
    const report = await verifySnapshot(cold(w), withExtra.cid)
    expect(kinds(report)).toEqual(['attrs-extra'])
    expect(report.problems[0]!.message).toContain('gpu=b200')
    expect(report.problems[0]!.provider).toBe(providers[0]!.name)

    const missing = (await w.tree.mutate(h4.snapshot.attrs, [{ op: 'delete', key: attrKey('region', 'eu-central', pk) }])).root
    const withMissing = await rewrite(w, h4.snapshot, { attrs: missing })
    const missed = await verifySnapshot(cold(w), withMissing.cid)
    expect(kinds(missed)).toEqual(['attrs-missing'])
    expect(missed.problemCount).toBe(1)

    // the same tampering in an older snapshot is found by a deep walk from a good head
    const { w: w2, heads: heads2 } = await fresh()
    const h3 = heads2[3]!
    const bad3 = await rewrite(w2, h3.snapshot, { attrs: (await w2.tree.mutate(h3.snapshot.attrs, [{ op: 'put', key: attrKey('gpu', 'b200', nameToBytes(providers[0]!.name)), value: new Uint8Array(0) }])).root })
    const history = (await w2.tree.mutate(h3.snapshot.history, historyOperations(bad3.cid, bad3.snapshot))).root
    const head = await rewrite(w2, heads2[4]!.snapshot, { prev: bad3.cid, history })
    const deep = await verifySnapshot(cold(w2), head.cid, { deep: true })
    expect(kinds(deep)).toEqual(['attrs-extra'])
    expect(deep.problems[0]!.height).toBe(3)
  })

  it('an entry whose record verifies but whose manifest was swapped', async () => {
    const { w, heads, providers } = await fresh()
    const h2 = heads[2]!
    const h0 = heads[0]!
    const key = nameToBytes(providers[1]!.name)
    // the entry keeps p1's signed record (which points at its second manifest) but names its first manifest
    const entry = decodeEntry((await w.tree.get(h2.snapshot.providers, key))!)
    const oldManifest = decodeEntry((await w.tree.get(h0.snapshot.providers, key))!).manifest
    // in the providers tree's own shape, so that the swap is the only thing wrong with it
    const swapped = (await snapshotTree(w.tree, 'providers').mutate(h2.snapshot.providers, [{ op: 'put', key, value: encodeEntry({ ...entry, manifest: oldManifest }) }])).root
    const withSwap = await rewrite(w, h2.snapshot, { providers: swapped })
    const report = await verifySnapshot(cold(w), withSwap.cid)
    expect(kinds(report)).toEqual(['manifest-cid-mismatch'])
    expect(report.problems[0]!.provider).toBe(providers[1]!.name)

    // or the manifest block itself is replaced under its CID
    const lying: BlockStore = {
      get: async (cid, options) => cid.equals(entry.manifest) ? w.blocks.get(oldManifest, options) : w.blocks.get(cid, options),
      put: async (cid, bytes, options) => w.blocks.put(cid, bytes, options)
    }
    const byBlock = await verifySnapshot(cold(world(lying)), h2.cid)
    expect(kinds(byBlock)).toEqual(['manifest-hash-mismatch'])
  })

  it('times going backwards', async () => {
    const { w, heads } = await fresh()
    const back = await rewrite(w, heads[2]!.snapshot, { time: heads[1]!.snapshot.time - 1 })
    expect(kinds(await verifySnapshot(cold(w), back.cid))).toEqual(['time'])
  })

  it('a snapshot whose count lies, and one whose block was altered', async () => {
    const { w, heads } = await fresh()
    const lie = await rewrite(w, heads[2]!.snapshot, { count: 99 })
    expect(kinds(await verifySnapshot(cold(w), lie.cid))).toEqual(['count'])
    const altered: BlockStore = {
      get: async (cid, options) => cid.equals(heads[2]!.cid) ? w.blocks.get(lie.cid, options) : w.blocks.get(cid, options),
      put: async (cid, bytes, options) => w.blocks.put(cid, bytes, options)
    }
    const report = await verifySnapshot(cold(world(altered)), heads[2]!.cid)
    expect(kinds(report)).toEqual(['snapshot'])
    expect(report.verdict).toBe(`FAILED: 1 problem in ${heads[2]!.cid.toString()}`)
  })
})
