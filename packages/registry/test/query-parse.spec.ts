import { generateKeyPair } from '@libp2p/crypto/keys'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { nameFromPublicKey } from '../src/records/index.js'
import { FIELD_NAMES, formatTerm, globMatch, parseQuery, parseSort } from '../src/query/index.js'

const QUERY_ERRORS = ['QuerySyntaxError', 'UnknownFieldError', 'QueryTypeError', 'EmptyListError', 'QueryTooLongError', 'QueryTooComplexError']

function error (fn: () => unknown): Error & { column?: number } {
  try {
    fn()
  } catch (err) {
    return err as Error & { column?: number }
  }
  throw new Error('expected a throw')
}

describe('parseQuery', () => {
  it('parses the issue example into typed terms with columns', () => {
    const q = parseQuery('gpu=H100 gpus>=8 region in [eu-west,eu-central] price<=2.5')
    expect(q.terms).toEqual([
      { field: 'gpu', op: '=', values: ['h100'], column: 1 },
      { field: 'gpus', op: '>=', values: [8], column: 10 },
      { field: 'region', op: 'in', values: ['eu-west', 'eu-central'], column: 18 },
      { field: 'price', op: '<=', values: [2.5], column: 49 }
    ])
  })

  it('parses every operator', () => {
    const ops = parseQuery('gpus=1 cpu==2 mem!=3 vram<4 uplink<=5 price>6 gpus>=7 region~eu-* status in [busy] country notin [us]').terms
    expect(ops.map((t) => t.op)).toEqual(['=', '=', '!=', '<', '<=', '>', '>=', '~', 'in', 'notin'])
    expect(ops.map((t) => t.values)).toEqual([[1], [2], [3], [4], [5], [6], [7], ['eu-*'], ['busy'], ['us']])
  })

  it('allows spaces around operators and inside lists, any case in field names and word ops', () => {
    const q = parseQuery('  GPUS >= 8   Region IN [ eu-west , "us east" ]  ')
    expect(q.terms).toEqual([
      { field: 'gpus', op: '>=', values: [8], column: 3 },
      { field: 'region', op: 'in', values: ['eu-west', 'us east'], column: 15 }
    ])
  })

  it('reads numbers: integers, decimals, signs and exponents', () => {
    expect(parseQuery('price<=2.5 gpus>=+8 mem>1e3 uplink>-1 price<.5').terms.map((t) => t.values[0])).toEqual([2.5, 8, 1000, -1, 0.5])
  })

  it('reads quoted strings with \\" and \\\\ escapes', () => {
    expect(parseQuery('region="a \\"b\\" \\\\c"').terms[0]?.values).toEqual(['a "b" \\c'])
    expect(parseQuery('region=""').terms[0]?.values).toEqual([''])
  })

  it('normalizes GPU names through the table, case-insensitively', () => {
    const canonical = parseQuery('gpu=H100').terms[0]?.values
    expect(canonical).toEqual(['h100'])
    expect(parseQuery('gpu=h100').terms[0]?.values).toEqual(canonical)
    expect(parseQuery('gpu="NVIDIA H100 80GB HBM3"').terms[0]?.values).toEqual(canonical)
    expect(parseQuery('gpu in [rtx4090,"NVIDIA GeForce RTX 4090"]').terms[0]?.values).toEqual(['rtx4090', 'rtx4090'])
    expect(parseQuery('gpu=NotACard').terms[0]?.values).toEqual(['notacard'])
    // globs are matched against canonical models as written
    expect(parseQuery('gpu~H1*').terms[0]?.values).toEqual(['h1*'])
  })

  it('types string fields: country and status case-insensitive, checked', () => {
    expect(parseQuery('country=DE status=Available').terms.map((t) => t.values[0])).toEqual(['de', 'available'])
    expect(error(() => parseQuery('country=germany'))).toMatchObject({ name: 'QueryTypeError', column: 9 })
    expect(error(() => parseQuery('status=sleeping')).message).toContain('available, busy, draining, offline')
  })

  it('canonicalizes provider names and rejects non-names', async () => {
    const name = nameFromPublicKey((await generateKeyPair('Ed25519')).publicKey)
    expect(parseQuery(`provider=${name}`).terms[0]?.values).toEqual([name])
    expect(parseQuery(`provider in [${name},${name}]`).terms[0]?.values).toEqual([name, name])
    expect(error(() => parseQuery('provider=k51nope'))).toMatchObject({ name: 'QueryTypeError', column: 10 })
    expect(parseQuery('provider~k51*').terms[0]?.values).toEqual(['k51*'])
  })

  it('accepts the empty query (every provider)', () => {
    expect(parseQuery('').terms).toEqual([])
    expect(parseQuery('   ').terms).toEqual([])
  })

  it('rejects an unknown field and lists the known ones', () => {
    const err = error(() => parseQuery('gpus>=8 colour=red')) as Error & { field: string, known: string[], column: number }
    expect(err.name).toBe('UnknownFieldError')
    expect(err.field).toBe('colour')
    expect(err.column).toBe(9)
    expect(err.known).toEqual(FIELD_NAMES)
    for (const field of ['gpu', 'gpus', 'vram', 'region', 'country', 'price', 'status', 'cpu', 'mem', 'uplink', 'provider', 'attested-by']) {
      expect(err.message).toContain(field)
    }
  })

  it('rejects a wrong type: gpus>=many', () => {
    const err = error(() => parseQuery('gpus>=many'))
    expect(err.name).toBe('QueryTypeError')
    expect(err.message).toBe("field gpus expects a number, got 'many' at column 7")
    expect(err.column).toBe(7)
    expect(error(() => parseQuery('gpus>=8x')).name).toBe('QueryTypeError')
    expect(error(() => parseQuery('gpus in [1,two]'))).toMatchObject({ name: 'QueryTypeError', column: 12 })
  })

  it('rejects operators a field type does not support', () => {
    expect(error(() => parseQuery('gpus~8*')).name).toBe('QueryTypeError')
    expect(error(() => parseQuery('region<eu')).name).toBe('QueryTypeError')
  })

  it('rejects an unbalanced [', () => {
    for (const q of ['region in [eu-west,eu-central', 'region in [eu-west', 'region in [', 'region in [eu-west,']) {
      const err = error(() => parseQuery(q))
      expect(err.name).toBe('QuerySyntaxError')
      expect(err.column).toBe(11)
      expect(err.message).toContain("unbalanced '['")
    }
    expect(error(() => parseQuery('region in [a b]'))).toMatchObject({ name: 'QuerySyntaxError', column: 14 })
  })

  it('rejects an empty in []', () => {
    for (const q of ['region in []', 'region notin [ ]']) {
      expect(error(() => parseQuery(q)).name).toBe('EmptyListError')
    }
    expect(error(() => parseQuery('gpus>=8 region in []')).column).toBe(19)
  })

  it('rejects a 100 KB query before tokenizing, and counts UTF-8 bytes', () => {
    expect(error(() => parseQuery(`gpu=${'x'.repeat(100 * 1024)}`)).name).toBe('QueryTooLongError')
    // not a syntax error: the length check comes first
    expect(error(() => parseQuery('['.repeat(100 * 1024))).name).toBe('QueryTooLongError')
    expect(error(() => parseQuery(`region=${'é'.repeat(2100)}`)).name).toBe('QueryTooLongError')
    expect(parseQuery(`region=${'x'.repeat(4096 - 7)}`).terms).toHaveLength(1)
  })

  it('caps terms and list items', () => {
    expect(parseQuery(Array(32).fill('gpus>=1').join(' ')).terms).toHaveLength(32)
    expect(error(() => parseQuery(Array(33).fill('gpus>=1').join(' '))).name).toBe('QueryTooComplexError')
    expect(parseQuery(`gpus in [${Array(256).fill(1).join(',')}]`).terms[0]?.values).toHaveLength(256)
    expect(error(() => parseQuery(`gpus in [${Array(257).fill(1).join(',')}]`)).name).toBe('QueryTooComplexError')
  })

  it('points syntax errors at the column', () => {
    const cases: Array<[string, number, string]> = [
      ['region=eu gpus>=', 17, "expected value after '>=' at column 17"],
      ['gpu=H100 gpus>= ', 17, "expected value after '>=' at column 17"],
      ['gpus', 5, "expected an operator (= != < <= > >= ~ in notin) after 'gpus' at column 5"],
      ['gpus 8', 6, 'expected an operator'],
      ['=8', 1, "expected a field name, got '=' at column 1"],
      ['gpus>=8,gpu=H100', 8, 'expected a space between terms'],
      ['gpu=H100=3', 9, 'expected a space between terms'],
      ['region=[eu]', 8, "a list needs 'in' or 'notin'"],
      ['region in eu', 11, "expected '[' after 'in'"],
      ['region in [a,,b]', 14, "expected value after ','"],
      ['region="eu', 8, 'unterminated string opened at column 8'],
      ['region="e\\u"', 11, 'invalid escape'],
      ['region=]', 8, "expected value after '='"]
    ]
    for (const [q, column, message] of cases) {
      const err = error(() => parseQuery(q))
      expect({ q, name: err.name, column: err.column }).toEqual({ q, name: 'QuerySyntaxError', column })
      expect(err.message).toContain(message)
    }
  })

  it('throws only named query errors on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'gpus>=<!~[],"\\ in notin region 8 2.5 x'.split('')), maxLength: 40 }), (q) => {
      try {
        parseQuery(q)
      } catch (err) {
        expect(QUERY_ERRORS).toContain((err as Error).name)
      }
    }), { numRuns: 2000 })
  })

  it('formats terms that parse back to themselves', () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/)
    const term = fc.oneof(
      fc.tuple(fc.constantFrom('gpus', 'price', 'mem', 'vram'), fc.constantFrom('=', '!=', '<', '<=', '>', '>='), fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 })).map(([f, op, v]) => `${f}${op}${v}`),
      fc.tuple(fc.constantFrom('region', 'attested-by'), fc.constantFrom('=', '!=', '~'), fc.oneof(word, fc.string({ maxLength: 6 }))).map(([f, op, v]) => `${f}${op}"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`),
      fc.tuple(fc.constantFrom('in', 'notin'), fc.array(word, { minLength: 1, maxLength: 4 })).map(([op, vs]) => `region ${op} [${vs.join(',')}]`)
    )
    fc.assert(fc.property(fc.array(term, { maxLength: 6 }), (terms) => {
      const q = parseQuery(terms.join(' '))
      const again = parseQuery(q.terms.map(formatTerm).join(' '))
      expect(again.terms.map(({ column: _c, ...t }) => t)).toEqual(q.terms.map(({ column: _c, ...t }) => t))
    }))
  })
})

