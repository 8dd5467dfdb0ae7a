import { CustomProgressEvent } from 'progress-events'
import { nameToBytes } from '../records/index.js'
import { expiredBetween } from '../snapshot/expiry.js'
import { openSnapshot } from '../snapshot/format.js'
import { readEntry } from './entry.js'
import { diffManifests } from './fields.js'
import type { AuditComponents } from './chain.js'
import type { EntryState, ReadEntry } from './entry.js'
import type { FieldChange } from './fields.js'
import type { AbortOptions, Prolly } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

/**
 * - `added`, `removed`: in B only, in A only
 * - `changed`: a new manifest (with a field-level diff)
 * - `renewed`: the same manifest under a new record (a heartbeat) or a grown lease summary
 * - `expired`: the same entry in both, whose lease ended between A's time and B's
 */
export type ChangeKind = 'added' | 'removed' | 'changed' | 'renewed' | 'expired'

export interface ProviderChange {
  kind: ChangeKind
  provider: string
  /** the entry in A */
  before?: EntryState
  /** the entry in B */
  after?: EntryState
  /** what changed in the manifest, for `changed` when manifests are loaded */
  fields?: FieldChange[]
  /** the lease ended in [A.time, B.time): always for `expired`, and on other kinds it applies to */
  expired?: boolean
}

export interface DiffSummary {
  added: number
  removed: number
  changed: number
  renewed: number
  expired: number
  /** tree nodes loaded to diff the providers trees (store reads plus cache hits) */
  diffBlocks: number
  /** tree nodes loaded for the `expires` range scan and the entries of unchanged expired providers */
  expiryBlocks: number
  /** manifest blocks fetched (two per `changed`) */
  manifestBlocks: number
  /** depth of B's providers tree */
  depth: number
  elapsedMs: number
}

export type DiffProgressEvents =
  | ProgressEvent<'registry:audit:diff', { changes: number }>

export interface AuditDiffOptions extends AbortOptions, ProgressOptions<DiffProgressEvents> {
  /**
   * Load both manifests of a changed entry and diff their fields; without, changes are classified
   * by manifest CID only and no block but tree nodes is read.
   *
   * @default true
   */
  fields?: boolean
  /**
   * Verify both records of a change (sequence and EOL in the output). Needs `fields`.
   *
   * @default true
   */
  records?: boolean
}

/** The changes from A to B, sorted by provider key (expired-only providers last, by expiry); `summary` fills in as it runs. */
export interface AuditDiff extends AsyncIterable<ProviderChange> {
  readonly summary: DiffSummary
}

function loads (prolly: Pick<Prolly, 'stats'>): number {
  return prolly.stats.blocksRead + prolly.stats.cacheHits
}

/**
 * What changed between two snapshots, from one `prolly.diff` of their providers trees: it opens
 * only subtrees whose CIDs differ, so its cost grows with the changes, not with the index. Expiry
 * (a flag, not a change of entry) comes from one `expires` range scan of B's attrs tree.
 */
export function auditDiff (components: AuditComponents, a: CID, b: CID, options: AuditDiffOptions = {}): AuditDiff {
  const summary: DiffSummary = { added: 0, removed: 0, changed: 0, renewed: 0, expired: 0, diffBlocks: 0, expiryBlocks: 0, manifestBlocks: 0, depth: 0, elapsedMs: 0 }
  return {
    summary,
    [Symbol.asyncIterator]: () => run(components, a, b, options, summary)[Symbol.asyncIterator]()
  }
}

async function * run (components: AuditComponents, aCid: CID, bCid: CID, options: AuditDiffOptions, summary: DiffSummary): AsyncGenerator<ProviderChange> {
  const started = performance.now()
  const { prolly } = components
  const abort: AbortOptions = options.signal === undefined ? {} : { signal: options.signal }
  const manifests = options.fields ?? true
  const read = { ...abort, manifests, records: manifests && (options.records ?? true) }
  const a = await openSnapshot(aCid, components.blocks, abort)
  const b = await openSnapshot(bCid, components.blocks, abort)
  summary.depth = await prolly.depth(b.providers, abort)

  let mark = loads(prolly)
  const expiring = new Set<string>()
  for await (const name of expiredBetween(components, a.snapshot, b.snapshot, abort)) expiring.add(name)
  summary.expiryBlocks += loads(prolly) - mark

  const count = (change: ProviderChange): ProviderChange => {
    summary[change.kind]++
    if (change.kind !== 'expired' && change.expired === true) summary.expired++
    options.onProgress?.(new CustomProgressEvent('registry:audit:diff', { changes: summary.added + summary.removed + summary.changed + summary.renewed + summary.expired }))
    return change
  }

  mark = loads(prolly)
  try {
    for await (const { key, before, after } of prolly.diff(a.providers, b.providers, abort)) {
      const now = loads(prolly)
      summary.diffBlocks += now - mark
      mark = now
      const left = before === undefined ? undefined : await readEntry(components, key, before, read)
      const right = after === undefined ? undefined : await readEntry(components, key, after, read)
      const side = (left ?? right)!
      const change: ProviderChange = { kind: 'renewed', provider: side.provider }
      if (left !== undefined) change.before = left.state
      if (right !== undefined) change.after = right.state
      if (left === undefined) change.kind = 'added'
      else if (right === undefined) change.kind = 'removed'
      else if (!left.entry.manifest.equals(right.entry.manifest)) {
        change.kind = 'changed'
        const fields = fieldChanges(left, right)
        if (fields !== undefined) {
          change.fields = fields
          summary.manifestBlocks += 2
        }
      }
      if (expiring.delete(side.provider)) change.expired = true
      yield count(change)
    }
  } finally {
    summary.diffBlocks += loads(prolly) - mark
  }

  // providers whose entry did not change but whose lease ended in between
  for (const provider of expiring) {
    mark = loads(prolly)
    const value = await prolly.get(b.providers, nameToBytes(provider), abort)
    summary.expiryBlocks += loads(prolly) - mark
    if (value === undefined) continue
    const entry = await readEntry(components, nameToBytes(provider), value, read)
    yield count({ kind: 'expired', provider, before: entry.state, after: entry.state, expired: true })
  }
  summary.elapsedMs = performance.now() - started
}

function fieldChanges (left: ReadEntry, right: ReadEntry): FieldChange[] | undefined {
  return left.manifest === undefined || right.manifest === undefined ? undefined : diffManifests(left.manifest, right.manifest)
}
