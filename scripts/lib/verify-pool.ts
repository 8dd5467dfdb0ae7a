/**
 * Announcement verification spread over worker threads: each worker runs `verifyAnnouncement`
 * (decode, record structure, inline manifest hash, Ed25519 signature, expiry) on its share of a
 * batch and sends back the plain fields; the caller's thread rebuilds the `VerifiedRecord`s. Used
 * by `pnpm bench:fold` to measure verification over both cores. The indexer service itself
 * verifies on its main thread (in the gossipsub validator).
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { CID } from 'multiformats/cid'
import type { VerifiedRecord } from '@capdex/registry'

/** What a worker sends back for one announcement. */
export type PooledVerdict =
  | { ok: true, name: string, publicKey: Uint8Array, value: string, sequence: bigint, validity: number, ttlNs: bigint, record: Uint8Array, manifest: Uint8Array | undefined }
  | { ok: false, error: string }

export interface VerifyJob {
  id: number
  announcements: Uint8Array[]
  now: number
}

export interface VerifyPool {
  readonly size: number
  /** Verifies every announcement, in order; the batch is split evenly over the workers. */
  verify(announcements: Uint8Array[], options: { now: number }): Promise<PooledVerdict[]>
  close(): Promise<void>
}

export interface VerifyPoolInit {
  /** @default min(2, availableParallelism()) */
  workers?: number
}

/** The `VerifiedRecord` a worker's verdict stands for. */
export function verifiedRecordOf (v: Extract<PooledVerdict, { ok: true }>): VerifiedRecord {
  const publicKey = publicKeyFromRaw(v.publicKey)
  if (publicKey.type !== 'Ed25519') throw new TypeError('expected an Ed25519 key')
  let valueCid: CID | undefined
  let parsed = false
  const value = v.value
  return {
    name: v.name,
    publicKey,
    value,
    get valueCid (): CID | undefined {
      if (!parsed) {
        parsed = true
        try { valueCid = value.startsWith('/ipfs/') && value.indexOf('/', 6) === -1 ? CID.parse(value.slice(6)) : undefined } catch { valueCid = undefined }
      }
      return valueCid
    },
    sequence: v.sequence,
    validity: new Date(v.validity),
    ttlNs: v.ttlNs,
    bytes: v.record
  }
}

class WorkerVerifyPool implements VerifyPool {
  readonly size: number
  private readonly workers: Worker[]
  private readonly waiting = new Map<number, { resolve(verdicts: PooledVerdict[]): void, reject(err: Error): void }>()
  private nextId = 0

  constructor (size: number) {
    this.size = size
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(new URL('./verify-worker.ts', import.meta.url))
      worker.on('message', ({ id, verdicts }: { id: number, verdicts: PooledVerdict[] }) => {
        const waiter = this.waiting.get(id)
        this.waiting.delete(id)
        waiter?.resolve(verdicts)
      })
      worker.on('error', (err) => {
        for (const waiter of this.waiting.values()) waiter.reject(err)
        this.waiting.clear()
      })
      return worker
    })
  }

  async verify (announcements: Uint8Array[], options: { now: number }): Promise<PooledVerdict[]> {
    const per = Math.ceil(announcements.length / this.size)
    const parts = await Promise.all(this.workers.map(async (worker, w) => {
      const slice = announcements.slice(w * per, (w + 1) * per)
      if (slice.length === 0) return []
      const id = this.nextId++
      const job: VerifyJob = { id, announcements: slice, now: options.now }
      return new Promise<PooledVerdict[]>((resolve, reject) => {
        this.waiting.set(id, { resolve, reject })
        worker.postMessage(job)
      })
    }))
    return parts.flat()
  }

  async close (): Promise<void> {
    await Promise.all(this.workers.map(async (w) => w.terminate()))
  }
}

export function verifyPool (init: VerifyPoolInit = {}): VerifyPool {
  return new WorkerVerifyPool(Math.max(1, init.workers ?? Math.min(2, availableParallelism())))
}
