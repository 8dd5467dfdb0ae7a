import { normalizeGpu } from '@capdex/manifest'
import { canonicalString } from '../entries/attrs.js'
import { nameFromBytes, nameToBytes } from '../records/index.js'
import { MAX_LIST_ITEMS, MAX_QUERY_BYTES, MAX_QUERY_TERMS, STATUS_VALUES } from './constants.js'
import { EmptyListError, QuerySyntaxError, QueryTooComplexError, QueryTooLongError, QueryTypeError, UnknownFieldError } from './errors.js'
import { FIELDS, FIELD_NAMES } from './fields.js'
import type { FieldSpec, QueryField } from './fields.js'

/**
 * Grammar (terms are separated by whitespace and ANDed):
 *
 * ```
 * query   := ws* ( term ( ws+ term )* )? ws*
 * term    := field ws* op ws* operand
 * field   := [A-Za-z] [A-Za-z0-9_-]*
 * op      := '=' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '~' | 'in' | 'notin'
 * operand := list             (for in / notin)
 *          | value            (for every other op)
 * list    := '[' ws* value ( ws* ',' ws* value )* ws* ']'
 * value   := word | quoted
 * word    := [letters digits - + _ . : / * ?]+    (a number is a word such as 8, 2.5, -1, 1e3)
 * quoted  := '"' ( any but '"' and '\' | '\"' | '\\' )* '"'
 * ```
 */

export type QueryOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | '~' | 'in' | 'notin'

export type QueryValue = number | string

export interface QueryTerm {
  field: QueryField
  op: QueryOp
  /**
   * The operand(s), typed for the field: numbers for number fields; for string fields the
   * canonical form (NFC, lower case; GPU names normalized to their canonical model), except
   * `provider`, which holds the canonical `k51…` name (a glob for `~` as written).
   * One value except for `in` / `notin`; a glob pattern for `~`.
   */
  values: QueryValue[]
  /** 1-based column of the term's field name in the query string */
  column: number
}

export interface Query {
  /** the query string as given */
  source: string
  terms: QueryTerm[]
}

