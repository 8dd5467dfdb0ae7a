import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { bitswapBlockSource, localBlockSource, openRepo, storingBlockSource, trustStore, writeAtomic } from '@capdex/node'
import { prolly } from '@capdex/prolly'
import { auditDiff, auditLog, checkConsistency, compareHeads, formatFieldChange, locateAt, providerTimeline, verifySnapshot, VerificationFailedError } from '@capdex/registry'
import { CID } from 'multiformats/cid'
import { contextFor, withNetworkOptions } from '../context.js'
import { openNodeSession } from '../node-session.js'
import { formatTable, parseDuration, parsePositiveInteger, UsageError } from '../output.js'
import type { Output } from '../output.js'
import type { BlockSource, Repo } from '@capdex/node'
import type { AuditComponents, EntryState, Equivocation, ProviderChange, VerifyProgressEvents, VerifyProblem } from '@capdex/registry'
import type { NetworkOptions } from '../context.js'
import type { Command } from 'commander'

interface AuditOptions extends NetworkOptions {
  offline?: boolean
  timeout: string
  indexer?: string
}

/** What an audit command runs against: the tree engine over the repo's blocks (and bitswap unless --offline). */
interface AuditSession {
  repo: Repo
  components: AuditComponents
}

/** Adds --offline, --timeout and the network options to an audit command. */
function withSourceOptions (command: Command): Command {
  return withNetworkOptions(command)
    .option('--offline', 'no network at all: only blocks already in the repo')
    .option('--timeout <duration>', 'bound on each block fetch when not --offline', '10s')
}

/**
 * Runs `work` over the repo's blockstore, through a libp2p node that fetches missing blocks over
 * bitswap (stored in the repo as they arrive) unless --offline, in which case no node starts.
 */
async function withAudit<T> (repoPath: string | undefined, opts: AuditOptions, signal: AbortSignal, work: (session: AuditSession) => Promise<T>): Promise<T> {
  const run = async (repo: Repo, source: BlockSource): Promise<T> => {
    const blocks = {
      get: async (cid: CID, options: { signal?: AbortSignal } = {}) => source.get(cid, options),
      put: async (cid: CID, bytes: Uint8Array, options: { signal?: AbortSignal } = {}) => { await repo.blockstore.put(cid, bytes, options) }
    }
    return work({ repo, components: { prolly: prolly({ blocks }), blocks } })
  }
  if (opts.offline === true) {
    const repo = await openRepo(repoPath, { signal })
    try {
      return await run(repo, localBlockSource({ blockstore: repo.blockstore }))
    } finally {
      await repo.close()
    }
  }
  const session = await openNodeSession(repoPath, opts, signal)
  try {
    return await run(session.repo, storingBlockSource({ blockstore: session.repo.blockstore }, bitswapBlockSource({ node: session.node }, { timeoutMs: parseDuration(opts.timeout) })))
  } finally {
    await session.close()
  }
}

function parseCid (text: string, what: string): CID {
  try {
    return CID.parse(text.trim())
  } catch {
    throw new UsageError(`${what} '${text}' is not a CID`)
  }
}

/** `head` when given, else the trusted head of --indexer, else of the indexer used last. */
async function headOrTrusted (repo: Repo, head: string | undefined, indexer: string | undefined, signal: AbortSignal): Promise<CID> {
  if (head != null) return parseCid(head, 'head')
  const trust = trustStore({ datastore: repo.datastore })
  const name = indexer ?? await trust.defaultIndexer({ signal })
  const trusted = name == null ? undefined : await trust.get(name, { signal })
  if (trusted == null) {
    throw new UsageError(name == null
      ? 'No head given and no trusted head: pass a snapshot CID, or run capdex index resolve --indexer <name> first'
      : `No trusted head for indexer ${name}: pass a snapshot CID, or run capdex index resolve first`)
  }
  return trusted.cid
}

function iso (ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString()
}

function describeState (state: EntryState | undefined): string {
  if (state === undefined) return '-'
  const parts = [`manifest ${state.manifest.toString()}`]
  if (state.sequence !== undefined) parts.push(`seq ${state.sequence}`)
  if (state.validity !== undefined) parts.push(`lease to ${state.validity.toISOString()}`)
  if (state.uptime !== undefined) parts.push(`uptime ${state.uptime.toFixed(2)}`)
  return parts.join(', ')
}

const CHANGE_MARK: Record<ProviderChange['kind'], string> = { added: '+', removed: '-', changed: '~', renewed: '=', expired: 'x' }

