import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { GPU_TABLE } from '../src/gpu-table.js'
import { getGpuModel, listGpuModels, normalizeGpu, parseSkypilotCsv } from '../src/index.js'
import { GPU_OFFERS_DIR, HAS_GPU_OFFERS } from './helpers.js'
import type { GpuModel } from '../src/index.js'

const brief = (gpu: GpuModel | undefined): string | undefined => gpu === undefined ? undefined : `${gpu.model} ${gpu.vramMiB} ${gpu.formFactor} ${gpu.interconnect}`

describe('GPU table', () => {
  it('gives each canonical model one vendor and one VRAM size', () => {
    const seen = new Map<string, { vendor: string, vramMiB: number }>()
    for (const entry of GPU_TABLE) {
      const earlier = seen.get(entry.model)
      if (earlier !== undefined) {
        expect(earlier, `${entry.model} is listed twice with different facts`).toEqual({ vendor: entry.vendor, vramMiB: entry.vramMiB })
      }
      seen.set(entry.model, { vendor: entry.vendor, vramMiB: entry.vramMiB })
    }
    // and in fact each model is listed once
    expect(seen.size).toBe(GPU_TABLE.length)
  })

  it('never sends one spelling to two models of the same VRAM, so a hint always decides', () => {
    for (const entry of GPU_TABLE) {
      for (const spelling of [entry.model, ...entry.aliases]) {
        expect(normalizeGpu(spelling, { vramMiB: entry.vramMiB })?.model, `"${spelling}" with ${entry.vramMiB} MiB`).toBe(entry.model)
      }
    }
  })

  it('keeps VRAM nominal (whole GB) and canonical names stable under normalization', () => {
    for (const gpu of listGpuModels()) {
      expect(gpu.vramMiB % 1024).toBe(0)
      expect(gpu.vramMiB).toBeGreaterThan(0)
      expect(normalizeGpu(gpu.model)?.model).toBe(gpu.model)
      expect(getGpuModel(gpu.model)).toEqual(gpu)
    }
    expect(getGpuModel('H100-SXM')).toBeUndefined()
  })

  it('names every size variant of a family with its size', () => {
    const byDefault = new Map<string, string[]>()
    for (const entry of GPU_TABLE) {
      for (const alias of entry.aliases) byDefault.set(alias, [...(byDefault.get(alias) ?? []), entry.model])
    }
    for (const [alias, models] of byDefault) {
      if (models.length < 2 || alias === 'H100') continue // H100 NVL is a different product, not a size variant
      for (const model of models) expect(model, `variant of "${alias}"`).toMatch(/-\d+GB$/)
    }
  })
})

