import { DEFAULT_VALIDATION_BURST, DEFAULT_VALIDATION_RATE, MAX_BUDGET_PEERS } from './constants.js'
import { InvalidOptionError } from './errors.js'
import type { PeerId } from '@libp2p/interface'

export interface ValidationBudgetInit {
  /**
   * Bucket size: validation work a peer may spend at once, in units (one message = 1 unit;
   * validators may charge more for expensive checks).
   *
   * @default 32
   */
  burst?: number
  /**
   * Units added to each peer's bucket per second.
   *
   * @default 4
   */
  ratePerSecond?: number
  /**
   * Peers tracked at once; beyond this, full (idle) buckets are dropped first, then the oldest.
   *
   * @default 10000
   */
  maxPeers?: number
  /** clock, for tests (ms) */
  now?: () => number
}

export interface ValidationBudgetStats {
  /** peers with a bucket */
  peers: number
  /** messages (or charges) refused for being over budget since start */
  overBudget: number
}

/**
 * A token bucket per peer id that bounds the validation work one peer can cause. `subscribe`
 * charges one unit per message before calling the topic's validator (over budget: Ignore,
 * counted); validators charge more with `take` before expensive work (signature checks,
 * block fetches).
 */
export interface ValidationBudget {
  /** Takes `cost` units from the peer's bucket; false (and counted) if it holds fewer. */
  take(peer: PeerId | string, cost?: number): boolean
  /** Times this peer was refused. */
  overBudgetFor(peer: PeerId | string): number
  stats(): ValidationBudgetStats
}

interface Bucket {
  tokens: number
  updated: number
  refused: number
}

class TokenBuckets implements ValidationBudget {
  private readonly burst: number
  private readonly rate: number
  private readonly maxPeers: number
  private readonly now: () => number
  private readonly buckets = new Map<string, Bucket>()
  private refused = 0

  constructor (init: ValidationBudgetInit) {
    this.burst = init.burst ?? DEFAULT_VALIDATION_BURST
    this.rate = init.ratePerSecond ?? DEFAULT_VALIDATION_RATE
    this.maxPeers = init.maxPeers ?? MAX_BUDGET_PEERS
    this.now = init.now ?? Date.now
    if (!(this.burst > 0) || !(this.rate >= 0) || !Number.isInteger(this.maxPeers) || this.maxPeers < 1) {
      throw new InvalidOptionError('validationBudget: burst must be > 0, ratePerSecond >= 0 and maxPeers a positive integer')
    }
  }

  private bucket (id: string): Bucket {
    const now = this.now()
    let bucket = this.buckets.get(id)
    if (bucket == null) {
      this.evict()
      bucket = { tokens: this.burst, updated: now, refused: 0 }
      this.buckets.set(id, bucket)
      return bucket
    }
    const elapsed = Math.max(0, now - bucket.updated) / 1000
    bucket.tokens = Math.min(this.burst, bucket.tokens + elapsed * this.rate)
    bucket.updated = now
    return bucket
  }

  private evict (): void {
    if (this.buckets.size < this.maxPeers) {
      return
    }
    const now = this.now()
    for (const [id, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updated) / 1000) * this.rate >= this.burst) {
        this.buckets.delete(id)
      }
    }
    // everyone is busy: drop the oldest (Map keeps insertion order)
    while (this.buckets.size >= this.maxPeers) {
      const oldest = this.buckets.keys().next()
      if (oldest.done === true) {
        break
      }
      this.buckets.delete(oldest.value)
    }
  }

  take (peer: PeerId | string, cost = 1): boolean {
    const bucket = this.bucket(peer.toString())
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost
      return true
    }
    bucket.refused++
    this.refused++
    return false
  }

  overBudgetFor (peer: PeerId | string): number {
    return this.buckets.get(peer.toString())?.refused ?? 0
  }

  stats (): ValidationBudgetStats {
    return { peers: this.buckets.size, overBudget: this.refused }
  }
}

export function validationBudget (init: ValidationBudgetInit = {}): ValidationBudget {
  return new TokenBuckets(init)
}
