import { FOLD_SECONDS_BUCKETS } from './constants.js'

/** A histogram snapshot: cumulative bucket counts, as Prometheus exposes them. */
export interface HistogramSnapshot {
  /** `le` upper bounds (seconds) with the count of observations at or below each */
  buckets: Array<{ le: number, count: number }>
  sum: number
  count: number
}

/** The indexer's counters and gauges; `formatPrometheus` turns them into `/metrics` text. */
export interface IndexerMetrics {
  /** updates journaled (acknowledged) */
  accepted: number
  /** announcements the validator rejected (the relaying peer is penalized), by reason */
  rejected: Record<string, number>
  /** announcements ignored (stale, duplicate, expired, unfetchable, out of tolerance, backlog), by reason */
  ignored: Record<string, number>
  /** messages refused for being over a peer's validation budget (node-wide) */
  overBudget: number
  /** folds completed, with or without a new head */
  folds: number
  /** folds that failed (retried with backoff) */
  foldErrors: number
  /** time from taking a batch to its durable head (fold, fsync of its blocks, head pointer) */
  foldSeconds: HistogramSnapshot
  /** heads whose IPNS record was signed and stored */
  headsPublished: number
  /** equivocations seen while folding: same provider, same sequence, two values */
  equivocations: number
  /** updates accepted and not yet in a durable head (being journaled, or waiting for a fold) */
  pending: number
  headHeight: number | null
  /** entries in the head's providers tree, live or expired */
  headCount: number | null
  /** entries of the head whose lease runs at the time of the scrape */
  providersLive: number | null
  /** gossipsub score of the peers that relayed announcements lately (below -80: graylisted), by peer id */
  peerScores: Record<string, number>
}

/** A fixed-bucket histogram of seconds. */
export interface Histogram {
  observe(seconds: number): void
  snapshot(): HistogramSnapshot
}

class BucketHistogram implements Histogram {
  private readonly bounds: readonly number[]
  private readonly counts: number[]
  private sum = 0
  private count = 0

  constructor (bounds: readonly number[]) {
    this.bounds = bounds
    this.counts = bounds.map(() => 0)
  }

  observe (seconds: number): void {
    this.sum += seconds
    this.count++
    const index = this.bounds.findIndex(le => seconds <= le)
    if (index >= 0) {
      this.counts[index] = (this.counts[index] ?? 0) + 1
    }
  }

  snapshot (): HistogramSnapshot {
    let cumulative = 0
    const buckets = this.bounds.map((le, i) => {
      cumulative += this.counts[i] ?? 0
      return { le, count: cumulative }
    })
    return { buckets, sum: this.sum, count: this.count }
  }
}

export function histogram (bounds: readonly number[] = FOLD_SECONDS_BUCKETS): Histogram {
  return new BucketHistogram(bounds)
}

function escapeLabel (value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function formatNumber (n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}

interface Family {
  name: string
  help: string
  type: 'counter' | 'gauge' | 'histogram'
  samples: Array<[suffix: string, labels: Record<string, string>, value: number]>
}

function byReason (name: string, help: string, counts: Record<string, number>): Family {
  return {
    name,
    help,
    type: 'counter',
    samples: Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)).map(([reason, n]) => ['', { reason }, n])
  }
}

function single (name: string, help: string, type: 'counter' | 'gauge', value: number | null): Family {
  return { name, help, type, samples: value == null ? [] : [['', {}, value]] }
}

/** The metrics in the Prometheus text exposition format (version 0.0.4). */
export function formatPrometheus (m: IndexerMetrics): string {
  const fold = m.foldSeconds
  const families: Family[] = [
    single('capdex_updates_accepted_total', 'Provider updates accepted and journaled.', 'counter', m.accepted),
    byReason('capdex_updates_rejected_total', 'Announcements rejected as invalid (the relaying peer is penalized), by reason.', m.rejected),
    byReason('capdex_updates_ignored_total', 'Announcements ignored without penalty (stale, duplicate, expired, unfetchable), by reason.', m.ignored),
    single('capdex_validation_over_budget_total', 'Messages refused for exceeding a peer\'s validation budget.', 'counter', m.overBudget),
    single('capdex_folds_total', 'Fold batches completed.', 'counter', m.folds),
    single('capdex_fold_errors_total', 'Fold batches that failed and were retried.', 'counter', m.foldErrors),
    {
      name: 'capdex_fold_seconds',
      help: 'Time from taking a batch to its durable head.',
      type: 'histogram',
      samples: [
        ...fold.buckets.map(({ le, count }): [string, Record<string, string>, number] => ['_bucket', { le: formatNumber(le) }, count]),
        ['_bucket', { le: '+Inf' }, fold.count],
        ['_sum', {}, fold.sum],
        ['_count', {}, fold.count]
      ]
    },
    single('capdex_heads_published_total', 'Heads signed into the indexer\'s IPNS record.', 'counter', m.headsPublished),
    single('capdex_equivocations_total', 'Equivocations (two values at one sequence) seen while folding.', 'counter', m.equivocations),
    single('capdex_updates_pending', 'Updates accepted and not yet in a durable head.', 'gauge', m.pending),
    single('capdex_head_height', 'Height of the current head.', 'gauge', m.headHeight),
    single('capdex_head_count', 'Entries (live or expired) in the current head.', 'gauge', m.headCount),
    single('capdex_providers_live', 'Entries of the current head whose lease is running.', 'gauge', m.providersLive),
    {
      name: 'capdex_peer_score',
      help: 'Gossipsub score of peers that relayed announcements lately (graylisted below -80).',
      type: 'gauge',
      samples: Object.entries(m.peerScores).sort(([a], [b]) => a.localeCompare(b)).map(([peer, score]) => ['', { peer }, score])
    }
  ]
  const lines: string[] = []
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`)
    for (const [suffix, labels, value] of family.samples) {
      const entries = Object.entries(labels)
      const labelText = entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
      lines.push(`${family.name}${suffix}${labelText} ${formatNumber(value)}`)
    }
  }
  return `${lines.join('\n')}\n`
}
