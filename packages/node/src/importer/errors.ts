/** A catalog file cannot be read: missing, a directory, not permitted, or not UTF-8. */
export class UnreadableCsvError extends Error {
  static override name = 'UnreadableCsvError'
  override name = 'UnreadableCsvError'

  constructor (message = 'The catalog file cannot be read') {
    super(message)
  }
}

/** A catalog file is larger than the importer reads. */
export class CatalogTooLargeError extends Error {
  static override name = 'CatalogTooLargeError'
  override name = 'CatalogTooLargeError'

  constructor (message = 'The catalog file is too large') {
    super(message)
  }
}

/** A cloud name (given, or taken from a file name) is not a usable identifier. */
export class InvalidCloudNameError extends Error {
  static override name = 'InvalidCloudNameError'
  override name = 'InvalidCloudNameError'

  constructor (message = 'Cloud names are 1-64 characters of a-z 0-9 . _ -, starting with a letter or digit') {
    super(message)
  }
}

/** No row of the catalogs could be imported: they hold no data rows, or every row was rejected. */
export class InvalidCatalogError extends Error {
  static override name = 'InvalidCatalogError'
  override name = 'InvalidCatalogError'

  constructor (message = 'No row of the catalog could be imported') {
    super(message)
  }
}

/** An entry of the import index in the datastore is not what the importer wrote. */
export class CorruptImportIndexError extends Error {
  static override name = 'CorruptImportIndexError'
  override name = 'CorruptImportIndexError'

  constructor (message = 'An entry of the import index is corrupt') {
    super(message)
  }
}
