import { bitswapBlockSource, localBlockSource, openIndex, pinStore, storingBlockSource, trustStore } from '@capdex/node'
import { explain, pricePerGpuHour } from '@capdex/registry'
import { CID } from 'multiformats/cid'
import { contextFor, withNetworkOptions } from '../context.js'
import { withRepoOrNode } from './index-cmd.js'
import { formatTable, parseDuration, UsageError } from '../output.js'
import type { Output } from '../output.js'
import type { BlockSource, IndexView, Repo } from '@capdex/node'
import type { Plan, QueryRejection, QueryResult, QuerySummary } from '@capdex/registry'
import type { NetworkOptions } from '../context.js'
import type { Command } from 'commander'

interface QueryOptions extends NetworkOptions {
  at?: string
  offline?: boolean
  sort?: string
  limit?: string
  explain?: boolean
  includeExpired?: boolean
  timeout: string
}

/** `k51qzi5u…ab12cd`: enough of a provider name to tell rows apart. */
function shortName (name: string): string {
  return name.length <= 18 ? name : `${name.slice(0, 8)}…${name.slice(-6)}`
}

/** `in 9m`, `3h ago`: how far `ms` is from now. */
function relative (ms: number, now: number): string {
  const delta = ms - now
  const abs = Math.abs(delta)
  const text = abs < 60_000 ? `${Math.round(abs / 1000)}s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)}m` : abs < 86_400_000 ? `${Math.round(abs / 3_600_000)}h` : `${Math.round(abs / 86_400_000)}d`
  return delta >= 0 ? `in ${text}` : `${text} ago`
}

function row (result: QueryResult, now: number): Record<string, string | number> {
  const m = result.manifest
  const price = pricePerGpuHour(m)
  return {
    provider: shortName(result.provider),
    gpu: [...new Set(m.gpus.map((g) => g.model))].join(',') || '-',
    gpus: m.gpus.reduce((n, g) => n + g.count, 0),
    vram: [...new Set(m.gpus.map((g) => `${Math.round(g.vramMiB / 1024)}G`))].join(',') || '-',
    // GPU-less providers are priced per instance-hour
    price: price === undefined ? '-' : `$${price.toFixed(2)}/${m.gpus.length === 0 ? 'h' : 'gpu-h'}`,
    region: m.location.region || '-',
    country: m.location.country,
    status: m.status,
    expires: result.expired ? `expired ${relative(result.record.validity.getTime(), now)}` : relative(result.record.validity.getTime(), now)
  }
}

const COLUMNS = ['provider', 'gpu', 'gpus', 'vram', 'price', 'region', 'country', 'status', 'expires']

function resultJson (result: QueryResult): Record<string, unknown> {
  return {
    event: 'result',
    provider: result.provider,
    manifestCid: result.manifestCid,
    sequence: result.record.sequence,
    validity: result.record.validity,
    expired: result.expired,
    price: pricePerGpuHour(result.manifest) ?? null,
    manifest: result.manifest
  }
}

function planJson (plan: Plan, summary: QuerySummary): Record<string, unknown> {
  return {
    driver: plan.driver.kind === 'attr-range' ? { kind: plan.driver.kind, label: plan.driver.label, attr: plan.driver.attr, estimate: plan.driver.estimate } : plan.driver,
    candidates: plan.candidates.map((c) => ({ label: c.label, attr: c.attr, estimate: c.estimate })),
    total: plan.total,
    planning: plan.blocks,
    execution: { blocksRead: summary.blocksRead, cacheHits: summary.cacheHits },
    explain: explain(plan, summary)
  }
}

