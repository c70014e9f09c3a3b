/**
 * The statistics engine's entry: `analyseExperiment` turns an experiment's per-arm, per-day
 * sufficient statistics into a report (report.ts) with effects, intervals, the sample ratio check,
 * a verdict in words and a daily cumulative series. Pure: no Workers imports, no I/O, never
 * throws on bad rows (they are skipped and named in `warnings`).
 *
 * The methods are in the stats-*.ts modules, each with its sources; docs/experiments.md explains
 * them for marketers. The verdict uses the report's method (by default the always-valid confidence
 * sequence, so reading the report every day keeps the false positive rate at α) with α split over
 * the treatment arms by Bonferroni.
 */
import { bayesGaussian, type GaussianPrior } from './stats-bayes'
import {
  bonferroni,
  relativeDelta,
  sequentialHalfWidth,
  sequentialPValue,
  tInterval,
  welch,
  zTwoSided,
} from './stats-frequentist'
import {
  addSums,
  cuped,
  emptySums,
  type FullSums,
  hasCovariate,
  metricMoments,
  type Moments,
} from './stats-moments'
import { sampleRatioMismatch } from './stats-srm'
import { DEFAULT_SEQUENTIAL_TUNING, sampleSizeFixed, sampleSizeSequential } from './plan'
import type {
  AnalysisMethod,
  ArmReport,
  EffectReport,
  ExperimentReport,
  Interval,
  MetricArmReport,
  MetricReport,
  SeriesPoint,
  Verdict,
} from './report'
import type { ArmDay, ExperimentInput, MetricDefinition, MetricSums } from './types'