describe('normalizeGpu', () => {
  it('reads nvidia-smi names', () => {
    expect(brief(normalizeGpu('NVIDIA H100 80GB HBM3'))).toBe('H100 81920 sxm nvlink')
    expect(brief(normalizeGpu('NVIDIA H100 PCIe'))).toBe('H100 81920 pcie pcie')
    expect(brief(normalizeGpu('NVIDIA H100 NVL'))).toBe('H100-NVL 96256 nvl nvlink')
    expect(brief(normalizeGpu('NVIDIA A100-SXM4-80GB'))).toBe('A100-80GB 81920 sxm nvlink')
    expect(brief(normalizeGpu('NVIDIA A100-PCIE-40GB'))).toBe('A100-40GB 40960 pcie pcie')
    expect(brief(normalizeGpu('NVIDIA A100 80GB PCIe'))).toBe('A100-80GB 81920 pcie pcie')
    expect(brief(normalizeGpu('Tesla V100-SXM2-16GB'))).toBe('V100-16GB 16384 sxm nvlink')
    expect(brief(normalizeGpu('Tesla V100-PCIE-32GB'))).toBe('V100-32GB 32768 pcie pcie')
    expect(brief(normalizeGpu('NVIDIA GeForce RTX 4090'))).toBe('RTX4090 24576 pcie pcie')
    expect(brief(normalizeGpu('NVIDIA GeForce RTX 4080 SUPER'))).toBe('RTX4080-SUPER 16384 pcie pcie')
    expect(brief(normalizeGpu('NVIDIA GeForce RTX 4070 Ti'))).toBe('RTX4070-Ti 12288 pcie pcie')
    expect(brief(normalizeGpu('NVIDIA RTX 6000 Ada Generation'))).toBe('RTX6000-Ada 49152 pcie pcie')
    expect(brief(normalizeGpu('Quadro RTX 6000'))).toBe('RTX6000 24576 pcie pcie')
    expect(brief(normalizeGpu('NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition'))).toBe('RTXPRO6000 98304 pcie pcie')
    expect(brief(normalizeGpu('NVIDIA RTX A6000'))).toBe('RTXA6000 49152 pcie pcie')
    expect(brief(normalizeGpu('NVIDIA GH200 480GB'))).toBe('GH200-96GB 98304 superchip nvlink')
    expect(brief(normalizeGpu('NVIDIA GH200 144G HBM3e'))).toBe('GH200-144GB 147456 superchip nvlink')
    expect(brief(normalizeGpu('NVIDIA H200 NVL'))).toBe('H200 144384 nvl nvlink')
    expect(brief(normalizeGpu('NVIDIA B300 SXM6 AC'))).toBe('B300 294912 sxm nvlink')
    expect(brief(normalizeGpu('Tesla T4'))).toBe('T4 16384 pcie pcie')
  })

  it('reads rocm-smi and lspci names', () => {
    expect(brief(normalizeGpu('AMD Instinct MI300X'))).toBe('MI300X 196608 oam xgmi')
    expect(brief(normalizeGpu('MI300X'))).toBe('MI300X 196608 oam xgmi')
    expect(brief(normalizeGpu('Instinct MI250X'))).toBe('MI250X 131072 oam xgmi')
    expect(brief(normalizeGpu('Advanced Micro Devices, Inc. [AMD/ATI] Aqua Vanjaram [Instinct MI300X]'))).toBe('MI300X 196608 oam xgmi')
    expect(brief(normalizeGpu('Arcturus GL-XL [Instinct MI100]'))).toBe('MI100 32768 pcie pcie')
    expect(brief(normalizeGpu('GH100 [H100 SXM5 80GB]'))).toBe('H100 81920 sxm nvlink')
    expect(brief(normalizeGpu('AD102 [GeForce RTX 4090]'))).toBe('RTX4090 24576 pcie pcie')
    expect(brief(normalizeGpu('AMD Radeon PRO W7900'))).toBe('PRO-W7900 49152 pcie pcie')
    expect(brief(normalizeGpu('AMD Radeon RX 7900 XTX'))).toBe('RX7900XTX 24576 pcie pcie')
    expect(brief(normalizeGpu('Ponte Vecchio XT (1 Tile) [Data Center GPU Max 1100]'))).toBe('Max1100 49152 pcie pcie')
  })

  it('reads cloud catalog spellings', () => {
    const cases: Array<[string, string]> = [
      ['A100-80GB', 'A100-80GB 81920 sxm nvlink'],
      ['A100-80G-PCIe', 'A100-80GB 81920 pcie pcie'],
      ['A100-80G-PCIe-NVLink', 'A100-80GB 81920 pcie nvlink'],
      ['A100_80G_SXM4', 'A100-80GB 81920 sxm nvlink'],
      ['RTXPRO6000', 'RTXPRO6000 98304 pcie pcie'],
      ['RTX-PRO-6000', 'RTXPRO6000 98304 pcie pcie'],
      ['RTXPro6000', 'RTXPRO6000 98304 pcie pcie'],
      ['RTX PRO 6000 96GB', 'RTXPRO6000 98304 pcie pcie'],
      ['RTXPRO6000_PCIE_BAREMETAL', 'RTXPRO6000 98304 pcie pcie'],
      ['RTXPRO6000-WK', 'RTXPRO6000 98304 pcie pcie'],
      ['RTX6000Ada', 'RTX6000-Ada 49152 pcie pcie'],
      ['RTX-6000-Ada', 'RTX6000-Ada 49152 pcie pcie'],
      ['RTX6000ADA_PCIE', 'RTX6000-Ada 49152 pcie pcie'],
      ['H100_SXM5', 'H100 81920 sxm nvlink'],
      ['H100SXM5', 'H100 81920 sxm nvlink'],
      ['H100_PCIE_BAREMETAL', 'H100 81920 pcie pcie'],
      ['H100_NVL', 'H100-NVL 96256 nvl nvlink'],
      ['H100-MEGA', 'H100 81920 sxm nvlink'],
      ['H100-80G-PCIe-NVLink', 'H100 81920 pcie nvlink'],
      ['NVIDIA-H100-80GB-HBM3', 'H100 81920 sxm nvlink'],
      ['V100_32G_PCIE', 'V100-32GB 32768 pcie pcie'],
      ['A6000_PCIE_LOW_RAM', 'RTXA6000 49152 pcie pcie'],
      ['GTX1660S', 'GTX1660-SUPER 6144 pcie pcie'],
      ['T4g', 'T4 16384 pcie pcie'],
      ['GAUDI2', 'Gaudi2 98304 oam unknown'],
      ['tpu-v5litepod', 'TPU-v5e 16384 other unknown']
    ]
    for (const [name, expected] of cases) expect(brief(normalizeGpu(name)), name).toBe(expected)
  })

  it('picks a VRAM variant from a hint, and trusts an explicit size over the hint', () => {
    expect(normalizeGpu('A100')?.model).toBe('A100-40GB')
    expect(normalizeGpu('A100', { vramMiB: 81559 })?.model).toBe('A100-80GB')
    expect(normalizeGpu('NVIDIA A100-SXM4-40GB', { vramMiB: 81920 })?.model).toBe('A100-40GB')
    expect(normalizeGpu('H100', { vramMiB: 95830 })?.model).toBe('H100-NVL')
    expect(normalizeGpu('NVIDIA GeForce RTX 4060 Ti', { vramMiB: 16380 })?.model).toBe('RTX4060-Ti-16GB')
    // a single-size card keeps its table VRAM whatever the hint says
    expect(normalizeGpu('RTX4060', { vramMiB: 16380 })?.vramMiB).toBe(8192)
  })

  it('returns undefined for unknown, contradictory or ambiguous names', () => {
    expect(normalizeGpu('')).toBeUndefined()
    expect(normalizeGpu('NVIDIA')).toBeUndefined()
    expect(normalizeGpu('NVIDIA GeForce RTX 4090 Laptop GPU')).toBeUndefined()
    expect(normalizeGpu('NVIDIA Graphics Device')).toBeUndefined()
    expect(normalizeGpu('A100 60GB')).toBeUndefined()
    expect(normalizeGpu('Raptor Lake-S GT1 [UHD Graphics 770]')).toBeUndefined()
    // one PCI id for two products with the same memory: no hint can tell them apart
    expect(normalizeGpu('Aldebaran/MI200 [Instinct MI250X/MI250]')).toBeUndefined()
  })
})

