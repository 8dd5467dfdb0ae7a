import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { compare } from 'uint8arrays/compare'
import { describe, expect, it } from 'vitest'
import {
  ATTRS, attrKey, attrRange, attrsForManifest, attrValuePrefix, decodeAttrKey, decodeNumber,
  decodeString, encodeNumber, encodeString, pricePerGpuHour
} from '../src/entries/index.js'
import { testManifest } from './entries-fixtures.js'

const sign = (n: number): number => n < 0 ? -1 : n > 0 ? 1 : 0
const numbers = fc.oneof(
  fc.double({ noNaN: true }),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.constantFrom(0, -0, 0.5, -0.5, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, -Number.MIN_VALUE)
)
const providerKey = (i: number): Uint8Array => Uint8Array.from({ length: 38 }, (_, j) => (i * 7 + j) & 0xff)

describe('encodeNumber', () => {
  it('preserves numeric order bytewise', () => {
    fc.assert(fc.property(numbers, numbers, (a, b) => {
      const byNumber = a === b ? 0 : sign(a - b)
      expect(sign(compare(encodeNumber(a), encodeNumber(b)))).toBe(byNumber)
    }), { numRuns: 2000 })
  })

  it('round-trips and normalises -0 to 0', () => {
    fc.assert(fc.property(numbers, (n) => {
      expect(Object.is(decodeNumber(encodeNumber(n)), n === 0 ? 0 : n)).toBe(true)
    }))
    expect(encodeNumber(-0)).toEqual(encodeNumber(0))
    expect(encodeNumber(0)).toEqual(Uint8Array.of(0x80, 0, 0, 0, 0, 0, 0, 0))
  })

  it('rejects NaN', () => {
    expect(() => encodeNumber(Number.NaN)).toThrow(expect.objectContaining({ name: 'InvalidNumberError' }))
  })
})