export interface AnalyseOptions {
  /** The time the report is for (default: the current time); sets `generatedAt` and the pace. */
  now?: Date
  /** 'sequential' (default: safe to read every day) or 'fixed' (one look at the planned size). */
  method?: AnalysisMethod
  /** Units at which the confidence sequence is tightest (GrowthBook's default, 5,000). */
  sequentialTuning?: number
  /** A normal prior on the relative effect for the Bayesian reading (default: flat). */
  prior?: GaussianPrior
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/
const DAY_MS = 86_400_000

interface Settings {
  alpha: number
  alphaAdjusted: number
  comparisons: number
  method: AnalysisMethod
  tuning: number
  prior: GaussianPrior | undefined
}

/**
 * Analyse one experiment. Example:
 * `analyseExperiment({ id: 'hero', control: 'a', arms: ['a', 'b'], weights: { a: 50, b: 50 }, metrics, policy, rows })`
 * gives per-arm effects on every metric and `verdict.summary`, e.g. "Ship b: +4.1% on purchase".
 */
export function analyseExperiment(input: ExperimentInput, options: AnalyseOptions = {}): ExperimentReport {
  const warnings: string[] = []
  const now = options.now ?? new Date()
  const control = input.control
  const armOrder = [control, ...input.arms.filter((a) => a !== control)]
  const known = new Set(armOrder)
  const policy = input.policy

  const alpha = policy.alpha > 0 && policy.alpha < 1 ? policy.alpha : 0.05
  if (alpha !== policy.alpha) warnings.push(`policy.alpha ${policy.alpha} is not in (0, 1); used 0.05`)
  const power = policy.power > 0 && policy.power < 1 ? policy.power : 0.8
  if (power !== policy.power) warnings.push(`policy.power ${policy.power} is not in (0, 1); used 0.8`)
  const minimumEffect =
    Number.isFinite(policy.minimumEffect) && policy.minimumEffect >= 0 ? policy.minimumEffect : 0
  if (minimumEffect !== policy.minimumEffect)
    warnings.push(`policy.minimumEffect ${policy.minimumEffect} is not a non-negative number; used 0`)
  const tuning =
    options.sequentialTuning !== undefined && options.sequentialTuning > 0
      ? options.sequentialTuning
      : DEFAULT_SEQUENTIAL_TUNING
  const comparisons = Math.max(1, armOrder.length - 1)
  const settings: Settings = {
    alpha,
    alphaAdjusted: alpha / comparisons,
    comparisons,
    method: options.method ?? 'sequential',
    tuning,
    prior: options.prior,
  }

  const metricIds = new Set(input.metrics.map((m) => m.id))
  const rows = validRows(input.rows, known, metricIds, warnings)
  const days = [...new Set(rows.map((r) => r.day))].sort()

  // Totals per arm and metric, and the cumulative series for the primary metric, in one pass over days.
  const units = new Map(armOrder.map((a) => [a, 0]))
  const sums = new Map(input.metrics.map((m) => [m.id, armOrder.map(() => emptySums())]))
  const primary = input.metrics.find((m) => m.id === policy.primary)
  if (!primary) warnings.push(`policy.primary names metric "${policy.primary}", which is not defined`)
  for (const g of policy.guardrails)
    if (!metricIds.has(g)) warnings.push(`policy.guardrails names metric "${g}", which is not defined`)
  const byDay = new Map<string, ArmDay[]>()
  for (const r of rows) {
    const list = byDay.get(r.day)
    if (list) list.push(r)
    else byDay.set(r.day, [r])
  }
  const series: SeriesPoint[] = []
  for (const day of days) {
    for (const r of byDay.get(day) ?? []) {
      const i = armOrder.indexOf(r.arm)
      units.set(r.arm, (units.get(r.arm) ?? 0) + r.units)
      for (const m of input.metrics) addSums(sums.get(m.id)![i]!, r.units, r.metrics[m.id])
    }
    if (primary) series.push(seriesPoint(day, primary, armOrder, sums.get(primary.id)!, settings))
  }

  const totalUnits = armOrder.reduce((s, a) => s + (units.get(a) ?? 0), 0)
  const weightTotal = armOrder.reduce((s, a) => s + Math.max(0, input.weights[a] ?? 0), 0)
  const arms: ArmReport[] = armOrder.map((arm) => ({
    arm,
    isControl: arm === control,
    units: units.get(arm) ?? 0,
    expectedShare: weightTotal > 0 ? Math.max(0, input.weights[arm] ?? 0) / weightTotal : 0,
    observedShare: totalUnits > 0 ? (units.get(arm) ?? 0) / totalUnits : 0,
  }))
  const srm = sampleRatioMismatch(Object.fromEntries(units), input.weights)

  const metrics = input.metrics.map((m) =>
    metricReport(m, armOrder, sums.get(m.id)!, policy.primary, policy.guardrails, settings),
  )

  const first = days[0] ?? null
  const last = days[days.length - 1] ?? null
  const elapsed = first ? elapsedDays(first, last!, now) : 0
  const verdict = decide({
    arms,
    metrics,
    primaryId: policy.primary,
    srm,
    settings,
    power,
    minimumEffect,
    totalUnits,
    elapsed,
  })

  return {
    id: input.id,
    generatedAt: now.toISOString(),
    method: settings.method,
    alpha,
    power,
    minimumEffect,
    correction: { method: 'bonferroni', comparisons, alphaPerComparison: settings.alphaAdjusted },
    sequentialTuning: tuning,
    control,
    primary: policy.primary,
    days: { first, last, elapsed },
    totalUnits,
    arms,
    srm: {
      chiSquare: srm.chiSquare,
      df: srm.df,
      pValue: srm.pValue,
      flagged: srm.flagged,
      expected: srm.expected,
    },
    metrics,
    verdict,
    series,
    warnings,
  }
}

// --- input ----------------------------------------------------------------------------------

function finiteNonNegative(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0
}

function validSums(s: MetricSums): boolean {
  const optional = [s.denSum, s.denSumSq, s.crossSum, s.covSum, s.covSumSq, s.covCross]
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.sum === 'number' &&
    Number.isFinite(s.sum) &&
    finiteNonNegative(s.sumSq) &&
    optional.every((v) => v === undefined || (typeof v === 'number' && Number.isFinite(v)))
  )
}

