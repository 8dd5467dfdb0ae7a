import { CustomProgressEvent } from 'progress-events'
import { toString } from 'uint8arrays/to-string'
import { UPTIME_LEASE_CREDIT_MS, UPTIME_WINDOW_MS } from '../entries/constants.js'
import { nameToBytes } from '../records/index.js'
import { DEFAULT_MANIFEST_CHAIN_LIMIT } from './constants.js'
import { walkChain } from './chain.js'
import { fetchManifest, readEntry } from './entry.js'
import { diffManifests } from './fields.js'
import type { AuditComponents } from './chain.js'
import type { EntryState, ReadEntry } from './entry.js'
import type { FieldChange } from './fields.js'
import type { OpenedSnapshot } from '../snapshot/format.js'
import type { Manifest } from '@capdex/manifest'
import type { AbortOptions } from '@capdex/prolly'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'

/**
 * - `appeared`: first seen in the walked chain
 * - `changed`: a new manifest (with its field diff)
 * - `expired`: its lease ran out (the entry stays, flagged)
 * - `returned`: live again after expiring or being removed
 * - `removed`: pruned from the index
 */
export type TimelineKind = 'appeared' | 'changed' | 'expired' | 'returned' | 'removed'

export interface TimelineEvent {
  kind: TimelineKind
  /** the first snapshot that shows it */
  height: number
  time: number
  snapshot: CID
  /** the entry in that snapshot (absent for `removed`) */
  entry?: EntryState
  /** for `changed` */
  fields?: FieldChange[]
}

/** One manifest of the provider's own signed `prev` chain. */
export interface ManifestStep {
  cid: CID
  issuedAt: string
  /** what this manifest changed from the one before it (its `prev`); empty for the first */
  fields: FieldChange[]
}

/** The share of a window during which the provider held a live lease. */
export interface UptimeFigure {
  windowMs: number
  /** window start, ms */
  from: number
  /** window end (the head's time), ms */
  to: number
  /**
   * Covered share of [from, to]: the union of the credited lease stretches
   * (`[max(issuedAt, EOL - UPTIME_LEASE_CREDIT_MS), EOL)`) of every distinct record the walked
   * snapshots show for the provider.
   */
  observed: number
  /**
   * The `uptime` attribute of the head's entry: from its lease summary, which also counts records
   * that never were a head's winner, over the 30 days before the lease end, in steps of 0.01.
   */
  indexed?: number
}

export interface ProviderTimeline {
  provider: string
  head: CID
  /** the entry in the head, if the head holds one */
  current?: EntryState
  /** whether the head's entry is live at the head's time */
  live: boolean
  /** oldest first */
  events: TimelineEvent[]
  /** snapshots whose entry differs from the one before only in its record (heartbeats) */
  renewals: number
  /** snapshots walked */
  snapshots: number
  /** whether the walk reached genesis (otherwise `limit` stopped it) */
  complete: boolean
  /** the provider's own manifest chain from its newest manifest, newest first */
  manifests: ManifestStep[]
  /** why the manifest chain stops before its first manifest, if it does */
  manifestChainStop?: string
  uptime: UptimeFigure
}

export type TimelineProgressEvents =
  | ProgressEvent<'registry:audit:provider', { height: number }>
  | ProgressEvent<'registry:audit:manifest', { cid: CID }>

export interface ProviderTimelineOptions extends AbortOptions, ProgressOptions<TimelineProgressEvents> {
  /**
   * Most snapshots walked from the head.
   *
   * @default Infinity
   */
  limit?: number
  /**
   * The uptime window, ending at the head's time.
   *
   * @default UPTIME_WINDOW_MS (30 days)
   */
  windowMs?: number
  /**
   * Most manifests followed along the provider's `prev` chain.
   *
   * @default DEFAULT_MANIFEST_CHAIN_LIMIT (1000)
   */
  manifestLimit?: number
}

interface State {
  opened: OpenedSnapshot
  read: ReadEntry | undefined
}

function isLive (state: State): boolean {
  const validity = state.read?.state.validity
  return validity !== undefined && validity.getTime() > state.opened.snapshot.time
}

/**
 * One provider's timeline: across the snapshots of `head`'s chain (one O(log n) lookup each, every
 * entry's record and manifest verified once), when it appeared, changed, expired, returned and was
 * removed; along its own manifest `prev` chain, what each manifest changed; and its uptime over the
 * window before the head's time.
 */
