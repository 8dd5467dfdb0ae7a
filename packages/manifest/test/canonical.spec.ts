import * as dagJson from '@ipld/dag-json'
import fc from 'fast-check'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { decodeCanonical, encodeCanonical } from '../src/canonical.js'
import { decodeManifest, decodeManifestStrict, encodeManifest, isProviderName } from '../src/index.js'
import { isPlainProviderName, parsesAsProviderName } from '../src/validate.js'
import { PREV, manifestArbitrary, providerName, sampleManifest } from './helpers.js'
import type { Manifest } from '../src/index.js'

// The fast path (JSON.parse + canonical writer) against the strict one (@ipld/dag-json decode,
// re-encode, compare): the fast path may decline anything, but what it accepts must decode to what
// dag-json decodes, and decodeManifest must answer exactly as decodeManifestStrict does.

const V0 = CID.parse('QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB')
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
const bytesOf = (value: string): Uint8Array => new TextEncoder().encode(value)
// dag-json sometimes returns a Buffer, which toEqual tells from a Uint8Array
const plain = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes)

type Outcome = { value: unknown } | { error: string }

function outcome (fn: () => unknown): Outcome {
  try {
    return { value: fn() }
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` }
  }
}

/** decodeCanonical declines or agrees with dag-json; decodeManifest answers as the strict path. Returns whether the fast path took the bytes. */
function expectAgreement (bytes: Uint8Array): boolean {
  expect(outcome(() => decodeManifest(bytes))).toStrictEqual(outcome(() => decodeManifestStrict(bytes)))
  const fast = decodeCanonical(bytes)
  if (fast === undefined) return false
  const strict: unknown = dagJson.decode(bytes)
  expect(fast).toStrictEqual(strict)
  expect(plain(dagJson.encode(strict))).toEqual(plain(bytes))
  return true
}

/** encodeCanonical declines or writes exactly what dag-json encodes. */
function expectSameEncoding (value: unknown): boolean {
  const fast = encodeCanonical(value)
  if (fast === undefined) return false
  expect(fast).toBe(text(dagJson.encode(value)))
  return true
}

describe('encodeCanonical', () => {
  it('writes numbers as dag-json (cborg) does', () => {
    const numbers = [0, -0, 1, -1, 2.5, 0.1, -0.1, 50.11, 1e21, 1e-7, 1.5e-7, 5e-324, 2 ** 53, 2 ** 53 - 1, -(2 ** 53), 1e20, 123456789.125,
      1.7976931348623157e308, -1.7976931348623157e308, 2 ** 64, 0.000001]
    for (const n of numbers) {
      expect(expectSameEncoding({ n }), String(n)).toBe(true)
    }
    expect(encodeCanonical(2.5)).toBe('2.5')
    expect(encodeCanonical(1e21)).toBe('1e+21')
    expect(encodeCanonical(1e-7)).toBe('1e-7')
    expect(encodeCanonical(2 ** 53)).toBe('9007199254740992.0')
    expect(encodeCanonical(-0)).toBe('0')
  })

  it('declines what dag-json refuses or treats specially', () => {
    for (const value of [Number.NaN, Infinity, -Infinity, undefined, 1n, new Uint8Array(1), new Map(), new Date(0), { a: undefined }, [undefined],
      { '/': 'x' }, { '/': PREV.toString() }, { '/': false, bytes: false }, Object.defineProperty({}, '__proto__', { value: 1, enumerable: true }), new (class Box {})()]) {
      expect(encodeCanonical(value)).toBeUndefined()
    }
    let deep: unknown = 1
    for (let i = 0; i < 40; i++) deep = [deep]
    expect(encodeCanonical(deep)).toBeUndefined()
  })

  it('sorts keys by UTF-16 code units, escapes strings and writes links as dag-json does', () => {
    const value = {
      '\uffff': 1, '\u{10000}': 2, é: 3, b: [PREV, V0, null, true, false], a: { z: '"\\\n\u0001\u007f\u2028\ud800x\udc00', y: '😀' }, 10: 'ten', 9: 'nine', '': {}
    }
    expect(expectSameEncoding(value)).toBe(true)
    expect(expectSameEncoding(Object.assign(Object.create(null) as object, { b: 1, a: 2 }))).toBe(true)
    expect(expectSameEncoding({ asCID: 1, bytes: 2 })).toBe(true)
  })
})

describe('decodeCanonical', () => {
  const canonical = text(encodeManifest(sampleManifest()))

  it('takes canonical manifests, with prev as a CID', () => {
    const decoded = decodeCanonical(bytesOf(canonical)) as Manifest
    expect(decoded).toStrictEqual(dagJson.decode(bytesOf(canonical)))
    expect(CID.asCID(decoded.prev)?.equals(PREV)).toBe(true)
  })

  it('declines non-canonical and special forms, and agrees with the strict path on them', () => {
    const link = `{"/":"${PREV.toString()}"}`
    const variants = [
      `\ufeff${canonical}`, `${canonical} `, ` ${canonical}`, `${canonical}\n`, canonical.replace(':', ': '),
      canonical.replace('"count":8', '"count":8.0'), canonical.replace('"count":8', '"count":8e0'), canonical.replace('"count":8', '"count":8E0'),
      canonical.replace('"count":8', '"count":08'), canonical.replace('"available":6', '"available":-0'), canonical.replace('"available":6', '"available":6.00'),
      canonical.replace('"count":8', '"count":9007199254740993'), canonical.replace('"count":8', '"count":12345678901234567890'),
      canonical.replace('"lat":50.11', '"lat":1e400'), canonical.replace('"lat":50.11', '"lat":5.011e1'), canonical.replace('"lat":50.11', '"lat":50.110'),
      canonical.replace('"status":"available"', '"status":"\\u0061vailable"'), canonical.replace('"status":"available"', '"status":"avail\\/able"'),
      canonical.replace('"status":"available"', '"status":"available","status":"busy"'),
      canonical.replace('"status":"available"', '"status":"busy","status":"available"'),
      canonical.replace('{"attestations":[],', '{').replace(/}$/, ',"attestations":[]}'),
      canonical.replace('{"attestations"', '{"__proto__":{},"attestations"'), canonical.replace('{"attestations"', '{"__proto__":null,"attestations"'),
      canonical.replace('{"attestations"', '{"__proto__":1,"attestations"'),
      canonical.replace(link, '{"/":{"bytes":"AAAA"}}'), canonical.replace(link, `{"/":"${PREV.toString()}","a":1}`),
      canonical.replace(link, `{"/":"${PREV.toString(base36)}"}`), canonical.replace(link, `{"/":"${V0.toString()}"}`), canonical.replace(link, '{"/":1}'),
      canonical.replace(link, '{"/":"not a cid"}'), canonical.replace('"attestations":[]', `"attestations":[${link},{"/":"${V0.toString()}"}]`),
      canonical.replace('"attestations":[]', `"attestations":[{"/":{"bytes":"AAAA"}}]`),
      canonical.replace('"name":"NVIDIA H100 80GB HBM3"', '"name":"\\ud800"'), canonical.replace('"name":"NVIDIA H100 80GB HBM3"', '"name":"\\uD800"'),
      canonical.replace('"name":"NVIDIA H100 80GB HBM3"', '"name":"\\u0001\\"\\\\é😀\u2028"'), canonical.replace('"name":"NVIDIA H100 80GB HBM3"', '"name":"\\ud83d\\ude00"'),
      '', '{', '[]', 'null', '1', '"x"', `{"/":"${PREV.toString()}"}`, '{"a":1}'
    ]
    let taken = 0
    for (const variant of variants) {
      if (expectAgreement(bytesOf(variant))) taken++
    }
    // the canonical ones among them: a v0 CID and a lone surrogate escape are canonical DAG-JSON
    expect(taken).toBeGreaterThan(0)
    const invalidUtf8 = [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]
    for (const bad of invalidUtf8) {
      const bytes = bytesOf(canonical.replace('NVIDIA', 'NVID@A'))
      bytes.set(bad, bytes.indexOf(0x40))
      expectAgreement(bytes)
    }
  })
})

describe('fast vs strict decode, properties', () => {
  it('every valid manifest takes the fast path and decodes as dag-json decodes it', () => {
    // free-form strings with quotes, controls, lone surrogates and astral characters
    const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 }).map((units) => String.fromCharCode(...units)))
    const arbitrary = fc.tuple(manifestArbitrary, anyText, anyText, fc.constantFrom([], [PREV], [V0, PREV]).map((cids) => [...cids]))
      .map(([manifest, vendor, model, attestations]): Manifest => ({ ...manifest, cpu: { ...manifest.cpu, vendor, model }, attestations }))
    fc.assert(fc.property(arbitrary, (manifest) => {
      expect(expectSameEncoding(manifest)).toBe(true)
      const bytes = encodeManifest(manifest)
      expect(plain(bytes)).toEqual(plain(dagJson.encode(manifest)))
      expect(expectAgreement(bytes)).toBe(true)
    }), { numRuns: 300 })
  })

  it('mutated manifests: the fast path declines or agrees, and errors are the strict path\'s', () => {
    const mutation = fc.record({
      kind: fc.constantFrom('byte', 'bit', 'space', 'delete', 'reorder', 'number', 'escape', 'duplicate', 'bom', 'trailing', 'link', 'proto', 'unicode'),
      at: fc.nat(),
      pick: fc.nat()
    })
    let taken = 0
    fc.assert(fc.property(manifestArbitrary, fc.array(mutation, { minLength: 1, maxLength: 3 }), (manifest, mutations) => {
      let bytes = encodeManifest(manifest)
      for (const m of mutations) bytes = mutate(bytes, m.kind, m.at, m.pick)
      if (expectAgreement(bytes)) taken++
    }), { numRuns: 2000 })
    expect(taken).toBeGreaterThan(0)
  })

  it('arbitrary DAG-JSON values: dag-json\'s own encoding, and JSON.stringify\'s', () => {
    const key = fc.oneof(fc.constantFrom('/', '__proto__', 'bytes', 'a', 'b', 'A', '1', '10', '9', '', '\uffff', '\u{10000}', 'é'), fc.string({ unit: 'binary', maxLength: 4 }))
    const number = fc.oneof(fc.integer(), fc.double(), fc.maxSafeInteger(), fc.constantFrom(0, -0, 2.5, 0.1, 1e21, 1e-7, 5e-324, 2 ** 53, 2 ** 64, 1e300, Number.NaN, Infinity))
    const string = fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 6 }).map((units) => String.fromCharCode(...units)))
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), number, string, fc.constantFrom(PREV, V0), tie('array'), tie('object'), tie('link')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      object: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
      link: fc.constantFrom({ '/': PREV.toString() }, { '/': V0.toString() }, { '/': { bytes: 'AAAA' } }, { '/': 'nope' })
    }))
    let taken = 0
    fc.assert(fc.property(value, (v) => {
      expectSameEncoding(v)
      let encoded: Uint8Array | undefined
      try {
        encoded = dagJson.encode(v)
      } catch {
        encoded = undefined
      }
      if (encoded !== undefined && expectAgreement(encoded)) taken++
      const json = JSON.stringify(v)
      if (json !== undefined) expectAgreement(bytesOf(json))
    }), { numRuns: 2000 })
    expect(taken).toBeGreaterThan(0)
  })
})

describe('provider names', () => {
  it('the fast check accepts exactly the names of Ed25519 keys that the CID parse accepts', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(), fc.nat(), fc.constantFrom('0', 'z', 'A', '', 'k', '1', '00', ' '), fc.nat(4), (key, at, byte, insert, how) => {
      const name = nameOf(key)
      expect(isPlainProviderName(name)).toBe(true)
      expect(parsesAsProviderName(name)).toBe(true)
      const i = 1 + (at % (name.length - 1))
      const mutated = how === 0
        ? name.slice(0, i) + '0123456789abcdefghijklmnopqrstuvwxyz'[byte % 36]! + name.slice(i + 1)
        : how === 1 ? name.slice(0, i) + insert + name.slice(i) : how === 2 ? `k${insert}${name.slice(1)}`
          : how === 3 ? name.slice(0, i) : name.slice(0, i) + name.slice(i).toUpperCase()
      if (isPlainProviderName(mutated)) expect(parsesAsProviderName(mutated)).toBe(true)
      expect(isProviderName(mutated)).toBe(parsesAsProviderName(mutated))
    }), { numRuns: 500 })
  })

  it('rejects other keys and codecs', () => {
    expect(isProviderName(providerName(7))).toBe(true)
    const secp = new Uint8Array(37)
    secp.set([0x08, 0x02, 0x12, 0x21])
    for (const name of [`k${'z'.repeat(60)}`, 'k', 'k0', CID.createV1(0x72, PREV.multihash).toString(base36), PREV.toString(base36), CID.createV1(0x72, identity(secp)).toString(base36)]) {
      expect(isPlainProviderName(name)).toBe(false)
      expect(isProviderName(name)).toBe(parsesAsProviderName(name))
    }
  })
})

function identity (bytes: Uint8Array): CID['multihash'] {
  return CID.decode(Uint8Array.from([0x01, 0x72, 0x00, bytes.length, ...bytes])).multihash
}

function nameOf (key: Uint8Array): string {
  return CID.createV1(0x72, identity(Uint8Array.from([0x08, 0x01, 0x12, 0x20, ...key]))).toString(base36)
}

/** One mutation of canonical manifest bytes; `at` and `pick` choose where and how. */
function mutate (bytes: Uint8Array, kind: string, at: number, pick: number): Uint8Array {
  const json = text(bytes)
  const nth = (matches: RegExpMatchArray[]): RegExpMatchArray | undefined => matches[pick % Math.max(1, matches.length)]
  const splice = (match: RegExpMatchArray | undefined, replacement: string): Uint8Array =>
    match?.index === undefined ? bytes : bytesOf(json.slice(0, match.index) + replacement + json.slice(match.index + match[0].length))
  const i = bytes.length === 0 ? 0 : at % bytes.length
  switch (kind) {
    case 'byte': return Uint8Array.from([...bytes.subarray(0, i), pick % 256, ...bytes.subarray(i + 1)])
    case 'bit': return Uint8Array.from([...bytes.subarray(0, i), (bytes[i] ?? 0) ^ (1 << (pick % 8)), ...bytes.subarray(i + 1)])
    case 'space': return Uint8Array.from([...bytes.subarray(0, i), [0x20, 0x09, 0x0a, 0x0d][pick % 4]!, ...bytes.subarray(i)])
    case 'delete': return Uint8Array.from([...bytes.subarray(0, i), ...bytes.subarray(i + 1)])
    case 'bom': return Uint8Array.from([0xef, 0xbb, 0xbf, ...bytes])
    case 'trailing': return Uint8Array.from([...bytes, [0x20, 0x0a, 0x30, 0x7d, 0x2c, 0x00][pick % 6]!])
    case 'reorder': {
      let value: unknown
      try {
        value = JSON.parse(json)
      } catch {
        return bytes
      }
      let count = 0
      const shuffle = (node: unknown): unknown => {
        if (Array.isArray(node)) return node.map(shuffle)
        if (typeof node !== 'object' || node === null) return node
        const entries = Object.entries(node).map(([k, v]) => [k, shuffle(v)] as const)
        if (count++ === pick % 12 && entries.length > 1) entries.push(entries.splice(at % entries.length, 1)[0]!)
        return Object.fromEntries(entries)
      }
      return bytesOf(JSON.stringify(shuffle(value)))
    }
    case 'number': {
      const match = nth([...json.matchAll(/(?<=[:,[])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?=[,}\]])/g)])
      const n = match?.[0] ?? '0'
      const variants = [`${n}.0`, `${n}e0`, `${n}E0`, `0${n}`, '-0', `${n}.00`, `${n}0`, '1e400', '9007199254740993', '12345678901234567890', `-${n}`, '1e+21', '1e21', '0.1', '1.0e-7', '1e-7']
      return splice(match, variants[at % variants.length]!)
    }
    case 'escape': {
      const match = nth([...json.matchAll(/[a-zA-Z/é]/g)])
      const char = match?.[0] ?? 'a'
      const hex = char.charCodeAt(0).toString(16).padStart(4, '0')
      return splice(match, [`\\u${hex}`, `\\u${hex.toUpperCase()}`, `\\${char}`][at % 3]!)
    }
    case 'duplicate': {
      const match = nth([...json.matchAll(/"(\w+)":("[^"]*"|-?\d+(?:\.\d+)?|null|\[\])/g)])
      const variants = [`${match?.[0]},${match?.[0]}`, `${match?.[0]},"${match?.[1]}":"x"`, `"${match?.[1]}":0,${match?.[0]}`]
      return splice(match, variants[at % variants.length]!)
    }
    case 'link': {
      const match = nth([...json.matchAll(/\{"\/":"([^"]*)"\}/g)])
      const cid = match?.[1] ?? ''
      const variants = ['{"/":{"bytes":"AAAA"}}', `{"/":"${cid}","a":1}`, `{"a":1,"/":"${cid}"}`, `{"/":"${V0.toString()}"}`, `{"/":"${cid.toUpperCase()}"}`,
        '{"/":1}', '{"/":null}', `{"/":"${cid}x"}`, `{"/":"${CID.parse(PREV.toString()).toString(base36)}"}`, `{"/":"${cid}"}`]
      return splice(match, variants[at % variants.length]!)
    }
    case 'proto': {
      const match = nth([...json.matchAll(/\{"/g)])
      return splice(match, ['{"__proto__":{},"', '{"__proto__":null,"', '{"__proto__":[],"', '{"__proto__":1,"'][at % 4]!)
    }
    default: { // unicode: a letter becomes a multi-byte character, raw or escaped
      const match = nth([...json.matchAll(/(?<=[^\\])[a-z]/g)])
      return splice(match, ['é', '€', '😀', '\u2028', '\u007f', '\\u00e9', '\\ud83d\\ude00', '\\ud800', '\\udc00x'][at % 9]!)
    }
  }
}