describe('encodeString', () => {
  const strings = fc.string({ unit: fc.oneof(fc.constantFrom('\u0000', '\u0001', '\u0002', 'a', 'Z'), fc.constantFrom('é', 'e\u0301', 'ß'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 12 })

  it('has no 0x00 and preserves order of canonical strings', () => {
    fc.assert(fc.property(strings, strings, (a, b) => {
      const ea = encodeString(a)
      const eb = encodeString(b)
      expect(ea.includes(0)).toBe(false)
      const ca = new TextEncoder().encode(a.normalize('NFC').toLowerCase().normalize('NFC'))
      const cb = new TextEncoder().encode(b.normalize('NFC').toLowerCase().normalize('NFC'))
      // the separator keeps order: enc(a)‖0 vs enc(b)‖0 orders like the canonical bytes
      const ka = Uint8Array.from([...ea, 0])
      const kb = Uint8Array.from([...eb, 0])
      expect(sign(compare(ka, kb))).toBe(sign(compare(ca, cb)))
    }), { numRuns: 2000 })
  })

  it('folds case and normalisation, and round-trips', () => {
    expect(encodeString('H100')).toEqual(encodeString('h100'))
    expect(encodeString('e\u0301')).toEqual(encodeString('\u00e9'))
    expect(encodeString('a\u0000b\u0001')).toEqual(Uint8Array.of(0x61, 1, 1, 0x62, 1, 2))
    expect(decodeString(encodeString('A\u0000b\u0001'))).toBe('a\u0000b\u0001')
  })
})

describe('attribute keys', () => {
  it('round-trips through decodeAttrKey', () => {
    const pk = providerKey(1)
    expect(decodeAttrKey(attrKey('price', 2.5, pk))).toEqual({ attr: 'price', value: 2.5, providerKey: pk })
    expect(decodeAttrKey(attrKey('gpu', 'H100', pk))).toEqual({ attr: 'gpu', value: 'h100', providerKey: pk })
    expect(decodeAttrKey(attrKey('attested-by', 'x\u0000y', pk))).toEqual({ attr: 'attested-by', value: 'x\u0000y', providerKey: pk })
  })

  it('checks names and value types', () => {
    expect(() => attrKey('gpus', 'eight', providerKey(1))).toThrow(expect.objectContaining({ name: 'InvalidAttributeError' }))
    expect(() => attrKey('gpu', 8, providerKey(1))).toThrow(expect.objectContaining({ name: 'InvalidAttributeError' }))
    expect(() => attrValuePrefix('nope' as 'gpu', 'x')).toThrow(expect.objectContaining({ name: 'InvalidAttributeError' }))
    expect(() => decodeAttrKey(Uint8Array.of(0x61, 0, 1))).toThrow(expect.objectContaining({ name: 'InvalidAttrKeyError' }))
  })

  it('number ranges select exactly the keys whose value is in bounds', () => {
    const bound = fc.option(numbers, { nil: undefined })
    fc.assert(fc.property(fc.array(numbers, { maxLength: 20 }), bound, bound, bound, bound, (values, gte, gt, lte, lt) => {
      const bounds = { ...(gte === undefined ? {} : { gte }), ...(gt === undefined ? {} : { gt }), ...(lte === undefined ? {} : { lte }), ...(lt === undefined ? {} : { lt }) }
      const range = attrRange('price', bounds)
      const keys = [
        ...values.map((v, i) => ({ v, key: attrKey('price', v, providerKey(i)) })),
        { v: undefined, key: attrKey('mem', 1, providerKey(0)) },
        { v: undefined, key: attrKey('gpus', 1, providerKey(0)) }
      ]
      for (const { v, key } of keys) {
        const inside = compare(key, range.gte) >= 0 && compare(key, range.lt) < 0
        const expected = v !== undefined &&
          (gte === undefined || v >= gte) && (gt === undefined || v > gt) &&
          (lte === undefined || v <= lte) && (lt === undefined || v < lt)
        expect(inside).toBe(expected)
      }
    }), { numRuns: 1000 })
  })

  it('string ranges are exact at prefixes', () => {
    const words = ['a', 'a\u0000', 'a\u0001', 'ab', 'b', 'eu-west', 'eu-west-2', 'eu']
    const range = attrRange('region', { gt: 'eu', lte: 'eu-west' })
    const inside = words.filter((w) => {
      const key = attrKey('region', w, providerKey(3))
      return compare(key, range.gte) >= 0 && compare(key, range.lt) < 0
    })
    expect(inside).toEqual(['eu-west'])
    const a = attrRange('region', { gte: 'a', lt: 'b' })
    expect(words.filter((w) => {
      const key = attrKey('region', w, providerKey(3))
      return compare(key, a.gte) >= 0 && compare(key, a.lt) < 0
    })).toEqual(['a', 'a\u0000', 'a\u0001', 'ab'])
  })

  it('an empty interval has gte equal to lt', () => {
    const r = attrRange('gpus', { gt: 8, lt: 2 })
    expect(r.gte).toEqual(r.lt)
  })
})

describe('attrsForManifest', () => {
  it('emits one key per distinct gpu model and vram, and the computed fields', () => {
    const attestation = CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    const manifest = testManifest({
      gpus: [
        { vendor: 'nvidia', model: 'H100', name: 'NVIDIA H100 80GB HBM3', vramMiB: 81920, formFactor: 'sxm', count: 4, available: 4, interconnect: 'nvlink' },
        { vendor: 'nvidia', model: 'A100', name: 'NVIDIA A100 80GB', vramMiB: 81920, formFactor: 'sxm', count: 4, available: 2, interconnect: 'nvlink' },
        { vendor: 'nvidia', model: 'L4', name: 'NVIDIA L4', vramMiB: 24576, formFactor: 'pcie', count: 2, available: 2, interconnect: 'pcie' }
      ],
      pricing: [
        { unit: 'instance-hour', amount: '20', currency: 'USD' },
        { unit: 'gpu-hour', amount: '2.10', currency: 'USD' },
        { unit: 'gpu-hour', amount: '0.5', currency: 'EUR' }
      ],
      attestations: [attestation]
    })
    const pairs = attrsForManifest(manifest, { validity: new Date(1_700_000_000_000) })
    const of = (attr: string): unknown[] => pairs.filter((p) => p.attr === attr).map((p) => p.value)
    expect(of('gpu')).toEqual(['H100', 'A100', 'L4'])
    expect(of('vram')).toEqual([80, 24])
    expect(of('gpus')).toEqual([10])
    expect(of('price')).toEqual([2])
    expect(of('country')).toEqual(['DE'])
    expect(of('attested-by')).toEqual([attestation.toString()])
    expect(of('expires')).toEqual([1_700_000_000_000])
    expect(of('cpu')).toEqual([manifest.cpu.cores])
    expect(of('mem')).toEqual([manifest.memory.totalMiB / 1024])
    for (const p of pairs) expect(ATTRS[p.attr].multi || of(p.attr).length === 1).toBe(true)
  })

  it('prices GPU-less providers per instance-hour and skips other currencies', () => {
    expect(pricePerGpuHour({ gpus: [], pricing: [{ unit: 'instance-hour', amount: '0.40', currency: 'usd' }, { unit: 'gpu-hour', amount: '0.1', currency: 'USD' }] })).toBe(0.4)
    expect(pricePerGpuHour({ gpus: [], pricing: [{ unit: 'instance-hour', amount: '0.40', currency: 'EUR' }] })).toBeUndefined()
    const pairs = attrsForManifest(testManifest({ gpus: [], pricing: [] }), { validity: new Date(5) })
    expect(pairs.some((p) => p.attr === 'price' || p.attr === 'gpu' || p.attr === 'vram')).toBe(false)
    expect(pairs.find((p) => p.attr === 'gpus')?.value).toBe(0)
  })
})
