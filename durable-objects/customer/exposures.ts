/**
 * Experiment exposures inside CustomerState: a unit's first exposure to each experiment (arm, time,
 * UTC day), its running totals per metric within each metric's attribution window, and the ids of
 * the events already attributed, so an event counts once per experiment however often it arrives.
 * Every write returns the change it makes to the experiment's aggregates (an `AggregateDelta` per
 * experiment, arm and day); the Worker sends those, batched, to the sharded ExperimentState
 * counters (worker/experiments/accounting.ts). The arithmetic is worker/experiments/unit-delta.ts.
 *
 * The tables are the subject's data: exported and erased with the rest of the object, and kept
 * for the retention window of their `at` column (docs/storage.md).
 */
import { measuredExperiments, type MeasuredExperiment } from '../../worker/experiments/definitions'
import type { MetricSums } from '../../worker/experiments/types'
import {
  eventContribution,
  inPreWindow,
  inWindow,
  metricReads,
  sumsDelta,
  utcDay,
  ZERO_TOTALS,
  DAY_MS,
  type AggregateDelta,
  type UnitTotals,
} from '../../worker/experiments/unit-delta'
import type { ExperimentsRules } from '../../worker/rules/concerns/experiments'
import type { Migration } from '../lib/migrations'

export type { AggregateDelta }

export const exposureMigrations: Migration[] = [
  {
    id: 'exposures-001',
    sql: `CREATE TABLE IF NOT EXISTS exposures (
      experiment TEXT PRIMARY KEY,
      arm TEXT NOT NULL,
      at INTEGER NOT NULL,
      day TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS exposure_totals (
      experiment TEXT NOT NULL,
      metric TEXT NOT NULL,
      x REAL NOT NULL,
      y REAL NOT NULL,
      c REAL NOT NULL,
      at INTEGER NOT NULL,
      PRIMARY KEY (experiment, metric)
    );
    CREATE TABLE IF NOT EXISTS exposure_events (
      event_id TEXT NOT NULL,
      experiment TEXT NOT NULL,
      at INTEGER NOT NULL,
      PRIMARY KEY (event_id, experiment)
    );`,
  },
]

/** A first exposure as the Worker reports it (the decision's arm and time). */
export interface ExposureInput {
  experiment: string
  arm: string
  /** ms since epoch of the decision. */
  at: number
}

/** An event as attribution reads it. */
export interface AttributableEvent {
  id: string
  type: string
  ts: number
  props: Record<string, unknown>
}

const MAX_EXPOSURES = 50
const compiled = new WeakMap<ExperimentsRules, Map<string, MeasuredExperiment>>()

function measured(rules: ExperimentsRules): Map<string, MeasuredExperiment> {
  let m = compiled.get(rules)
  if (!m) compiled.set(rules, (m = measuredExperiments(rules)))
  return m
}

type ExposureRow = {
  experiment: string
  arm: string
  at: number
  day: string
}

/**
 * Records first exposures (later ones for the same experiment change nothing). Input the rules do
 * not know (an experiment that is not measured, an arm it does not have) is ignored. Events the
 * object already holds around the exposure are attributed now: before it as CUPED's covariate,
 * after it (a decision reported after the visitor's next event) as outcomes.
 */
export function recordExposures(
  sql: SqlStorage,
  rules: ExperimentsRules,
  list: readonly ExposureInput[],
  now: number,
): AggregateDelta[] {
  if (!Array.isArray(list)) return []
  const defs = measured(rules)
  const out: AggregateDelta[] = []
  for (const x of list.slice(0, MAX_EXPOSURES)) {
    if (!x || typeof x.experiment !== 'string' || typeof x.arm !== 'string') continue
    const def = defs.get(x.experiment)
    if (!def || !def.arms.includes(x.arm) || !Number.isSafeInteger(x.at) || x.at <= 0) continue
    const at = Math.min(x.at, now)
    const day = utcDay(at)
    const inserted =
      sql.exec(
        'INSERT OR IGNORE INTO exposures (experiment, arm, at, day) VALUES (?, ?, ?, ?)',
        def.id,
        x.arm,
        at,
        day,
      ).rowsWritten > 0
    if (!inserted) continue
    const totals = new Map(def.metrics.map((m) => [m.id, { ...ZERO_TOTALS }]))
    const reach = Math.max(...def.metrics.map((m) => m.windowDays)) * DAY_MS
    const types = [
      ...new Set(def.metrics.flatMap((m) => [m.event, ...(m.denominator ? [m.denominator.event] : [])])),
    ]
    const rows = sql
      .exec<{ id: string; type: string; ts: number; props: string | null }>(
        `SELECT id, type, ts, props FROM events WHERE ts >= ? AND ts < ? AND type IN (${types.map(() => '?').join(',')})`,
        at - reach,
        at + reach,
        ...types,
      )
      .toArray()
    for (const r of rows) {
      const e = { type: r.type, props: parseProps(r.props) }
      let used = false
      for (const m of def.metrics) {
        const t = totals.get(m.id)!
        const { x: dx, y: dy } = eventContribution(m, e)
        if (inWindow(m, at, r.ts)) {
          t.x += dx
          t.y += dy
          used ||= metricReads(m, r.type)
        } else if (inPreWindow(m, at, r.ts)) {
          t.c += dx
          used ||= metricReads(m, r.type)
        }
      }
      if (used)
        sql.exec(
          'INSERT OR IGNORE INTO exposure_events (event_id, experiment, at) VALUES (?, ?, ?)',
          r.id,
          def.id,
          at,
        )
    }
    const metrics: Record<string, MetricSums> = {}
    for (const m of def.metrics) {
      const t = totals.get(m.id)!
      writeTotals(sql, def.id, m.id, t, now)
      metrics[m.id] = sumsDelta(m, ZERO_TOTALS, t)
    }
    out.push({ experiment: def.id, arm: x.arm, day, units: 1, metrics })
  }
  return out
}

