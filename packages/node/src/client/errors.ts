import type { CID } from 'multiformats/cid'

/**
 * Blocks of a snapshot DAG are not in the local blockstore (an offline query or export).
 * `missing` counts the blocks found missing; when `exact` is false some missing blocks were
 * tree nodes, so blocks below them could not even be enumerated and more are missing.
 */
export class IncompleteSnapshotError extends Error {
  static override name = 'IncompleteSnapshotError'
  override name = 'IncompleteSnapshotError'
  readonly cid: CID | undefined
  readonly missing: number
  readonly exact: boolean
  readonly missingCids: readonly CID[]

  constructor (message = 'The snapshot is incomplete: blocks are missing locally', init: { cid?: CID, missing?: number, exact?: boolean, missingCids?: readonly CID[] } = {}) {
    super(message)
    this.cid = init.cid
    this.missing = init.missing ?? 0
    this.exact = init.exact ?? true
    this.missingCids = init.missingCids ?? []
  }
}

/**
 * An indexer head that does not extend the head this client trusted last: its `prev` chain
 * does not reach it (a fork, a rollback or equivocation). The message names both CIDs.
 */
export class NotExtendingError extends Error {
  static override name = 'NotExtendingError'
  override name = 'NotExtendingError'
  readonly trusted: CID | undefined
  readonly offered: CID | undefined

  constructor (message = 'The new head does not extend the trusted head', init: { trusted?: CID, offered?: CID } = {}) {
    super(message)
    this.trusted = init.trusted
    this.offered = init.offered
  }
}

/** No peer served the indexer's record and no announcement was heard in time. */
export class HeadNotFoundError extends Error {
  static override name = 'HeadNotFoundError'
  override name = 'HeadNotFoundError'

  constructor (message = 'No head was found for the indexer') {
    super(message)
  }
}

/** The snapshot a record points to names another indexer or network than the record's. */
export class IndexerMismatchError extends Error {
  static override name = 'IndexerMismatchError'
  override name = 'IndexerMismatchError'

  constructor (message = 'The snapshot belongs to another indexer or network') {
    super(message)
  }
}

/** No `--indexer` was given and none was used before. */
export class MissingIndexerError extends Error {
  static override name = 'MissingIndexerError'
  override name = 'MissingIndexerError'

  constructor (message = 'No indexer given: pass --indexer <ipns name> once, it is remembered') {
    super(message)
  }
}

/** `pins rm` (or `get`) of a CID that is not pinned. */
export class PinNotFoundError extends Error {
  static override name = 'PinNotFoundError'
  override name = 'PinNotFoundError'

  constructor (message = 'The CID is not pinned') {
    super(message)
  }
}

/** A snapshot DAG with more blocks than the walk's cap. */
export class DagTooLargeError extends Error {
  static override name = 'DagTooLargeError'
  override name = 'DagTooLargeError'

  constructor (message = 'The snapshot DAG has more blocks than allowed') {
    super(message)
  }
}

/** A CAR that cannot be decoded: bad header, bad section, wrong number of roots. */
export class InvalidCarError extends Error {
  static override name = 'InvalidCarError'
  override name = 'InvalidCarError'

  constructor (message = 'The CAR file is malformed') {
    super(message)
  }
}

/** A CAR that ends in the middle of its header or of a block. */
export class TruncatedCarError extends Error {
  static override name = 'TruncatedCarError'
  override name = 'TruncatedCarError'

  constructor (message = 'The CAR file is truncated') {
    super(message)
  }
}

/** A CAR larger than the import cap. */
export class CarTooLargeError extends Error {
  static override name = 'CarTooLargeError'
  override name = 'CarTooLargeError'

  constructor (message = 'The CAR file is larger than the import cap') {
    super(message)
  }
}

/** A CAR whose root is not among its blocks. */
export class CarRootMissingError extends Error {
  static override name = 'CarRootMissingError'
  override name = 'CarRootMissingError'

  constructor (message = 'The CAR root is not among its blocks') {
    super(message)
  }
}

/** A CAR block whose bytes do not hash to its CID; `cid` names it, `index` is its position (0-based). */
export class CarBlockMismatchError extends Error {
  static override name = 'CarBlockMismatchError'
  override name = 'CarBlockMismatchError'
  readonly cid: CID | undefined
  readonly index: number

  constructor (message = 'A CAR block does not match its CID', init: { cid?: CID, index?: number } = {}) {
    super(message)
    this.cid = init.cid
    this.index = init.index ?? -1
  }
}

/** A trustless gateway answered with an HTTP error or a response we cannot use. */
export class GatewayRequestError extends Error {
  static override name = 'GatewayRequestError'
  override name = 'GatewayRequestError'
  readonly status: number

  constructor (message = 'The gateway request failed', status = 0) {
    super(message)
    this.status = status
  }
}

/** A gc root (the indexer head file) exists but cannot be read: gc refuses to guess. */
export class InvalidGcRootError extends Error {
  static override name = 'InvalidGcRootError'
  override name = 'InvalidGcRootError'

  constructor (message = 'A gc root cannot be read; refusing to collect garbage') {
    super(message)
  }
}
