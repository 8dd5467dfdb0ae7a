/** A manifest value breaks the v1 schema; `path` names the field (e.g. "gpus[0].vramMiB"). */
export class InvalidManifestError extends Error {
  static override name = 'InvalidManifestError'
  override name = 'InvalidManifestError'
  readonly path: string
  readonly problem: string

  constructor (path = '', problem = 'is invalid') {
    super(`Invalid manifest: ${path === '' ? 'the manifest' : path} ${problem}`)
    this.path = path
    this.problem = problem
  }
}

/** Encoded manifest bytes exceed MANIFEST_MAX_BYTES; raised before any parsing. */
export class ManifestTooLargeError extends Error {
  static override name = 'ManifestTooLargeError'
  override name = 'ManifestTooLargeError'
  readonly size: number
  readonly limit: number

  constructor (size = 0, limit = 0) {
    super(`Manifest of ${size} bytes exceeds the limit of ${limit} bytes`)
    this.size = size
    this.limit = limit
  }
}

/** The bytes are DAG-JSON but not the canonical form: duplicate keys, unsorted keys, whitespace… */
export class NonCanonicalManifestError extends Error {
  static override name = 'NonCanonicalManifestError'
  override name = 'NonCanonicalManifestError'

  constructor (message = 'Manifest is not canonical DAG-JSON') {
    super(message)
  }
}

/** The bytes are not DAG-JSON at all. */
export class MalformedManifestError extends Error {
  static override name = 'MalformedManifestError'
  override name = 'MalformedManifestError'

  constructor (message = 'Manifest bytes are not valid DAG-JSON', options?: ErrorOptions) {
    super(message, options)
  }
}

/** An operator overrides file or value breaks its schema; `field` names the field. */
export class InvalidOverridesError extends Error {
  static override name = 'InvalidOverridesError'
  override name = 'InvalidOverridesError'
  readonly field: string

  constructor (field = '', problem = 'is invalid', source = 'overrides') {
    super(`Invalid ${source}: ${field === '' ? 'the document' : field} ${problem}`)
    this.field = field
  }
}

/** The overrides file could not be read (missing, unreadable or too large). */
export class OverridesReadError extends Error {
  static override name = 'OverridesReadError'
  override name = 'OverridesReadError'

  constructor (message = 'Could not read the overrides file', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A CLI override flag (--country, --price…) has a bad value. */
export class InvalidOverrideFlagError extends Error {
  static override name = 'InvalidOverrideFlagError'
  override name = 'InvalidOverrideFlagError'
  readonly flag: string

  constructor (flag = '', problem = 'has an invalid value') {
    super(`Invalid flag --${flag}: ${problem}`)
    this.flag = flag
  }
}


/** CSV text that is not RFC 4180 (unterminated quote, stray quote, ragged row). */
export class InvalidCsvError extends Error {
  static override name = 'InvalidCsvError'
  override name = 'InvalidCsvError'
  readonly line: number

  constructor (line = 0, problem = 'is not valid CSV') {
    super(`CSV line ${line} ${problem}`)
    this.line = line
  }
}

/** A SkyPilot catalog lacks a column the import needs. */
export class MissingCsvColumnError extends Error {
  static override name = 'MissingCsvColumnError'
  override name = 'MissingCsvColumnError'
  readonly column: string

  constructor (column = '') {
    super(`SkyPilot catalog has no "${column}" column`)
    this.column = column
  }
}

/** The operation was aborted through its signal. */
export class AbortError extends Error {
  static override name = 'AbortError'
  override name = 'AbortError'

  constructor (message = 'The operation was aborted') {
    super(message)
  }
}

/** Text that is neither JSON nor a Python literal (SkyPilot's GpuInfo column). */
export class InvalidLiteralError extends Error {
  static override name = 'InvalidLiteralError'
  override name = 'InvalidLiteralError'
  readonly offset: number

  constructor (offset = 0, problem = 'unexpected character') {
    super(`Invalid literal at offset ${offset}: ${problem}`)
    this.offset = offset
  }
}
