import type { VerifiedRecord } from './index.js'

/** The name is not a libp2p-key CID (or peer id) that we can read. */
export class InvalidNameError extends Error {
  static override name = 'InvalidNameError'
  override name = 'InvalidNameError'

  constructor (message = 'Name is not an IPNS name (libp2p-key CID)') {
    super(message)
  }
}

/** The name or embedded key is not Ed25519; only Ed25519 names carry their key. */
export class UnsupportedKeyTypeError extends Error {
  static override name = 'UnsupportedKeyTypeError'
  override name = 'UnsupportedKeyTypeError'

  constructor (message = 'Only Ed25519 names are supported') {
    super(message)
  }
}

/** The record exceeds the size cap; checked before parsing. */
export class RecordTooLargeError extends Error {
  static override name = 'RecordTooLargeError'
  override name = 'RecordTooLargeError'

  constructor (message = 'Record is larger than 10 KiB') {
    super(message)
  }
}

/** The record bytes are not a well-formed IPNS record. */
export class InvalidRecordError extends Error {
  static override name = 'InvalidRecordError'
  override name = 'InvalidRecordError'

  constructor (message = 'Record is malformed') {
    super(message)
  }
}

/** The record has no V2 signature or no signed data (a V1-only record). */
export class MissingSignatureV2Error extends Error {
  static override name = 'MissingSignatureV2Error'
  override name = 'MissingSignatureV2Error'

  constructor (message = 'Record has no V2 signature or signed data') {
    super(message)
  }
}

/** The record embeds a public key other than the one in the name. */
export class PublicKeyMismatchError extends Error {
  static override name = 'PublicKeyMismatchError'
  override name = 'PublicKeyMismatchError'

  constructor (message = 'Embedded public key does not match the name') {
    super(message)
  }
}

/** The V2 signature does not verify against the name's key. */
export class SignatureVerificationError extends Error {
  static override name = 'SignatureVerificationError'
  override name = 'SignatureVerificationError'

  constructor (message = 'Record signature does not verify against the name') {
    super(message)
  }
}

/** A legacy V1 protobuf field disagrees with the signed CBOR data. */
export class RecordMismatchError extends Error {
  static override name = 'RecordMismatchError'
  override name = 'RecordMismatchError'
  readonly field: string

  constructor (field: string, message = `Legacy field "${field}" does not match the signed data`) {
    super(message)
    this.field = field
  }
}

/** The validity type is not EOL. */
export class UnsupportedValidityError extends Error {
  static override name = 'UnsupportedValidityError'
  override name = 'UnsupportedValidityError'

  constructor (message = 'Only the EOL validity type is supported') {
    super(message)
  }
}

/** The record's EOL (its liveness lease) has passed. */
export class RecordExpiredError extends Error {
  static override name = 'RecordExpiredError'
  override name = 'RecordExpiredError'
  readonly validity: Date

  constructor (validity: Date, message = `Record expired at ${validity.toISOString()}`) {
    super(message)
    this.validity = validity
  }
}

/** Two records for one name were compared. */
export class NameMismatchError extends Error {
  static override name = 'NameMismatchError'
  override name = 'NameMismatchError'

  constructor (message = 'Records belong to different names') {
    super(message)
  }
}

/** One name signed two different values under one sequence number. Both records are kept as evidence. */
export class EquivocationError extends Error {
  static override name = 'EquivocationError'
  override name = 'EquivocationError'
  readonly records: readonly [VerifiedRecord, VerifiedRecord]

  constructor (a: VerifiedRecord, b: VerifiedRecord, message = `Name ${a.name} signed two values at sequence ${a.sequence}`) {
    super(message)
    this.records = [a, b]
  }
}

/** The incoming record does not supersede the known one (a replay, a duplicate or an older lease). */
export class StaleRecordError extends Error {
  static override name = 'StaleRecordError'
  override name = 'StaleRecordError'
  readonly known: VerifiedRecord
  readonly incoming: VerifiedRecord

  constructor (known: VerifiedRecord, incoming: VerifiedRecord, message = `Record sequence ${incoming.sequence} does not supersede known sequence ${known.sequence}`) {
    super(message)
    this.known = known
    this.incoming = incoming
  }
}

/** A record value is not a path. */
export class InvalidValueError extends Error {
  static override name = 'InvalidValueError'
  override name = 'InvalidValueError'

  constructor (message = 'Record value must be a path starting with "/"') {
    super(message)
  }
}

/** Arguments to createRecord are out of range. */
export class InvalidRecordOptionsError extends Error {
  static override name = 'InvalidRecordOptionsError'
  override name = 'InvalidRecordOptionsError'

  constructor (message = 'Invalid record options') {
    super(message)
  }
}

/** The announcement exceeds the size cap; checked before decoding. */
export class AnnouncementTooLargeError extends Error {
  static override name = 'AnnouncementTooLargeError'
  override name = 'AnnouncementTooLargeError'

  constructor (message = 'Announcement is larger than 1 MiB') {
    super(message)
  }
}

/** The announcement bytes are not a well-formed announcement. */
export class InvalidAnnouncementError extends Error {
  static override name = 'InvalidAnnouncementError'
  override name = 'InvalidAnnouncementError'

  constructor (message = 'Announcement is malformed') {
    super(message)
  }
}

/** The inline manifest's hash is not the one the record points at. */
export class ManifestMismatchError extends Error {
  static override name = 'ManifestMismatchError'
  override name = 'ManifestMismatchError'

  constructor (message = 'Inline manifest does not match the record value') {
    super(message)
  }
}

/** A network name that cannot be put into a topic. */
export class InvalidNetworkNameError extends Error {
  static override name = 'InvalidNetworkNameError'
  override name = 'InvalidNetworkNameError'

  constructor (message = 'Network name must be 1-64 characters of [A-Za-z0-9._-]') {
    super(message)
  }
}
