import { DEFAULT_TARGET_FANOUT } from '@capdex/prolly'
import type { Prolly, TreeShape } from '@capdex/prolly'

/** The three prolly trees a snapshot links. */
export type SnapshotTree = 'providers' | 'attrs' | 'history'

/**
 * How each snapshot tree is cut into nodes: part of the format, since indexers that hold the same records must
 * reach the same roots. A providers entry (signed record, manifest link, lease) is about 570 bytes, so leaves of
 * 32 entries averaged 18 KB, and every heartbeat re-hashed and re-encoded a whole leaf, twice its average size as
 * large leaves catch more updates. Leaves of 8 entries (about 4.5 KB) under branches of 32 cut that work fourfold
 * for a quarter more blocks. Attribute keys (about 60 bytes, empty values) and history entries are small: their
 * trees keep the default fan-out.
 */
export const SNAPSHOT_TREE_SHAPES: Readonly<Record<SnapshotTree, Readonly<Required<TreeShape>>>> = {
  providers: { targetFanout: DEFAULT_TARGET_FANOUT, leafFanout: 8 },
  attrs: { targetFanout: DEFAULT_TARGET_FANOUT, leafFanout: DEFAULT_TARGET_FANOUT },
  history: { targetFanout: DEFAULT_TARGET_FANOUT, leafFanout: DEFAULT_TARGET_FANOUT }
}

/**
 * The engine that writes and verifies one of a snapshot's trees: `prolly` with that tree's shape, sharing its store
 * and cache. Reads do not depend on the shape and may use any engine.
 */
export function snapshotTree (prolly: Prolly, tree: SnapshotTree): Prolly {
  return prolly.withShape(SNAPSHOT_TREE_SHAPES[tree])
}