const WORD_CHAR = /[\p{L}\p{N}\-+_.:/*?]/u
const FIELD_START = /[A-Za-z]/
const FIELD_CHAR = /[A-Za-z0-9_-]/
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
const COUNTRY = /^[a-z]{2}$/
const SYMBOL_OPS = ['==', '!=', '<=', '>=', '=', '<', '>', '~'] as const
const ORDERING_OPS: ReadonlySet<QueryOp> = new Set(['<', '<=', '>', '>='])

const textEncoder = new TextEncoder()

interface RawValue {
  text: string
  column: number
}

/** Parses a query expression into typed terms; throws a named error for any bad input. */
export function parseQuery (expr: string): Query {
  // A UTF-8 byte is at least one UTF-16 code unit, so the cheap length check goes first.
  if (expr.length > MAX_QUERY_BYTES || textEncoder.encode(expr).byteLength > MAX_QUERY_BYTES) {
    throw new QueryTooLongError(`query is longer than ${MAX_QUERY_BYTES} bytes`)
  }
  return new Parser(expr).parse()
}

class Parser {
  private readonly src: string
  private pos = 0

  constructor (src: string) {
    this.src = src
  }

  parse (): Query {
    const terms: QueryTerm[] = []
    this.skipSpace()
    while (this.pos < this.src.length) {
      if (terms.length > 0 && !this.sawSpace()) {
        throw this.syntax(`expected a space between terms, got '${this.peek()}'`)
      }
      if (terms.length === MAX_QUERY_TERMS) {
        throw new QueryTooComplexError(`query has more than ${MAX_QUERY_TERMS} terms (column ${this.column()})`, this.column())
      }
      terms.push(this.term())
      this.skipSpace()
    }
    return { source: this.src, terms }
  }

  private term (): QueryTerm {
    const column = this.column()
    const name = this.fieldName()
    const spec = FIELDS.get(name)
    if (spec === undefined) {
      throw new UnknownFieldError(name, FIELD_NAMES, column)
    }
    this.skipSpace()
    const op = this.operator(name)
    this.skipSpace()
    let raw: RawValue[]
    if (op === 'in' || op === 'notin') {
      raw = this.list(op)
    } else {
      if (this.peek() === '[') {
        throw this.syntax(`a list needs 'in' or 'notin', not '${op}'`)
      }
      raw = [this.value(op)]
    }
    return { field: spec.name, op, values: raw.map((r) => convertValue(spec, op, r)), column }
  }

  private fieldName (): string {
    const start = this.pos
    if (!FIELD_START.test(this.peek())) {
      throw this.syntax(this.pos < this.src.length ? `expected a field name, got '${this.peek()}'` : 'expected a field name')
    }
    while (this.pos < this.src.length && FIELD_CHAR.test(this.peek())) this.pos++
    return this.src.slice(start, this.pos).toLowerCase()
  }

  private operator (field: string): QueryOp {
    for (const op of SYMBOL_OPS) {
      if (this.src.startsWith(op, this.pos)) {
        this.pos += op.length
        return op === '==' ? '=' : op
      }
    }
    const start = this.pos
    while (this.pos < this.src.length && FIELD_START.test(this.peek())) this.pos++
    const word = this.src.slice(start, this.pos).toLowerCase()
    if (word === 'in' || word === 'notin') {
      return word
    }
    this.pos = start
    throw this.syntax(`expected an operator (= != < <= > >= ~ in notin) after '${field}'`)
  }

  private list (op: QueryOp): RawValue[] {
    const open = this.column()
    if (this.peek() !== '[') {
      throw this.syntax(`expected '[' after '${op}'`)
    }
    this.pos++
    this.skipSpace()
    const items: RawValue[] = []
    let after = '['
    if (this.peek() === ']') {
      throw new EmptyListError(`empty list after '${op}' at column ${open}`, open)
    }
    for (;;) {
      if (this.pos >= this.src.length) {
        throw new QuerySyntaxError(`unbalanced '[' at column ${open}: expected ']'`, open)
      }
      if (items.length === MAX_LIST_ITEMS) {
        throw new QueryTooComplexError(`list at column ${open} has more than ${MAX_LIST_ITEMS} items`, open)
      }
      items.push(this.value(after))
      this.skipSpace()
      const c = this.peek()
      if (c === ']') {
        this.pos++
        return items
      }
      if (c === ',') {
        this.pos++
        after = ','
        this.skipSpace()
        continue
      }
      if (this.pos >= this.src.length) {
        throw new QuerySyntaxError(`unbalanced '[' at column ${open}: expected ']'`, open)
      }
      throw this.syntax(`expected ',' or ']' in the list opened at column ${open}, got '${c}'`)
    }
  }

  private value (after: string): RawValue {
    const column = this.column()
    const c = this.peek()
    if (c === '"') {
      return { text: this.quoted(), column }
    }
    const start = this.pos
    while (this.pos < this.src.length && WORD_CHAR.test(this.peek())) this.pos++
    if (this.pos === start) {
      throw this.syntax(`expected value after '${after}'`)
    }
    return { text: this.src.slice(start, this.pos), column }
  }

  private quoted (): string {
    const open = this.column()
    this.pos++
    let out = ''
    while (this.pos < this.src.length) {
      const c = this.src[this.pos++]
      if (c === '"') {
        return out
      }
      if (c === '\\') {
        const next = this.src[this.pos]
        if (next !== '"' && next !== '\\') {
          throw this.syntax(`invalid escape in the string opened at column ${open}: only \\" and \\\\ are allowed`)
        }
        out += next
        this.pos++
      } else {
        out += c
      }
    }
    throw new QuerySyntaxError(`unterminated string opened at column ${open}`, open)
  }

  private peek (): string {
    return this.src[this.pos] ?? ''
  }

  private sawSpace (): boolean {
    return this.pos > 0 && /\s/.test(this.src[this.pos - 1] ?? '')
  }

  private skipSpace (): void {
    while (this.pos < this.src.length && /\s/.test(this.peek())) this.pos++
  }

  private column (): number {
    return this.pos + 1
  }

  /** A syntax error at the current position; the message ends with "at column N". */
  private syntax (message: string): QuerySyntaxError {
    return new QuerySyntaxError(`${message} at column ${this.column()}`, this.column())
  }
}

function typeError (message: string, raw: RawValue): QueryTypeError {
  return new QueryTypeError(`${message} at column ${raw.column}`, raw.column)
}

/** Types one operand for its field: numbers for number fields, canonical strings for string fields. */
function convertValue (spec: Readonly<FieldSpec>, op: QueryOp, raw: RawValue): QueryValue {
  if (spec.type === 'number') {
    if (op === '~') {
      throw typeError(`operator '~' applies to string fields only; field ${spec.name} is a number`, raw)
    }
    const n = NUMBER.test(raw.text) ? Number(raw.text) : Number.NaN
    if (!Number.isFinite(n)) {
      throw typeError(`field ${spec.name} expects a number, got '${raw.text}'`, raw)
    }
    return n
  }
  if (ORDERING_OPS.has(op)) {
    throw typeError(`field ${spec.name} is a string and does not support '${op}' (use = != in notin ~)`, raw)
  }
  if (op === '~') {
    return spec.name === 'provider' ? raw.text : canonicalString(raw.text)
  }
  if (spec.name === 'provider') {
    try {
      return nameFromBytes(nameToBytes(raw.text))
    } catch (err) {
      throw typeError(`field provider expects an Ed25519 IPNS name (k51…), got '${raw.text}': ${(err as Error).message}`, raw)
    }
  }
  if (spec.name === 'gpu') {
    return canonicalString(normalizeGpu(raw.text)?.model ?? raw.text)
  }
  const value = canonicalString(raw.text)
  if (spec.name === 'status' && !STATUS_VALUES.includes(value)) {
    throw typeError(`field status expects one of ${STATUS_VALUES.join(', ')}, got '${raw.text}'`, raw)
  }
  if (spec.name === 'country' && !COUNTRY.test(value)) {
    throw typeError(`field country expects an ISO 3166-1 alpha-2 code, got '${raw.text}'`, raw)
  }
  return value
}

/** Writes a term back in query syntax, e.g. `gpus>=8` or `region in [eu-west,eu-central]`. */
export function formatTerm (term: QueryTerm): string {
  const values = term.values.map(formatValue)
  if (term.op === 'in' || term.op === 'notin') {
    return `${term.field} ${term.op} [${values.join(',')}]`
  }
  return `${term.field}${term.op}${values[0] ?? ''}`
}

function formatValue (value: QueryValue): string {
  if (typeof value === 'number') {
    return String(value)
  }
  if (value !== '' && [...value].every((c) => WORD_CHAR.test(c))) {
    return value
  }
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`
}
