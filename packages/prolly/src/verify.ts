import { CustomProgressEvent } from 'progress-events'
import { entryBytesAt, nodeBytes } from './codec.js'
import { InvalidNodeError } from './errors.js'
import { traverse } from './traverse.js'
import type { TreeContext } from './context.js'
import type { ProllyOptions } from './index.js'
import type { CID } from 'multiformats/cid'

export interface VerifyResult {
  blocks: number
  entries: number
  depth: number
}

/** The last node seen on a level, whose right edge is checked once the next node on that level shows up. */
interface OpenEdge {
  cid: CID
  entries: number
  entryBytes: number
  /** whether its last key is a boundary, which closes a node whatever comes next */
  boundary: boolean
}

/**
 * Re-fetches and re-hashes every block and checks that the tree is exactly the canonical tree of its entries:
 * node shape and size, levels, key order within and across nodes, first keys and counts against the parent, and
 * chunk boundaries, so that a tree from a buggy or hostile writer fails even when every block hashes correctly.
 */
export async function verify (ctx: TreeContext, root: CID, options: ProllyOptions = {}): Promise<VerifyResult> {
  const { rules } = ctx
  const edges: Array<OpenEdge | undefined> = []
  let lastKey: Uint8Array | undefined
  let blocks = 0
  let entries = 0
  let depth = 0

  for await (const { cid, bytes, node, claim } of traverse(ctx, root, options)) {
    blocks++
    const keys = node.keys
    if (claim === undefined) {
      depth = node.level + 1
      if (!node.leaf && keys.length < 2) {
        throw new InvalidNodeError(cid, 'level', 'a root branch with one child should be that child')
      }
    } else {
      if (keys.length === 0) {
        throw new InvalidNodeError(cid, 'empty', 'only the root of the empty tree may hold no entries')
      }
      if (keys.compare(0, claim.key) !== 0) {
        throw new InvalidNodeError(cid, 'order', 'the first key differs from the key in the parent')
      }
      if (node.count !== claim.count) {
        throw new InvalidNodeError(cid, 'count', `holds ${node.count} entries where the parent counts ${claim.count}`)
      }
    }

    if (node.leaf && keys.length > 0) {
      if (lastKey !== undefined && keys.compare(0, lastKey) <= 0) {
        throw new InvalidNodeError(cid, 'order', 'the leaf does not sort after the leaf before it')
      }
      lastKey = keys.get(keys.length - 1)
      entries += keys.length
    }

    for (let i = 0; i < keys.length - 1; i++) {
      if (rules.isBoundary(node.level, keys.get(i))) {
        throw new InvalidNodeError(cid, 'boundary', `key ${i} is a chunk boundary but does not end the node`)
      }
    }
    const edge = edges[node.level]
    if (edge !== undefined && !edge.boundary && !rules.overflows(node.level, edge.entries, edge.entryBytes, entryBytesAt(node, 0))) {
      throw new InvalidNodeError(edge.cid, 'boundary', 'the node ends without a boundary key and without reaching the size bound')
    }
    if (keys.length > 0) {
      edges[node.level] = {
        cid,
        entries: keys.length,
        entryBytes: bytes.length - nodeBytes(node.level, keys.length, 0),
        boundary: rules.isBoundary(node.level, keys.get(keys.length - 1))
      }
    }

    options.onProgress?.(new CustomProgressEvent('prolly:verify:block', { cid, blocks }))
  }
  return { blocks, entries, depth }
}
