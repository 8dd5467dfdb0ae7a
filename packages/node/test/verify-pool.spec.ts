import { getPriority } from 'node:os'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRecord, encodeAnnouncement, verifyAnnouncement } from '@capdex/registry'
import { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it } from 'vitest'
import { announcementVerifier } from '../src/index.js'
import type { AnnouncementVerifier } from '../src/index.js'

const MANIFEST = CID.parse('bagaaierasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea')
const NOW = Date.parse('2026-01-01T00:00:00Z')

async function announcement (lifetimeMs = 600_000): Promise<Uint8Array> {
  const key = await generateKeyPair('Ed25519')
  return encodeAnnouncement({ record: await createRecord(key, MANIFEST, 1n, { lifetimeMs, now: NOW }) })
}

describe('announcementVerifier', () => {
  let verifier: AnnouncementVerifier | undefined
  afterEach(async () => { await verifier?.close() })

  for (const workers of [0, 2]) {
    it(`gives what verifyAnnouncement gives, in order, with ${workers} worker(s) (or its in-thread fallback)`, async () => {
      verifier = announcementVerifier({ workers })
      const good = await announcement()
      const expired = await announcement(1)
      const inputs = [good, Uint8Array.of(1, 2, 3), expired, good]
      const results = await verifier.verifyMany(inputs, { now: NOW + 1000 })
      const direct = await Promise.all(inputs.map(async (a) => verifyAnnouncement(a, { now: NOW + 1000 }).catch((err: Error) => err)))
      expect(results.map((r) => r instanceof Error ? r.name : r.record.name)).toEqual(direct.map((r) => r instanceof Error ? r.name : r.record.name))
      const first = results[0]!
      if (first instanceof Error) throw first
      const expected = direct[0] as Awaited<ReturnType<typeof verifyAnnouncement>>
      expect(first.record.valueCid?.equals(MANIFEST)).toBe(true)
      expect(first.record.sequence).toBe(expected.record.sequence)
      expect(first.record.validity.getTime()).toBe(expected.record.validity.getTime())
      expect(first.record.publicKey.equals(expected.record.publicKey)).toBe(true)
      expect(first.record.bytes).toEqual(expected.record.bytes)
      // single calls are batched, and a failure rejects with the verifier's own error name
      await expect(verifier.verify(good, { now: NOW + 1000 })).resolves.toMatchObject({ record: { name: expected.record.name } })
      await expect(verifier.verify(Uint8Array.of(1), { now: NOW })).rejects.toMatchObject({ name: (direct[1] as Error).name })
      expect(verifier.workers).toBeLessThanOrEqual(workers)
    })
  }

  it('runs workers at a lower priority than the calling thread, which keeps its own', async () => {
    const before = getPriority(0)
    verifier = announcementVerifier({ workers: 1, workerNice: 19 })
    const [result] = await verifier.verifyMany([await announcement()], { now: NOW + 1000 })
    expect(result).not.toBeInstanceOf(Error)
    // on Linux the nice value is per thread: the worker's change leaves this thread as it was
    expect(getPriority(0)).toBe(before)
  })

  it('refuses a worker priority that is not a nice increment from 0 to 19', () => {
    for (const workerNice of [-1, 20, 2.5, Number.NaN]) {
      expect(() => announcementVerifier({ workers: 0, workerNice })).toThrow(/workerNice must be an integer from 0 to 19/)
      expect(() => announcementVerifier({ workers: 0, workerNice })).toThrow(expect.objectContaining({ name: 'InvalidOptionError' }))
    }
  })
})
