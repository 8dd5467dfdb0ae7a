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

/** The covered buckets of a summary as flags, index 0 being `end`. */
function toFlags (summary: LeaseSummary | undefined, end: number): Uint8Array {
  const flags = new Uint8Array(UPTIME_WINDOW_BUCKETS)
  if (summary === undefined) return flags
  let bucket = summary.end
  summary.runs.forEach((length, i) => {
    if (i % 2 === 0) {
      for (let b = bucket; b > bucket - length; b--) setFlag(flags, end, b)
    }
    bucket -= length
  })
  return flags
}

function setFlag (flags: Uint8Array, end: number, bucket: number): void {
  const index = end - bucket
  if (index >= 0 && index < UPTIME_WINDOW_BUCKETS) flags[index] = 1
}

function fromFlags (flags: Uint8Array, end: number): LeaseSummary {
  const runs: number[] = []
  let covered = true
  let length = 0
  for (const flag of flags) {
    if ((flag === 1) !== covered) {
      runs.push(length)
      covered = !covered
      length = 0
    }
    length++
  }
  // a trailing uncovered run is left out; so is a lone empty covered run
  if (covered) runs.push(length)
  if (runs.length === 1 && runs[0] === 0) runs.pop()
  return { end, runs }
}

/**
 * The summary after folding: the previous one's covered buckets and the new marks, cut to the
 * window that ends at `end` (buckets after `end` are dropped, as are those a full window older).
 */
export function mergeLease (previous: LeaseSummary | undefined, end: number, marks: Iterable<LeaseMarks>): LeaseSummary {
  const flags = toFlags(previous, end)
  for (const { from, to } of marks) {
    for (let b = Math.max(from, end - UPTIME_WINDOW_BUCKETS + 1); b <= Math.min(to, end); b++) setFlag(flags, end, b)
  }
  return fromFlags(flags, end)
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