export async function providerTimeline (components: AuditComponents, head: CID, provider: string, options: ProviderTimelineOptions = {}): Promise<ProviderTimeline> {
  const abort: AbortOptions = options.signal === undefined ? {} : { signal: options.signal }
  const key = nameToBytes(provider)
  const windowMs = options.windowMs ?? UPTIME_WINDOW_MS
  const read = new Map<string, ReadEntry>()
  const states: State[] = []
  let complete = false
  for await (const opened of walkChain(components, head, { ...abort, limit: options.limit ?? Number.POSITIVE_INFINITY })) {
    options.onProgress?.(new CustomProgressEvent('registry:audit:provider', { height: opened.snapshot.height }))
    const value = await components.prolly.get(opened.providers, key, abort)
    let entry: ReadEntry | undefined
    if (value !== undefined) {
      const id = toString(value, 'base64')
      entry = read.get(id) ?? await readEntry(components, key, value, { ...abort, manifests: true, records: true })
      read.set(id, entry)
    }
    states.push({ opened, read: entry })
    complete = opened.snapshot.prev == null
  }
  states.reverse()

  const { events, renewals } = timelineEvents(states)
  const newest = states[states.length - 1]
  const current = newest?.read
  const headTime = newest?.opened.snapshot.time ?? 0
  const uptime: UptimeFigure = { windowMs, from: headTime - windowMs, to: headTime, observed: observedUptime([...read.values()], headTime - windowMs, headTime) }
  if (current?.state.uptime !== undefined) uptime.indexed = current.state.uptime

  const latestManifest = [...states].reverse().find((s) => s.read?.manifest !== undefined)?.read
  const chain = latestManifest?.manifest === undefined
    ? { steps: [] }
    : await manifestChain(components, latestManifest.entry.manifest, latestManifest.manifest, options.manifestLimit ?? DEFAULT_MANIFEST_CHAIN_LIMIT, options)
  const timeline: ProviderTimeline = {
    provider,
    head,
    live: newest !== undefined && isLive(newest),
    events,
    renewals,
    snapshots: states.length,
    complete,
    manifests: chain.steps,
    uptime
  }
  if (current !== undefined) timeline.current = current.state
  if (chain.stop !== undefined) timeline.manifestChainStop = chain.stop
  return timeline
}

function timelineEvents (states: State[]): { events: TimelineEvent[], renewals: number } {
  const events: TimelineEvent[] = []
  let renewals = 0
  let seen = false
  let previous: State | undefined
  for (const state of states) {
    const { opened, read } = state
    const event = (kind: TimelineKind, extra: Partial<TimelineEvent> = {}): void => {
      const e: TimelineEvent = { kind, height: opened.snapshot.height, time: opened.snapshot.time, snapshot: opened.cid, ...extra }
      if (read !== undefined && kind !== 'removed') e.entry = read.state
      events.push(e)
    }
    const before = previous?.read
    if (read !== undefined && before === undefined) {
      event(seen ? 'returned' : 'appeared')
      seen = true
      if (!isLive(state)) event('expired')
    } else if (read === undefined && before !== undefined) {
      event('removed')
    } else if (read !== undefined && before !== undefined && previous !== undefined) {
      if (!read.entry.manifest.equals(before.entry.manifest)) {
        event('changed', before.manifest !== undefined && read.manifest !== undefined ? { fields: diffManifests(before.manifest, read.manifest) } : {})
      } else if (read !== before) {
        renewals++
      }
      const was = isLive(previous)
      const is = isLive(state)
      if (was && !is) event('expired')
      if (!was && is) event('returned')
    }
    previous = state
  }
  return { events, renewals }
}

/** Covered share of [from, to] by the union of the credited lease stretches of the given entries' records. */
function observedUptime (entries: ReadEntry[], from: number, to: number): number {
  if (!(to > from)) return 0
  const intervals = entries
    .map(({ state }) => {
      const end = state.validity?.getTime() ?? 0
      return [Math.max(from, state.seen, end - UPTIME_LEASE_CREDIT_MS), Math.min(to, end)] as const
    })
    .filter(([start, end]) => end > start)
    .sort((a, b) => a[0] - b[0])
  let covered = 0
  let reach = from
  for (const [start, end] of intervals) {
    if (end <= reach) continue
    covered += end - Math.max(start, reach)
    reach = end
  }
  return covered / (to - from)
}

async function manifestChain (components: AuditComponents, cid: CID, manifest: Manifest, limit: number, options: ProviderTimelineOptions): Promise<{ steps: ManifestStep[], stop?: string }> {
  const abort: AbortOptions = options.signal === undefined ? {} : { signal: options.signal }
  const steps: ManifestStep[] = []
  let current: { cid: CID, manifest: Manifest } = { cid, manifest }
  for (;;) {
    const prev = current.manifest.prev
    const step: ManifestStep = { cid: current.cid, issuedAt: current.manifest.issuedAt, fields: [] }
    steps.push(step)
    if (prev == null) return { steps }
    if (steps.length >= limit) return { steps, stop: `stopped after ${limit} manifests` }
    options.onProgress?.(new CustomProgressEvent('registry:audit:manifest', { cid: prev }))
    let older: Manifest
    try {
      older = await fetchManifest(components, prev, abort)
    } catch (err) {
      abort.signal?.throwIfAborted()
      return { steps, stop: `manifest ${prev.toString()} could not be read: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}` }
    }
    if (older.provider !== current.manifest.provider) {
      return { steps, stop: `manifest ${prev.toString()} names another provider (${older.provider})` }
    }
    step.fields = diffManifests(older, current.manifest)
    current = { cid: prev, manifest: older }
  }
}
