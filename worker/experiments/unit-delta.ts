/**
 * One unit's contribution to an experiment's aggregates (worker/experiments/types.ts), and how
 * it changes when an event is attributed to it. A unit carries, per metric, its raw totals within
 * the attribution window: `x` (numerator: events counted or a prop summed), `y` (a ratio's
 * denominator) and `c` (the same measure over the window before first exposure, CUPED's
 * covariate). The aggregates hold sums over units of the metric value v(x) (1/0 for binary), its
 * square, v·y, y, y², c, c², v·c; when a unit's totals change, the aggregates change by the
 * difference of its terms, so the counters are kept incrementally and merged by addition. Pure:
 * no Workers imports.
 */
import type { ArmDay, MetricDefinition, MetricSums } from './types'

export const DAY_MS = 86_400_000

/** A change to one experiment's aggregates for one arm and day of first exposure. */
export interface AggregateDelta extends ArmDay {
  experiment: string
}

/** A unit's raw totals for one metric. */
export interface UnitTotals {
  x: number
  y: number
  c: number
}

export const ZERO_TOTALS: UnitTotals = Object.freeze({ x: 0, y: 0, c: 0 })

/** The metric value of raw totals: a binary metric is 1 once the unit converted. */
function valueOf(m: Pick<MetricDefinition, 'kind'>, raw: number): number {
  return m.kind === 'binary' ? (raw > 0 ? 1 : 0) : raw
}

/** A prop's number, or 0 when it is missing or not a finite number (never NaN in a sum). */
function propNumber(props: Record<string, unknown>, prop: string): number {
  const v = Object.hasOwn(props, prop) ? props[prop] : undefined
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
  return Number.isFinite(n) ? n : 0
}

/**
 * What one event adds to a unit's totals for a metric: `{ x, y }` (0 when the event is not the
 * metric's). A ratio's numerator and denominator may be the same event type.
 *
 * @example
 *   eventContribution({ kind: 'revenue', event: 'purchase', prop: 'value', ... }, { type: 'purchase', props: { value: 30 } })
 *   // -> { x: 30, y: 0 }
 */
export function eventContribution(
  m: MetricDefinition,
  e: { type: string; props: Record<string, unknown> },
): { x: number; y: number } {
  let x = 0
  let y = 0
  if (e.type === m.event)
    x = m.kind === 'revenue' || (m.kind === 'ratio' && m.prop) ? propNumber(e.props, m.prop ?? '') : 1
  if (m.kind === 'ratio' && m.denominator && e.type === m.denominator.event)
    y = m.denominator.prop ? propNumber(e.props, m.denominator.prop) : 1
  return { x, y }
}

/** Whether the event type matters to the metric at all. */
export function metricReads(m: MetricDefinition, type: string): boolean {
  return type === m.event || (m.kind === 'ratio' && m.denominator?.event === type)
}

/** The unit's terms in the aggregates for one metric. */
function terms(m: MetricDefinition, t: UnitTotals): MetricSums {
  const v = valueOf(m, t.x)
  const c = valueOf(m, t.c)
  const out: MetricSums = { sum: v, sumSq: v * v, covSum: c, covSumSq: c * c, covCross: v * c }
  if (m.kind === 'ratio') {
    out.denSum = t.y
    out.denSumSq = t.y * t.y
    out.crossSum = v * t.y
  }
  return out
}

/**
 * How the aggregates change when a unit's totals go from `before` to `after` (a first exposure is
 * `ZERO_TOTALS` with the covariate -> the totals).
 */
export function sumsDelta(m: MetricDefinition, before: UnitTotals, after: UnitTotals): MetricSums {
  const a = terms(m, after)
  const b = terms(m, before)
  const out: MetricSums = { sum: a.sum - b.sum, sumSq: a.sumSq - b.sumSq }
  for (const k of ['denSum', 'denSumSq', 'crossSum', 'covSum', 'covSumSq', 'covCross'] as const) {
    if (a[k] !== undefined) out[k] = a[k] - (b[k] ?? 0)
  }
  return out
}

/** Adds `d` into `into` field by field (merging shards and batching deltas). */
export function addSums(into: MetricSums, d: MetricSums): MetricSums {
  into.sum += d.sum
  into.sumSq += d.sumSq
  for (const k of ['denSum', 'denSumSq', 'crossSum', 'covSum', 'covSumSq', 'covCross'] as const) {
    if (d[k] !== undefined) into[k] = (into[k] ?? 0) + d[k]
  }
  return into
}

/** The UTC day (YYYY-MM-DD) of a time in ms. */
export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10)
}

/** Whether an event at `ts` falls in the metric's window after a first exposure at `exposedAt`. */
export function inWindow(m: Pick<MetricDefinition, 'windowDays'>, exposedAt: number, ts: number): boolean {
  return ts >= exposedAt && ts < exposedAt + m.windowDays * DAY_MS
}

/** Whether it falls in the same-length window before exposure (CUPED's pre-period). */
export function inPreWindow(m: Pick<MetricDefinition, 'windowDays'>, exposedAt: number, ts: number): boolean {
  return ts < exposedAt && ts >= exposedAt - m.windowDays * DAY_MS
}

/** Merges deltas for the same experiment, arm and day (one row each in a batch). */
export function mergeDeltas(list: readonly AggregateDelta[]): AggregateDelta[] {
  const byKey = new Map<string, AggregateDelta>()
  for (const d of list) {
    const key = `${d.experiment}\u0000${d.arm}\u0000${d.day}`
    const cur = byKey.get(key)
    if (!cur) {
      byKey.set(key, {
        ...d,
        metrics: Object.fromEntries(
          Object.entries(d.metrics).map(([k, v]) => [k, addSums({ sum: 0, sumSq: 0 }, v)]),
        ),
      })
      continue
    }
    cur.units += d.units
    for (const [k, v] of Object.entries(d.metrics))
      cur.metrics[k] = addSums(cur.metrics[k] ?? { sum: 0, sumSq: 0 }, v)
  }
  return [...byKey.values()]
}