describe.skipIf(!HAS_GPU_OFFERS)(`real accelerator names (${GPU_OFFERS_DIR})`, () => {
  const csv = (file: string): string => readFileSync(join(GPU_OFFERS_DIR, file), 'utf8')

  it('covers every accelerator of common-accelerators.csv', () => {
    const names = csv('common-accelerators.csv').split('\n').slice(1).map((line) => line.split(',')[0] ?? '').filter((name) => name !== '')
    expect(names.length).toBeGreaterThanOrEqual(60)
    const unknown = names.filter((name) => normalizeGpu(name) === undefined)
    expect(unknown).toEqual([])
  })

  it('agrees with common-metadata.csv memory, except where that file is known to be low', () => {
    // README: B200, H200, H200-SXM and GH200 are listed at 80 GB, below vendor specs; H100 NVL has 94 GB
    const knownLow = new Set(['B200', 'H200', 'H200-SXM', 'GH200', 'H100-NVL'])
    for (const line of csv('common-metadata.csv').split('\n').slice(1)) {
      const [name = '', memoryGB = ''] = line.split(',')
      if (name === '' || knownLow.has(name)) continue
      expect(normalizeGpu(name)?.vramMiB, name).toBe(Number(memoryGB) * 1024)
    }
  })

  it('covers every AcceleratorName of every catalog', () => {
    const names = new Set<string>()
    for (const file of readdirSync(GPU_OFFERS_DIR).filter((name) => name.endsWith('.csv') && !name.startsWith('common-'))) {
      for (const row of parseSkypilotCsv(csv(file))) if (row.acceleratorName !== '') names.add(row.acceleratorName)
    }
    expect(names.size).toBeGreaterThan(70)
    expect([...names].filter((name) => normalizeGpu(name) === undefined)).toEqual([])
  })
})
