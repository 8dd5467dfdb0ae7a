/**
 * @packageDocumentation
 *
 * The registry's rules, shared by providers, indexers and clients: record validation
 * and the announcement codec, entry and attribute encoding, folding records into
 * snapshots, and the query language, planner and executor.
 *
 * @example
 *
 * ```TypeScript
 * import { verifyRecord } from '@capdex/registry'
 *
 * // Checks size, structure, the key inlined in the name, the V2 signature and the EOL.
 * const record = await verifyRecord('k51qzi5uqu5d…', recordBytes)
 * console.info(record.sequence, record.valueCid)
 * ```
 *
 * Querying a snapshot: `openSnapshot` takes a helia / interface-blockstore store (or a prolly
 * `BlockStore`), and `query` returns an AsyncIterable of verified results.
 *
 * ```TypeScript
 * import { openSnapshot, query } from '@capdex/registry'
 *
 * const snapshot = await openSnapshot(cid, helia.blockstore)
 * for await (const result of query(snapshot, 'gpu=H100 gpus>=8 region~eu-* price<=2.5', { sort: 'price', limit: 20 })) {
 *   console.info(result.provider, result.manifest.location.region)
 * }
 * ```
 */
export {}
export * from './entries/index.js'
export * from './records/index.js'
export * from './snapshot/index.js'
export * from './query/index.js'
export * from './audit/index.js'
