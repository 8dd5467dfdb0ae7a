import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseCsv } from '../src/csv.js'
import { formatPrice, parseSkypilotCsv, regionCountry, skypilotRowToManifest, validateManifest } from '../src/index.js'
import { parsePythonLiteral } from '../src/python-literal.js'
import { regionSlug } from '../src/regions.js'
import { GPU_OFFERS_DIR, HAS_GPU_OFFERS, expectError, providerName } from './helpers.js'
import type { InvalidCsvError, MissingCsvColumnError, SkypilotConversion, SkypilotRow } from '../src/index.js'

const provider = providerName(9)
const now = new Date('2025-03-01T00:00:00Z')

describe('parseCsv (RFC 4180)', () => {
  it('handles quotes, escaped quotes, embedded separators and line breaks', () => {
    const records = parseCsv('a,"b ""quoted"", here","multi\nline",\r\n1,,"",x\n')
    expect(records).toEqual([
      { fields: ['a', 'b "quoted", here', 'multi\nline', ''], line: 1 },
      { fields: ['1', '', '', 'x'], line: 3 }
    ])
  })

  it('accepts CRLF, LF, a missing final newline, a BOM and blank lines', () => {
    const expected = [['h1', 'h2'], ['1', '2'], ['3', '4']]
    for (const text of ['h1,h2\r\n1,2\r\n3,4\r\n', 'h1,h2\n1,2\n3,4', '\ufeffh1,h2\n1,2\n\n3,4\n']) {
      expect(parseCsv(text).map((record) => record.fields)).toEqual(expected)
    }
  })

  it('rejects broken quoting', () => {
    expect(expectError<InvalidCsvError>(() => parseCsv('a,"open\nb,c\n'), 'InvalidCsvError').line).toBe(1)
    expect(expectError<InvalidCsvError>(() => parseCsv('a,b\n1,"x"y\n'), 'InvalidCsvError').line).toBe(2)
    expectError(() => parseCsv('a,b"c\n'), 'InvalidCsvError')
  })
})

describe('parseSkypilotCsv', () => {
  it('selects columns by header name, whatever their order', () => {
    const a = parseSkypilotCsv('InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo,SpotPrice\r\nx1,H100,8.0,208,1800,23.92,us-east-1,"{\'Gpus\': []}",\r\n')
    const b = parseSkypilotCsv('Region,SpotPrice,Price,MemoryGiB,vCPUs,AcceleratorCount,AcceleratorName,InstanceType,GpuInfo\nus-east-1,,23.92,1800,208,8.0,H100,x1,"{\'Gpus\': []}"')
    const expected: Omit<SkypilotRow, 'line'> = {
      instanceType: 'x1', acceleratorName: 'H100', acceleratorCount: '8.0', vCPUs: '208', memoryGiB: '1800', gpuInfo: "{'Gpus': []}",
      region: 'us-east-1', availabilityZone: '', price: '23.92', spotPrice: '', storageGiB: ''
    }
    expect(a).toEqual([{ ...expected, line: 2 }])
    expect(b).toEqual([{ ...expected, line: 2 }])
  })

  it('names a missing column and rejects ragged rows', () => {
    expect(expectError<MissingCsvColumnError>(() => parseSkypilotCsv('InstanceType,AcceleratorName\nx,y\n'), 'MissingCsvColumnError').column).toBe('AcceleratorCount')
    expectError(() => parseSkypilotCsv(''), 'MissingCsvColumnError')
    const header = 'InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region'
    expect(expectError<InvalidCsvError>(() => parseSkypilotCsv(`${header}\nx,H100,1,8,64,2.0\n`), 'InvalidCsvError').line).toBe(2)
  })
})

describe('formatPrice', () => {
  it('rounds catalog floats to clean decimal strings', () => {
    const cases: Array<[string, string]> = [
      ['0.36979999999999996', '0.3698'], ['5.8854999999999995', '5.8855'], ['23.60', '23.60'], ['23.6', '23.60'],
      ['1.0', '1.00'], ['8', '8.00'], ['0.99995', '1.00'], ['2.44900', '2.449'], ['0.00004', '0.00'], ['009.5', '9.50']
    ]
    for (const [input, output] of cases) expect(formatPrice(input), input).toBe(output)
    for (const bad of ['', 'NaN', '-1', '1e-5', '$2', '2.1.1']) expect(formatPrice(bad), bad).toBeUndefined()
  })
})

