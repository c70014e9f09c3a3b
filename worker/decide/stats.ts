/**
 * Experiment statistics at the edge: bandit arm statistics read through a per-isolate cache with a
 * TTL (refreshed in the background, never awaited on a request's path), and exposure/conversion
 * counts batched per isolate and sent to each experiment's ExperimentState in one call per flush.
 * No request waits on an ExperimentState, so a popular experiment never funnels traffic through
 * one object.
 */
import type { ArmCounts, CountBatch, ExperimentState } from '../../durable-objects/experiment'
import type { ArmStats, BanditStatsReader } from './context'
import { withBudget } from '../lib/budget'

type Namespace = DurableObjectNamespace<ExperimentState>
type WaitUntil = (p: Promise<unknown>) => void

const READ_BUDGET_MS = 1000
const WRITE_BUDGET_MS = 2000
// Batches that failed are retried with the same id (counted once); beyond this many they are dropped and logged.
const MAX_PENDING = 100

export interface StatsOptions {
  cacheTtlMs: number
  flushMs: number
  onError?: (event: string, fields: Record<string, unknown>) => void
}

export class ExperimentStats {
  readonly #opts: StatsOptions
  readonly #cache = new Map<string, { arms: Record<string, ArmStats>; fetchedAt: number }>()
  readonly #refreshing = new Set<string>()
  #counts = new Map<string, Map<string, ArmCounts>>()
  #pending: Array<{ experiment: string; batch: CountBatch }> = []
  #lastFlush = 0

  constructor(opts: StatsOptions) {
    this.#opts = opts
  }

  /**
   * A reader over the cache. A missing or expired entry is refreshed in the background (once at a
   * time per experiment); until then the bandit draws from what it has (priors when nothing).
   */
  reader(ns: Namespace | undefined, waitUntil: WaitUntil, now = Date.now()): BanditStatsReader {
    return (experimentId) => {
      const hit = this.#cache.get(experimentId)
      const expired = !hit || now - hit.fetchedAt >= this.#opts.cacheTtlMs
      if (expired && ns && !this.#refreshing.has(experimentId)) {
        this.#refreshing.add(experimentId)
        waitUntil(this.#refresh(ns, experimentId))
      }
      return hit?.arms
    }
  }

  /** Reads one experiment's statistics into the cache now (also used by tests and warm-up). */
  async refresh(ns: Namespace, experimentId: string): Promise<void> {
    await this.#refresh(ns, experimentId)
  }

  async #refresh(ns: Namespace, experimentId: string): Promise<void> {
    try {
      const r = await withBudget(
        () => ns.get(ns.idFromName(experimentId)).stats(),
        READ_BUDGET_MS,
        'experiment_state.stats',
      )
      if (r.ok) this.#cache.set(experimentId, { arms: r.value.arms, fetchedAt: Date.now() })
      else
        this.#opts.onError?.('experiment_stats_unavailable', {
          experiment: experimentId,
          reason: r.error.reason,
        })
    } finally {
      this.#refreshing.delete(experimentId)
    }
  }

  /** Counts one exposure or conversion for an arm (sent at the next flush). */
  count(experimentId: string, arm: string, kind: 'exposure' | 'conversion', n = 1): void {
    let arms = this.#counts.get(experimentId)
    if (!arms) this.#counts.set(experimentId, (arms = new Map()))
    const c = arms.get(arm) ?? { exposures: 0, conversions: 0 }
    if (kind === 'exposure') c.exposures += n
    else c.conversions += n
    arms.set(arm, c)
  }

  /** Counts not yet sent, by experiment and arm (for tests and diagnostics). */
  unsent(): Record<string, Record<string, ArmCounts>> {
    const out: Record<string, Record<string, ArmCounts>> = {}
    for (const [e, arms] of this.#counts) out[e] = Object.fromEntries(arms)
    for (const { experiment, batch } of this.#pending) {
      for (const d of batch.deltas) {
        const slot = ((out[experiment] ??= {})[d.arm] ??= { exposures: 0, conversions: 0 })
        slot.exposures += d.exposures
        slot.conversions += d.conversions
      }
    }
    return out
  }

  /** Sends the batched counts when the flush interval has passed (or `force`). Never throws. */
  async flush(ns: Namespace | undefined, opts: { force?: boolean; now?: number } = {}): Promise<void> {
    const now = opts.now ?? Date.now()
    if (!ns) return
    if (!opts.force && now - this.#lastFlush < this.#opts.flushMs) return
    this.#lastFlush = now
    const batches = this.#pending
    this.#pending = []
    for (const [experiment, arms] of this.#counts) {
      const deltas = [...arms].map(([arm, c]) => ({ arm, ...c }))
      if (deltas.length) batches.push({ experiment, batch: { id: crypto.randomUUID(), deltas } })
    }
    this.#counts = new Map()
    const results = await Promise.all(
      batches.map(async (b) => ({
        b,
        r: await withBudget(
          () => ns.get(ns.idFromName(b.experiment)).record(b.batch),
          WRITE_BUDGET_MS,
          'experiment_state.record',
        ),
      })),
    )
    for (const { b, r } of results) {
      if (r.ok) continue
      // Kept with the same id: if the first attempt did land, the object ignores the retry.
      if (this.#pending.length < MAX_PENDING) this.#pending.push(b)
      else this.#opts.onError?.('experiment_counts_dropped', { experiment: b.experiment, batch: b.batch.id })
    }
  }
}