describe('globMatch', () => {
  it('matches * and ? like a shell glob', () => {
    expect(globMatch('eu-*', 'eu-west')).toBe(true)
    expect(globMatch('eu-*', 'us-east')).toBe(false)
    expect(globMatch('*', '')).toBe(true)
    expect(globMatch('?', '')).toBe(false)
    expect(globMatch('h?00', 'h100')).toBe(true)
    expect(globMatch('*-central', 'eu-central')).toBe(true)
    expect(globMatch('a*b*c', 'axxbyyc')).toBe(true)
    expect(globMatch('a*b*c', 'axxbyy')).toBe(false)
    expect(globMatch('é?', 'éx')).toBe(true)
  })

  it('agrees with an anchored regular expression', () => {
    const chars = fc.constantFrom('a', 'b', '*', '?')
    fc.assert(fc.property(fc.string({ unit: chars, maxLength: 8 }), fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 10 }), (p, t) => {
      const re = new RegExp(`^${p.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's')
      expect(globMatch(p, t)).toBe(re.test(t))
    }), { numRuns: 3000 })
  })

  it('does not backtrack exponentially on adversarial patterns', () => {
    // a regex translation of this pattern would not finish within the test timeout
    expect(globMatch(`${'*a'.repeat(200)}b`, 'a'.repeat(2000))).toBe(false)
  })
})

describe('parseSort', () => {
  it('reads ascending and descending keys', () => {
    expect(parseSort('price')).toEqual({ field: 'price', descending: false })
    expect(parseSort('price-')).toEqual({ field: 'price', descending: true })
    expect(parseSort('gpus+')).toEqual({ field: 'gpus', descending: false })
    expect(() => parseSort('colour')).toThrow(expect.objectContaining({ name: 'InvalidQueryOptionError' }))
  })
})