describe('parsePythonLiteral', () => {
  it('reads Python reprs, JSON and mixtures', () => {
    expect(parsePythonLiteral("{'Gpus': [{'Name': 'A40', 'Manufacturer': None, 'Count': '1.0', 'ok': True}], 'TotalGpuMemoryInMiB': 49152}"))
      .toEqual({ Gpus: [{ Name: 'A40', Manufacturer: null, Count: '1.0', ok: true }], TotalGpuMemoryInMiB: 49152 })
    expect(parsePythonLiteral('{"Gpus": [{"Name": "H100_SXM5", "Count": 1.0, "MemoryInfo": {"SizeInMiB": 81920}}]}'))
      .toEqual({ Gpus: [{ Name: 'H100_SXM5', Count: 1, MemoryInfo: { SizeInMiB: 81920 } }] })
    expect(parsePythonLiteral("{'Manufacturer': null, 'x': (1, -2.5e3,), 'y': 'it\\'s'}")).toEqual({ Manufacturer: null, x: [1, -2500], y: "it's" })
  })

  it('rejects other text', () => {
    for (const text of ['', "{'a': 1", "{'a' 1}", '{a: 1}', "{'a': 1} x", "{'a': constructor}"]) {
      expectError(() => parsePythonLiteral(text), 'InvalidLiteralError')
    }
  })
})

describe('regionCountry', () => {
  it('maps each catalog style', () => {
    const cases: Array<[string, string, string | undefined]> = [
      ['Michigan, US, NA', 'vast', 'US'], [', CN, AS', 'vast', 'CN'], ['Hafnarfjarðarkaupstaður, IS, EU', 'vast', 'IS'],
      ['FI', 'lium', 'FI'], ['us-east-1', 'lambda', 'US'], ['asia-northeast-2', 'lambda', 'KR'], ['me-west-1', 'lambda', 'IL'],
      ['europe-south-1', 'lambda', undefined], ['eu-north1', 'nebius', 'FI'], ['eu-west1', 'nebius', 'FR'],
      ['eu-frankfurt-1', 'oci', 'DE'], ['me-jeddah-1', 'oci', 'SA'], ['sa-saopaulo-1', 'oci', 'BR'], ['ap-kulai-2', 'oci', 'MY'],
      ['se-stockholm-1', 'cudo', 'SE'], ['kansascity-usa-1', 'shadeform', 'US'], ['london-uk-1', 'spheron', 'GB'],
      ['Finland 3', 'spheron', 'FI'], ['SYD2', 'spheron', 'AU'], ['atl', 'spheron', 'US'], ['FIN-03', 'verda', 'FI'],
      ['CANADA-1', 'hyperstack', 'CA'], ['it-fr2', 'seeweb', 'IT'], ['IN1', 'jarvislabs', 'IN'], ['us', 'daytona', 'US'],
      ['earth', 'daytona', undefined], ['eu', 'daytona', undefined], ['default', 'hyperbolic', undefined], ['', 'seeweb', undefined]
    ]
    for (const [region, cloud, country] of cases) expect(regionCountry(region, cloud), `${cloud} ${region}`).toBe(country)
  })

  it('turns regions into slugs', () => {
    expect(regionSlug('Hafnarfjarðarkaupstaður, IS, EU')).toBe('hafnarfjardarkaupstadur')
    expect(regionSlug('Bács-Kiskun, HU, EU')).toBe('bacs-kiskun')
    expect(regionSlug(', US, NA')).toBe('')
    expect(regionSlug('Finland 3')).toBe('finland-3')
    expect(regionSlug('US-ASHBURN-AD-1')).toBe('us-ashburn-ad-1')
  })
})

function row (fields: Partial<SkypilotRow>): SkypilotRow {
  return {
    line: 2, instanceType: 'x', acceleratorName: 'H100', acceleratorCount: '8', vCPUs: '208', memoryGiB: '1800', gpuInfo: '',
    region: 'us-east-1', availabilityZone: '', price: '23.92', spotPrice: '', storageGiB: '', ...fields
  }
}

function ok (conversion: SkypilotConversion): Extract<SkypilotConversion, { ok: true }> {
  if (!conversion.ok) throw new Error(`expected a manifest, got: ${conversion.reason}`)
  return conversion
}