// Rows the engine can use; the rest are skipped whole (units and sums must stay consistent) and named.
function validRows(rows: ArmDay[], known: Set<string>, metricIds: Set<string>, warnings: string[]): ArmDay[] {
  const out: ArmDay[] = []
  const unknownArms = new Map<string, number>()
  const unknownMetrics = new Set<string>()
  let malformed = 0
  for (const r of rows) {
    if (!r || typeof r !== 'object' || typeof r.arm !== 'string') {
      malformed++
      continue
    }
    if (!known.has(r.arm)) {
      unknownArms.set(r.arm, (unknownArms.get(r.arm) ?? 0) + 1)
      continue
    }
    const metrics = r.metrics && typeof r.metrics === 'object' ? r.metrics : null
    if (
      typeof r.day !== 'string' ||
      !DAY_RE.test(r.day) ||
      !Number.isInteger(r.units) ||
      r.units < 0 ||
      !metrics ||
      !Object.values(metrics).every(validSums)
    ) {
      malformed++
      continue
    }
    for (const id of Object.keys(metrics)) if (!metricIds.has(id)) unknownMetrics.add(id)
    out.push(r)
  }
  for (const [arm, n] of unknownArms)
    warnings.push(`${n} row(s) for arm "${arm}", which is not in the experiment, ignored`)
  if (malformed > 0) warnings.push(`${malformed} malformed row(s) ignored`)
  for (const id of unknownMetrics) warnings.push(`metric "${id}" in the rows is not defined, ignored`)
  return out
}

function elapsedDays(first: string, last: string, now: Date): number {
  const start = Date.parse(`${first}T00:00:00Z`)
  const end = Math.max(Date.parse(`${last}T00:00:00Z`), Math.floor(now.getTime() / DAY_MS) * DAY_MS)
  return Math.max(1, Math.round((end - start) / DAY_MS) + 1)
}

// --- per metric -----------------------------------------------------------------------------

interface ArmMoments {
  moments: (Moments | null)[]
  theta: number | null
}

function armMoments(metric: MetricDefinition, armSums: FullSums[]): ArmMoments {
  const plain = armSums.map((s) => metricMoments(metric.kind, s))
  // CUPED for plain metrics with a covariate; ratio metrics are analysed unadjusted.
  if (metric.kind !== 'ratio' && hasCovariate(armSums)) {
    const adjusted = cuped(armSums)
    if (adjusted) return { moments: adjusted.adjusted, theta: adjusted.theta }
  }
  return { moments: plain, theta: null }
}

function metricReport(
  metric: MetricDefinition,
  armOrder: string[],
  armSums: FullSums[],
  primary: string,
  guardrails: string[],
  settings: Settings,
): MetricReport {
  const { moments, theta } = armMoments(metric, armSums)
  const control = moments[0] ?? null
  let cupedInfo: MetricReport['cuped'] = null
  if (theta !== null) {
    const raw = metricMoments(metric.kind, armSums[0]!)
    const reduction = raw && control && raw.variance > 0 ? 1 - control.variance / raw.variance : 0
    cupedInfo = { theta, varianceReduction: Number.isFinite(reduction) ? reduction : 0 }
  }
  const arms = armOrder.map((arm, i): MetricArmReport => {
    const m = moments[i] ?? null
    const s = armSums[i]!
    const base: MetricArmReport = {
      arm,
      units: s.n,
      mean: m ? m.mean : null,
      variance: m ? m.variance : null,
      interval: m ? meanInterval(metric, m, s, theta !== null, settings.alpha) : null,
      effect: null,
    }
    if (i === 0) return base
    if (!control || !m)
      return { ...base, note: 'fewer than 2 units in this arm or the control (or no denominator)' }
    const effect = compare(control, m, metric.higherIsBetter, settings)
    if (!effect) return { ...base, note: 'no variation in either arm yet: the effect cannot be estimated' }
    return { ...base, effect }
  })
  return {
    id: metric.id,
    kind: metric.kind,
    role: metric.id === primary ? 'primary' : guardrails.includes(metric.id) ? 'guardrail' : 'secondary',
    higherIsBetter: metric.higherIsBetter,
    cuped: cupedInfo,
    arms,
  }
}

