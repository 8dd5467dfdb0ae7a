import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { createSystemInfoSource, detectManifest, encodeManifest, parseOverrideFlags, recordSystemInfo, systemInfoFromSnapshot } from '../src/index.js'
import { PREV, expectRejection, providerName } from './helpers.js'
import type { DetectProgressEvent, ManifestOverrides, SystemInfoSnapshot, SystemInfoSource } from '../src/index.js'

function fixture (name: string): SystemInfoSource {
  const snapshot = JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as SystemInfoSnapshot
  return systemInfoFromSnapshot(snapshot)
}

const provider = providerName(3)
const now = new Date('2025-06-01T12:00:00Z')
const overrides: ManifestOverrides = { location: { country: 'DE', region: 'eu-central' } }

describe('detectManifest', () => {
  it('8× H100 SXM server: groups the GPUs, counts busy ones, skips the BMC display', async () => {
    const { manifest, warnings } = await detectManifest({ system: fixture('h100-sxm-server') }, {
      provider, now, prev: PREV,
      overrides: { ...overrides, pricing: [{ unit: 'gpu-hour', amount: '2.10', currency: 'EUR' }], endpoints: ['/dns4/dgx.example.com/tcp/4001'] }
    })
    expect(warnings).toEqual([])
    expect(manifest).toEqual({
      schema: 'capdex.manifest.v1',
      provider,
      issuedAt: '2025-06-01T12:00:00.000Z',
      prev: PREV,
      gpus: [{ vendor: 'nvidia', model: 'H100', name: 'NVIDIA H100 80GB HBM3', vramMiB: 81920, formFactor: 'sxm', count: 8, available: 6, interconnect: 'nvlink' }],
      cpu: { vendor: 'Intel', model: 'Xeon Platinum 8480+', cores: 112, threads: 224, arch: 'x86_64' },
      memory: { totalMiB: 2063916, availableMiB: 2003893 },
      storage: [{ kind: 'nvme', totalGiB: 32192, freeGiB: 28011 }, { kind: 'network', totalGiB: 102400, freeGiB: 51200 }],
      network: { uplinkMbps: 100000, downlinkMbps: 100000 },
      location: { country: 'DE', region: 'eu-central' },
      pricing: [{ unit: 'gpu-hour', amount: '2.10', currency: 'EUR' }],
      status: 'available',
      endpoints: ['/dns4/dgx.example.com/tcp/4001'],
      attestations: []
    })
    expect(encodeManifest(manifest).byteLength).toBeLessThan(2048)
  })

  it('RTX 4090 desktop: a busy GPU makes the machine busy; iGPU and USB stick are not claimed', async () => {
    const { manifest, warnings } = await detectManifest({ system: fixture('rtx4090-desktop') }, {
      provider, now, overrides: parseOverrideFlags({ country: 'nl', region: 'Home-Lab', price: '0.35/gpu-hour' })
    })
    expect(warnings).toEqual([])
    expect(manifest.gpus).toEqual([{ vendor: 'nvidia', model: 'RTX4090', name: 'NVIDIA GeForce RTX 4090', vramMiB: 24576, formFactor: 'pcie', count: 1, available: 0, interconnect: 'none' }])
    expect(manifest.cpu).toEqual({ vendor: 'Intel', model: 'Core i9-13900K', cores: 24, threads: 32, arch: 'x86_64' })
    expect(manifest.memory).toEqual({ totalMiB: 64086, availableMiB: 39324 })
    expect(manifest.storage).toEqual([
      { kind: 'nvme', totalGiB: 1863, freeGiB: 1150 },
      { kind: 'ssd', totalGiB: 931, freeGiB: 465 },
      { kind: 'hdd', totalGiB: 3726, freeGiB: 2793 }
    ])
    expect(manifest.network).toEqual({ uplinkMbps: 2500, downlinkMbps: 2500 })
    expect(manifest.location).toEqual({ country: 'NL', region: 'home-lab' })
    expect(manifest.pricing).toEqual([{ unit: 'gpu-hour', amount: '0.35', currency: 'USD' }])
    expect(manifest.status).toBe('busy')
  })

  it('8× MI300X server: lspci names, no telemetry, RAID space counted toward the larger kind', async () => {
    const { manifest, warnings } = await detectManifest({ system: fixture('mi300x-server') }, {
      provider, now, overrides: { ...overrides, network: { uplinkMbps: 10000, downlinkMbps: 20000 } }
    })
    expect(warnings).toEqual(['no utilization telemetry for MI300X (no nvidia-smi): counted as available'])
    expect(manifest.gpus).toEqual([{ vendor: 'amd', model: 'MI300X', name: 'Aqua Vanjaram [Instinct MI300X]', vramMiB: 196608, formFactor: 'oam', count: 8, available: 8, interconnect: 'xgmi' }])
    expect(manifest.cpu).toEqual({ vendor: 'AMD', model: 'EPYC 9654 96-Core Processor', cores: 192, threads: 384, arch: 'x86_64' })
    expect(manifest.memory).toEqual({ totalMiB: 2321255, availableMiB: 2278339 })
    expect(manifest.storage).toEqual([{ kind: 'nvme', totalGiB: 28615, freeGiB: 27939 }, { kind: 'ssd', totalGiB: 894, freeGiB: 764 }])
    expect(manifest.network).toEqual({ uplinkMbps: 10000, downlinkMbps: 20000 })
    expect(manifest.status).toBe('available')
  })

  it('a machine without GPUs', async () => {
    const { manifest, warnings } = await detectManifest({ system: fixture('cpu-only-server') }, { provider, now, overrides })
    expect(warnings).toEqual([])
    expect(manifest.gpus).toEqual([])
    expect(manifest.cpu).toEqual({ vendor: 'AMD', model: 'EPYC 7763 64-Core Processor', cores: 64, threads: 128, arch: 'x86_64' })
    expect(manifest.memory).toEqual({ totalMiB: 515801, availableMiB: 410897 })
    expect(manifest.storage).toEqual([{ kind: 'ssd', totalGiB: 3576, freeGiB: 1396 }])
    expect(manifest.network).toEqual({ uplinkMbps: 10000, downlinkMbps: 10000 })
    expect(manifest.status).toBe('available')
    expect(manifest.prev).toBeNull()
  })

  it('reports an unknown GPU instead of dropping it silently', async () => {
    const { manifest, warnings } = await detectManifest({ system: fixture('unknown-gpu-workstation') }, { provider, now, overrides })
    expect(manifest.gpus).toEqual([{ vendor: 'nvidia', model: 'RTXA6000', name: 'NVIDIA RTX A6000', vramMiB: 49152, formFactor: 'pcie', count: 1, available: 1, interconnect: 'none' }])
    expect(warnings).toEqual(['unknown GPU "NVIDIA Graphics Device" (vendor "NVIDIA Corporation", 00000000:65:00.0): not in the GPU table, left out of the manifest'])
    expect(manifest.storage).toEqual([{ kind: 'nvme', totalGiB: 3726, freeGiB: 2700 }])
    expect(manifest.memory).toEqual({ totalMiB: 257698, availableMiB: 248161 })
  })

  it('takes busy thresholds and the operator status from init', async () => {
    const { manifest } = await detectManifest({ system: fixture('h100-sxm-server') }, { provider, now, overrides: { ...overrides, status: 'draining' }, busyUtilizationPercent: 100, busyMemoryFraction: 1 })
    expect(manifest.gpus[0]?.available).toBe(8)
    expect(manifest.status).toBe('draining')
  })

  it('claims the unknown country ZZ, with a warning, when the operator gives none', async () => {
    const bare = await detectManifest({ system: fixture('cpu-only-server') }, { provider, now })
    expect(bare.manifest.location).toEqual({ country: 'ZZ', region: '' })
    expect(bare.warnings.some((w) => w.includes('no location given'))).toBe(true)
    const regionOnly = await detectManifest({ system: fixture('cpu-only-server') }, { provider, now, overrides: { location: { region: 'eu-west' } } })
    expect(regionOnly.manifest.location).toEqual({ country: 'ZZ', region: 'eu-west' })
  })

  it('validates the result', async () => {
    await expectRejection(detectManifest({ system: fixture('cpu-only-server') }, { provider: 'QmNotAnIpnsName', now, overrides }), 'InvalidManifestError')
  })

  it('reports each probe as progress and stops when aborted', async () => {
    const events: DetectProgressEvent[] = []
    await detectManifest({ system: fixture('cpu-only-server') }, { provider, now, overrides }, { onProgress: (event) => events.push(event) })
    expect(events.map((event) => event.type)).toEqual(Array(7).fill('manifest:detect:probe'))
    expect(new Set(events.map((event) => event.detail.probe))).toEqual(new Set(['graphics', 'cpu', 'mem', 'diskLayout', 'fsSize', 'networkInterfaces', 'osInfo']))

    const controller = new AbortController()
    const stalled: SystemInfoSource = { ...fixture('cpu-only-server'), graphics: async () => new Promise(() => {}) }
    const pending = detectManifest({ system: stalled }, { provider, now, overrides }, { signal: controller.signal })
    controller.abort()
    await expectRejection(pending, 'AbortError')
  })

  it('records and replays a source', async () => {
    const source = fixture('rtx4090-desktop')
    const replayed = systemInfoFromSnapshot(await recordSystemInfo(source))
    const init = { provider, now, overrides }
    expect((await detectManifest({ system: replayed }, init)).manifest).toEqual((await detectManifest({ system: source }, init)).manifest)
  })

  it('wraps the real systeminformation module', async () => {
    const source = await createSystemInfoSource()
    for (const method of ['graphics', 'cpu', 'mem', 'diskLayout', 'fsSize', 'networkInterfaces', 'osInfo'] as const) {
      expect(typeof source[method]).toBe('function')
    }
  })
})
