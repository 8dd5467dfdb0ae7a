import type { GpuFormFactor, GpuVendor } from './types.js'

/**
 * One row of the GPU normalization table: one canonical model, one VRAM size, one vendor.
 *
 * Rules (DESIGN: "the same card must never appear under two names or two VRAM sizes"):
 * - The model is the card's identity. The form factor is a separate claim field, so H100 SXM5 and
 *   H100 PCIe are both "H100" (80 GB); `formFactor` here is only the default used when a name does
 *   not say (the most common build in clouds).
 * - A card sold with more than one memory size is one model per size, and every variant carries
 *   its size in the canonical name ("A100-40GB", "A100-80GB"). A different product with a different
 *   size is its own model too ("H100-NVL", 94 GB).
 * - VRAM is the vendor's nominal per-GPU size in GB × 1024 MiB (for boards that carry several
 *   GPUs, such as A16 and K80, per GPU as the OS sees it). Detected and catalog sizes are only
 *   hints that pick a variant; the table's size is what a manifest claims.
 * - Aliases are spellings; they go through the same tokenizer as detected names, so separators,
 *   case, vendor words, memory types and form-factor words need not be listed. A spelling that
 *   names a size ("GH200 480GB") only matches that size. When several models share a spelling
 *   ("A100"), the first one listed is the default and a VRAM hint picks among them.
 */
export interface GpuTableEntry {
  readonly model: string
  readonly vendor: GpuVendor
  readonly vramMiB: number
  readonly formFactor: GpuFormFactor
  readonly aliases: readonly string[]
}

function gpu (model: string, vendor: GpuVendor, vramGB: number, formFactor: GpuFormFactor, aliases: readonly string[]): GpuTableEntry {
  return { model, vendor, vramMiB: vramGB * 1024, formFactor, aliases }
}

const nvidia = (model: string, vramGB: number, formFactor: GpuFormFactor, aliases: readonly string[]): GpuTableEntry =>
  gpu(model, 'nvidia', vramGB, formFactor, aliases)
const amd = (model: string, vramGB: number, formFactor: GpuFormFactor, aliases: readonly string[]): GpuTableEntry =>
  gpu(model, 'amd', vramGB, formFactor, aliases)
const intel = (model: string, vramGB: number, formFactor: GpuFormFactor, aliases: readonly string[]): GpuTableEntry =>
  gpu(model, 'intel', vramGB, formFactor, aliases)
const google = (model: string, vramGB: number, aliases: readonly string[]): GpuTableEntry =>
  gpu(model, 'other', vramGB, 'other', aliases)

