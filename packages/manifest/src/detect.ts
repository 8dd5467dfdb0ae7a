import {
  DISPLAY_ONLY_ADAPTER_PATTERN, GPU_BUSY_MEMORY_FRACTION, GPU_BUSY_UTILIZATION_PERCENT, GPU_VRAM_MISMATCH_FRACTION,
  INTEGRATED_GRAPHICS_PATTERN, MANIFEST_SCHEMA, NETWORK_FILESYSTEMS,
  UNKNOWN_COUNTRY
} from './constants.js'
import { AbortError } from './errors.js'
import { claimInterconnect, normalizeGpu } from './gpus.js'
import { validateManifest } from './validate.js'
import type { GpuModel } from './gpus.js'
import type { ManifestOverrides } from './overrides.js'
import type { GpuClaim, LocationClaim, Manifest, NetworkClaim, ProviderStatus, StorageClaim, StorageKind } from './types.js'
import type { CID } from 'multiformats/cid'
import type { Systeminformation } from 'systeminformation'

/** The systeminformation fields detection reads from a graphics controller (nvidia-smi fills the optional ones). */
export type GraphicsControllerInfo = Pick<Systeminformation.GraphicsControllerData,
'vendor' | 'model' | 'bus' | 'vram' | 'vramDynamic' | 'busAddress' | 'name' | 'pciBus' | 'subDeviceId' |
'driverVersion' | 'memoryTotal' | 'memoryUsed' | 'memoryFree' | 'utilizationGpu'>
export type CpuInfo = Pick<Systeminformation.CpuData, 'manufacturer' | 'brand' | 'vendor' | 'cores' | 'physicalCores' | 'processors'>
export type MemInfo = Pick<Systeminformation.MemData, 'total' | 'available'>
export type DiskInfo = Pick<Systeminformation.DiskLayoutData, 'device' | 'type' | 'name' | 'size' | 'interfaceType'>
export type FsInfo = Pick<Systeminformation.FsSizeData, 'fs' | 'type' | 'size' | 'available' | 'mount'>
export type NetworkInterfaceInfo = Pick<Systeminformation.NetworkInterfacesData, 'iface' | 'default' | 'internal' | 'virtual' | 'operstate' | 'speed'>
export type OsInfo = Pick<Systeminformation.OsData, 'platform' | 'arch'>

/**
 * The part of the `systeminformation` module detection uses. The module itself satisfies it
 * (see `createSystemInfoSource`); tests and replays pass recorded outputs (`systemInfoFromSnapshot`).
 */
export interface SystemInfoSource {
  graphics(): Promise<{ controllers: GraphicsControllerInfo[] }>
  cpu(): Promise<CpuInfo>
  mem(): Promise<MemInfo>
  diskLayout(): Promise<DiskInfo[]>
  fsSize(): Promise<FsInfo[]>
  networkInterfaces(): Promise<NetworkInterfaceInfo[]>
  osInfo(): Promise<OsInfo>
}

/** Recorded outputs of every SystemInfoSource method, e.g. a JSON fixture. */
export interface SystemInfoSnapshot {
  graphics: { controllers: GraphicsControllerInfo[] }
  cpu: CpuInfo
  mem: MemInfo
  diskLayout: DiskInfo[]
  fsSize: FsInfo[]
  networkInterfaces: NetworkInterfaceInfo[]
  osInfo: OsInfo
}

export interface DetectComponents {
  system: SystemInfoSource
}

export interface DetectInit {
  /** the provider's IPNS name (`k51…`) */
  provider: string
  /**
   * the provider's previous manifest
   *
   * @default null
   */
  prev?: CID | null
  /**
   * the manifest's issuedAt
   *
   * @default new Date()
   */
  now?: Date
  /** what only the operator knows; `location.country` is required */
  overrides?: ManifestOverrides
  /**
   * a GPU at or above this utilization (percent) is busy
   *
   * @default GPU_BUSY_UTILIZATION_PERCENT (10)
   */
  busyUtilizationPercent?: number
  /**
   * a GPU with at least this fraction of its memory in use is busy
   *
   * @default GPU_BUSY_MEMORY_FRACTION (0.1)
   */
  busyMemoryFraction?: number
}

export interface DetectProgressEvent {
  type: 'manifest:detect:probe'
  detail: { probe: keyof SystemInfoSnapshot }
}

export interface DetectOptions {
  signal?: AbortSignal
  onProgress?: (event: DetectProgressEvent) => void
}