function describeChange (change: ProviderChange): string {
  const expired = change.expired === true && change.kind !== 'expired' ? ' (lease ended)' : ''
  const lines = [`${CHANGE_MARK[change.kind]} ${change.kind.padEnd(7)} ${change.provider}${expired}`]
  if (change.kind === 'changed' || change.kind === 'renewed') {
    const before = change.before?.sequence
    const after = change.after?.sequence
    if (before !== undefined && after !== undefined) lines.push(`    record seq ${before} → ${after}`)
  } else {
    lines.push(`    ${describeState(change.after ?? change.before)}`)
  }
  for (const field of change.fields ?? []) lines.push(`    ${formatFieldChange(field)}`)
  return lines.join('\n')
}

function describeProblem (p: VerifyProblem): string {
  const where = [p.height !== undefined ? `height ${p.height}` : undefined, p.provider !== undefined ? `provider ${p.provider}` : undefined].filter((x) => x !== undefined).join(', ')
  return `problem [${p.kind}]${where === '' ? '' : ` ${where}`}: ${p.message}`
}

/** Keeps both snapshots of an equivocation in the repo: `<repo>/evidence/<indexer>/height-<h>.json`. */
async function keepEvidence (repo: Repo, evidence: Equivocation, signal: AbortSignal): Promise<string> {
  const dir = join(repo.path, 'evidence', evidence.indexer)
  await mkdir(dir, { recursive: true })
  const file = join(dir, `height-${evidence.height}.json`)
  const snapshot = (s: Equivocation['a']): Record<string, unknown> => ({
    cid: s.cid.toString(),
    ...(s.time !== undefined ? { time: new Date(s.time).toISOString() } : {}),
    ...(s.bytes !== undefined ? { block: Buffer.from(s.bytes).toString('base64') } : {})
  })
  const json = {
    kind: 'equivocation',
    indexer: evidence.indexer,
    network: evidence.network,
    height: evidence.height,
    detectedAt: new Date().toISOString(),
    snapshots: [snapshot(evidence.a), snapshot(evidence.b)]
  }
  await writeAtomic(file, new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`), { signal })
  return file
}

/** Turns verify progress into a progress line; problems go to stderr as they are found. */
function verifyProgress (out: Output): (event: VerifyProgressEvents) => void {
  return (event) => {
    switch (event.type) {
      case 'registry:audit:verify': out.progress('entries', event.detail.entries, event.detail.total); break
      case 'registry:audit:tree': out.progress(`${event.detail.tree} tree blocks`, event.detail.blocks); break
      case 'registry:audit:attrs': out.progress('attrs keys', event.detail.keys); break
      case 'registry:audit:chain': out.progress('chain at height', event.detail.height); break
      case 'registry:audit:problem': if (!out.json) out.warn(describeProblem(event.detail)); break
      default: break
    }
  }
}

export function registerAudit (program: Command, signal: AbortSignal): void {
  const audit = program.command('audit').description('history, diffs, provider timelines, verification, consistency and omission checks of index snapshots')

  withSourceOptions(audit.command('log'))
    .description('the head chain, newest first: per snapshot its height, time, CID, live providers and what changed')
    .argument('[head]', 'snapshot CID to start from (default: the latest trusted head)')
    .option('--limit <n>', 'most snapshots listed', '20')
    .option('--indexer <name>', 'whose trusted head to start from (default: the indexer used last)')
    .action(async (head: string | undefined, opts: AuditOptions & { limit: string }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const limit = parsePositiveInteger(opts.limit, '--limit')
      await withAudit(repoPath, opts, signal, async ({ repo, components }) => {
        const cid = await headOrTrusted(repo, head, opts.indexer, signal)
        const rows: Array<Record<string, string | number>> = []
        for await (const entry of auditLog(components, cid, { limit, signal })) {
          if (out.json) {
            out.event({ event: 'snapshot', ...entry, time: iso(entry.time) }, () => '')
            continue
          }
          rows.push({ height: entry.height, time: iso(entry.time), cid: entry.cid.toString(), live: entry.live, count: entry.count, added: entry.added, removed: entry.removed, changed: entry.changed, renewed: entry.renewed, expired: entry.expired })
        }
        if (!out.json) out.result(null, () => formatTable(rows, ['height', 'time', 'cid', 'live', 'count', 'added', 'removed', 'changed', 'renewed', 'expired']))
      })
    })

  withSourceOptions(audit.command('diff'))
    .description('the providers added, removed, changed (field by field) or expired from snapshot A to B; cost grows with the changes')
    .argument('<a>', 'the earlier snapshot CID')
    .argument('<b>', 'the later snapshot CID')
    .option('--no-fields', 'classify changes by manifest CID only: no manifest or record is read')
    .action(async (a: string, b: string, opts: AuditOptions & { fields: boolean }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const from = parseCid(a, 'snapshot A')
      const to = parseCid(b, 'snapshot B')
      await withAudit(repoPath, opts, signal, async ({ components }) => {
        const run = auditDiff(components, from, to, { fields: opts.fields, signal, onProgress: (e) => { out.progress('changes', e.detail.changes) } })
        for await (const change of run) {
          out.event({ event: 'change', ...change }, () => describeChange(change))
        }
        const s = run.summary
        out.event({ event: 'summary', ...s }, () => `${s.added} added, ${s.removed} removed, ${s.changed} changed, ${s.renewed} renewed, ${s.expired} expired; read ${s.diffBlocks} tree blocks for the diff (depth ${s.depth}), ${s.expiryBlocks} for expiry, ${s.manifestBlocks} manifests in ${Math.round(s.elapsedMs)} ms`)
      })
    })

  withSourceOptions(audit.command('provider'))
    .description('one provider\'s timeline across snapshots and along its manifest chain, with its uptime')
    .argument('<name>', 'the provider\'s IPNS name (k51…)')
    .option('--head <cid>', 'snapshot to look back from (default: the latest trusted head)')
    .option('--indexer <name>', 'whose trusted head to start from (default: the indexer used last)')
    .option('--limit <n>', 'most snapshots walked (default: the whole chain)')
    .option('--window <duration>', 'uptime window ending at the head\'s time', '30d')
    .action(async (name: string, opts: AuditOptions & { head?: string, limit?: string, window: string }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      await withAudit(repoPath, opts, signal, async ({ repo, components }) => {
        const head = await headOrTrusted(repo, opts.head, opts.indexer, signal)
        const timeline = await providerTimeline(components, head, name, {
          windowMs: parseDuration(opts.window),
          signal,
          onProgress: (e) => { if (e.type === 'registry:audit:provider') out.progress('snapshot at height', e.detail.height) },
          ...(opts.limit != null ? { limit: parsePositiveInteger(opts.limit, '--limit') } : {})
        })
        out.result(timeline, () => {
          const u = timeline.uptime
          const lines = [
            `provider ${timeline.provider}`,
            `  now       ${timeline.current === undefined ? 'not in the head' : `${timeline.live ? 'live' : 'expired'}, ${describeState(timeline.current)}`}`,
            `  uptime    ${(u.observed * 100).toFixed(2)}% observed over ${iso(u.from)} … ${iso(u.to)}${u.indexed !== undefined ? `; indexed uptime attribute ${u.indexed.toFixed(2)}` : ''}`,
            `  walked    ${timeline.snapshots} snapshot${timeline.snapshots === 1 ? '' : 's'}${timeline.complete ? ' (to genesis)' : ''}, ${timeline.renewals} renewal${timeline.renewals === 1 ? '' : 's'}`,
            '',
            formatTable(timeline.events.map((e) => ({ height: e.height, time: iso(e.time), event: e.kind, detail: e.kind === 'changed' ? (e.fields ?? []).map(formatFieldChange).join('; ') : e.entry?.validity !== undefined ? `lease to ${e.entry.validity.toISOString()}` : '' })), ['height', 'time', 'event', 'detail']),
            '',
            'manifest chain (newest first):',
            ...timeline.manifests.map((m) => `  ${m.cid.toString()}  ${m.issuedAt}${m.fields.length > 0 ? `\n    ${m.fields.map(formatFieldChange).join('\n    ')}` : ''}`),
            ...(timeline.manifestChainStop !== undefined ? [`  (${timeline.manifestChainStop})`] : [])
          ]
          return lines.join('\n')
        })
      })
    })

  withSourceOptions(audit.command('verify'))
    .description('re-hash every block, check every tree invariant, every entry\'s signature and manifest, the attrs tree and the chain; exit 6 on any failure')
    .argument('[cid]', 'snapshot CID (default: the latest trusted head)')
    .option('--deep', 'walk the whole chain: every snapshot, link and history entry')
    .option('--indexer <name>', 'whose trusted head to verify (default: the indexer used last)')
    .action(async (cid: string | undefined, opts: AuditOptions & { deep?: boolean }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      await withAudit(repoPath, opts, signal, async ({ repo, components }) => {
        const head = await headOrTrusted(repo, cid, opts.indexer, signal)
        const report = await verifySnapshot(components, head, { deep: opts.deep === true, signal, onProgress: verifyProgress(out) })
        out.progressDone()
        out.result(report, () => report.verdict)
        if (!report.ok) throw new VerificationFailedError(report.problemCount)
      })
    })

  withSourceOptions(audit.command('consistency'))
    .description('prove that <new> extends <old> through the history tree (O(log n) blocks); keeps equivocation evidence in the repo')
    .argument('<old>', 'the older snapshot CID (e.g. the one you trusted)')
    .argument('<new>', 'the newer head')
    .action(async (oldText: string, newText: string, opts: AuditOptions, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const older = parseCid(oldText, 'old')
      const newer = parseCid(newText, 'new')
      await withAudit(repoPath, opts, signal, async ({ repo, components }) => {
        try {
          const proof = await checkConsistency(components, older, newer, { signal })
          out.result({ consistent: true, ...proof }, () => `OK: ${proof.new.cid.toString()} (height ${proof.new.height}) extends ${proof.old.cid.toString()} (height ${proof.old.height}): distance ${proof.distance}, ${proof.blocks} blocks read`)
        } catch (err) {
          if (!(err instanceof Error) || err.name !== 'EquivocationEvidenceError') throw err
          const { evidence } = err as Error & { evidence: Equivocation }
          const file = await keepEvidence(repo, evidence, signal)
          out.result({ consistent: false, equivocation: { ...evidence, a: { cid: evidence.a.cid, time: evidence.a.time }, b: { cid: evidence.b.cid, time: evidence.b.time } }, evidenceFile: file }, () => [
            `EQUIVOCATION: indexer ${evidence.indexer} published two snapshots at height ${evidence.height}:`,
            `  ${evidence.a.cid.toString()}  ${iso(evidence.a.time)}`,
            `  ${evidence.b.cid.toString()}  ${iso(evidence.b.time)}`,
            `evidence kept in ${file}`
          ].join('\n'))
          throw err
        }
      })
    })

  withSourceOptions(audit.command('compare'))
    .description('two indexers\' heads: the providers one holds and the other omits (identical sets give identical roots)')
    .argument('<a>', 'head of indexer A')
    .argument('<b>', 'head of indexer B')
    .action(async (a: string, b: string, opts: AuditOptions, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const left = parseCid(a, 'head A')
      const right = parseCid(b, 'head B')
      await withAudit(repoPath, opts, signal, async ({ components }) => {
        const run = compareHeads(components, left, right, { signal })
        for await (const d of run) {
          out.event({ event: 'difference', ...d }, () => `${d.kind.padEnd(9)} ${d.provider}  A: ${describeState(d.a)}  B: ${describeState(d.b)}`)
        }
        const s = run.summary
        const same = s.providersEqual && s.attrsEqual
        out.event({ event: 'summary', identical: same, ...s }, () => same
          ? 'identical: the same providers and attrs roots'
          : `${s.onlyA} only in A, ${s.onlyB} only in B, ${s.different} with different records, ${s.lease} with different lease histories; providers roots ${s.providersEqual ? 'equal' : 'differ'}, attrs roots ${s.attrsEqual ? 'equal' : 'differ'}`)
      })
    })

  withSourceOptions(audit.command('at'))
    .description('the snapshot that was current at a time, a height or a CID, found through the history tree in O(log n) blocks')
    .argument('<at>', 'ISO 8601 time, height or snapshot CID')
    .option('--head <cid>', 'chain to look in (default: the latest trusted head)')
    .option('--indexer <name>', 'whose trusted head to look in (default: the indexer used last)')
    .action(async (at: string, opts: AuditOptions & { head?: string }, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      await withAudit(repoPath, opts, signal, async ({ repo, components }) => {
        const head = await headOrTrusted(repo, opts.head, opts.indexer, signal)
        const start = components.prolly.stats.blocksRead
        const hit = await locateAt(components, head, at, { signal })
        const blocks = components.prolly.stats.blocksRead - start
        out.result({ ...hit, time: iso(hit.time), head, blocks }, () => `${hit.cid.toString()}  height ${hit.height}  ${iso(hit.time)}  (${blocks} history blocks read)`)
      })
    })
}
