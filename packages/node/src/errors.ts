/** No repo at the path: the directory or its `config.json` is missing. */
export class RepoNotFoundError extends Error {
  static override name = 'RepoNotFoundError'
  override name = 'RepoNotFoundError'

  constructor (message = 'No capdex repo found, run capdex init') {
    super(message)
  }
}

/** `initRepo` was pointed at a directory that already holds a repo. */
export class RepoExistsError extends Error {
  static override name = 'RepoExistsError'
  override name = 'RepoExistsError'

  constructor (message = 'A capdex repo already exists at this path') {
    super(message)
  }
}

/** The repo directory (or its parent) cannot be created or written. */
export class RepoNotWritableError extends Error {
  static override name = 'RepoNotWritableError'
  override name = 'RepoNotWritableError'

  constructor (message = 'The capdex repo directory is not writable') {
    super(message)
  }
}

/** Another live process (or this one) holds the repo lock. */
export class RepoLockedError extends Error {
  static override name = 'RepoLockedError'
  override name = 'RepoLockedError'

  constructor (message = 'The capdex repo is locked by another process') {
    super(message)
  }
}

/** The repo was used after `close()`. */
export class RepoClosedError extends Error {
  static override name = 'RepoClosedError'
  override name = 'RepoClosedError'

  constructor (message = 'The capdex repo is closed') {
    super(message)
  }
}

/** `config.json` is not JSON or does not have the expected shape; the file is left as it is. */
export class CorruptConfigError extends Error {
  static override name = 'CorruptConfigError'
  override name = 'CorruptConfigError'

  constructor (message = 'The capdex repo config is corrupt') {
    super(message)
  }
}

/** A key name the keychain cannot store. */
export class InvalidKeyNameError extends Error {
  static override name = 'InvalidKeyNameError'
  override name = 'InvalidKeyNameError'

  constructor (message = 'Key names are 1-100 characters of A-Z a-z 0-9 . _ -') {
    super(message)
  }
}

/** A key in the keychain is not Ed25519 (capdex only signs with Ed25519). */
export class KeyTypeError extends Error {
  static override name = 'KeyTypeError'
  override name = 'KeyTypeError'

  constructor (message = 'The key is not an Ed25519 key') {
    super(message)
  }
}

/** Nobody subscribed to the topic (in time). */
export class NoPeersError extends Error {
  static override name = 'NoPeersError'
  override name = 'NoPeersError'

  constructor (message = 'No peers subscribed to the topic') {
    super(message)
  }
}

/** The same bytes were already published on the topic (message id = sha256 of the data). */
export class DuplicateMessageError extends Error {
  static override name = 'DuplicateMessageError'
  override name = 'DuplicateMessageError'

  constructor (message = 'This message was already published') {
    super(message)
  }
}

/** The topic is not one this node was configured to join. */
export class TopicNotAllowedError extends Error {
  static override name = 'TopicNotAllowedError'
  override name = 'TopicNotAllowedError'

  constructor (message = 'The topic is not in the node\'s allowed topics') {
    super(message)
  }
}

/** A topic already has a subscriber with a validator on this node. */
export class AlreadySubscribedError extends Error {
  static override name = 'AlreadySubscribedError'
  override name = 'AlreadySubscribedError'

  constructor (message = 'The topic already has a subscriber on this node') {
    super(message)
  }
}

/** The block is not in the local blockstore and the fetch was offline. */
export class BlockNotFoundError extends Error {
  static override name = 'BlockNotFoundError'
  override name = 'BlockNotFoundError'

  constructor (message = 'Block not found') {
    super(message)
  }
}

/** No peer sent the block within the fetch timeout. */
export class BlockFetchTimeoutError extends Error {
  static override name = 'BlockFetchTimeoutError'
  override name = 'BlockFetchTimeoutError'

  constructor (message = 'Timed out fetching the block') {
    super(message)
  }
}

/** The bytes stored or received for a CID do not hash to it. */
export class BlockHashMismatchError extends Error {
  static override name = 'BlockHashMismatchError'
  override name = 'BlockHashMismatchError'

  constructor (message = 'Block bytes do not match their CID') {
    super(message)
  }
}

/** A block is larger than the caller's (or the node's) size cap. */
export class BlockTooLargeError extends Error {
  static override name = 'BlockTooLargeError'
  override name = 'BlockTooLargeError'

  constructor (message = 'The block is larger than the size cap') {
    super(message)
  }
}

/** The CID uses a multihash this node cannot verify. */
export class UnsupportedHashError extends Error {
  static override name = 'UnsupportedHashError'
  override name = 'UnsupportedHashError'

  constructor (message = 'Unsupported multihash, only sha2-256 and identity CIDs are verified') {
    super(message)
  }
}

/** The peer answered that it holds no record for the name. */
export class RecordNotFoundError extends Error {
  static override name = 'RecordNotFoundError'
  override name = 'RecordNotFoundError'

  constructor (message = 'No IPNS record for this name') {
    super(message)
  }
}

/** A request or response of the IPNS record protocol broke its framing or size limits. */
export class RecordProtocolError extends Error {
  static override name = 'RecordProtocolError'
  override name = 'RecordProtocolError'

  constructor (message = 'Malformed IPNS record protocol message') {
    super(message)
  }
}

/** The peer did not answer an IPNS record request in time. */
export class RecordFetchTimeoutError extends Error {
  static override name = 'RecordFetchTimeoutError'
  override name = 'RecordFetchTimeoutError'

  constructor (message = 'Timed out fetching the IPNS record') {
    super(message)
  }
}

/** `publishOnce` was called without a manifest and the service has no `detect` function. */
export class MissingManifestError extends Error {
  static override name = 'MissingManifestError'
  override name = 'MissingManifestError'

  constructor (message = 'No manifest given and no detect function configured') {
    super(message)
  }
}

/** A value given at construction or in options is out of range. */
export class InvalidOptionError extends Error {
  static override name = 'InvalidOptionError'
  override name = 'InvalidOptionError'

  constructor (message = 'Invalid option') {
    super(message)
  }
}

/** The node was used after `stop()`. */
export class NodeStoppedError extends Error {
  static override name = 'NodeStoppedError'
  override name = 'NodeStoppedError'

  constructor (message = 'The capdex node is stopped') {
    super(message)
  }
}
