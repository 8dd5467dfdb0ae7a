/** No head the indexer recorded can be opened and verified, and none could be repaired from peers. */
export class HeadUnavailableError extends Error {
  static override name = 'HeadUnavailableError'
  override name = 'HeadUnavailableError'

  constructor (message = 'No recorded index head could be opened and verified') {
    super(message)
  }
}

/** `head.json` or the head log cannot be parsed. */
export class CorruptHeadFileError extends Error {
  static override name = 'CorruptHeadFileError'
  override name = 'CorruptHeadFileError'

  constructor (message = 'The indexer head file is corrupt') {
    super(message)
  }
}

/** A journal entry failed its checksum or decoding. */
export class CorruptJournalError extends Error {
  static override name = 'CorruptJournalError'
  override name = 'CorruptJournalError'

  constructor (message = 'A journal entry is corrupt') {
    super(message)
  }
}

/** The journal was used after `close()`. */
export class JournalClosedError extends Error {
  static override name = 'JournalClosedError'
  override name = 'JournalClosedError'

  constructor (message = 'The indexer journal is closed') {
    super(message)
  }
}

/** `start()` on a running indexer, or a stopped indexer restarted. */
export class IndexerStateError extends Error {
  static override name = 'IndexerStateError'
  override name = 'IndexerStateError'

  constructor (message = 'The indexer cannot do this in its current state') {
    super(message)
  }
}
