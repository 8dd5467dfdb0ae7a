/**
 * Offline checks of an indexer's repo, for the fault tests: run them only while no indexer holds
 * the repo (after SIGKILL the dead process's lock is taken over).
 */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { openRepo, readIndexerHead } from '@capdex/node'
import { fromHeliaBlockstore, prolly } from '@capdex/prolly'
import { decodeEntry, nameFromBytes, openSnapshot, snapshotTree, verifyRecord } from '@capdex/registry'
import * as dagCbor from '@ipld/dag-cbor'
import type { Snapshot } from '@capdex/registry'
import type { CID } from 'multiformats/cid'

export interface VerifiedHead {
  cid: CID
  snapshot: Snapshot
  /** the record sequence of every provider in the head, by name (every record signature-checked) */
  sequences: Map<string, bigint>
  /** blocks `prolly.verify` re-hashed across the providers, attrs and history trees */
  blocks: number
}

/** Opens the repo's head (`indexer/head.json`), runs `prolly.verify` on its three trees and reads every entry. */
export async function verifyHead (repoPath: string): Promise<VerifiedHead | undefined> {
  const cid = await readIndexerHead(repoPath)
  if (cid === undefined) return undefined
  const repo = await openRepo(repoPath)
  try {
    const blocks = fromHeliaBlockstore(repo.blockstore)
    const tree = prolly({ blocks })
    const { snapshot } = await openSnapshot(cid, blocks)
    let verified = 0
    for (const name of ['providers', 'attrs', 'history'] as const) verified += (await snapshotTree(tree, name).verify(snapshot[name])).blocks
    const sequences = new Map<string, bigint>()
    for await (const { key, value } of tree.range(snapshot.providers)) {
      const name = nameFromBytes(key)
      sequences.set(name, (await verifyRecord(name, decodeEntry(value).record, { allowExpired: true })).sequence)
    }
    return { cid, snapshot, sequences, blocks: verified }
  } finally {
    await repo.close()
  }
}

/**
 * The highest record sequence per provider among the updates left in the indexer's journal
 * (`indexer/journal/*.log`: frames of u32 BE length, u32 BE CRC-32, DAG-CBOR `{ name, record,
 * manifest, seen }`), read without touching it. A torn or corrupt frame ends its segment, as on
 * the indexer's own replay. Each record's signature is checked.
 */
export async function journaledSequences (repoPath: string): Promise<Map<string, bigint>> {
  const dir = join(repoPath, 'indexer', 'journal')
  const out = new Map<string, bigint>()
  let files: string[]
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.log')).sort()
  } catch {
    return out
  }
  for (const file of files) {
    const bytes = await readFile(join(dir, file))
    let offset = 0
    while (offset + 8 <= bytes.length) {
      const length = bytes.readUInt32BE(offset)
      const payload = bytes.subarray(offset + 8, offset + 8 + length)
      if (length === 0 || payload.length < length || crc32(payload) !== bytes.readUInt32BE(offset + 4)) break
      const { name, record } = dagCbor.decode<{ name: string, record: Uint8Array }>(payload)
      const { sequence } = await verifyRecord(name, record, { allowExpired: true })
      if (sequence > (out.get(name) ?? 0n)) out.set(name, sequence)
      offset += 8 + length
    }
  }
  return out
}

/** A metric's value from Prometheus text, or undefined when absent. */
export function metric (text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

/**
 * Polls the indexer's gateway (`/ipns/<name>?format=ipns-record`, the records it stored as it validated
 * announcements) until each name's stored record is at `sequences`' sequence or later (bounded).
 */
export async function storedUntil (http: string, sequences: ReadonlyMap<string, bigint>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const behind = new Map(sequences)
  for (;;) {
    for (const [name, sequence] of behind) {
      const res = await fetch(`${http}/ipns/${name}?format=ipns-record`)
      if (res.status === 404) continue
      const stored = await verifyRecord(name, new Uint8Array(await res.arrayBuffer()), { allowExpired: true })
      if (stored.sequence >= sequence) behind.delete(name)
    }
    if (behind.size === 0) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for the indexer to store ${behind.size} record(s): ${[...behind].map(([n, s]) => `${n} seq ${s}`).join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Scrapes `/metrics` until `check` holds (bounded); returns the text that satisfied it. `expecting` goes in the timeout's message. */
export async function metricsUntil (http: string, check: (text: string) => boolean, options: { timeoutMs?: number, expecting?: string } = {}): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  for (;;) {
    const text = await (await fetch(`${http}/metrics`)).text()
    if (check(text)) return text
    if (Date.now() > deadline) throw new Error(`timed out waiting on /metrics${options.expecting === undefined ? '' : ` for ${options.expecting}`}; last scrape:\n${text}`)
    // each scrape is an HTTP round trip to the indexer: the poll is bounded by the deadline
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
