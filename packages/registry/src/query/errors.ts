/** A query string that does not follow the grammar; `column` (1-based) points at the offending character. */
export class QuerySyntaxError extends Error {
  static override name = 'QuerySyntaxError'
  override name = 'QuerySyntaxError'
  /** 1-based column of the offending character in the query string */
  readonly column: number

  constructor (message = 'Invalid query syntax', column = 1) {
    super(message)
    this.column = column
  }
}

/** A term names a field the query language does not know; `known` lists the ones it does. */
export class UnknownFieldError extends Error {
  static override name = 'UnknownFieldError'
  override name = 'UnknownFieldError'
  readonly field: string
  readonly known: readonly string[]
  readonly column: number

  constructor (field = '', known: readonly string[] = [], column = 1) {
    super(`unknown field '${field}' at column ${column}; known fields: ${known.join(', ')}`)
    this.field = field
    this.known = known
    this.column = column
  }
}

/** A value of the wrong type for its field (`gpus>=many`), or an operator the field does not support. */
export class QueryTypeError extends Error {
  static override name = 'QueryTypeError'
  override name = 'QueryTypeError'
  readonly column: number

  constructor (message = 'A query value has the wrong type for its field', column = 1) {
    super(message)
    this.column = column
  }
}

/** `in []` or `notin []`: a list with no items. */
export class EmptyListError extends Error {
  static override name = 'EmptyListError'
  override name = 'EmptyListError'
  readonly column: number

  constructor (message = 'A list in the query is empty', column = 1) {
    super(message)
    this.column = column
  }
}

/** The query string is longer than `MAX_QUERY_BYTES`; rejected before tokenizing. */
export class QueryTooLongError extends Error {
  static override name = 'QueryTooLongError'
  override name = 'QueryTooLongError'

  constructor (message = 'The query string is too long') {
    super(message)
  }
}

/** The query has more terms than `MAX_QUERY_TERMS`, or a list has more items than `MAX_LIST_ITEMS`. */
export class QueryTooComplexError extends Error {
  static override name = 'QueryTooComplexError'
  override name = 'QueryTooComplexError'
  readonly column: number

  constructor (message = 'The query has too many terms or list items', column = 1) {
    super(message)
    this.column = column
  }
}

/** A query option out of range: a sort key naming no known field, a negative or fractional limit. */
export class InvalidQueryOptionError extends Error {
  static override name = 'InvalidQueryOptionError'
  override name = 'InvalidQueryOptionError'

  constructor (message = 'Invalid query option') {
    super(message)
  }
}

/** A query's tree engine reads a snapshot and never writes: a write reached its block store. */
export class ReadOnlyStoreError extends Error {
  static override name = 'ReadOnlyStoreError'
  override name = 'ReadOnlyStoreError'

  constructor (message = 'Queries read snapshots; their block store takes no writes') {
    super(message)
  }
}

/** Why an entry of a snapshot was refused; see `ForgedEntryError`. */
export type RejectReason =
  | 'invalid-key'
  | 'missing-entry'
  | 'invalid-entry'
  | 'invalid-record'
  | 'manifest-cid-mismatch'
  | 'missing-manifest'
  | 'manifest-hash-mismatch'
  | 'invalid-manifest'
  | 'provider-mismatch'

/**
 * An entry that does not verify: its record is not signed by the key its name holds, its manifest
 * is not the one the record points to, or a block does not match its CID. The indexer that served it
 * forged or altered it; queries leave it out and report it.
 */
export class ForgedEntryError extends Error {
  static override name = 'ForgedEntryError'
  override name = 'ForgedEntryError'
  /** the provider name the entry is stored under (hex of the key when that is not a name) */
  readonly provider: string
  readonly reason: RejectReason

  constructor (provider = '', reason: RejectReason = 'invalid-entry', detail = '') {
    super(`entry of provider ${provider} rejected (${reason})${detail === '' ? '' : `: ${detail}`}`)
    this.provider = provider
    this.reason = reason
  }
}
