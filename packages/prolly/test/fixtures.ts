import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { compareBytes } from '../src/keys.js'
import type { BlockStore, Entry, Operation, Prolly } from '../src/index.js'

export const encoder = new TextEncoder()
export const bytes = (text: string): Uint8Array => encoder.encode(text)
export const hex = (value: Uint8Array): string => Buffer.from(value).toString('hex')

/** Sorted, distinct entries `key-000000` … with small values. */
export function sequentialEntries (count: number, valueBytes = 8): Entry[] {
  return Array.from({ length: count }, (_, i) => ({
    key: bytes(`key-${String(i).padStart(6, '0')}`),
    value: new Uint8Array(valueBytes).fill(i % 251)
  }))
}

/** The naive model: a map from hex key to value. */
export type Model = Map<string, Uint8Array>

export function modelOf (entries: Iterable<Entry>): Model {
  const model: Model = new Map()
  for (const entry of entries) {
    model.set(hex(entry.key), entry.value)
  }
  return model
}

export function applyOps (model: Model, ops: Iterable<Operation>): Model {
  const next = new Map(model)
  for (const op of ops) {
    if (op.op === 'put') {
      next.set(hex(op.key), op.value)
    } else {
      next.delete(hex(op.key))
    }
  }
  return next
}

export function sortedEntries (model: Model): Entry[] {
  return [...model.entries()]
    .map(([key, value]) => ({ key: Uint8Array.from(Buffer.from(key, 'hex')), value }))
    .sort((a, b) => compareBytes(a.key, b.key))
}

export async function collect<T> (source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of source) {
    items.push(item)
  }
  return items
}

export function plain (entries: Entry[]): Array<[string, string]> {
  return entries.map((entry) => [hex(entry.key), hex(entry.value)])
}

/** Encodes any value as a DAG-CBOR block and stores it: the tool for hand-made hostile trees. */
export async function putRaw (blocks: BlockStore, value: unknown): Promise<CID> {
  const encoded = dagCbor.encode(value)
  const cid = CID.createV1(dagCbor.code, await sha256.digest(encoded))
  await blocks.put(cid, encoded)
  return cid
}

/** Stores raw bytes under their true CID. */
export async function putBytes (blocks: BlockStore, encoded: Uint8Array): Promise<CID> {
  const cid = CID.createV1(dagCbor.code, await sha256.digest(encoded))
  await blocks.put(cid, encoded)
  return cid
}

/** A CID that no store holds. */
export function absentCid (seed = 1): CID {
  return CID.createV1(dagCbor.code, Digest.create(0x12, new Uint8Array(32).fill(seed)))
}

/** Rejects with the error thrown by `run`, or fails the test when nothing is thrown. */
export async function caught (run: () => Promise<unknown>): Promise<Error & { cid?: CID, reason?: string }> {
  try {
    await run()
  } catch (err) {
    return err as Error & { cid?: CID, reason?: string }
  }
  throw new Error('expected an error')
}

export async function rootOf (tree: Prolly, model: Model): Promise<CID> {
  return tree.build(sortedEntries(model))
}
