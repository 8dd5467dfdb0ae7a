import type { Repo } from '../repo.js'
import type { CapdexNode } from '../types.js'
import type { Manifest } from '@capdex/manifest'
import type { FoldProgressEvents, Snapshot, VerifiedRecord } from '@capdex/registry'
import type { AbortOptions, ComponentLogger, Ed25519PrivateKey } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'
import type { SkypilotCatalog } from './catalog.js'

export interface SkypilotImporterComponents {
  repo: Pick<Repo, 'blockstore' | 'datastore' | 'getOrCreateKey' | 'syncBlocks' | 'config'>
  /** needed by `publish` only: records are stored through it and announcements sent */
  node?: Pick<CapdexNode, 'network' | 'putRecord' | 'publish' | 'publishAndAwaitPeer'>
  logger?: ComponentLogger
}

export interface SkypilotImporterInit {
  /**
   * Keychain name of the broker seed key.
   *
   * @default 'skypilot-broker'
   */
  brokerKeyName?: string
  /**
   * Network the rows are announced on and the folded snapshot belongs to.
   *
   * @default node.network, else repo.config.network
   */
  network?: string
}

/** A row that became a signed provider. */
export interface ImportedRow {
  /** the catalog it came from (a file path) */
  source: string
  cloud: string
  /** 1-based line of the row in its catalog */
  line: number
  /** the row's stable identity (see `skypilotRowIdentity`) */
  identity: string
  /** the row's provider name (`k51…`), derived from the broker key and the identity */
  name: string
  sequence: bigint
  manifest: Manifest
  manifestCid: CID
  manifestBytes: Uint8Array
  /** the signed record (its `bytes` are what is announced) */
  record: VerifiedRecord
  /** what normalization noticed but could work around */
  warnings: string[]
}

/** A row that could not be normalized; it was reported, not imported. */
export interface RejectedRow {
  source: string
  cloud: string
  line: number
  reason: string
}

export interface PreparedImport {
  /** the broker's name (`k51…`): the key every row key is derived from */
  broker: string
  network: string
  /** data rows read */
  rows: number
  imported: ImportedRow[]
  rejected: RejectedRow[]
  /** when the records' lease ends */
  validity: Date
}

export type ImportProgressEvents =
  | ProgressEvent<'node:import:convert', { done: number, total: number }>
  | ProgressEvent<'node:import:rejected', RejectedRow>
  | ProgressEvent<'node:import:blocks', { count: number }>
  | ProgressEvent<'node:import:sign', { done: number, total: number }>

export interface PrepareImportOptions extends AbortOptions, ProgressOptions<ImportProgressEvents> {
  /** ISO 3166 country for rows whose region names none; without it such rows are rejected */
  country?: string
  /**
   * Record lifetime: the liveness lease.
   *
   * @default 600000 (10 min)
   */
  lifetimeMs?: number
  /** clock, ms since the epoch: the manifests' issuedAt and the start of the lease @default Date.now() */
  now?: number
}

export type PublishImportProgressEvents =
  | ProgressEvent<'node:import:records', { count: number }>
  | ProgressEvent<'node:import:publish', { done: number, total: number, recipients: number }>

export interface PublishImportOptions extends AbortOptions, ProgressOptions<PublishImportProgressEvents> {
  /**
   * Announcements per second after the first `burst`. Receivers ignore a peer's messages beyond
   * their validation budget (4 per second by default), so stay below what they allow.
   *
   * @default 3
   */
  ratePerSecond?: number
  /**
   * Announcements sent at once before pacing starts.
   *
   * @default 16
   */
  burst?: number
  /**
   * How long to wait for a subscribed peer, at the start and whenever none is left.
   *
   * @default 10000
   */
  timeoutMs?: number
}

export interface PublishImportResult {
  /** announcements sent */
  published: number
  /** announcements no subscribed peer was sent (they stay queued for gossip) */
  unheard: number
  /** peer ids that were sent at least one announcement */
  recipients: string[]
}

export type FoldImportProgressEvents =
  | FoldProgressEvents
  | ProgressEvent<'node:import:sync', { blocks: number }>

export interface FoldImportOptions extends AbortOptions, ProgressOptions<FoldImportProgressEvents> {
  /** the snapshot time, ms since the epoch @default Date.now() */
  now?: number
}

export interface FoldImportResult {
  cid: CID
  snapshot: Snapshot
  /** blocks the fold wrote (trees and snapshot), all made durable */
  written: number
}

/**
 * A broker that lists cloud capacity: every catalog row becomes a provider with its own key,
 * derived from one broker key in the repo's keychain (see `deriveRowKey`).
 */
export interface SkypilotImporter {
  readonly network: string
  /** The broker's name (`k51…`); creates the broker key on first use. */
  brokerName(options?: AbortOptions): Promise<string>
  /** The provider key of a row identity, recovered from the broker key. */
  rowKey(identity: string, options?: AbortOptions): Promise<Ed25519PrivateKey>
  /**
   * Normalizes every row, writes the manifest blocks (durably), reserves each row's next
   * sequence number in the import index, and signs the records. Rows that cannot be normalized
   * are returned in `rejected`, each with its line and reason.
   */
  prepare(catalogs: SkypilotCatalog[], options?: PrepareImportOptions): Promise<PreparedImport>
  /**
   * Stores the rows' records through the node, then announces them on the providers topic:
   * the first once a subscribed peer can be sent it, the rest paced by `ratePerSecond`.
   *
   * @throws InvalidOptionError without a node
   * @throws NoPeersError when no subscribed peer appears within `timeoutMs`
   */
  publish(rows: ImportedRow[], options?: PublishImportOptions): Promise<PublishImportResult>
  /**
   * Folds the rows into a new genesis snapshot in the repo's blockstore, indexed by the broker,
   * and makes its blocks durable. The snapshot holds exactly these rows.
   */
  fold(rows: ImportedRow[], options?: FoldImportOptions): Promise<FoldImportResult>
}
