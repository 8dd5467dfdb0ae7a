import { generateKeyPair } from '@libp2p/crypto/keys'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkSupersedes, createRecord, nameFromPublicKey, selectNewest, verifyRecord } from '../src/records/index.js'
import type { VerifiedRecord } from '../src/records/index.js'
import type { Ed25519PrivateKey } from '@libp2p/interface'

const NOW = Date.parse('2025-06-01T12:00:00Z')
const LEASE_MS = 10 * 60_000
const VALUE = '/ipfs/bagaaierasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea'

let key: Ed25519PrivateKey
let other: Ed25519PrivateKey

async function record (sequence: bigint, options: { value?: string, now?: number, ttlNs?: bigint, signer?: Ed25519PrivateKey } = {}): Promise<VerifiedRecord> {
  const signer = options.signer ?? key
  const bytes = await createRecord(signer, options.value ?? VALUE, sequence, { lifetimeMs: LEASE_MS, now: options.now ?? NOW, ...(options.ttlNs === undefined ? {} : { ttlNs: options.ttlNs }) })
  return verifyRecord(nameFromPublicKey(signer.publicKey), bytes, { now: NOW })
}

function thrown (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a throw')
}

beforeAll(async () => {
  key = await generateKeyPair('Ed25519')
  other = await generateKeyPair('Ed25519')
})

describe('selectNewest', () => {
  it('picks the higher sequence, in either order', async () => {
    const older = await record(1n)
    const newer = await record(2n, { value: '/ipfs/other' })
    expect(selectNewest(older, newer)).toBe(newer)
    expect(selectNewest(newer, older)).toBe(newer)
  })

  it('reports one sequence with two values as equivocation, carrying both records', async () => {
    const a = await record(5n)
    const b = await record(5n, { value: '/ipfs/other' })
    const err = thrown(() => selectNewest(a, b))
    expect(err).toHaveProperty('name', 'EquivocationError')
    expect((err as { records: unknown[] }).records).toEqual([a, b])
  })

  it('at one sequence and value, picks the later EOL, then the same record whatever the order', async () => {
    const short = await record(3n)
    const long = await record(3n, { now: NOW + 1000 })
    expect(selectNewest(short, long)).toBe(long)
    expect(selectNewest(long, short)).toBe(long)

    const ttlA = await record(4n, { ttlNs: 1n })
    const ttlB = await record(4n, { ttlNs: 2n })
    expect(selectNewest(ttlA, ttlB)).toBe(selectNewest(ttlB, ttlA))
  })

  it('refuses to compare records of two names', async () => {
    const mine = await record(1n)
    const theirs = await record(1n, { signer: other })
    expect(thrown(() => selectNewest(mine, theirs))).toHaveProperty('name', 'NameMismatchError')
  })
})

describe('checkSupersedes', () => {
  it('accepts the first record, and a higher sequence', async () => {
    const first = await record(1n)
    const second = await record(2n)
    expect(() => { checkSupersedes(undefined, first) }).not.toThrow()
    expect(() => { checkSupersedes(first, second) }).not.toThrow()
  })

  it('rejects a replayed lower sequence (StaleRecordError), carrying both records', async () => {
    const known = await record(7n)
    const replayed = await record(6n)
    const err = thrown(() => { checkSupersedes(known, replayed) })
    expect(err).toMatchObject({ name: 'StaleRecordError', known, incoming: replayed })
  })

  it('rejects a duplicate and an older lease at the same sequence, and accepts a longer lease', async () => {
    const shorter = await record(8n)
    const longer = await record(8n, { now: NOW + 1000 })
    expect(thrown(() => { checkSupersedes(longer, longer) })).toHaveProperty('name', 'StaleRecordError')
    expect(thrown(() => { checkSupersedes(longer, { ...longer, bytes: longer.bytes.slice() }) })).toHaveProperty('name', 'StaleRecordError')
    expect(thrown(() => { checkSupersedes(longer, shorter) })).toHaveProperty('name', 'StaleRecordError')
    expect(() => { checkSupersedes(shorter, longer) }).not.toThrow()
  })

  it('reports another value at the known sequence as equivocation', async () => {
    const known = await record(9n)
    const conflicting = await record(9n, { value: '/ipfs/other' })
    expect(thrown(() => { checkSupersedes(known, conflicting) })).toHaveProperty('name', 'EquivocationError')
  })

  it('refuses records of two names', async () => {
    const mine = await record(1n)
    const theirs = await record(2n, { signer: other })
    expect(thrown(() => { checkSupersedes(mine, theirs) })).toHaveProperty('name', 'NameMismatchError')
  })
})
