/**
 * `GET /admin/v1/experiments` and `GET /admin/v1/experiments/:id` (docs/api.md "Experiment
 * reports"): each measured experiment's aggregates merged over its shards, analysed by the
 * statistics engine (worker/experiments/analysis.ts): per arm units, metrics with effects and
 * intervals, the sample ratio check, the verdict and a daily series. Bandits add their current
 * allocation and posterior; the global holdout (`holdout`) adds its incrementality. `?format=csv`
 * exports the metric table.
 */
import type { Context } from 'hono'
import { readMergedAggregates } from '../experiments/accounting'
import { analyseExperiment } from '../experiments/analysis'
import { banditReport, type BanditArmReport } from '../experiments/bandit-report'
import { HOLDOUT_ARMS, HOLDOUT_ID, type MeasuredExperiment } from '../experiments/definitions'
import { measurement } from '../experiments/accounting'
import type { ExperimentReport } from '../experiments/report'
import type { ArmDay } from '../experiments/types'
import { withBudget } from '../lib/budget'
import { invalid, ProblemError } from '../lib/problem'
import type { RuleSet } from '../rules'
import { nearest } from '../rules/suggest'
import type { AdminEnv } from '.'

const BANDIT_BUDGET_MS = 2000

export interface ExperimentDetail {
  id: string
  kind: MeasuredExperiment['kind']
  status: 'running' | 'paused' | 'ended'
  placement: string | null
  control: string
  arms: string[]
  weights: Record<string, number>
  metrics: MeasuredExperiment['metrics']
  policy: MeasuredExperiment['policy']
  /** The raw aggregates per arm and day of first exposure, merged over the shards. */
  aggregates: ArmDay[]
  analysis: ExperimentReport
  bandit?: { arms: BanditArmReport[] }
  incrementality?: Incrementality
}

/** The global holdout: everyone outside it against it, on every metric. */
export interface Incrementality {
  metric: string
  /** exposed / holdout - 1 and its interval; null until both groups have data. */
  lift: number | null
  interval: { lower: number; upper: number } | null
  absolute: number | null
  outcome: 'better' | 'worse' | 'inconclusive' | null
}

type Ctx = Context<AdminEnv>

/** The format query: json (default) or csv; anything else is a 400 naming it. */
function formatOf(c: Ctx): 'json' | 'csv' {
  const params = new URL(c.req.url).searchParams
  const errors = []
  for (const key of params.keys())
    if (key !== 'format') errors.push({ path: key, message: 'unknown parameter; use format' })
  const f = params.get('format') ?? 'json'
  if (f !== 'json' && f !== 'csv') errors.push({ path: 'format', message: 'must be json or csv' })
  if (errors.length) throw invalid(errors)
  return f as 'json' | 'csv'
}

async function detail(c: Ctx, rules: RuleSet, def: MeasuredExperiment, now: Date): Promise<ExperimentDetail> {
  const m = measurement(rules)
  const ns = c.env.EXPERIMENT
  const read = await readMergedAggregates(ns, def.id, m.shards)
  if (!read.ok) {
    c.get('log')?.warn('experiment_aggregates_unavailable', { experiment: def.id, shard: read.shard })
    throw new ProblemError(
      503,
      'Service unavailable',
      'The experiment counters did not answer; retry shortly.',
    )
  }
  const analysis = analyseExperiment(
    {
      id: def.id,
      control: def.control,
      arms: def.arms,
      weights: def.weights,
      metrics: def.metrics,
      policy: def.policy,
      rows: read.rows,
    },
    { now },
  )
  const rule = Object.hasOwn(rules.experiments.experiments, def.id)
    ? rules.experiments.experiments[def.id]
    : undefined
  const out: ExperimentDetail = {
    id: def.id,
    kind: def.kind,
    status: rule?.status ?? 'running',
    placement: rule?.placement ?? null,
    control: def.control,
    arms: def.arms,
    weights: def.weights,
    metrics: def.metrics,
    policy: def.policy,
    aggregates: read.rows,
    analysis,
  }
  if (def.kind === 'bandit') {
    const r = await withBudget(
      () => ns.get(ns.idFromName(def.id)).stats(),
      BANDIT_BUDGET_MS,
      'experiment_state.stats',
    )
    if (!r.ok)
      throw new ProblemError(
        503,
        'Service unavailable',
        'The bandit statistics did not answer; retry shortly.',
      )
    out.bandit = { arms: banditReport(def.arms, r.value.arms) }
  }
  if (def.kind === 'holdout') out.incrementality = incrementality(analysis)
  return out
}