describe('skypilotRowToManifest', () => {
  it('builds a normalized, schema-valid manifest', () => {
    const { manifest, warnings } = ok(skypilotRowToManifest(row({
      acceleratorName: 'A100', acceleratorCount: '8.0', vCPUs: '240.0', memoryGiB: '1800', price: '14.319999999999999', region: 'us-midwest-1',
      gpuInfo: "{'Gpus': [{'Name': 'A100', 'Manufacturer': 'NVIDIA', 'Count': 8.0, 'MemoryInfo': {'SizeInMiB': 81920}}], 'TotalGpuMemoryInMiB': 655360}"
    }), { provider, now, cloud: 'lambda' }))
    expect(warnings).toEqual([])
    expect(manifest).toEqual({
      schema: 'capdex.manifest.v1', provider, issuedAt: '2025-03-01T00:00:00.000Z', prev: null,
      gpus: [{ vendor: 'nvidia', model: 'A100-80GB', name: 'A100', vramMiB: 81920, formFactor: 'sxm', count: 8, available: 8, interconnect: 'nvlink' }],
      cpu: { vendor: '', model: '', cores: 240, threads: 240, arch: 'x86_64' },
      memory: { totalMiB: 1843200, availableMiB: 1843200 },
      storage: [],
      network: { uplinkMbps: 0, downlinkMbps: 0 },
      location: { country: 'US', region: 'us-midwest-1' },
      pricing: [{ unit: 'instance-hour', amount: '14.32', currency: 'USD' }],
      status: 'available',
      endpoints: [],
      attestations: []
    })
  })

  it('undoes per-cloud GpuInfo quirks before using it as a VRAM hint', () => {
    const vast = ok(skypilotRowToManifest(row({ acceleratorName: 'A100', acceleratorCount: '2', gpuInfo: "{'Gpus': [{'Name': 'A100', 'Count': 2, 'MemoryInfo': {'SizeInMiB': 81920}}]}", region: 'Texas, US, NA' }), { provider, now, cloud: 'vast' }))
    expect(vast.manifest.gpus[0]?.model).toBe('A100-40GB') // 81920 is the total of two 40 GB cards
    expect(vast.manifest.location).toEqual({ country: 'US', region: 'texas' })
    const shadeform = ok(skypilotRowToManifest(row({ acceleratorName: 'A100', gpuInfo: "{'Gpus': [{'Name': 'A100', 'Count': 8.0, 'MemoryInfo': {'SizeInMiB': 80}, 'TotalGpuMemoryInMiB': 640}]}", region: 'culpeper-usa-1' }), { provider, now, cloud: 'shadeform' }))
    expect(shadeform.manifest.gpus[0]?.model).toBe('A100-80GB') // the figure is in GB
  })

  it('keeps the table VRAM and warns when GpuInfo disagrees', () => {
    const { manifest, warnings } = ok(skypilotRowToManifest(row({ acceleratorName: 'RTX4060', acceleratorCount: '1', gpuInfo: "{'Gpus': [{'Name': 'RTX4060', 'Count': 1, 'MemoryInfo': {'SizeInMiB': 16380}}]}", region: 'Texas, US, NA' }), { provider, now, cloud: 'vast' }))
    expect(manifest.gpus[0]).toMatchObject({ model: 'RTX4060', vramMiB: 8192, interconnect: 'none' })
    expect(warnings).toEqual(['GpuInfo gives 16380 MiB per GPU but RTX4060 has 8192 MiB: claimed as RTX4060'])
  })

  it('prices spot-only rows from SpotPrice, with a warning', () => {
    const { manifest, warnings } = ok(skypilotRowToManifest(row({ price: '', spotPrice: '4.893' }), { provider, now, cloud: 'verda' }))
    expect(manifest.pricing).toEqual([{ unit: 'instance-hour', amount: '4.893', currency: 'USD' }])
    expect(warnings).toEqual(['no on-demand Price: priced from SpotPrice'])
  })

  it('turns CPU-only rows into manifests without GPUs, and reads StorageGiB', () => {
    const { manifest } = ok(skypilotRowToManifest(row({ acceleratorName: '', acceleratorCount: '', vCPUs: '4.0', memoryGiB: '16.0', price: '0.2', storageGiB: '800' }), { provider, now, cloud: 'hyperbolic', country: 'US' }))
    expect(manifest.gpus).toEqual([])
    expect(manifest.cpu.threads).toBe(4)
    expect(manifest.storage).toEqual([{ kind: 'other', totalGiB: 800, freeGiB: 800 }])
  })

  it('marks Grace superchips arm64', () => {
    expect(ok(skypilotRowToManifest(row({ acceleratorName: 'GH200', acceleratorCount: '1.0', vCPUs: '64' }), { provider, now, cloud: 'lambda' })).manifest.cpu.arch).toBe('arm64')
  })

  it('gives a reason for every row it cannot normalize', () => {
    const reasons = [
      skypilotRowToManifest(row({ acceleratorName: 'Warp9000' }), { provider, now, cloud: 'x' }),
      skypilotRowToManifest(row({ acceleratorCount: '0.5' }), { provider, now, cloud: 'x' }),
      skypilotRowToManifest(row({ vCPUs: 'many' }), { provider, now, cloud: 'x' }),
      skypilotRowToManifest(row({ memoryGiB: '' }), { provider, now, cloud: 'x' }),
      skypilotRowToManifest(row({ price: '', spotPrice: '' }), { provider, now, cloud: 'x' }),
      skypilotRowToManifest(row({ price: '0.00' }), { provider, now, cloud: 'x' }),
      skypilotRowToManifest(row({ region: 'earth' }), { provider, now, cloud: 'daytona' }),
      skypilotRowToManifest(row({}), { provider: 'not-a-name', now, cloud: 'x' })
    ].map((conversion) => conversion.ok ? 'ok' : conversion.reason)
    expect(reasons).toEqual([
      'unknown accelerator "Warp9000"',
      'AcceleratorCount "0.5" is not a whole number of GPUs',
      'vCPUs "many" is not a whole number',
      'MemoryGiB "" is not a number',
      'no Price and no SpotPrice',
      'Price "0.00" is zero',
      'region "earth" names no country',
      expect.stringContaining('Invalid manifest: provider') as unknown as string
    ])
  })

  it('falls back to the given country only when the region names none', () => {
    const earth = ok(skypilotRowToManifest(row({ region: 'earth' }), { provider, now, cloud: 'daytona', country: 'US' }))
    expect(earth.manifest.location).toEqual({ country: 'US', region: 'earth' })
    const paris = ok(skypilotRowToManifest(row({ region: 'paris-france-1' }), { provider, now, cloud: 'shadeform', country: 'US' }))
    expect(paris.manifest.location.country).toBe('FR')
  })

  it('survives unreadable GpuInfo', () => {
    const { manifest, warnings } = ok(skypilotRowToManifest(row({ gpuInfo: "{'Gpus': [" }), { provider, now, cloud: 'x' }))
    expect(manifest.gpus[0]?.model).toBe('H100')
    expect(warnings[0]).toMatch(/^GpuInfo is unreadable/)
  })
})

