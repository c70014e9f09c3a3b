/**
 * Exposure-based accounting at the edge. A request's first exposures (./exposure-plan.ts) go to
 * the unit's CustomerState, which records each once and answers with the change to the
 * experiment's aggregates; the events routes get the same kind of answer when an event is
 * attributed. The changes are batched per isolate and sent per flush to **sharded** counters: N
 * ExperimentState objects per experiment (`stats.shards` in rules/experiments.yaml), the shard
 * picked by a hash of the unit, so a popular experiment never funnels through one object.
 * Reports merge the shards by adding them.
 *
 * Nothing here is awaited on a request's path: exposures are recorded in `waitUntil`, and a unit
 * already recorded by this isolate is not asked again.
 */
import type { Context } from 'hono'
import type { ExperimentState } from '../../durable-objects/experiment'
import { measurementShardName } from '../../durable-objects/experiment'
import { murmur3 } from '../decide/bucket'
import type { AppEnv } from '../env'
import { withBudget } from '../lib/budget'
import type { RuleSet } from '../rules'
import { measuredExperiments, type MeasuredExperiment } from './definitions'
import { planExposures, type ExposureFacts } from './exposure-plan'
import type { ArmDay } from './types'
import { mergeDeltas, type AggregateDelta } from './unit-delta'

type Namespace = DurableObjectNamespace<ExperimentState>
type WaitUntil = (p: Promise<unknown>) => void

const EXPOSE_BUDGET_MS = 1000
const WRITE_BUDGET_MS = 2000
const READ_BUDGET_MS = 2000
// Batches that failed are retried with the same id (counted once); beyond this many they are dropped and logged.
const MAX_PENDING = 200
// Units this isolate already recorded per experiment: a repeat visit costs no call.
const RECORDED_LIMIT = 10_000

export interface MeasurementOptions {
  shards: number
  flushMs: number
}

/** One rule set's measurement state in this isolate: the batcher and the units already recorded. */
export class Measurement {
  readonly measured: Map<string, MeasuredExperiment>
  readonly #opts: MeasurementOptions
  #rows = new Map<string, Map<string, ArmDay>>()
  #pending: Array<{ experiment: string; shard: number; id: string; rows: ArmDay[] }> = []
  #lastFlush = 0
  readonly #recorded = new Set<string>()

  constructor(measured: Map<string, MeasuredExperiment>, opts: MeasurementOptions) {
    this.measured = measured
    this.#opts = opts
  }

  /** The shard a unit's changes go to (murmur3 of its state key; any shard is correct, the hash spreads them). */
  shardOf(stateKey: string): number {
    return murmur3(stateKey) % this.#opts.shards
  }

  get shards(): number {
    return this.#opts.shards
  }

  /** Queues a unit's aggregate changes for the next flush. */
  add(stateKey: string, deltas: readonly AggregateDelta[]): void {
    const shard = this.shardOf(stateKey)
    for (const d of deltas) {
      if (!this.measured.has(d.experiment)) continue
      const key = `${d.experiment}\u0000${shard}`
      let rows = this.#rows.get(key)
      if (!rows) this.#rows.set(key, (rows = new Map()))
      const rowKey = `${d.arm}\u0000${d.day}`
      const cur = rows.get(rowKey)
      const merged = mergeDeltas(cur ? [{ ...cur, experiment: d.experiment }, d] : [d])[0]!
      rows.set(rowKey, { arm: merged.arm, day: merged.day, units: merged.units, metrics: merged.metrics })
    }
  }

  /** Whether this isolate already recorded the unit's exposure to the experiment. */
  recorded(stateKey: string, experiment: string): boolean {
    return this.#recorded.has(`${stateKey}\u0000${experiment}`)
  }

