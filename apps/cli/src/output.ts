/**
 * Everything the CLI prints goes through here: JSON for scripts (`--json`), aligned tables and
 * key/value lines for people, and progress on stderr so it never pollutes piped stdout.
 */
import { CID } from 'multiformats/cid'

export interface Output {
  readonly json: boolean
  /** a result object: JSON with --json, otherwise `human()` decides the text */
  result(value: unknown, human?: () => string): void
  /** one JSON line per event with --json (streams), human text otherwise */
  event(value: unknown, human: () => string): void
  /** informational text for people: stderr, suppressed with --json */
  info(text: string): void
  warn(text: string): void
  progress(label: string, done: number, total?: number, extra?: string): void
  progressDone(): void
}

export interface OutputStreams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
}

/** JSON-safe form of capdex values: CIDs as strings, bigints as strings, bytes as base64, Dates as ISO. */
export function toJsonValue (value: unknown): unknown {
  if (value == null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  const cid = CID.asCID(value)
  if (cid != null) return cid.toString()
  if (Array.isArray(value)) return value.map(toJsonValue)
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = toJsonValue(v)
    }
    return out
  }
  // functions and symbols have no JSON form
  return typeof value === 'symbol' ? value.toString() : typeof value
}

export function createOutput (json: boolean, streams: OutputStreams = { stdout: process.stdout, stderr: process.stderr }): Output {
  let progressShown = false
  const write = (stream: NodeJS.WritableStream, text: string): void => { stream.write(text.endsWith('\n') ? text : `${text}\n`) }
  const clearProgress = (): void => {
    if (progressShown) {
      streams.stderr.write('\r\x1b[K')
      progressShown = false
    }
  }
  return {
    json,
    result (value, human) {
      clearProgress()
      if (json) write(streams.stdout, JSON.stringify(toJsonValue(value)))
      else write(streams.stdout, human != null ? human() : formatKeyValues(value))
    },
    event (value, human) {
      clearProgress()
      write(streams.stdout, json ? JSON.stringify(toJsonValue(value)) : human())
    },
    info (text) {
      if (json) return
      clearProgress()
      write(streams.stderr, text)
    },
    warn (text) {
      clearProgress()
      write(streams.stderr, json ? JSON.stringify({ warning: text }) : `warning: ${text}`)
    },
    progress (label, done, total, extra) {
      if (json || streams.stderr.isTTY !== true) return
      const pct = total != null && total > 0 ? ` ${Math.floor((done / total) * 100)}%` : ''
      streams.stderr.write(`\r\x1b[K${label} ${done}${total != null ? `/${total}` : ''}${pct}${extra != null ? ` ${extra}` : ''}`)
      progressShown = true
    },
    progressDone () { clearProgress() }
  }
}

/** `key: value` lines for a flat object, nested values as JSON. */
export function formatKeyValues (value: unknown): string {
  const plain = toJsonValue(value)
  if (plain == null || typeof plain !== 'object' || Array.isArray(plain)) return JSON.stringify(plain, null, 2)
  const entries = Object.entries(plain)
  const width = Math.max(0, ...entries.map(([k]) => k.length))
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n')
}

/** An aligned text table; columns are taken from `columns` in order. */
export function formatTable (rows: Array<Record<string, string | number>>, columns: string[]): string {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)))
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => String(r[c] ?? ''))))].join('\n')
}

/** Parses durations like `3m`, `10m`, `250ms`, `30s`, `1h`, or plain milliseconds. */
export function parseDuration (text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim())
  if (match == null) throw new UsageError(`invalid duration '${text}': use a number with ms, s, m, h or d (e.g. 3m)`)
  const n = Number(match[1])
  const unit = match[2] ?? 'ms'
  const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1
  return Math.round(n * factor)
}

/** Parses a positive integer option value, naming the option when it is not one. */
export function parsePositiveInteger (text: string, option: string): number {
  return parseInteger(text, option, 1, 'a positive integer')
}

/** Parses a non-negative integer option value, naming the option when it is not one. */
export function parseNonNegativeInteger (text: string, option: string): number {
  return parseInteger(text, option, 0, 'a non-negative integer')
}

function parseInteger (text: string, option: string, min: number, what: string): number {
  const n = text.trim() === '' ? Number.NaN : Number(text)
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${option} must be ${what}, got '${text}'`)
  return n
}

export class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
}
