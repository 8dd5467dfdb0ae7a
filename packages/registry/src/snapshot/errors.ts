/** Bytes that are not a version-1 snapshot: wrong codec, wrong hash, or not exactly the snapshot shape. */
export class NotASnapshotError extends Error {
  static override name = 'NotASnapshotError'
  override name = 'NotASnapshotError'

  constructor (message = 'Not a capdex snapshot') {
    super(message)
  }
}

/** A time-travel lookup for a time before the chain's genesis snapshot. */
export class BeforeFirstSnapshotError extends Error {
  static override name = 'BeforeFirstSnapshotError'
  override name = 'BeforeFirstSnapshotError'

  constructor (message = 'The requested time precedes the first snapshot of this chain') {
    super(message)
  }
}

/** A height the chain does not hold (above the head, negative, or missing from the history tree). */
export class SnapshotNotFoundError extends Error {
  static override name = 'SnapshotNotFoundError'
  override name = 'SnapshotNotFoundError'

  constructor (message = 'No snapshot at that height in this chain') {
    super(message)
  }
}

/** A history-tree value that is not the expected `{ cid, time }` / `{ cid, height }` map. */
export class InvalidHistoryError extends Error {
  static override name = 'InvalidHistoryError'
  override name = 'InvalidHistoryError'

  constructor (message = 'Malformed history-tree entry') {
    super(message)
  }
}

/** A fold whose `now` is earlier than the previous snapshot's time: time travel needs monotonic times. */
export class TimeWentBackwardsError extends Error {
  static override name = 'TimeWentBackwardsError'
  override name = 'TimeWentBackwardsError'

  constructor (message = 'Fold time is earlier than the previous snapshot time') {
    super(message)
  }
}

/** A fold argument that cannot be right: bad init, or an update whose record and manifest disagree. */
export class InvalidFoldInputError extends Error {
  static override name = 'InvalidFoldInputError'
  override name = 'InvalidFoldInputError'

  constructor (message = 'Invalid fold input') {
    super(message)
  }
}