// Wilson's score interval for an unadjusted rate (E. B. Wilson, JASA 1927; statsmodels'
// proportion_confint(method='wilson') is the oracle); the normal interval for everything else.
function meanInterval(
  metric: MetricDefinition,
  m: Moments,
  s: FullSums,
  adjusted: boolean,
  alpha: number,
): Interval {
  const z = zTwoSided(alpha)
  if (metric.kind === 'binary' && !adjusted) {
    const n = s.n
    const p = Math.min(1, Math.max(0, s.sum / n))
    const z2 = z * z
    const centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))
    return { lower: centre - half, upper: centre + half }
  }
  const se = Math.sqrt(m.variance / m.n)
  return { lower: m.mean - z * se, upper: m.mean + z * se }
}

function compare(c: Moments, t: Moments, higherIsBetter: boolean, s: Settings): EffectReport | null {
  const w = welch(c, t, s.alphaAdjusted)
  if (!w) return null
  const n = c.n + t.n
  const absHalf = sequentialHalfWidth(w.stdError, n, s.alphaAdjusted, s.tuning)
  const rel = relativeDelta(c, t)
  const relative = rel
    ? {
        estimate: rel.estimate,
        stdError: rel.stdError,
        interval: tInterval(rel.estimate, rel.stdError, w.quantile),
        sequentialInterval: halfInterval(
          rel.estimate,
          sequentialHalfWidth(rel.stdError, n, s.alphaAdjusted, s.tuning),
        ),
      }
    : null
  const pValueAdjusted = bonferroni(w.pValue, s.comparisons)
  const seqP = bonferroni(
    sequentialPValue(w.estimate, w.stdError, n, s.alphaAdjusted, s.tuning),
    s.comparisons,
  )
  const absolute = {
    estimate: w.estimate,
    stdError: w.stdError,
    interval: w.interval,
    sequentialInterval: halfInterval(w.estimate, absHalf),
  }
  const decisive = s.method === 'sequential' ? absolute.sequentialInterval : absolute.interval
  let outcome: EffectReport['outcome'] = 'inconclusive'
  if (decisive.lower > 0 || decisive.upper < 0)
    outcome = w.estimate > 0 === higherIsBetter ? 'better' : 'worse'
  const bayes = rel ? bayesGaussian(rel.estimate, rel.stdError, higherIsBetter, s.alpha, s.prior) : null
  return {
    absolute,
    relative,
    pValue: w.pValue,
    pValueAdjusted,
    sequentialPValue: seqP,
    degreesOfFreedom: Number.isFinite(w.df) ? w.df : Number.MAX_VALUE,
    bayes: bayes
      ? {
          chanceToBeatControl: bayes.chanceToBeatControl,
          expectedLoss: bayes.expectedLoss,
          riskOfControl: bayes.riskOfControl,
          credibleInterval: bayes.credibleInterval,
        }
      : null,
    outcome,
  }
}

function halfInterval(estimate: number, half: number): Interval {
  return { lower: estimate - half, upper: estimate + half }
}

/** The interval the report's method decides with, on the relative scale. */
function decisiveRelative(e: EffectReport, method: AnalysisMethod): Interval | null {
  if (!e.relative) return null
  return method === 'sequential' ? e.relative.sequentialInterval : e.relative.interval
}

function seriesPoint(
  day: string,
  metric: MetricDefinition,
  armOrder: string[],
  armSums: FullSums[],
  s: Settings,
): SeriesPoint {
  const { moments } = armMoments(metric, armSums)
  const c = moments[0] ?? null
  const arms: SeriesPoint['arms'] = {}
  armOrder.forEach((arm, i) => {
    const m = moments[i] ?? null
    const point = {
      units: armSums[i]!.n,
      mean: m ? m.mean : null,
      relative: null,
      lower: null,
      upper: null,
      chanceToBeatControl: null,
    }
    arms[arm] = point
    if (i === 0 || !c || !m) return
    const rel = relativeDelta(c, m)
    if (!rel) return
    const half = sequentialHalfWidth(rel.stdError, c.n + m.n, s.alphaAdjusted, s.tuning)
    const bayes = bayesGaussian(rel.estimate, rel.stdError, metric.higherIsBetter, s.alpha, s.prior)
    arms[arm] = {
      ...point,
      relative: rel.estimate,
      lower: rel.estimate - half,
      upper: rel.estimate + half,
      chanceToBeatControl: bayes.chanceToBeatControl,
    }
  })
  return { day, arms }
}

