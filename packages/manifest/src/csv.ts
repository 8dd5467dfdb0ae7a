import { InvalidCsvError } from './errors.js'

export interface CsvRecord {
  fields: string[]
  /** 1-based line where the record starts */
  line: number
}

/**
 * Parse RFC 4180 CSV: comma-separated fields, quoted fields with `""` escapes and embedded commas
 * or line breaks, CRLF or LF record ends, an optional final line break and a leading BOM. Blank
 * lines are skipped.
 *
 * @throws {InvalidCsvError} on an unterminated quote or text around a quoted field
 */
export function parseCsv (text: string): CsvRecord[] {
  const records: CsvRecord[] = []
  let fields: string[] = []
  let field = ''
  let quoted = false
  let closed = false // just after a closing quote: only a separator may follow
  let line = 1
  let recordLine = 1
  const endRecord = (): void => {
    fields.push(field)
    if (fields.length > 1 || fields[0] !== '' || closed) records.push({ fields, line: recordLine })
    fields = []
    field = ''
    closed = false
  }
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  while (i < text.length) {
    const c = text[i]
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i += 2
          continue
        }
        quoted = false
        closed = true
      } else {
        if (c === '\n') line++
        field += c
      }
      i++
      continue
    }
    if (c === ',') {
      fields.push(field)
      field = ''
      closed = false
    } else if (c === '\r' || c === '\n') {
      endRecord()
      if (c === '\r' && text[i + 1] === '\n') i++
      line++
      recordLine = line
    } else if (closed) {
      throw new InvalidCsvError(line, 'has text after a closing quote')
    } else if (c === '"') {
      if (field !== '') throw new InvalidCsvError(line, 'has a quote inside an unquoted field')
      quoted = true
    } else {
      field += c
    }
    i++
  }
  if (quoted) throw new InvalidCsvError(recordLine, 'has an unterminated quoted field')
  if (field !== '' || fields.length > 0 || closed) endRecord()
  return records
}
