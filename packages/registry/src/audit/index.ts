/**
 * Audit: what the registry said at a time, what changed between two snapshots and who changed it,
 * and whether a history is the one that was published, unaltered. Every operation reads through
 * `{ prolly, blocks }`, so the block store may fetch over the network.
 *
 * ```ts
 * import { auditDiff, checkConsistency, resolveAt, verifySnapshot } from '@capdex/registry'
 *
 * const components = { prolly: prolly({ blocks }), blocks }
 * const report = await verifySnapshot(components, head, { deep: true })
 * console.info(report.verdict) // OK: … or FAILED: n problems
 * for await (const change of auditDiff(components, a, b)) console.info(change.kind, change.provider, change.fields)
 * const then = await resolveAt(components, head, '2024-06-01T12:00:00Z') // O(log n) via the history tree
 * await checkConsistency(components, trusted, head) // throws NotExtendingError or EquivocationEvidenceError
 * ```
 */

export { auditDiff } from './diff.js'
export type { AuditDiff, AuditDiffOptions, ChangeKind, DiffProgressEvents, DiffSummary, ProviderChange } from './diff.js'
export { auditLog } from './log.js'
export type { AuditLogOptions, LogEntry, LogProgressEvents } from './log.js'
export { providerTimeline } from './provider.js'
export type { ManifestStep, ProviderTimeline, ProviderTimelineOptions, TimelineEvent, TimelineKind, TimelineProgressEvents, UptimeFigure } from './provider.js'
export { verifySnapshot } from './verify.js'
export type { ProblemKind, VerifyProblem, VerifyProgressEvents, VerifyReport, VerifySnapshotOptions, VerifyTree } from './verify.js'
export { checkConsistency } from './consistency.js'
export type { ConsistencyOptions, ConsistencyProgressEvents, ConsistencyProof } from './consistency.js'
export { compareHeads } from './compare.js'
export type { CompareEntry, CompareKind, CompareOptions, CompareProgressEvents, CompareRun, CompareSummary } from './compare.js'
export { locateAt, parseAt, resolveAt } from './at.js'
export type { AtTarget } from './at.js'
export { linkProblem, walkChain } from './chain.js'
export type { AuditComponents, LinkProblemKind, WalkChainOptions } from './chain.js'
export { fetchManifest, readEntry } from './entry.js'
export type { EntryState, ReadEntry, ReadEntryOptions } from './entry.js'
export { diffManifests, formatFieldChange } from './fields.js'
export type { FieldChange, FieldValue } from './fields.js'
export * from './errors.js'
export * from './constants.js'
