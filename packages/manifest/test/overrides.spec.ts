import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadOverrides, mergeOverrides, parseOverrideFlags, parsePriceFlag, validateOverrides } from '../src/index.js'
import { expectError, expectRejection } from './helpers.js'
import type { InvalidOverrideFlagError, InvalidOverridesError } from '../src/index.js'

let dir = ''
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'capdex-overrides-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

async function file (name: string, content: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, content)
  return path
}

describe('loadOverrides', () => {
  it('reads a valid file', async () => {
    const overrides = {
      location: { country: 'DE', region: 'eu-central', lat: 50.11, lon: 8.68 },
      pricing: [{ unit: 'gpu-hour', amount: '2.10', currency: 'EUR' }],
      status: 'draining',
      endpoints: ['/dns4/gpu.example.com/tcp/4001'],
      network: { uplinkMbps: 10000 }
    }
    expect(await loadOverrides(await file('ok.json', JSON.stringify(overrides)))).toEqual(overrides)
  })

  it('names the bad field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ location: { country: 'Germany' } }, 'location.country'],
      [{ location: { country: 'DE', city: 'Berlin' } }, 'location.city'],
      [{ pricing: [{ unit: 'gpu-hour', amount: 2.1, currency: 'EUR' }] }, 'pricing[0].amount'],
      [{ status: 'open' }, 'status'],
      [{ network: { uplinkMbps: -5 } }, 'network.uplinkMbps'],
      [{ endpoints: ['gpu.example.com'] }, 'endpoints[0]'],
      [{ gpus: [] }, 'gpus'],
      [[], '']
    ]
    for (const [value, field] of cases) {
      const path = await file('bad.json', JSON.stringify(value))
      const err = await expectRejection<InvalidOverridesError>(loadOverrides(path), 'InvalidOverridesError')
      expect(err.field).toBe(field)
      expect(err.message).toContain(path)
    }
  })

  it('rejects a file that is not JSON', async () => {
    await expectRejection(loadOverrides(await file('bad.txt', 'country = "DE"')), 'InvalidOverridesError')
  })

  it('reports a missing or oversized file as a read error', async () => {
    await expectRejection(loadOverrides(join(dir, 'missing.json')), 'OverridesReadError')
    await expectRejection(loadOverrides(await file('big.json', ' '.repeat(70_000))), 'OverridesReadError')
  })

  it('honours an aborted signal', async () => {
    await expectRejection(loadOverrides(await file('ok2.json', '{}'), { signal: AbortSignal.abort() }), 'AbortError')
  })
})

describe('parsePriceFlag', () => {
  it('reads <amount>[/<unit>][ <currency>]', () => {
    expect(parsePriceFlag('2.10')).toEqual({ unit: 'gpu-hour', amount: '2.10', currency: 'USD' })
    expect(parsePriceFlag('2.10/gpu-hour')).toEqual({ unit: 'gpu-hour', amount: '2.10', currency: 'USD' })
    expect(parsePriceFlag('14.32/instance-hour eur')).toEqual({ unit: 'instance-hour', amount: '14.32', currency: 'EUR' })
    expect(parsePriceFlag('3 JPY')).toEqual({ unit: 'gpu-hour', amount: '3', currency: 'JPY' })
  })

  it('rejects anything else, naming the flag', () => {
    for (const text of ['', '$2.10', '2,10', '-1', '2.10/hour', '2.10 dollars', '2.10/gpu-hour/USD', '1e3']) {
      const err = expectError<InvalidOverrideFlagError>(() => parsePriceFlag(text), 'InvalidOverrideFlagError')
      expect(err.flag).toBe('price')
    }
  })
})

describe('parseOverrideFlags', () => {
  it('turns flags into overrides, folding case where people type it', () => {
    expect(parseOverrideFlags({
      country: 'de', region: 'EU-Central', lat: '50.11', lon: 8.68, price: ['2.10/gpu-hour', '16.00/instance-hour'],
      status: 'Busy', endpoint: '/dns4/a.example/tcp/4001', uplinkMbps: '1000', downlinkMbps: 2000
    })).toEqual({
      location: { country: 'DE', region: 'eu-central', lat: 50.11, lon: 8.68 },
      pricing: [{ unit: 'gpu-hour', amount: '2.10', currency: 'USD' }, { unit: 'instance-hour', amount: '16.00', currency: 'USD' }],
      status: 'busy',
      endpoints: ['/dns4/a.example/tcp/4001'],
      network: { uplinkMbps: 1000, downlinkMbps: 2000 }
    })
    expect(parseOverrideFlags({})).toEqual({})
  })

  it('names the bad flag', () => {
    const cases: Array<[Parameters<typeof parseOverrideFlags>[0], string]> = [
      [{ country: 'Germany' }, 'country'],
      [{ region: 'eu central' }, 'region'],
      [{ lat: 'north' }, 'lat'],
      [{ lat: '95' }, 'lat'],
      [{ status: 'open' }, 'status'],
      [{ endpoint: ['/dns4/a/tcp/1', 'nowhere'] }, 'endpoint'],
      [{ uplinkMbps: '1.5' }, 'uplink-mbps'],
      [{ downlinkMbps: '-1' }, 'downlink-mbps'],
      [{ price: 'free' }, 'price']
    ]
    for (const [flags, flag] of cases) {
      const err = expectError<InvalidOverrideFlagError>(() => parseOverrideFlags(flags), 'InvalidOverrideFlagError')
      expect(err.flag).toBe(flag)
    }
  })
})

describe('validateOverrides and mergeOverrides', () => {
  it('lets later layers win field by field', () => {
    const fromFile = validateOverrides({ location: { country: 'DE', region: 'eu-central' }, pricing: [{ unit: 'gpu-hour', amount: '2.10', currency: 'EUR' }], network: { uplinkMbps: 1000, downlinkMbps: 1000 } })
    const fromFlags = parseOverrideFlags({ region: 'eu-west', downlinkMbps: '5000', status: 'offline' })
    expect(mergeOverrides(fromFile, fromFlags)).toEqual({
      location: { country: 'DE', region: 'eu-west' },
      pricing: [{ unit: 'gpu-hour', amount: '2.10', currency: 'EUR' }],
      network: { uplinkMbps: 1000, downlinkMbps: 5000 },
      status: 'offline'
    })
  })
})
