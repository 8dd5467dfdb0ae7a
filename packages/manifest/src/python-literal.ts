import { InvalidLiteralError } from './errors.js'

const NUMBER = /-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y
const WORD = /[A-Za-z_]+/y
const WORDS: Readonly<Record<string, null | boolean>> = { None: null, null: null, True: true, true: true, False: false, false: false }
const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '0': '\0' }

/**
 * Parse a Python literal (dict, list, tuple, str, int, float, None, True, False) or JSON: SkyPilot
 * writes GpuInfo as a Python dict repr in most catalogs and as JSON in others, sometimes mixed
 * (`'Manufacturer': null`).
 *
 * @throws {InvalidLiteralError}
 */
export function parsePythonLiteral (text: string): unknown {
  let at = 0

  const skipSpace = (): void => {
    while (at < text.length && /\s/.test(text[at] ?? '')) at++
  }

  const expect = (char: string): void => {
    skipSpace()
    if (text[at] !== char) throw new InvalidLiteralError(at, `expected "${char}"`)
    at++
  }

  const string = (quote: string): string => {
    at++
    let out = ''
    while (at < text.length) {
      const c = text[at] ?? ''
      if (c === quote) {
        at++
        return out
      }
      if (c === '\\') {
        const next = text[at + 1] ?? ''
        if (next === 'u' || next === 'x') {
          const length = next === 'u' ? 4 : 2
          const hex = text.slice(at + 2, at + 2 + length)
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== length) throw new InvalidLiteralError(at, 'bad escape')
          out += String.fromCharCode(parseInt(hex, 16))
          at += 2 + length
          continue
        }
        out += ESCAPES[next] ?? next
        at += 2
        continue
      }
      out += c
      at++
    }
    throw new InvalidLiteralError(at, 'unterminated string')
  }

  const sequence = (close: string): unknown[] => {
    at++
    const items: unknown[] = []
    skipSpace()
    while (text[at] !== close) {
      items.push(value())
      skipSpace()
      if (text[at] === ',') {
        at++
        skipSpace()
      } else if (text[at] !== close) {
        throw new InvalidLiteralError(at, `expected "," or "${close}"`)
      }
    }
    at++
    return items
  }

  const dict = (): Record<string, unknown> => {
    at++
    const out: Record<string, unknown> = {}
    skipSpace()
    while (text[at] !== '}') {
      const key = value()
      if (typeof key !== 'string' && typeof key !== 'number') throw new InvalidLiteralError(at, 'dict keys must be strings or numbers')
      expect(':')
      Object.defineProperty(out, String(key), { value: value(), enumerable: true, writable: true, configurable: true })
      skipSpace()
      if (text[at] === ',') {
        at++
        skipSpace()
      } else if (text[at] !== '}') {
        throw new InvalidLiteralError(at, 'expected "," or "}"')
      }
    }
    at++
    return out
  }

  const value = (): unknown => {
    skipSpace()
    const c = text[at]
    if (c === '{') return dict()
    if (c === '[') return sequence(']')
    if (c === '(') return sequence(')')
    if (c === '"' || c === "'") return string(c)
    NUMBER.lastIndex = at
    const number = NUMBER.exec(text)
    if (number !== null) {
      at += number[0].length
      return Number(number[0])
    }
    WORD.lastIndex = at
    const word = WORD.exec(text)?.[0]
    if (word !== undefined && Object.hasOwn(WORDS, word)) {
      at += word.length
      return WORDS[word]
    }
    throw new InvalidLiteralError(at, at >= text.length ? 'unexpected end' : `unexpected "${c}"`)
  }

  const result = value()
  skipSpace()
  if (at !== text.length) throw new InvalidLiteralError(at, 'trailing text')
  return result
}
