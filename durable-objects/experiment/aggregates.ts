/**
 * Measurement counters inside ExperimentState: per arm and UTC day of first exposure, the units
 * and, per metric, the sums of worker/experiments/types.ts `MetricSums`. One experiment's counters
 * are spread over N shard objects (worker/experiments/accounting.ts picks one by unit hash);
 * every field is a sum, so a reader merges the shards by adding them in any order.
 */
import type { ArmDay, MetricSums } from '../../worker/experiments/types'
import type { Migration } from '../lib/migrations'

export const aggregateMigrations: Migration[] = [
  {
    id: 'experiment-003',
    sql: `CREATE TABLE IF NOT EXISTS arm_days (
      arm TEXT NOT NULL,
      day TEXT NOT NULL,
      units INTEGER NOT NULL,
      PRIMARY KEY (arm, day)
    );
    CREATE TABLE IF NOT EXISTS arm_day_metrics (
      arm TEXT NOT NULL,
      day TEXT NOT NULL,
      metric TEXT NOT NULL,
      sum REAL NOT NULL,
      sum_sq REAL NOT NULL,
      den_sum REAL,
      den_sum_sq REAL,
      cross_sum REAL,
      cov_sum REAL,
      cov_sum_sq REAL,
      cov_cross REAL,
      PRIMARY KEY (arm, day, metric)
    );`,
  },
]

/** A batch of aggregate changes; its id makes a retried send count once. */
export interface AggregateBatch {
  id: string
  rows: ArmDay[]
}

const MAX_ROWS = 1000
const MAX_METRICS = 50
const DAY = /^\d{4}-\d{2}-\d{2}$/
const NAME = /^[A-Za-z0-9_:.-]{1,128}$/
const OPTIONAL = ['denSum', 'denSumSq', 'crossSum', 'covSum', 'covSumSq', 'covCross'] as const
const COLUMNS = ['den_sum', 'den_sum_sq', 'cross_sum', 'cov_sum', 'cov_sum_sq', 'cov_cross'] as const

/** The batch's rows when every field is well formed, else null (RPC input is untrusted in shape). */
export function validAggregateBatch(batch: AggregateBatch): ArmDay[] | null {
  if (!batch || typeof batch.id !== 'string' || batch.id.length === 0 || batch.id.length > 128) return null
  if (!Array.isArray(batch.rows) || batch.rows.length > MAX_ROWS) return null
  const out: ArmDay[] = []
  for (const r of batch.rows) {
    if (!r || typeof r.arm !== 'string' || !NAME.test(r.arm)) return null
    if (typeof r.day !== 'string' || !DAY.test(r.day) || !Number.isSafeInteger(r.units) || r.units < 0)
      return null
    if (!r.metrics || typeof r.metrics !== 'object') return null
    const entries = Object.entries(r.metrics)
    if (entries.length > MAX_METRICS) return null
    const metrics: Record<string, MetricSums> = {}
    for (const [k, m] of entries) {
      if (!NAME.test(k) || !m || !Number.isFinite(m.sum) || !Number.isFinite(m.sumSq)) return null
      const s: MetricSums = { sum: m.sum, sumSq: m.sumSq }
      for (const f of OPTIONAL) {
        if (m[f] === undefined) continue
        if (!Number.isFinite(m[f])) return null
        s[f] = m[f]
      }
      metrics[k] = s
    }
    out.push({ arm: r.arm, day: r.day, units: r.units, metrics })
  }
  return out
}

/** Adds validated rows into the counters (the caller runs it in a transaction). */
export function addAggregates(sql: SqlStorage, rows: readonly ArmDay[]): void {
  for (const r of rows) {
    sql.exec(
      `INSERT INTO arm_days (arm, day, units) VALUES (?, ?, ?)
       ON CONFLICT (arm, day) DO UPDATE SET units = units + excluded.units`,
      r.arm,
      r.day,
      r.units,
    )
    for (const [metric, m] of Object.entries(r.metrics)) {
      // A NULL optional sum stays NULL until a row brings one (a metric that is not a ratio).
      const set = COLUMNS.map(
        (c) => `${c} = CASE WHEN excluded.${c} IS NULL THEN ${c} ELSE COALESCE(${c}, 0) + excluded.${c} END`,
      )
      sql.exec(
        `INSERT INTO arm_day_metrics (arm, day, metric, sum, sum_sq, ${COLUMNS.join(', ')})
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (arm, day, metric) DO UPDATE SET sum = sum + excluded.sum,
           sum_sq = sum_sq + excluded.sum_sq, ${set.join(', ')}`,
        r.arm,
        r.day,
        metric,
        m.sum,
        m.sumSq,
        ...OPTIONAL.map((f) => m[f] ?? null),
      )
    }
  }
}

type MetricRow = {
  arm: string
  day: string
  metric: string
  sum: number
  sum_sq: number
} & Record<(typeof COLUMNS)[number], number | null>

/** Every arm and day this shard counted, sorted by day then arm. */
export function readAggregates(sql: SqlStorage): ArmDay[] {
  const byKey = new Map<string, ArmDay>()
  for (const r of sql
    .exec<{ arm: string; day: string; units: number }>(
      'SELECT arm, day, units FROM arm_days ORDER BY day, arm',
    )
    .toArray())
    byKey.set(`${r.arm}\u0000${r.day}`, { arm: r.arm, day: r.day, units: r.units, metrics: {} })
  for (const r of sql.exec<MetricRow>('SELECT * FROM arm_day_metrics').toArray()) {
    const key = `${r.arm}\u0000${r.day}`
    let row = byKey.get(key)
    if (!row) byKey.set(key, (row = { arm: r.arm, day: r.day, units: 0, metrics: {} }))
    const m: MetricSums = { sum: r.sum, sumSq: r.sum_sq }
    OPTIONAL.forEach((f, i) => {
      const v = r[COLUMNS[i]!]
      if (v !== null) m[f] = v
    })
    row.metrics[r.metric] = m
  }
  return [...byKey.values()].sort((a, b) =>
    a.day === b.day ? (a.arm < b.arm ? -1 : 1) : a.day < b.day ? -1 : 1,
  )
}