  markRecorded(stateKey: string, experiment: string): void {
    if (this.#recorded.size >= RECORDED_LIMIT) this.#recorded.clear()
    this.#recorded.add(`${stateKey}\u0000${experiment}`)
  }

  /** Changes not yet sent, per experiment (tests and diagnostics). */
  unsent(): Record<string, ArmDay[]> {
    const out: Record<string, ArmDay[]> = {}
    for (const [key, rows] of this.#rows) (out[key.split('\u0000')[0]!] ??= []).push(...rows.values())
    for (const b of this.#pending) (out[b.experiment] ??= []).push(...b.rows)
    return out
  }

  /** Sends the batched changes when the flush interval has passed (or `force`). Never throws. */
  async flush(
    ns: Namespace | undefined,
    opts: {
      force?: boolean
      now?: number
      onError?: (event: string, fields: Record<string, unknown>) => void
    } = {},
  ): Promise<void> {
    const now = opts.now ?? Date.now()
    if (!ns) return
    if (!opts.force && now - this.#lastFlush < this.#opts.flushMs) return
    this.#lastFlush = now
    const batches = this.#pending
    this.#pending = []
    for (const [key, rows] of this.#rows) {
      const [experiment, shard] = key.split('\u0000') as [string, string]
      batches.push({ experiment, shard: Number(shard), id: crypto.randomUUID(), rows: [...rows.values()] })
    }
    this.#rows = new Map()
    const results = await Promise.all(
      batches.map(async (b) => ({
        b,
        r: await withBudget(
          () =>
            ns
              .get(ns.idFromName(measurementShardName(b.experiment, b.shard)))
              .recordAggregates({ id: b.id, rows: b.rows }),
          WRITE_BUDGET_MS,
          'experiment_state.record_aggregates',
        ),
      })),
    )
    for (const { b, r } of results) {
      if (r.ok) continue
      // Kept with the same id: if the first attempt did land, the shard ignores the retry.
      if (this.#pending.length < MAX_PENDING) this.#pending.push(b)
      else opts.onError?.('experiment_aggregates_dropped', { experiment: b.experiment, batch: b.id })
    }
  }
}

const instances = new WeakMap<RuleSet, Measurement>()

/** The measurement state of a rule set in this isolate. */
export function measurement(rules: RuleSet): Measurement {
  let m = instances.get(rules)
  if (!m) {
    m = new Measurement(measuredExperiments(rules.experiments), {
      shards: rules.experiments.stats.shards,
      flushMs: rules.experiments.stats.flushSeconds * 1000,
    })
    instances.set(rules, m)
  }
  return m
}

/**
 * Records the first exposures a request's decisions report, in the background: the request never
 * waits. `facts.at` is the decision time.
 */
export function accountExposures(
  c: Context<AppEnv>,
  rules: RuleSet,
  stateKey: string | null,
  facts: ExposureFacts,
  waitUntil: WaitUntil,
): void {
  if (!stateKey || !c.env?.CUSTOMER) return
  const m = measurement(rules)
  if (m.measured.size === 0) return
  const list = planExposures(m.measured, facts).filter((x) => !m.recorded(stateKey, x.experiment))
  if (list.length === 0) return
  const ns = c.env.CUSTOMER
  const log = c.get('log')
  waitUntil(
    (async () => {
      const r = await withBudget(
        () => ns.get(ns.idFromName(stateKey)).recordExposures(list),
        EXPOSE_BUDGET_MS,
        'customer_state.record_exposures',
      )
      if (!r.ok || !Array.isArray(r.value)) {
        log?.warn('exposures_not_recorded', { reason: r.ok ? 'bad_shape' : r.error.reason })
        return
      }
      for (const x of list) m.markRecorded(stateKey, x.experiment)
      m.add(stateKey, r.value)
      await m.flush(c.env.EXPERIMENT, { onError: (e, f) => log?.warn(e, f) })
    })(),
  )
}

/** Queues the aggregate changes an events batch made (the CustomerState's answer) and flushes in the background. */
export function accountOutcomes(
  c: Context<AppEnv>,
  rules: RuleSet,
  stateKey: string,
  deltas: readonly AggregateDelta[] | undefined,
  waitUntil: WaitUntil,
): void {
  if (!deltas || !Array.isArray(deltas) || deltas.length === 0) return
  const m = measurement(rules)
  m.add(stateKey, deltas)
  const log = c.get('log')
  waitUntil(m.flush(c.env?.EXPERIMENT, { onError: (e, f) => log?.warn(e, f) }))
}

/**
 * One experiment's aggregates merged over its shards (added field by field), or the first shard
 * that did not answer within its budget.
 */
export async function readMergedAggregates(
  ns: Namespace,
  experiment: string,
  shards: number,
): Promise<{ ok: true; rows: ArmDay[] } | { ok: false; shard: number; reason: string }> {
  const reads = await Promise.all(
    Array.from({ length: shards }, (_, i) =>
      withBudget(
        () => ns.get(ns.idFromName(measurementShardName(experiment, i))).aggregates(),
        READ_BUDGET_MS,
        'experiment_state.aggregates',
      ),
    ),
  )
  const all: AggregateDelta[] = []
  for (let i = 0; i < reads.length; i++) {
    const r = reads[i]!
    if (!r.ok) return { ok: false, shard: i, reason: r.error.reason }
    for (const row of r.value) all.push({ ...row, experiment })
  }
  const rows = mergeDeltas(all).map(({ arm, day, units, metrics }) => ({ arm, day, units, metrics }))
  rows.sort((a, b) => (a.day === b.day ? (a.arm < b.arm ? -1 : 1) : a.day < b.day ? -1 : 1))
  return { ok: true, rows }
}