/** The exposed group's effect against the holdout on the primary metric. */
export function incrementality(report: ExperimentReport): Incrementality {
  const metric = report.metrics.find((x) => x.id === report.primary)
  const exposed = metric?.arms.find((a) => a.arm === HOLDOUT_ARMS.exposed)
  const e = exposed?.effect ?? null
  return {
    metric: report.primary,
    lift: e?.relative?.estimate ?? null,
    interval: e?.relative ? { ...e.relative.sequentialInterval } : null,
    absolute: e?.absolute.estimate ?? null,
    outcome: e?.outcome ?? null,
  }
}

// RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled. A leading
// =, +, - or @ is prefixed with ' so a spreadsheet does not run it as a formula (OWASP CSV injection).
function csvField(v: unknown): string {
  if (v === null || v === undefined) return ''
  let s = typeof v === 'number' ? String(v) : String(v)
  if (typeof v === 'string' && /^[=+\-@]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

function csv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n'
}

const METRIC_HEADER = [
  'experiment',
  'metric',
  'role',
  'arm',
  'units',
  'mean',
  'absolute_effect',
  'relative_effect',
  'relative_lower',
  'relative_upper',
  'p_value',
  'sequential_p_value',
  'chance_to_beat_control',
  'outcome',
  'verdict',
]

function metricRows(d: ExperimentDetail): unknown[][] {
  const rows: unknown[][] = []
  for (const m of d.analysis.metrics) {
    for (const a of m.arms) {
      const e = a.effect
      rows.push([
        d.id,
        m.id,
        m.role,
        a.arm,
        a.units,
        a.mean,
        e?.absolute.estimate,
        e?.relative?.estimate,
        e?.relative?.sequentialInterval.lower,
        e?.relative?.sequentialInterval.upper,
        e?.pValue,
        e?.sequentialPValue,
        e?.bayes?.chanceToBeatControl,
        e?.outcome,
        d.analysis.verdict.kind,
      ])
    }
  }
  return rows
}

function csvResponse(c: Ctx, name: string, body: string): Response {
  return c.body(body, 200, {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="${name}.csv"`,
    'cache-control': 'no-store',
  })
}

/** `GET /admin/v1/experiments`: every measured experiment with its verdict. */
export async function listExperiments(c: Ctx, rules: RuleSet): Promise<Response> {
  const format = formatOf(c)
  const now = new Date()
  const details = await Promise.all(
    [...measurement(rules).measured.values()].map((d) => detail(c, rules, d, now)),
  )
  c.set('auditDetail', { format, experiments: details.length })
  if (format === 'csv') return csvResponse(c, 'experiments', csv(METRIC_HEADER, details.flatMap(metricRows)))
  return c.json(
    {
      experiments: details.map((d) => ({
        id: d.id,
        kind: d.kind,
        status: d.status,
        placement: d.placement,
        primary: d.policy.primary,
        totalUnits: d.analysis.totalUnits,
        days: d.analysis.days,
        srm: { pValue: d.analysis.srm.pValue, flagged: d.analysis.srm.flagged },
        verdict: d.analysis.verdict,
      })),
    },
    200,
    { 'cache-control': 'no-store' },
  )
}

/** `GET /admin/v1/experiments/:id`: the full report. */
export async function getExperiment(c: Ctx, rules: RuleSet): Promise<Response> {
  const format = formatOf(c)
  const id = c.req.param('id') ?? ''
  const measured = measurement(rules).measured
  const def = measured.get(id)
  if (!def) {
    const hint = nearest(id, measured.keys())
    throw new ProblemError(404, 'Not found', `No measured experiment "${id.slice(0, 64)}".`, [
      { path: 'id', message: `unknown experiment${hint ? ` (did you mean "${hint}"?)` : ''}` },
    ])
  }
  const d = await detail(c, rules, def, new Date())
  c.set('auditDetail', { format, experiment: def.id })
  if (format === 'csv') return csvResponse(c, def.id, csv(METRIC_HEADER, metricRows(d)))
  return c.json(d, 200, { 'cache-control': 'no-store' })
}

export { HOLDOUT_ID }
