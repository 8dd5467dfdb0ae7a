import { InvalidRecordError, InvalidRecordOptionsError } from './errors.js'

// RFC 3339 date-time, as Go (RFC3339Nano: trailing zeros trimmed) and js-ipns (always 9 digits) write it.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/

const LATIN1 = new TextDecoder('latin1')

/** Milliseconds since the epoch of an RFC 3339 validity; sub-millisecond digits are truncated. */
export function parseValidity (bytes: Uint8Array): number {
  const match = RFC3339.exec(LATIN1.decode(bytes))
  if (match === null) {
    throw new InvalidRecordError('Record validity is not an RFC 3339 date-time')
  }
  const [, year, month, day, hour, minute, second, fraction, , sign, offsetHours, offsetMinutes] = match
  const monthNumber = Number(month)
  const dayNumber = Number(day)
  if (monthNumber < 1 || monthNumber > 12 || dayNumber < 1 || dayNumber > 31 || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 60) {
    throw new InvalidRecordError('Record validity is not an RFC 3339 date-time')
  }
  let ms = Date.UTC(Number(year), monthNumber - 1, dayNumber, Number(hour), Number(minute), Number(second), Number((fraction ?? '').padEnd(3, '0').slice(0, 3)))
  // Date.UTC maps years 0-99 to 1900-1999; RFC 3339 years are literal.
  if (Number(year) < 100) {
    const date = new Date(ms)
    date.setUTCFullYear(Number(year))
    ms = date.getTime()
  }
  if (sign !== undefined) {
    const offset = (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000
    ms += sign === '+' ? -offset : offset
  }
  return ms
}

/** The RFC 3339 validity string js-ipns writes: nanosecond precision, UTC. */
export function formatValidity (ms: number): string {
  const date = new Date(ms)
  const year = date.getUTCFullYear()
  if (!Number.isFinite(ms) || year < 0 || year > 9999) {
    throw new InvalidRecordOptionsError('Record validity must fall in years 0000-9999')
  }
  // toISOString gives millisecond precision; pad to nanoseconds.
  return `${date.toISOString().slice(0, 23)}000000Z`
}