export interface DetectResult {
  manifest: Manifest
  /** GPUs left out (unknown to the table), VRAM that disagrees with the table, missing telemetry… */
  warnings: string[]
}

const MIB = 1024 * 1024
const GIB = 1024 * MIB

const STORAGE_ORDER: readonly StorageKind[] = ['nvme', 'ssd', 'hdd', 'network', 'other']
const ARCH_NAMES: Readonly<Record<string, string>> = { x64: 'x86_64', ia32: 'x86', arm64: 'arm64', arm: 'arm' }

/** Wait for `promise`, or reject with AbortError as soon as `signal` aborts. */
async function raceSignal<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  signal.throwIfAborted()
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(new AbortError()) }
    signal.addEventListener('abort', onAbort, { once: true })
    void promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}

function isDisplayOnly (controller: GraphicsControllerInfo): boolean {
  if (controller.name !== undefined && controller.name !== '') return false
  return controller.vramDynamic || DISPLAY_ONLY_ADAPTER_PATTERN.test(controller.vendor) || DISPLAY_ONLY_ADAPTER_PATTERN.test(controller.model) ||
    INTEGRATED_GRAPHICS_PATTERN.test(controller.model)
}

function hasTelemetry (controller: GraphicsControllerInfo): boolean {
  return controller.memoryTotal !== undefined || controller.utilizationGpu !== undefined || (controller.name ?? '') !== ''
}

interface GpuGroup {
  gpu: GpuModel
  name: string
  count: number
  available: number
}

function detectGpus (controllers: readonly GraphicsControllerInfo[], init: DetectInit, warnings: string[]): GpuClaim[] {
  const busyUtilization = init.busyUtilizationPercent ?? GPU_BUSY_UTILIZATION_PERCENT
  const busyMemory = init.busyMemoryFraction ?? GPU_BUSY_MEMORY_FRACTION
  const groups = new Map<string, GpuGroup>()
  const withoutTelemetry = new Set<string>()
  for (const controller of controllers) {
    if (isDisplayOnly(controller)) continue
    const smiName = controller.name?.trim() ?? ''
    const name = smiName === '' ? controller.model.trim() : smiName
    // nvidia-smi reports the real memory; it only picks a VRAM variant, the table gives the figure
    const hints = controller.memoryTotal !== undefined && controller.memoryTotal > 0 ? { vramMiB: controller.memoryTotal } : {}
    const gpu = normalizeGpu(name, hints) ?? normalizeGpu(controller.model, hints)
    const where = controller.pciBus ?? controller.busAddress ?? 'unknown bus'
    if (gpu === undefined) {
      warnings.push(`unknown GPU "${name}" (vendor "${controller.vendor}", ${where}): not in the GPU table, left out of the manifest`)
      continue
    }
    if (hints.vramMiB !== undefined && Math.abs(hints.vramMiB - gpu.vramMiB) > gpu.vramMiB * GPU_VRAM_MISMATCH_FRACTION) {
      warnings.push(`GPU "${name}" (${where}) reports ${hints.vramMiB} MiB but ${gpu.model} has ${gpu.vramMiB} MiB: claimed as ${gpu.model}`)
    }
    let free = true
    if (hasTelemetry(controller)) {
      // systeminformation leaves out zero readings, so a missing figure means 0
      const utilization = controller.utilizationGpu ?? 0
      const total = controller.memoryTotal ?? 0
      const used = controller.memoryUsed ?? 0
      free = utilization < busyUtilization && (total === 0 || used / total < busyMemory)
    } else {
      withoutTelemetry.add(gpu.model)
    }
    const key = `${gpu.model}\u0000${gpu.formFactor}\u0000${gpu.interconnect}\u0000${name}`
    const group = groups.get(key) ?? { gpu, name, count: 0, available: 0 }
    group.count++
    if (free) group.available++
    groups.set(key, group)
  }
  for (const model of withoutTelemetry) {
    warnings.push(`no utilization telemetry for ${model} (no nvidia-smi): counted as available`)
  }
  return [...groups.values()].map(({ gpu, name, count, available }) => ({
    vendor: gpu.vendor,
    model: gpu.model,
    name,
    vramMiB: gpu.vramMiB,
    formFactor: gpu.formFactor,
    count,
    available,
    interconnect: claimInterconnect(gpu, count)
  }))
}