// --- verdict --------------------------------------------------------------------------------

interface DecideInput {
  arms: ArmReport[]
  metrics: MetricReport[]
  primaryId: string
  srm: { pValue: number; flagged: boolean }
  settings: Settings
  power: number
  minimumEffect: number
  totalUnits: number
  elapsed: number
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`

function verdict(kind: Verdict['kind'], summary: string, reasons: string[], arms: string[] = []): Verdict {
  return { kind, arms, summary, reasons, unitsNeeded: null, daysNeeded: null }
}

function decide(d: DecideInput): Verdict {
  const { settings, minimumEffect } = d
  if (d.totalUnits === 0)
    return verdict('no-data', 'No units have been exposed yet.', ['no exposures recorded'])
  if (d.srm.flagged) {
    const split = d.arms
      .map(
        (a) =>
          `${a.arm} ${(a.observedShare * 100).toFixed(1)}% (planned ${(a.expectedShare * 100).toFixed(1)}%)`,
      )
      .join(', ')
    return verdict(
      'invalid-srm',
      'Invalid: the split of units across arms does not match the plan (sample ratio mismatch). Find the cause before reading any result.',
      [`chi-square test p = ${d.srm.pValue.toExponential(2)} < 0.001`, `observed split: ${split}`],
    )
  }
  const primary = d.metrics.find((m) => m.id === d.primaryId)
  if (!primary)
    return verdict('no-data', `The deciding metric "${d.primaryId}" is not defined.`, ['no primary metric'])
  const guardrails = d.metrics.filter((m) => m.role === 'guardrail')
  const treatments = d.arms.filter((a) => !a.isControl).map((a) => a.arm)
  const reasons: string[] = []

  const harmed = new Map<string, string[]>()
  for (const g of guardrails)
    for (const a of g.arms)
      if (a.effect?.outcome === 'worse') {
        const list = harmed.get(a.arm) ?? []
        list.push(g.id)
        harmed.set(a.arm, list)
        reasons.push(`${a.arm} harms guardrail ${g.id} (${describe(a.effect, settings.method)})`)
      }

  const candidates: { arm: string; lift: number }[] = []
  let allBelowMinimum = true
  for (const arm of treatments) {
    const row = primary.arms.find((a) => a.arm === arm)
    const e = row?.effect ?? null
    if (!e) {
      allBelowMinimum = false
      reasons.push(`${arm}: ${row?.note ?? 'no data'}`)
      continue
    }
    const rel = decisiveRelative(e, settings.method)
    const sign = primary.higherIsBetter ? 1 : -1
    const lift = e.relative ? sign * e.relative.estimate : Infinity
    const goodUpper = rel ? (primary.higherIsBetter ? rel.upper : -rel.lower) : Infinity
    if (!(goodUpper < minimumEffect)) allBelowMinimum = false
    if (e.outcome === 'better') {
      if (lift >= minimumEffect && !harmed.has(arm)) {
        candidates.push({ arm, lift })
        reasons.push(`${arm} beats ${d.arms[0]!.arm} on ${primary.id}: ${describe(e, settings.method)}`)
      } else if (lift < minimumEffect) {
        reasons.push(
          `${arm} is better on ${primary.id} but by less than the minimum effect of ${pct(minimumEffect)}: ${describe(e, settings.method)}`,
        )
      }
    } else if (e.outcome === 'worse') {
      reasons.push(`${arm} is worse than ${d.arms[0]!.arm} on ${primary.id}: ${describe(e, settings.method)}`)
    } else {
      reasons.push(`${arm} on ${primary.id}: no detectable difference yet (${describe(e, settings.method)})`)
    }
  }

  if (candidates.length > 0) {
    candidates.sort((a, b) => b.lift - a.lift)
    const best = candidates[0]!
    const lift = Number.isFinite(best.lift)
      ? ` (${pct(primary.higherIsBetter ? best.lift : -best.lift)} on ${primary.id})`
      : ''
    return verdict('ship', `Ship ${best.arm}${lift}.`, reasons, [best.arm])
  }
  if (harmed.size > 0) {
    const names = [...harmed.keys()]
    return verdict(
      'stop-guardrail',
      `Stop: ${names.join(', ')} harm${names.length === 1 ? 's' : ''} a guardrail (${[...new Set([...harmed.values()].flat())].join(', ')}).`,
      reasons,
      names,
    )
  }
  if (allBelowMinimum && treatments.length > 0)
    return verdict(
      'no-effect',
      `No arm can beat ${d.arms[0]!.arm} by the minimum effect of ${pct(minimumEffect)} on ${primary.id}: stop and keep ${d.arms[0]!.arm}.`,
      reasons,
    )

  const v = verdict('keep-running', `No detectable effect yet on ${primary.id}: keep running.`, reasons)
  const needed = unitsStillNeeded(d, primary)
  if (needed.reason) reasons.push(needed.reason)
  if (needed.units !== null) {
    v.unitsNeeded = needed.units
    const pace = d.totalUnits / Math.max(1, d.elapsed)
    v.daysNeeded = needed.units === 0 ? 0 : Math.ceil(needed.units / pace)
    v.summary =
      needed.units === 0
        ? `No detectable effect on ${primary.id} at the planned size: any effect is probably smaller than ${pct(minimumEffect)}; stopping and keeping ${d.arms[0]!.arm} is reasonable.`
        : `No detectable effect yet on ${primary.id}: about ${needed.units.toLocaleString('en-US')} more units (${v.daysNeeded} more day${v.daysNeeded === 1 ? '' : 's'} at the current pace) to detect ${pct(minimumEffect)} with power ${d.power}.`
  }
  return v
}

function describe(e: EffectReport, method: AnalysisMethod): string {
  const rel = decisiveRelative(e, method)
  const p = method === 'sequential' ? e.sequentialPValue : e.pValueAdjusted
  const interval = rel ? `, interval ${pct(rel.lower)} to ${pct(rel.upper)}` : ''
  const est = e.relative ? pct(e.relative.estimate) : `${e.absolute.estimate.toPrecision(3)} absolute`
  return `${est}${interval}, p = ${p < 0.0001 ? p.toExponential(1) : p.toFixed(4)}`
}

// Units (all arms together) still needed to detect the minimum effect at the planned power, from
// the control's observed mean and the arms' observed variances.
function unitsStillNeeded(d: DecideInput, primary: MetricReport): { units: number | null; reason?: string } {
  if (!(d.minimumEffect > 0))
    return { units: null, reason: 'no minimum effect is set, so no sample size can be planned' }
  const control = primary.arms[0]
  if (!control || control.mean === null || control.variance === null || control.mean === 0)
    return { units: null, reason: 'too little data in the control to estimate the sample size still needed' }
  const variances = primary.arms.map((a) => a.variance).filter((v): v is number => v !== null)
  const pooled = variances.reduce((s, v) => s + v, 0) / variances.length
  if (!(pooled > 0))
    return { units: null, reason: 'no variation yet: the sample size still needed cannot be estimated' }
  const effectSize = (d.minimumEffect * Math.abs(control.mean)) / Math.sqrt(pooled)
  const perArm =
    d.settings.method === 'sequential'
      ? sampleSizeSequential(effectSize, d.settings.alphaAdjusted, d.power, d.settings.tuning)
      : sampleSizeFixed(effectSize, d.settings.alphaAdjusted, d.power)
  const minShare = Math.min(...d.arms.map((a) => a.expectedShare).filter((s) => s > 0))
  if (!Number.isFinite(perArm) || !(minShare > 0))
    return { units: null, reason: 'the sample size still needed cannot be estimated' }
  const total = Math.ceil(perArm / minShare)
  return { units: Math.max(0, total - d.totalUnits) }
}
