import { CustomProgressEvent } from 'progress-events'
import { equals } from 'uint8arrays/equals'
import { openSnapshot } from '../snapshot/format.js'
import { readEntry } from './entry.js'
import type { AuditComponents } from './chain.js'
import type { EntryState } from './entry.js'
import type { AbortOptions } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

/**
 * - `only-a`, `only-b`: one head holds the provider, the other omits it
 * - `different`: both hold it, with different records
 * - `lease`: the same record, with different lease summaries (the indexers heard different heartbeats)
 */
export type CompareKind = 'only-a' | 'only-b' | 'different' | 'lease'

export interface CompareEntry {
  kind: CompareKind
  provider: string
  a?: EntryState
  b?: EntryState
}

export interface CompareSummary {
  onlyA: number
  onlyB: number
  different: number
  lease: number
  /** the two `providers` roots are the same CID */
  providersEqual: boolean
  /** the two `attrs` roots are the same CID */
  attrsEqual: boolean
  /** tree nodes loaded by the diff */
  blocks: number
}

export type CompareProgressEvents =
  | ProgressEvent<'registry:audit:compare', { differences: number }>

export interface CompareOptions extends AbortOptions, ProgressOptions<CompareProgressEvents> {
  /**
   * Verify the records and manifests of the providers that differ (sequence and EOL in the output).
   *
   * @default true
   */
  verify?: boolean
}

/** The differences between two heads, sorted by provider key; `summary` fills in as it runs. */
export interface CompareRun extends AsyncIterable<CompareEntry> {
  readonly summary: CompareSummary
}

/**
 * Compares two heads, typically of two indexers, for omission: one prolly diff of their
 * `providers` trees, so the cost grows with the differences. Two indexers that folded the same
 * records hold the same `providers` and `attrs` roots (history independence), so equal roots
 * prove equal contents, and a difference names exactly the providers one of them omits.
 */
export function compareHeads (components: AuditComponents, a: CID, b: CID, options: CompareOptions = {}): CompareRun {
  const summary: CompareSummary = { onlyA: 0, onlyB: 0, different: 0, lease: 0, providersEqual: false, attrsEqual: false, blocks: 0 }
  return {
    summary,
    [Symbol.asyncIterator]: () => run(components, a, b, options, summary)[Symbol.asyncIterator]()
  }
}

async function * run (components: AuditComponents, aCid: CID, bCid: CID, options: CompareOptions, summary: CompareSummary): AsyncGenerator<CompareEntry> {
  const abort: AbortOptions = options.signal === undefined ? {} : { signal: options.signal }
  const verify = options.verify ?? true
  const read = { ...abort, manifests: verify, records: verify }
  const { prolly } = components
  const a = await openSnapshot(aCid, components.blocks, abort)
  const b = await openSnapshot(bCid, components.blocks, abort)
  summary.providersEqual = a.providers.equals(b.providers)
  summary.attrsEqual = a.attrs.equals(b.attrs)
  const start = prolly.stats.blocksRead + prolly.stats.cacheHits
  try {
    for await (const { key, before, after } of prolly.diff(a.providers, b.providers, abort)) {
      const left = before === undefined ? undefined : await readEntry(components, key, before, read)
      const right = after === undefined ? undefined : await readEntry(components, key, after, read)
      const provider = (left ?? right)!.provider
      let entry: CompareEntry
      if (right === undefined) {
        entry = { kind: 'only-a', provider }
        summary.onlyA++
      } else if (left === undefined) {
        entry = { kind: 'only-b', provider }
        summary.onlyB++
      } else if (equals(left.entry.record, right.entry.record)) {
        entry = { kind: 'lease', provider }
        summary.lease++
      } else {
        entry = { kind: 'different', provider }
        summary.different++
      }
      if (left !== undefined) entry.a = left.state
      if (right !== undefined) entry.b = right.state
      options.onProgress?.(new CustomProgressEvent('registry:audit:compare', { differences: summary.onlyA + summary.onlyB + summary.different + summary.lease }))
      yield entry
    }
  } finally {
    summary.blocks = prolly.stats.blocksRead + prolly.stats.cacheHits - start
  }
}
