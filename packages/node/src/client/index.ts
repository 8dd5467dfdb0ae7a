/**
 * The client side of capdex: learn an indexer's head and hold it to the chain this client
 * trusted (`resolveHead`, `acceptHead`), fetch and pin whole snapshot DAGs over bitswap or a
 * trustless gateway (`pinStore`, `gatewayClient`), query a snapshot offline (`openIndex`), export
 * and import CARs (`exportCar`, `importCar`), and collect garbage without touching a pinned
 * block. Every block is re-hashed on arrival; every entry a query returns is verified.
 *
 * @example
 *
 * ```TypeScript
 * import { bitswapBlockSource, localBlockSource, openIndex, pinStore, resolveHead } from '@capdex/node'
 *
 * const head = await resolveHead({ node, datastore: repo.datastore }, { indexer: 'k51…' })
 * const pins = pinStore({ repo })
 * await pins.add(head.cid, { source: bitswapBlockSource({ node }) })
 *
 * // later, with no network at all
 * const index = await openIndex({ blocks: localBlockSource({ blockstore: repo.blockstore }), pins }, head.cid, { offline: true })
 * for await (const result of index.query('gpu=H100 gpus>=8', { sort: 'price', limit: 20 })) {
 *   console.info(result.provider, result.manifest.location.region)
 * }
 * ```
 */
export { snapshotDag, checkSnapshotDag, assertCompleteSnapshot, incompleteSnapshotError } from './dag.js'
export { localBlockSource, bitswapBlockSource, storingBlockSource, isMissingBlock, fetchTreeDiff } from './sources.js'
export { gatewayClient } from './gateway.js'
export { pinStore, readIndexerHead } from './pins.js'
export { trustStore } from './trust.js'
export { acceptHead, resolveHead } from './resolve.js'
export { exportCar, importCar } from './car.js'
export { openIndex } from './query.js'
export * from './errors.js'
export * from './constants.js'

export type { DagBlock, DagBlockKind, DagCheck, SnapshotDagComponents, SnapshotDagOptions } from './dag.js'
export type { BlockSource, BlockSourceGetOptions, FetchTreeDiffComponents, FetchTreeDiffOptions, PrefetchOptions, VerifiedBlock, LocalBlockSourceComponents, BitswapBlockSourceComponents, BitswapBlockSourceInit, StoringBlockSource, StoringBlockSourceComponents, StoringBlockSourceInit } from './sources.js'
export type { GatewayClient, GatewayClientInit, RecordRequestOptions } from './gateway.js'
export type { Pin, PinStore, PinStoreComponents, PinAddOptions, PinBlockProgress, PinProgressEvents, GcOptions, GcResult, GcProgressEvents, GcRootReason } from './pins.js'
export type { TrustStore, TrustStoreComponents, TrustedHead, Evidence } from './trust.js'
export type { AcceptHeadComponents, AcceptHeadOptions, HeadProof, HeadSource, ResolveHeadComponents, ResolveHeadOptions, ResolvedHead, ResolveProgressEvents } from './resolve.js'
export type { ExportCarComponents, ExportCarOptions, ExportCarProgressEvents, ImportCarComponents, ImportCarOptions, ImportCarProgressEvents, ImportedCar } from './car.js'
export type { Completeness, IndexQueryRun, IndexView, OpenIndexComponents, OpenIndexOptions } from './query.js'