/**
 * Attributes events to this unit's exposures: an event of a metric's type within the metric's
 * window after first exposure adds to the unit's outcome, within the same window before it to the
 * covariate; anything else counts nothing. Once per event id and experiment. Returns the changes.
 */
export function attributeEvents(
  sql: SqlStorage,
  rules: ExperimentsRules,
  events: readonly AttributableEvent[],
  now: number,
): AggregateDelta[] {
  const defs = measured(rules)
  const relevant = events.filter((e) =>
    [...defs.values()].some((d) => d.metrics.some((m) => metricReads(m, e.type))),
  )
  if (relevant.length === 0) return []
  const exposures = sql.exec<ExposureRow>('SELECT experiment, arm, at, day FROM exposures').toArray()
  const out: AggregateDelta[] = []
  for (const ex of exposures) {
    const def = defs.get(ex.experiment)
    if (!def) continue
    const before = readTotals(sql, def.id)
    const after = new Map([...before].map(([k, v]) => [k, { ...v }]))
    let changed = false
    for (const e of relevant) {
      if (!def.metrics.some((m) => metricReads(m, e.type))) continue
      let used = false
      for (const m of def.metrics) {
        if (!metricReads(m, e.type)) continue
        const t = after.get(m.id) ?? { ...ZERO_TOTALS }
        after.set(m.id, t)
        const { x: dx, y: dy } = eventContribution(m, e)
        if (inWindow(m, ex.at, e.ts)) {
          t.x += dx
          t.y += dy
          used = true
        } else if (inPreWindow(m, ex.at, e.ts)) {
          t.c += dx
          used = true
        }
      }
      if (!used) continue
      const fresh =
        sql.exec(
          'INSERT OR IGNORE INTO exposure_events (event_id, experiment, at) VALUES (?, ?, ?)',
          e.id,
          def.id,
          now,
        ).rowsWritten > 0
      if (!fresh) {
        // Already attributed: undo what this event added above.
        for (const m of def.metrics) {
          if (!metricReads(m, e.type)) continue
          const t = after.get(m.id)!
          const { x: dx, y: dy } = eventContribution(m, e)
          if (inWindow(m, ex.at, e.ts)) {
            t.x -= dx
            t.y -= dy
          } else if (inPreWindow(m, ex.at, e.ts)) t.c -= dx
        }
        continue
      }
      changed = true
    }
    if (!changed) continue
    const metrics: Record<string, MetricSums> = {}
    for (const m of def.metrics) {
      const b = before.get(m.id) ?? ZERO_TOTALS
      const a = after.get(m.id) ?? ZERO_TOTALS
      if (a.x === b.x && a.y === b.y && a.c === b.c) continue
      writeTotals(sql, def.id, m.id, a, now)
      const d = sumsDelta(m, b, a)
      // A converted unit converting again changes its totals, not the aggregates.
      if (Object.values(d).some((v) => v !== 0)) metrics[m.id] = d
    }
    if (Object.keys(metrics).length)
      out.push({ experiment: def.id, arm: ex.arm, day: ex.day, units: 0, metrics })
  }
  return out
}

/** The unit's exposures (DSAR and tests read them; the export has them too). */
export function listExposures(sql: SqlStorage): ExposureRow[] {
  return sql.exec<ExposureRow>('SELECT experiment, arm, at, day FROM exposures ORDER BY at').toArray()
}

function readTotals(sql: SqlStorage, experiment: string): Map<string, UnitTotals> {
  const out = new Map<string, UnitTotals>()
  for (const r of sql
    .exec<{ metric: string; x: number; y: number; c: number }>(
      'SELECT metric, x, y, c FROM exposure_totals WHERE experiment = ?',
      experiment,
    )
    .toArray())
    out.set(r.metric, { x: r.x, y: r.y, c: r.c })
  return out
}

function writeTotals(sql: SqlStorage, experiment: string, metric: string, t: UnitTotals, now: number): void {
  sql.exec(
    `INSERT INTO exposure_totals (experiment, metric, x, y, c, at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (experiment, metric) DO UPDATE SET x = excluded.x, y = excluded.y, c = excluded.c, at = excluded.at`,
    experiment,
    metric,
    t.x,
    t.y,
    t.c,
    now,
  )
}

function parseProps(text: string | null): Record<string, unknown> {
  if (!text) return {}
  try {
    const v: unknown = JSON.parse(text)
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
