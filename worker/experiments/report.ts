/**
 * The experiment report the statistics engine returns (`analyseExperiment` in analysis.ts) and the
 * admin API serves: per arm units, per metric means and effects against the control (frequentist,
 * sequential and Bayesian), the sample ratio check, a verdict in words and a daily cumulative
 * series for plots. Every number is finite or null, so the report is plain JSON.
 */
import type { MetricKind } from './types'

export interface Interval {
  lower: number
  upper: number
}

export type AnalysisMethod = 'sequential' | 'fixed'

export interface ArmReport {
  arm: string
  isControl: boolean
  units: number
  /** Configured weight as a share of the total (0-1). */
  expectedShare: number
  /** Observed share of units (0-1; 0 when there are none). */
  observedShare: number
}

export interface EffectReport {
  /** Treatment minus control, in the metric's units. */
  absolute: { estimate: number; stdError: number; interval: Interval; sequentialInterval: Interval }
  /** Treatment / control - 1; null when the control's mean is 0. */
  relative: { estimate: number; stdError: number; interval: Interval; sequentialInterval: Interval } | null
  /** Welch's two-sided test, fixed horizon: valid for one look at a planned size. */
  pValue: number
  /** Bonferroni-adjusted over the treatment arms. */
  pValueAdjusted: number
  /** Always-valid p-value of the confidence sequence (already adjusted over the arms). */
  sequentialPValue: number
  degreesOfFreedom: number
  /** Bayesian, on the relative effect (null when the relative effect is). */
  bayes: {
    chanceToBeatControl: number
    expectedLoss: number
    riskOfControl: number
    credibleInterval: Interval
  } | null
  /** By the report's method and its adjusted α: is the arm better, worse, or not distinguishable? */
  outcome: 'better' | 'worse' | 'inconclusive'
}

export interface MetricArmReport {
  arm: string
  units: number
  /** Mean per unit (ratio metrics: Σ numerator / Σ denominator), CUPED-adjusted when applied. */
  mean: number | null
  /** Unit-level variance (the mean's variance is variance / units). */
  variance: number | null
  /** 1 - α interval of the mean (Wilson score for a binary metric, normal otherwise). */
  interval: Interval | null
  /** Against the control; null for the control itself, or when it cannot be estimated (see `note`). */
  effect: EffectReport | null
  note?: string
}

export interface MetricReport {
  id: string
  kind: MetricKind
  role: 'primary' | 'guardrail' | 'secondary'
  higherIsBetter: boolean
  cuped: { theta: number; varianceReduction: number } | null
  arms: MetricArmReport[]
}

export type VerdictKind = 'ship' | 'keep-running' | 'no-effect' | 'stop-guardrail' | 'invalid-srm' | 'no-data'

export interface Verdict {
  kind: VerdictKind
  /** The arm to ship (ship), or the arms that harmed a guardrail (stop-guardrail). */
  arms: string[]
  /** One sentence a marketer can act on. */
  summary: string
  /** Why, in words, one line per finding. */
  reasons: string[]
  /** keep-running: more units (all arms together) and days at the current pace, when estimable. */
  unitsNeeded: number | null
  daysNeeded: number | null
}

export interface SeriesArmPoint {
  units: number
  mean: number | null
  /** Relative effect on the primary metric against control, with its confidence sequence. */
  relative: number | null
  lower: number | null
  upper: number | null
  chanceToBeatControl: number | null
}

/** Cumulative state of the experiment at the end of one UTC day. */
export interface SeriesPoint {
  day: string
  arms: Record<string, SeriesArmPoint>
}

export interface ExperimentReport {
  id: string
  generatedAt: string
  method: AnalysisMethod
  alpha: number
  power: number
  minimumEffect: number
  correction: { method: 'bonferroni'; comparisons: number; alphaPerComparison: number }
  sequentialTuning: number
  control: string
  primary: string
  days: { first: string | null; last: string | null; elapsed: number }
  totalUnits: number
  arms: ArmReport[]
  srm: { chiSquare: number; df: number; pValue: number; flagged: boolean; expected: Record<string, number> }
  metrics: MetricReport[]
  verdict: Verdict
  series: SeriesPoint[]
  /** Input the engine ignored, and why (unknown arms, malformed rows, unknown metrics). */
  warnings: string[]
}
