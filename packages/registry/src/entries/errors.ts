/** A number that has no place in the order-preserving encoding (NaN). */
export class InvalidNumberError extends Error {
  static override name = 'InvalidNumberError'
  override name = 'InvalidNumberError'

  constructor (message = 'NaN cannot be encoded as an attribute value') {
    super(message)
  }
}

/** An attribute name that is not in `ATTRS`, or a value of the wrong type for its attribute. */
export class InvalidAttributeError extends Error {
  static override name = 'InvalidAttributeError'
  override name = 'InvalidAttributeError'

  constructor (message = 'Invalid attribute name or value') {
    super(message)
  }
}

/** Bytes that are not a well-formed attribute-index key. */
export class InvalidAttrKeyError extends Error {
  static override name = 'InvalidAttrKeyError'
  override name = 'InvalidAttrKeyError'

  constructor (message = 'Not a valid attribute-index key') {
    super(message)
  }
}

/** Bytes that are not a well-formed providers-tree entry value. */
export class InvalidEntryError extends Error {
  static override name = 'InvalidEntryError'
  override name = 'InvalidEntryError'

  constructor (message = 'Not a valid providers-tree entry') {
    super(message)
  }
}

/** A providers-tree entry whose manifest block is missing from the block store or does not match. */
export class MissingManifestError extends Error {
  static override name = 'MissingManifestError'
  override name = 'MissingManifestError'

  constructor (message = 'The manifest block of an entry is missing or does not match its CID') {
    super(message)
  }
}