describe.skipIf(!HAS_GPU_OFFERS)(`real SkyPilot catalogs (${GPU_OFFERS_DIR})`, () => {
  const files = HAS_GPU_OFFERS ? readdirSync(GPU_OFFERS_DIR).filter((name) => name.endsWith('.csv') && !name.startsWith('common-')).sort() : []
  const catalogs = files.map((file) => ({ cloud: file.replace(/\.csv$/, ''), rows: parseSkypilotCsv(readFileSync(join(GPU_OFFERS_DIR, file), 'utf8')) }))

  it('parses every catalog with the README row counts', () => {
    const counts = Object.fromEntries(catalogs.map(({ cloud, rows }) => [cloud, rows.length]))
    expect(counts).toEqual({
      cudo: 156, daytona: 64, hyperbolic: 3, hyperstack: 25, jarvislabs: 23, lambda: 408, lium: 40, mithril: 4, nebius: 61,
      oci: 3726, primeintellect: 190, seeweb: 75, shadeform: 118, spheron: 152, vast: 67, verda: 33, yotta: 8
    })
  })

  it('normalizes every GPU row to a valid manifest or gives a reason; only regions without a country fail', () => {
    const failures = new Map<string, number>()
    let gpuRows = 0
    for (const { cloud, rows } of catalogs) {
      for (const offer of rows) {
        if (offer.acceleratorName === '') continue
        gpuRows++
        const conversion = skypilotRowToManifest(offer, { provider, now, cloud })
        if (conversion.ok) {
          expect(validateManifest(conversion.manifest).gpus[0]?.count).toBeGreaterThan(0)
        } else {
          expect(conversion.reason).toMatch(/^region ".*" names no country$/)
          const key = `${cloud}: ${conversion.reason}`
          failures.set(key, (failures.get(key) ?? 0) + 1)
        }
      }
    }
    const failed = [...failures.values()].reduce((sum, count) => sum + count, 0)
    console.log(`${gpuRows} GPU rows, ${failed} without a derivable country:`, Object.fromEntries(failures))
    expect(gpuRows).toBe(2338)
    expect(Object.fromEntries(failures)).toEqual({
      'daytona: region "earth" names no country': 56,
      'hyperbolic: region "default" names no country': 3,
      'lambda: region "europe-south-1" names no country': 22,
      'seeweb: region "" names no country': 15
    })
  })

  it('normalizes every row once the operator names a country for regions that name none', () => {
    for (const { cloud, rows } of catalogs) {
      for (const offer of rows) {
        const conversion = skypilotRowToManifest(offer, { provider, now, cloud, country: 'US' })
        expect(conversion.ok ? '' : `${cloud} line ${offer.line}: ${conversion.reason}`).toBe('')
      }
    }
  })
})
