/**
 * @packageDocumentation
 *
 * The capdex manifest: a provider's signed claim about one machine (GPUs, CPU, memory, storage,
 * network, location, prices, status), as a canonical DAG-JSON block of at most 64 KiB.
 *
 * - `validateManifest`, `encodeManifest`, `decodeManifest` (strict: size first, then canonical
 *   form, then schema) and `manifestCid` (CIDv1, dag-json, sha2-256). Canonical manifests take a
 *   JSON.parse fast path; `decodeManifestStrict` is the same decode through @ipld/dag-json alone.
 * - `normalizeGpu`: one table maps every spelling of a GPU to one canonical model and VRAM size.
 * - `detectManifest`: builds a manifest from systeminformation plus operator overrides.
 * - `parseSkypilotCsv` and `skypilotRowToManifest`: import SkyPilot cloud catalogs.
 *
 * @example
 *
 * ```ts
 * import { createSystemInfoSource, detectManifest, encodeManifest, manifestCid, parseOverrideFlags } from '@capdex/manifest'
 *
 * const system = await createSystemInfoSource()
 * const { manifest, warnings } = await detectManifest({ system }, {
 *   provider: 'k51qzi5uqu5d…',
 *   overrides: parseOverrideFlags({ country: 'DE', region: 'eu-central', price: '2.10/gpu-hour' })
 * })
 * const bytes = encodeManifest(manifest)
 * const cid = manifestCid(bytes)
 * ```
 */

export { encodeManifest, decodeManifest, decodeManifestStrict, manifestCid } from './codec.js'
export { validateManifest, isProviderName, isRfc3339 } from './validate.js'
export { normalizeGpu, listGpuModels, getGpuModel, claimInterconnect } from './gpus.js'
export type { GpuModel, NormalizeGpuHints } from './gpus.js'
export { detectManifest, createSystemInfoSource, systemInfoFromSnapshot, recordSystemInfo } from './detect.js'
export type {
  DetectComponents, DetectInit, DetectOptions, DetectProgressEvent, DetectResult, SystemInfoSource, SystemInfoSnapshot,
  GraphicsControllerInfo, CpuInfo, MemInfo, DiskInfo, FsInfo, NetworkInterfaceInfo, OsInfo
} from './detect.js'
export { loadOverrides, validateOverrides, parseOverrideFlags, parsePriceFlag, mergeOverrides } from './overrides.js'
export type { ManifestOverrides, OverrideFlags, LoadOverridesOptions } from './overrides.js'
export { parseSkypilotCsv, skypilotRowToManifest, formatPrice } from './skypilot.js'
export type { SkypilotRow, SkypilotImportOptions, SkypilotConversion } from './skypilot.js'
export { regionCountry } from './regions.js'
export * from './errors.js'
export * from './constants.js'
export type * from './types.js'
