import { once } from 'node:events'
import { decodeEntry, decodeSnapshot } from '@capdex/registry'
import * as dagCbor from '@ipld/dag-cbor'
import { CarWriter } from '@ipld/car/writer'
import { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'
import type { ServerResponse } from 'node:http'

/** A block as it goes into a CAR. */
export interface CarBlock {
  cid: CID
  bytes: Uint8Array
}

/** Reads a block, already checked against its CID; throws when it cannot. */
export type ReadBlock = (cid: CID, options: AbortOptions) => Promise<Uint8Array>

export interface SnapshotDagOptions extends AbortOptions {
  /** follow `prev` to every earlier snapshot (and their trees) */
  history?: boolean
}

/** A snapshot, or undefined when the block is anything else. */
export function asSnapshot (cid: CID, bytes: Uint8Array): ReturnType<typeof decodeSnapshot> | undefined {
  if (cid.code !== dagCbor.code) {
    return undefined
  }
  try {
    return decodeSnapshot(bytes)
  } catch {
    return undefined
  }
}

/** The child links of a prolly branch, and the values of a leaf (`[level, keys, links|values, counts?]`, see @capdex/prolly). */
function treeNode (cid: CID, bytes: Uint8Array): { children: CID[], values: Uint8Array[] } {
  const node: unknown = dagCbor.decode(bytes)
  if (!Array.isArray(node) || typeof node[0] !== 'number' || !Array.isArray(node[2])) {
    throw new TypeError(`Block ${cid.toString()} is not a prolly tree node`)
  }
  const items: unknown[] = node[2]
  if (node[0] === 0) {
    return { children: [], values: items.filter((v): v is Uint8Array => v instanceof Uint8Array) }
  }
  return { children: items.map(link => CID.asCID(link)).filter((link): link is CID => link != null), values: [] }
}

/**
 * Every block of a snapshot's DAG, each once, parents before children: the snapshot block, then
 * its providers tree with the manifest of each entry after the leaf that holds it, its attrs tree
 * and its history tree. With `history`, the same for each earlier snapshot through `prev`,
 * skipping blocks already sent (subtrees shared between snapshots are not walked again).
 */
export async function * snapshotDag (root: CarBlock, read: ReadBlock, options: SnapshotDagOptions = {}): AsyncGenerator<CarBlock> {
  const seen = new Set<string>()
  const aborts: AbortOptions = options.signal != null ? { signal: options.signal } : {}
  const fresh = (cid: CID): boolean => {
    const key = cid.toString()
    if (seen.has(key)) return false
    seen.add(key)
    return true
  }

  async function * tree (treeRoot: CID, manifests: boolean): AsyncGenerator<CarBlock> {
    const stack = [treeRoot]
    while (stack.length > 0) {
      const cid = stack.pop()
      if (cid == null || !fresh(cid)) continue
      const bytes = await read(cid, aborts)
      yield { cid, bytes }
      const { children, values } = treeNode(cid, bytes)
      // reversed onto the stack, so the leftmost child comes out first (depth-first, in key order)
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!)
      if (manifests) {
        for (const value of values) {
          const manifest = decodeEntry(value).manifest
          if (fresh(manifest)) yield { cid: manifest, bytes: await read(manifest, aborts) }
        }
      }
    }
  }

  let block: CarBlock | undefined = root
  while (block != null) {
    const snapshot = asSnapshot(block.cid, block.bytes)
    if (snapshot == null || !fresh(block.cid)) return
    yield block
    yield * tree(snapshot.providers, true)
    yield * tree(snapshot.attrs, false)
    yield * tree(snapshot.history, false)
    const prev = snapshot.prev
    block = options.history === true && prev != null && !seen.has(prev.toString())
      ? { cid: prev, bytes: await read(prev, aborts) }
      : undefined
  }
}

/** Resolves once the response can take more data, or has closed. */
async function drained (res: ServerResponse): Promise<void> {
  if (res.destroyed) return
  await Promise.race([once(res, 'drain'), once(res, 'close')])
}

/**
 * Streams a CARv1 of `blocks` with `root` as its root. The headers must already be set. When
 * reading a block fails mid-stream, the response is destroyed rather than ended, so the client
 * sees a broken transfer, never a truncated CAR that looks whole.
 *
 * @returns the number of blocks sent, or the error that cut the stream
 */
export async function streamCar (res: ServerResponse, root: CID, blocks: AsyncIterable<CarBlock> | Iterable<CarBlock>): Promise<{ blocks: number, error?: Error }> {
  const { writer, out } = CarWriter.create([root])
  const sending = (async () => {
    for await (const chunk of out) {
      // keep draining after a disconnect, so pending puts settle
      if (res.destroyed) continue
      if (!res.write(chunk)) await drained(res)
    }
  })()
  let count = 0
  let error: Error | undefined
  try {
    for await (const block of blocks) {
      if (res.destroyed) break
      await writer.put(block)
      count++
    }
  } catch (err) {
    error = err as Error
  } finally {
    await writer.close()
    await sending
  }
  if (error != null) {
    // no terminating chunk: the client sees an aborted transfer
    res.destroy()
    return { blocks: count, error }
  }
  res.end()
  return { blocks: count }
}
