import { InvalidEntryError } from './errors.js'
import { UPTIME_BUCKET_MS, UPTIME_LEASE_CREDIT_MS, UPTIME_STEPS, UPTIME_WINDOW_BUCKETS } from './constants.js'

/**
 * The lease summary a providers-tree entry carries, from which its `uptime` attribute is computed.
 *
 * Time is cut into buckets of `UPTIME_BUCKET_MS` (10 min), numbered `floor(ms / UPTIME_BUCKET_MS)`.
 * Each record the indexer folds for a provider (the winner and every record it beat) credits the
 * last stretch of its lease, `[max(issuedAt, EOL - UPTIME_LEASE_CREDIT_MS), EOL)`, and marks each
 * bucket that stretch covers for at least half. IPNS records carry no start time, so a record is
 * never credited more than the default lease (10 min): a provider earns uptime by signing a fresh
 * record at least every 10 minutes, which is what a heartbeat does.
 *
 * The summary is the set of marked buckets within the window of `UPTIME_WINDOW_BUCKETS` (30 days)
 * that ends at `end`, the bucket of the winning record's last lease instant (`EOL - 1 ms`). It is
 * kept run-length encoded, newest first: `runs` alternates covered and uncovered run lengths,
 * starting with a covered run (0 when the `end` bucket is not covered) and ending with a covered one.
 *
 * The uptime attribute is `floor(100 × covered / UPTIME_WINDOW_BUCKETS) / 100`: the share of the
 * 30 days before the lease end during which the provider held a live lease, in steps of 0.01. A
 * newcomer starts from 0 and earns 0.01 per ~7.2 h of continuous leases, so the `uptime` key moves
 * at most that often on heartbeats.
 *
 * Determinism: marks are combined by set union and cut to the window of the winner's EOL, so the
 * summary is a function of the set of records folded for the name, whatever their order or
 * batching, as long as the winner's EOL never falls as records win (a provider whose higher
 * sequence carries an earlier EOL makes its own summary depend on arrival order). Unlike the rest
 * of the entry it depends on every record heard within the window, not only the latest.
 */
export interface LeaseSummary {
  /** bucket of the winning record's last lease instant: the window is `(end - UPTIME_WINDOW_BUCKETS, end]` */
  end: number
  /** newest first: covered, uncovered, covered, …; empty when nothing is covered */
  runs: number[]
}

/** An inclusive range of marked buckets. */
export interface LeaseMarks {
  from: number
  to: number
}

/** The bucket that holds `ms`. */
export function leaseBucket (ms: number): number {
  return Math.floor(Math.max(0, ms) / UPTIME_BUCKET_MS)
}

/** The window end of a summary whose winning record expires at `validityMs`: the bucket of its last instant. */
export function leaseEnd (validityMs: number): number {
  return leaseBucket(validityMs - 1)
}

/**
 * The buckets one record marks: those its credited lease stretch `[max(issuedAt, EOL - credit), EOL)`
 * covers for at least half a bucket. Undefined when it marks none.
 */
export function leaseMarks (validityMs: number, issuedAtMs: number): LeaseMarks | undefined {
  const end = validityMs
  const start = Math.max(issuedAtMs, end - UPTIME_LEASE_CREDIT_MS)
  if (!(end > start)) return undefined
  let from: number | undefined
  let to: number | undefined
  for (let b = leaseBucket(start); b <= leaseBucket(end - 1); b++) {
    const overlap = Math.min(end, (b + 1) * UPTIME_BUCKET_MS) - Math.max(start, b * UPTIME_BUCKET_MS)
    if (overlap * 2 >= UPTIME_BUCKET_MS) {
      from ??= b
      to = b
    }
  }
  return from === undefined || to === undefined ? undefined : { from, to }
}

/**
 * The summary after folding: the previous one's covered buckets and the new marks, cut to the
 * window that ends at `end` (buckets after `end` are dropped, as are those a full window older).
 *
 * Works on covered spans rather than a flag per bucket: a summary holds a handful of runs, while
 * the window has thousands of buckets, and the indexer merges once per folded update.
 */
export function mergeLease (previous: LeaseSummary | undefined, end: number, marks: Iterable<LeaseMarks>): LeaseSummary {
  const oldest = end - UPTIME_WINDOW_BUCKETS + 1
  // inclusive [from, to] bucket spans, clamped to the window
  const spans: Array<[number, number]> = []
  const add = (from: number, to: number): void => {
    const lo = Math.max(from, oldest)
    const hi = Math.min(to, end)
    if (lo <= hi) spans.push([lo, hi])
  }
  if (previous !== undefined) {
    let bucket = previous.end
    for (let i = 0; i < previous.runs.length; i++) {
      const length = previous.runs[i]!
      if (i % 2 === 0) add(bucket - length + 1, bucket)
      bucket -= length
    }
  }
  for (const { from, to } of marks) add(from, to)
  // newest first; a span that touches or overlaps the one before joins it
  spans.sort((a, b) => b[1] - a[1])
  const runs: number[] = []
  let cursor = end
  let current: [number, number] | undefined
  const close = (span: [number, number]): void => {
    const gap = cursor - span[1]
    if (runs.length > 0) runs.push(gap)
    else if (gap > 0) runs.push(0, gap)
    runs.push(span[1] - span[0] + 1)
    cursor = span[0] - 1
  }
  for (const span of spans) {
    if (current !== undefined && span[1] >= current[0] - 1) {
      current[0] = Math.min(current[0], span[0])
      continue
    }
    if (current !== undefined) close(current)
    current = [span[0], span[1]]
  }
  if (current !== undefined) close(current)
  return { end, runs }
}

/** Number of covered buckets in the summary's window. */
export function leaseCovered (summary: LeaseSummary): number {
  let covered = 0
  summary.runs.forEach((length, i) => { if (i % 2 === 0) covered += length })
  return covered
}

/** The indexed uptime: the covered share of the window, rounded down to a multiple of `1 / UPTIME_STEPS`. */
export function leaseUptime (summary: LeaseSummary): number {
  return Math.floor(leaseCovered(summary) * UPTIME_STEPS / UPTIME_WINDOW_BUCKETS) / UPTIME_STEPS
}

export function sameLease (a: LeaseSummary | undefined, b: LeaseSummary | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.end === b.end && a.runs.length === b.runs.length && a.runs.every((r, i) => r === b.runs[i])
}

/** The DAG-CBOR form inside an entry: `[end, ...runs]`. */
export function leaseToList (summary: LeaseSummary): number[] {
  return [summary.end, ...summary.runs]
}

/** Strictly checks the `[end, ...runs]` list of an entry; throws `InvalidEntryError`. */
export function leaseFromList (value: unknown): LeaseSummary {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidEntryError('Entry "lease" must be a list [end, covered, gap, covered, …]')
  }
  const list: unknown[] = value
  if (!list.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) {
    throw new InvalidEntryError('Entry "lease" must hold non-negative integers')
  }
  const [end, ...runs] = list as number[]
  if (end === undefined || (runs.length > 0 && runs.length % 2 === 0)) {
    throw new InvalidEntryError('Entry "lease" runs must end with a covered run')
  }
  if (runs.some((r, i) => i > 0 && r === 0) || (runs.length === 1 && runs[0] === 0)) {
    throw new InvalidEntryError('Entry "lease" runs must be non-empty (only the first may be 0, and not alone)')
  }
  if (runs.reduce((sum, r) => sum + r, 0) > UPTIME_WINDOW_BUCKETS) {
    throw new InvalidEntryError(`Entry "lease" spans more than ${UPTIME_WINDOW_BUCKETS} buckets`)
  }
  return { end, runs }
}