function storageKind (disk: DiskInfo): StorageKind | undefined {
  const type = disk.type.toLowerCase()
  const bus = disk.interfaceType.toLowerCase()
  if (type === 'usb' || bus === 'usb') return undefined // removable: not offered
  if (type === 'nvme' || bus === 'nvme' || bus.startsWith('pcie')) return 'nvme'
  if (type === 'ssd') return 'ssd'
  if (type === 'hd' || type === 'hdd') return 'hdd'
  return 'other'
}

/** Whether filesystem device `fs` is disk `device` or one of its partitions ("/dev/nvme0n1p2", "/dev/sda1"). */
function onDisk (fs: string, device: string): boolean {
  if (device === '' || !fs.startsWith(device)) return false
  const rest = fs.slice(device.length)
  return rest === '' || /^p?\d+$/.test(rest)
}

/**
 * Storage per kind. Totals come from the disks. Free space comes from the mounted filesystems
 * found on each disk's partitions; filesystems on RAID or LVM devices (/dev/md0, /dev/mapper/…),
 * which systeminformation does not trace to disks, count toward the kind with the most capacity
 * (where such arrays usually live). Network filesystems (NFS, Lustre…) form a "network" entry.
 */
function detectStorage (disks: readonly DiskInfo[], filesystems: readonly FsInfo[]): StorageClaim[] {
  const totals = new Map<StorageKind, { total: number, free: number }>()
  const local: Array<{ device: string, kind: StorageKind | undefined }> = []
  for (const disk of disks) {
    const kind = storageKind(disk)
    local.push({ device: disk.device, kind }) // removable disks too, so that their filesystems are recognised and skipped
    if (kind === undefined || disk.size <= 0) continue
    const entry = totals.get(kind) ?? { total: 0, free: 0 }
    entry.total += disk.size
    totals.set(kind, entry)
  }
  let largestKind: StorageKind | undefined
  for (const [kind, { total }] of totals) {
    if (largestKind === undefined || total > (totals.get(largestKind)?.total ?? 0)) largestKind = kind
  }
  const seen = new Set<string>()
  for (const fs of filesystems) {
    if (seen.has(fs.fs)) continue // one device mounted twice
    seen.add(fs.fs)
    if (NETWORK_FILESYSTEMS.has(fs.type.toLowerCase())) {
      const entry = totals.get('network') ?? { total: 0, free: 0 }
      entry.total += fs.size
      entry.free += fs.available
      totals.set('network', entry)
      continue
    }
    if (!fs.fs.startsWith('/dev/')) continue
    const disk = local.find(({ device }) => onDisk(fs.fs, device))
    const kind = disk === undefined ? largestKind : disk.kind
    const entry = kind === undefined ? undefined : totals.get(kind)
    if (entry !== undefined) entry.free += fs.available
  }
  return STORAGE_ORDER.flatMap((kind) => {
    const entry = totals.get(kind)
    if (entry === undefined) return []
    const totalGiB = Math.floor(entry.total / GIB)
    return [{ kind, totalGiB, freeGiB: Math.min(totalGiB, Math.floor(entry.free / GIB)) }]
  })
}

/** The link speed of the default route's interface, else the fastest physical interface that is up. */
function detectNetwork (interfaces: readonly NetworkInterfaceInfo[]): NetworkClaim {
  const physical = interfaces.filter((nic) => !nic.internal && !nic.virtual && nic.operstate === 'up' && (nic.speed ?? 0) > 0)
  const chosen = physical.find((nic) => nic.default)
  const speed = Math.floor(chosen?.speed ?? Math.max(0, ...physical.map((nic) => nic.speed ?? 0)))
  return { uplinkMbps: speed, downlinkMbps: speed }
}

function archName (arch: string): string {
  const lower = arch.toLowerCase()
  return ARCH_NAMES[lower] ?? (lower.replace(/[^a-z0-9_]/g, '_').slice(0, 32) || 'unknown')
}

function cleanCpuModel (brand: string): string {
  return brand.replace(/[®™©]|\((?:R|TM|C)\)/gi, '').replace(/\s+/g, ' ').trim()
}

function location (overrides: ManifestOverrides, warnings: string[]): LocationClaim {
  const given = overrides.location ?? {}
  if (given.country === undefined) {
    warnings.push(`no location given: country ${UNKNOWN_COUNTRY} (unknown); pass --country and --region, or set location in the overrides file`)
  }
  const claim: LocationClaim = { country: given.country ?? UNKNOWN_COUNTRY, region: given.region ?? '' }
  if (given.lat !== undefined) claim.lat = given.lat
  if (given.lon !== undefined) claim.lon = given.lon
  return claim
}