function positiveOrZero (text: string, what: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${what} must be a non-negative integer, got '${text}'`)
  return n
}

/** The snapshot to query: `--at <cid>`, else the trusted head of the indexer used last, else the newest pin. */
export async function defaultSnapshot (repo: Repo, signal: AbortSignal): Promise<CID> {
  const trust = trustStore({ datastore: repo.datastore })
  const indexer = await trust.defaultIndexer({ signal })
  const trusted = indexer == null ? undefined : await trust.get(indexer, { signal })
  if (trusted != null) return trusted.cid
  let newest: { cid: CID, time: number } | undefined
  for await (const pin of pinStore({ repo }).ls({ signal })) {
    if (newest == null || pin.time > newest.time) newest = pin
  }
  if (newest != null) return newest.cid
  throw new UsageError('No snapshot to query: pass --at <cid>, or run capdex index resolve, capdex pin or capdex snapshot import first')
}

async function openAt (repo: Repo, blocks: BlockSource, opts: QueryOptions, signal: AbortSignal, out: Output): Promise<IndexView> {
  const offline = opts.offline === true
  const pins = pinStore({ repo })
  const open = async (cid: CID): Promise<IndexView> => openIndex({ blocks, pins }, cid, { offline, signal })
  if (opts.at == null) return open(await defaultSnapshot(repo, signal))
  // a CID names its snapshot outright; a height or a time is looked up in the default head's history
  let cid: CID | undefined
  try {
    cid = CID.parse(opts.at.trim())
  } catch {
    cid = undefined
  }
  if (cid != null) return open(cid)
  const head = await open(await defaultSnapshot(repo, signal))
  const hit = await head.locate(opts.at, { signal })
  out.info(`snapshot at ${opts.at}: ${hit.cid.toString()} (height ${hit.height}, ${new Date(hit.time).toISOString()})`)
  return hit.cid.equals(head.cid) ? head : open(hit.cid)
}

async function runQuery (repo: Repo, blocks: BlockSource, expr: string, opts: QueryOptions, out: Output, signal: AbortSignal): Promise<void> {
  const index = await openAt(repo, blocks, opts, signal, out)
  const rejected: QueryRejection[] = []
  const results: QueryResult[] = []
  const now = Date.now()
  const run = index.query(expr, {
    now,
    includeExpired: opts.includeExpired === true,
    signal,
    ...(opts.sort != null ? { sort: opts.sort } : {}),
    ...(opts.limit != null ? { limit: positiveOrZero(opts.limit, '--limit') } : {}),
    onRejected: (rejection) => {
      rejected.push(rejection)
      out.warn(`rejected the entry of provider ${rejection.provider} (${rejection.reason}): the indexer forged or altered it; ${rejection.message}`)
    }
  })
  for await (const result of run) {
    if (out.json) out.event(resultJson(result), () => '')
    else results.push(result)
  }
  const summary = run.summary
  const plan = run.plan
  if (out.json) {
    out.event({
      event: 'summary',
      snapshot: index.cid,
      results: summary.matched,
      scanned: summary.scanned,
      expired: summary.expired,
      rejected: rejected.map((r) => ({ provider: r.provider, reason: r.reason })),
      ...(opts.explain === true && plan != null ? { plan: planJson(plan, summary) } : {})
    }, () => '')
    return
  }
  if (results.length > 0) out.result(null, () => formatTable(results.map((r) => row(r, now)), COLUMNS))
  out.info(`${summary.matched} result${summary.matched === 1 ? '' : 's'} from snapshot ${index.cid.toString()} (height ${index.snapshot.height}), every entry verified; ${summary.expired} expired left out, ${rejected.length} rejected`)
  if (opts.explain === true && plan != null) {
    out.result(null, () => explain(plan, summary).join('\n'))
  }
}

export function registerQuery (program: Command, signal: AbortSignal): void {
  withNetworkOptions(program.command('query'))
    .description('query a snapshot locally; every returned entry is verified (signature, manifest hash, schema)')
    .argument('<expr>', "query, e.g. 'gpu=H100 gpus>=8 region in [eu-west] price<=2.5'")
    .option('--at <cid|height|time>', 'snapshot CID, or a height or ISO 8601 time looked up in the default snapshot\'s history (default: the trusted head, else the newest pin)')
    .option('--offline', 'no network at all: only local blocks (fails with IncompleteSnapshotError if any is missing)')
    .option('--sort <field[-]>', 'order by a field, ascending, or descending with a trailing -')
    .option('--limit <n>', 'most results')
    .option('--explain', 'print the query plan and the blocks touched')
    .option('--include-expired', 'also return entries whose lease expired')
    .option('--timeout <duration>', 'bound on each block fetch when not --offline', '10s')
    .action(async (expr: string, opts: QueryOptions, command: Command) => {
      const { out, repoPath } = contextFor(command, signal)
      const offline = opts.offline === true
      await withRepoOrNode(repoPath, opts, offline, signal, async (repo, node) => {
        const local = localBlockSource({ blockstore: repo.blockstore })
        const blocks = node == null ? local : storingBlockSource({ blockstore: repo.blockstore }, bitswapBlockSource({ node }, { timeoutMs: parseDuration(opts.timeout) }))
        await runQuery(repo, blocks, expr, opts, out, signal)
      })
    })
}
