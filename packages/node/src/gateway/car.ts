import { once } from 'node:events'
import { decodeSnapshot } from '@capdex/registry'
import * as dagCbor from '@ipld/dag-cbor'
import { CarWriter } from '@ipld/car/writer'
import { concatBytes } from '../bytes.js'
import type { CID } from 'multiformats/cid'
import type { ServerResponse } from 'node:http'

/** Whether a block is a capdex snapshot (whose CAR is its whole DAG). */
export function isSnapshot (cid: CID, bytes: Uint8Array): boolean {
  if (cid.code !== dagCbor.code) {
    return false
  }
  try {
    decodeSnapshot(bytes)
    return true
  } catch {
    return false
  }
}

/** A CARv1 holding one block, which is its root. */
export async function singleBlockCar (cid: CID, bytes: Uint8Array): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create([cid])
  const collecting = (async () => {
    const parts: Uint8Array[] = []
    for await (const chunk of out) parts.push(chunk)
    return concatBytes(parts, parts.reduce((n, part) => n + part.byteLength, 0))
  })()
  await writer.put({ cid, bytes })
  await writer.close()
  return collecting
}

/** Resolves once the response can take more data, or has closed. */
async function drained (res: ServerResponse): Promise<void> {
  if (res.destroyed) return
  await Promise.race([once(res, 'drain'), once(res, 'close')])
}

/**
 * Writes CAR chunks to a response whose headers are set, minding back-pressure. When the source
 * fails mid-stream the response is destroyed rather than ended: no final chunk, so the client sees
 * a broken transfer, never a truncated CAR that looks whole.
 *
 * @returns the error that cut the stream, if any
 */
export async function pipeCar (res: ServerResponse, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Error | undefined> {
  try {
    for await (const chunk of chunks) {
      if (res.destroyed) break
      if (!res.write(chunk)) await drained(res)
    }
  } catch (err) {
    res.destroy()
    return err as Error
  }
  res.end()
  return undefined
}
