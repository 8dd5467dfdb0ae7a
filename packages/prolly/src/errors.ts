import type { CID } from 'multiformats/cid'

/** Why a node failed validation. */
export type InvalidNodeReason =
  | 'encoding'
  | 'link'
  | 'size'
  | 'order'
  | 'level'
  | 'count'
  | 'boundary'
  | 'empty'

/** The bytes of a block do not hash to its CID. */
export class InvalidBlockError extends Error {
  static override name = 'InvalidBlockError'
  override name = 'InvalidBlockError'
  readonly cid: CID

  constructor (cid: CID, message = `Block ${cid.toString()} does not hash to its CID`) {
    super(message)
    this.cid = cid
  }
}

/** The block store does not hold a block the tree links to. */
export class MissingBlockError extends Error {
  static override name = 'MissingBlockError'
  override name = 'MissingBlockError'
  readonly cid: CID

  constructor (cid: CID, message = `Block ${cid.toString()} is missing from the block store`, options?: ErrorOptions) {
    super(message, options)
    this.cid = cid
  }
}

/** The caller's signal aborted the operation, naming the block being fetched when there was one. */
export class AbortError extends Error {
  static override name = 'AbortError'
  override name = 'AbortError'
  readonly cid: CID | undefined

  constructor (cid?: CID, message = cid == null ? 'The operation was aborted' : `Aborted while fetching block ${cid.toString()}`, options?: ErrorOptions) {
    super(message, options)
    this.cid = cid
  }
}

/** A node breaks an invariant: encoding, links, size bound, sort order, level, counts or canonical boundaries. */
export class InvalidNodeError extends Error {
  static override name = 'InvalidNodeError'
  override name = 'InvalidNodeError'
  readonly cid: CID
  readonly reason: InvalidNodeReason

  constructor (cid: CID, reason: InvalidNodeReason, detail = 'node breaks a tree invariant') {
    super(`Node ${cid.toString()} is invalid (${reason}): ${detail}`)
    this.cid = cid
    this.reason = reason
  }
}

/** A key is not a Uint8Array. */
export class InvalidKeyError extends Error {
  static override name = 'InvalidKeyError'
  override name = 'InvalidKeyError'

  constructor (message = 'Keys must be Uint8Arrays') {
    super(message)
  }
}

/** A key is longer than the 4 KiB limit. */
export class KeyTooLargeError extends Error {
  static override name = 'KeyTooLargeError'
  override name = 'KeyTooLargeError'

  constructor (message = 'Keys must be at most 4096 bytes') {
    super(message)
  }
}

/** A value is not a Uint8Array. */
export class InvalidValueError extends Error {
  static override name = 'InvalidValueError'
  override name = 'InvalidValueError'

  constructor (message = 'Values must be Uint8Arrays') {
    super(message)
  }
}

/** An entry is too large to fit in a node on its own. */
export class ValueTooLargeError extends Error {
  static override name = 'ValueTooLargeError'
  override name = 'ValueTooLargeError'

  constructor (message = 'The entry does not fit in a single node') {
    super(message)
  }
}

/** `build` was given entries that are not strictly ascending by key. */
export class UnsortedEntriesError extends Error {
  static override name = 'UnsortedEntriesError'
  override name = 'UnsortedEntriesError'

  constructor (message = 'Entries must be sorted strictly ascending by key') {
    super(message)
  }
}

/** The components or init options are unusable. */
export class InvalidConfigError extends Error {
  static override name = 'InvalidConfigError'
  override name = 'InvalidConfigError'

  constructor (message = 'Invalid prolly configuration') {
    super(message)
  }
}

/** A batch operation is neither a put nor a delete. */
export class InvalidOperationError extends Error {
  static override name = 'InvalidOperationError'
  override name = 'InvalidOperationError'

  constructor (message = 'Operations must be { op: \'put\', key, value } or { op: \'delete\', key }') {
    super(message)
  }
}
