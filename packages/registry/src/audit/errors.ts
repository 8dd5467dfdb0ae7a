import type { CID } from 'multiformats/cid'

/** Why a newer head does not extend an older one. */
export type NotExtendingReason =
  | 'other-chain'
  | 'older'
  | 'history-mismatch'

/**
 * `new` does not extend `old`: they belong to different indexers or networks, `old` is the higher
 * of the two, or `new`'s history does not hold `old` where it should (and no equivocation could be
 * shown, see `EquivocationEvidenceError`).
 */
export class NotExtendingError extends Error {
  static override name = 'NotExtendingError'
  override name = 'NotExtendingError'
  readonly reason: NotExtendingReason
  readonly old: CID | undefined
  readonly new: CID | undefined

  constructor (message = 'The new head does not extend the old one', init: { reason?: NotExtendingReason, old?: CID, new?: CID } = {}) {
    super(message)
    this.reason = init.reason ?? 'history-mismatch'
    this.old = init.old
    this.new = init.new
  }
}

/** One of two snapshots an indexer published at the same height. */
export interface EquivocatingSnapshot {
  cid: CID
  /** the snapshot time, when the block could be read */
  time?: number
  /** the snapshot block, when it could be read */
  bytes?: Uint8Array
}

/** Two different snapshots at one height of one indexer's chain: proof that the indexer forked its history. */
export interface Equivocation {
  indexer: string
  network: string
  height: number
  /** the snapshot the auditor held (the old head, or the one found at that height) */
  a: EquivocatingSnapshot
  /** the other one, as the newer head's chain commits to it */
  b: EquivocatingSnapshot
}

/** The indexer signed two different heads at one height. `evidence` holds both; keep it. */
export class EquivocationEvidenceError extends Error {
  static override name = 'EquivocationEvidenceError'
  override name = 'EquivocationEvidenceError'
  readonly evidence: Equivocation

  constructor (evidence: Equivocation, message = `Indexer ${evidence.indexer} published two snapshots at height ${evidence.height}: ${evidence.a.cid.toString()} and ${evidence.b.cid.toString()}`) {
    super(message)
    this.evidence = evidence
  }
}

/** A `prev` link that breaks the chain rules while walking it: height not one less, another indexer or network, time going up. */
export class ChainBrokenError extends Error {
  static override name = 'ChainBrokenError'
  override name = 'ChainBrokenError'
  readonly cid: CID | undefined

  constructor (message = 'The snapshot chain is broken', cid?: CID) {
    super(message)
    this.cid = cid
  }
}

/** A `--at` value that is neither an ISO 8601 time, a height nor a CID. */
export class InvalidAtError extends Error {
  static override name = 'InvalidAtError'
  override name = 'InvalidAtError'

  constructor (message = 'Time travel needs an ISO 8601 time, a height or a snapshot CID') {
    super(message)
  }
}

/** A verification found problems; `problems` counts them (the report lists them). */
export class VerificationFailedError extends Error {
  static override name = 'VerificationFailedError'
  override name = 'VerificationFailedError'
  readonly problems: number

  constructor (problems: number, message = `Verification failed: ${problems} problem${problems === 1 ? '' : 's'}`) {
    super(message)
    this.problems = problems
  }
}
