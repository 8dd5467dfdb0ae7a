import type { CID } from 'multiformats/cid'

/** Schema identifier of version 1 manifests. */
export type ManifestSchema = 'capdex.manifest.v1'

export type GpuVendor = 'nvidia' | 'amd' | 'intel' | 'other'

/** How the card is mounted: SXM/OAM modules, PCIe cards, or something else. */
export type GpuFormFactor = 'sxm' | 'pcie' | 'oam' | 'nvl' | 'superchip' | 'mxm' | 'other'

/** How GPUs on the machine talk to each other. */
export type GpuInterconnect = 'nvlink' | 'xgmi' | 'pcie' | 'none' | 'unknown'

export interface GpuClaim {
  vendor: GpuVendor
  /** canonical model from the normalization table, e.g. "H100", "RTX4090", "MI300X" */
  model: string
  /** marketing name as detected, e.g. "NVIDIA H100 80GB HBM3" */
  name: string
  /** per-GPU memory, from the normalization table */
  vramMiB: number
  formFactor: GpuFormFactor
  count: number
  /** how many of `count` are free now (0 <= available <= count) */
  available: number
  interconnect: GpuInterconnect
}

export interface CpuClaim {
  vendor: string
  model: string
  cores: number
  threads: number
  /** e.g. "x86_64", "arm64" */
  arch: string
}

export interface MemoryClaim {
  totalMiB: number
  availableMiB: number
}

export type StorageKind = 'nvme' | 'ssd' | 'hdd' | 'network' | 'other'

export interface StorageClaim {
  kind: StorageKind
  totalGiB: number
  freeGiB: number
}

export interface NetworkClaim {
  uplinkMbps: number
  downlinkMbps: number
}

export interface LocationClaim {
  /** ISO 3166-1 alpha-2, upper case */
  country: string
  /** free-form region slug, lower case, e.g. "eu-west" */
  region: string
  lat?: number
  lon?: number
}

export type PricingUnit = 'gpu-hour' | 'instance-hour'

export interface PricingClaim {
  unit: PricingUnit
  /** decimal string, e.g. "2.10": never a float, so that prices round-trip exactly */
  amount: string
  /** ISO 4217, upper case */
  currency: string
}

export type ProviderStatus = 'available' | 'busy' | 'draining' | 'offline'

/** A provider's signed capability claim (DAG-JSON, canonical, at most 64 KiB). */
export interface Manifest {
  schema: ManifestSchema
  /** the provider's IPNS name (libp2p-key CID, base36 `k51…`) */
  provider: string
  /** RFC 3339 */
  issuedAt: string
  /** the provider's previous manifest, or null for its first */
  prev: CID | null
  gpus: GpuClaim[]
  cpu: CpuClaim
  memory: MemoryClaim
  storage: StorageClaim[]
  network: NetworkClaim
  location: LocationClaim
  pricing: PricingClaim[]
  status: ProviderStatus
  /** multiaddrs or URLs */
  endpoints: string[]
  attestations: CID[]
}