export const GPU_TABLE: readonly GpuTableEntry[] = [
  // NVIDIA Blackwell datacenter. HGX B200 ships 180 GB per GPU; GB200/GB300 count Blackwell GPUs, not superchips.
  nvidia('B300', 288, 'sxm', ['B300', 'B300 SXM6 AC', 'B300 SXM6']),
  nvidia('GB300', 288, 'superchip', ['GB300']),
  nvidia('B200', 180, 'sxm', ['B200']),
  nvidia('GB200', 192, 'superchip', ['GB200']),
  nvidia('B100', 192, 'sxm', ['B100']),
  // NVIDIA Hopper. H200 NVL is the H200 chip and memory on a PCIe card: model H200, form factor nvl.
  nvidia('H200', 141, 'sxm', ['H200']),
  nvidia('GH200-96GB', 96, 'superchip', ['GH200', 'GH200 480GB']),
  nvidia('GH200-144GB', 144, 'superchip', ['GH200', 'GH200 624GB']),
  nvidia('H100', 80, 'sxm', ['H100']),
  // Vast lists H100 NVL boards as "H100": the shared spelling lets a 94 GB hint find them.
  nvidia('H100-NVL', 94, 'nvl', ['H100 NVL', 'H100']),
  nvidia('H800', 80, 'sxm', ['H800']),
  nvidia('H20', 96, 'sxm', ['H20']),
  // NVIDIA Ada / Ampere datacenter
  nvidia('L40S', 48, 'pcie', ['L40S']),
  nvidia('L40', 48, 'pcie', ['L40']),
  nvidia('L20', 48, 'pcie', ['L20']),
  nvidia('L4', 24, 'pcie', ['L4']),
  nvidia('A100-40GB', 40, 'sxm', ['A100']),
  nvidia('A100-80GB', 80, 'sxm', ['A100']),
  nvidia('A800-80GB', 80, 'sxm', ['A800']),
  nvidia('A800-40GB', 40, 'pcie', ['A800']),
  nvidia('A40', 48, 'pcie', ['A40']),
  nvidia('A30', 24, 'pcie', ['A30']),
  nvidia('A10', 24, 'pcie', ['A10']),
  nvidia('A10G', 24, 'pcie', ['A10G']),
  nvidia('A16', 16, 'pcie', ['A16']),
  nvidia('A2', 16, 'pcie', ['A2']),
  // NVIDIA older datacenter. T4G (AWS G5g) is the T4 card.
  nvidia('T4', 16, 'pcie', ['T4', 'T4G']),
  nvidia('V100-16GB', 16, 'sxm', ['V100']),
  nvidia('V100-32GB', 32, 'sxm', ['V100']),
  nvidia('V100S', 32, 'pcie', ['V100S']),
  nvidia('P100-16GB', 16, 'pcie', ['P100']),
  nvidia('P100-12GB', 12, 'pcie', ['P100']),
  nvidia('P40', 24, 'pcie', ['P40']),
  nvidia('P4', 8, 'pcie', ['P4']),
  nvidia('K80', 12, 'pcie', ['K80']),
  nvidia('M60', 8, 'pcie', ['M60']),
  // NVIDIA professional
  nvidia('RTXPRO6000', 96, 'pcie', ['RTX PRO 6000', 'RTXPRO6000S', 'RTXPRO6000WS', 'RTXPRO6000 WK']),
  nvidia('RTXPRO5000', 48, 'pcie', ['RTX PRO 5000']),
  nvidia('RTXPRO4500', 32, 'pcie', ['RTX PRO 4500']),
  nvidia('RTXPRO4000', 24, 'pcie', ['RTX PRO 4000']),
  nvidia('RTX6000-Ada', 48, 'pcie', ['RTX 6000 Ada']),
  nvidia('RTX5000-Ada', 32, 'pcie', ['RTX 5000 Ada']),
  nvidia('RTX4500-Ada', 24, 'pcie', ['RTX 4500 Ada']),
  nvidia('RTX4000-Ada', 20, 'pcie', ['RTX 4000 Ada']),
  nvidia('RTX2000-Ada', 16, 'pcie', ['RTX 2000 Ada']),
  nvidia('RTXA6000', 48, 'pcie', ['RTX A6000', 'A6000']),
  nvidia('RTXA5500', 24, 'pcie', ['RTX A5500', 'A5500']),
  nvidia('RTXA5000', 24, 'pcie', ['RTX A5000', 'A5000']),
  nvidia('RTXA4500', 20, 'pcie', ['RTX A4500', 'A4500']),
  nvidia('RTXA4000', 16, 'pcie', ['RTX A4000', 'A4000']),
  nvidia('RTXA2000-6GB', 6, 'pcie', ['RTX A2000', 'A2000']),
  nvidia('RTXA2000-12GB', 12, 'pcie', ['RTX A2000', 'A2000']),
  // Quadro: "Quadro RTX 6000" tokenizes to "rtx6000", distinct from "rtx6000ada" and "rtxpro6000".
  nvidia('RTX8000', 48, 'pcie', ['RTX 8000']),
  nvidia('RTX6000', 24, 'pcie', ['RTX 6000']),
  nvidia('P4000', 8, 'pcie', ['P4000']),
  nvidia('M4000', 8, 'pcie', ['M4000']),
  // NVIDIA GeForce
  nvidia('RTX5090', 32, 'pcie', ['RTX 5090']),
  nvidia('RTX5080', 16, 'pcie', ['RTX 5080']),
  nvidia('RTX5070-Ti', 16, 'pcie', ['RTX 5070 Ti']),
  nvidia('RTX5070', 12, 'pcie', ['RTX 5070']),
  nvidia('RTX5060-Ti-16GB', 16, 'pcie', ['RTX 5060 Ti']),
  nvidia('RTX5060-Ti-8GB', 8, 'pcie', ['RTX 5060 Ti']),
  nvidia('RTX5060', 8, 'pcie', ['RTX 5060']),
  nvidia('RTX4090', 24, 'pcie', ['RTX 4090']),
  nvidia('RTX4080-SUPER', 16, 'pcie', ['RTX 4080 SUPER']),
  nvidia('RTX4080', 16, 'pcie', ['RTX 4080']),
  nvidia('RTX4070-Ti-SUPER', 16, 'pcie', ['RTX 4070 Ti SUPER']),
  nvidia('RTX4070-Ti', 12, 'pcie', ['RTX 4070 Ti']),
  nvidia('RTX4070-SUPER', 12, 'pcie', ['RTX 4070 SUPER']),
  nvidia('RTX4070', 12, 'pcie', ['RTX 4070']),
  nvidia('RTX4060-Ti-8GB', 8, 'pcie', ['RTX 4060 Ti']),
  nvidia('RTX4060-Ti-16GB', 16, 'pcie', ['RTX 4060 Ti']),
  nvidia('RTX4060', 8, 'pcie', ['RTX 4060']),
  nvidia('RTX3090-Ti', 24, 'pcie', ['RTX 3090 Ti']),
  nvidia('RTX3090', 24, 'pcie', ['RTX 3090']),
  nvidia('RTX3080-Ti', 12, 'pcie', ['RTX 3080 Ti']),
  nvidia('RTX3080-10GB', 10, 'pcie', ['RTX 3080']),
  nvidia('RTX3080-12GB', 12, 'pcie', ['RTX 3080']),
  nvidia('RTX3070-Ti', 8, 'pcie', ['RTX 3070 Ti']),
  nvidia('RTX3070', 8, 'pcie', ['RTX 3070']),
  nvidia('RTX3060-Ti', 8, 'pcie', ['RTX 3060 Ti']),
  nvidia('RTX3060-12GB', 12, 'pcie', ['RTX 3060']),
  nvidia('RTX3060-8GB', 8, 'pcie', ['RTX 3060']),
  nvidia('RTX2080-Ti', 11, 'pcie', ['RTX 2080 Ti']),
  nvidia('TITAN-RTX', 24, 'pcie', ['TITAN RTX']),
  nvidia('TITAN-V', 12, 'pcie', ['TITAN V']),
  nvidia('GTX1080-Ti', 11, 'pcie', ['GTX 1080 Ti']),
  nvidia('GTX1660-SUPER', 6, 'pcie', ['GTX 1660 SUPER', 'GTX1660S']),
  // AMD Instinct. lspci names OAM parts by codename with the product in brackets.
  amd('MI355X', 288, 'oam', ['MI355X']),
  amd('MI350X', 288, 'oam', ['MI350X']),
  amd('MI325X', 256, 'oam', ['MI325X']),
  amd('MI300X', 192, 'oam', ['MI300X']),
  amd('MI300A', 128, 'other', ['MI300A']),
  amd('MI250X', 128, 'oam', ['MI250X']),
  amd('MI250', 128, 'oam', ['MI250']),
  amd('MI210', 64, 'pcie', ['MI210']),
  amd('MI100', 32, 'pcie', ['MI100']),
  amd('MI25', 16, 'pcie', ['MI25']),
  // AMD Radeon
  amd('PRO-W7900', 48, 'pcie', ['PRO W7900']),
  amd('PRO-W7800', 32, 'pcie', ['PRO W7800']),
  amd('PRO-V620', 32, 'pcie', ['PRO V620']),
  amd('PRO-V520', 8, 'pcie', ['PRO V520']),
  amd('RX7900XTX', 24, 'pcie', ['RX 7900 XTX']),
  amd('RX7900XT', 20, 'pcie', ['RX 7900 XT']),
  // Intel
  intel('Gaudi3', 128, 'oam', ['Gaudi3', 'HL-325L', 'HL-338']),
  intel('Gaudi2', 96, 'oam', ['Gaudi2', 'HL-225']),
  intel('Gaudi', 32, 'oam', ['Gaudi', 'Gaudi HL-205', 'HL-205']),
  intel('Max1550', 128, 'oam', ['Data Center GPU Max 1550']),
  intel('Max1100', 48, 'pcie', ['Data Center GPU Max 1100']),
  // Google TPUs (memory per chip); SkyPilot lists them as accelerators.
  google('TPU-v2', 16, ['TPU v2']),
  google('TPU-v3', 32, ['TPU v3']),
  google('TPU-v4', 32, ['TPU v4']),
  google('TPU-v5e', 16, ['TPU v5e', 'TPU v5litepod']),
  google('TPU-v5p', 95, ['TPU v5p']),
  google('TPU-v6e', 32, ['TPU v6e'])
]