/**
 * Detect this machine's hardware through systeminformation and build a manifest.
 *
 * GPUs are normalized through the GPU table and identical ones grouped into one claim with a
 * count. A GPU is available when its utilization is below `busyUtilizationPercent` and less than
 * `busyMemoryFraction` of its memory is in use (nvidia-smi figures); without telemetry (AMD through
 * lspci) it counts as available. GPUs the table does not know are left out and reported in
 * `warnings`. The status is the operator's, else "busy" when every GPU is busy, else "available".
 *
 * @throws {InvalidManifestError} when the result breaks the schema (bad overrides or provider name)
 * @throws {AbortError} when `options.signal` aborts
 */
export async function detectManifest (components: DetectComponents, init: DetectInit, options: DetectOptions = {}): Promise<DetectResult> {
  const { system } = components
  const { signal, onProgress } = options
  const overrides = init.overrides ?? {}
  const probe = async <K extends keyof SystemInfoSnapshot>(name: K, run: () => Promise<SystemInfoSnapshot[K]>): Promise<SystemInfoSnapshot[K]> => {
    const value = await raceSignal(run(), signal)
    onProgress?.({ type: 'manifest:detect:probe', detail: { probe: name } })
    return value
  }
  const [graphics, cpu, mem, disks, filesystems, interfaces, os] = await Promise.all([
    probe('graphics', async () => system.graphics()),
    probe('cpu', async () => system.cpu()),
    probe('mem', async () => system.mem()),
    probe('diskLayout', async () => system.diskLayout()),
    probe('fsSize', async () => system.fsSize()),
    probe('networkInterfaces', async () => system.networkInterfaces()),
    probe('osInfo', async () => system.osInfo())
  ])

  const warnings: string[] = []
  const claimedLocation = location(overrides, warnings)
  const gpus = detectGpus(graphics.controllers, init, warnings)
  const totalMiB = Math.floor(mem.total / MIB)
  const cores = cpu.physicalCores > 0 ? cpu.physicalCores : cpu.cores
  const status: ProviderStatus = overrides.status ??
    (gpus.length > 0 && gpus.every((gpu) => gpu.available === 0) ? 'busy' : 'available')

  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    provider: init.provider,
    issuedAt: (init.now ?? new Date()).toISOString(),
    prev: init.prev ?? null,
    gpus,
    cpu: {
      vendor: cpu.manufacturer,
      model: cleanCpuModel(cpu.brand),
      cores,
      threads: Math.max(cores, cpu.cores),
      arch: archName(os.arch)
    },
    memory: { totalMiB, availableMiB: Math.min(totalMiB, Math.floor(mem.available / MIB)) },
    storage: detectStorage(disks, filesystems),
    network: { ...detectNetwork(interfaces), ...overrides.network },
    location: claimedLocation,
    pricing: overrides.pricing ?? [],
    status,
    endpoints: overrides.endpoints ?? [],
    attestations: []
  }
  return { manifest: validateManifest(manifest), warnings }
}

/** A SystemInfoSource that replays recorded outputs. */
export function systemInfoFromSnapshot (snapshot: SystemInfoSnapshot): SystemInfoSource {
  return {
    graphics: () => Promise.resolve(snapshot.graphics),
    cpu: () => Promise.resolve(snapshot.cpu),
    mem: () => Promise.resolve(snapshot.mem),
    diskLayout: () => Promise.resolve(snapshot.diskLayout),
    fsSize: () => Promise.resolve(snapshot.fsSize),
    networkInterfaces: () => Promise.resolve(snapshot.networkInterfaces),
    osInfo: () => Promise.resolve(snapshot.osInfo)
  }
}

/** Record every SystemInfoSource output once, e.g. to save a machine as a fixture or bug report. */
export async function recordSystemInfo (system: SystemInfoSource): Promise<SystemInfoSnapshot> {
  const [graphics, cpu, mem, diskLayout, fsSize, networkInterfaces, osInfo] = await Promise.all([
    system.graphics(), system.cpu(), system.mem(), system.diskLayout(), system.fsSize(), system.networkInterfaces(), system.osInfo()
  ])
  return { graphics, cpu, mem, diskLayout, fsSize, networkInterfaces, osInfo }
}

/** The real `systeminformation` module, imported on first use (it is large and probes the OS). */
export async function createSystemInfoSource (): Promise<SystemInfoSource> {
  const si = await import('systeminformation')
  const source: SystemInfoSource = si
  return source
}
