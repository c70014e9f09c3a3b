/**
 * Planning: how many units an experiment needs to detect its minimum effect at its power, and how
 * many days that takes at a given daily traffic.
 *
 * Fixed horizon: the two-sample normal power calculation (J. Cohen, Statistical Power Analysis for
 * the Behavioral Sciences, 2nd ed. 1988, chapters 2 and 6), solved exactly as statsmodels'
 * `NormalIndPower.solve_power` (the oracle): power(n) = Φ(|d|√m - z) + Φ(-|d|√m - z) with
 * m = 1 / (1/n₁ + 1/n₂) and z = Φ⁻¹(1 - α/2). The standardised effect d is Cohen's h,
 * 2·asin√p₂ - 2·asin√p₁, for a conversion rate (statsmodels' `proportion_effectsize`), and
 * δ / σ for any other metric. With several treatment arms, α is split by Bonferroni.
 *
 * Sequential (daily looks allowed): the smallest size at which the confidence sequence's
 * half-width plus z(power) standard errors fits inside the effect, that is at which a true effect
 * of that size is outside the sequence with the planned probability at that size (an
 * approximation at one look; see stats-frequentist.ts for the sequence).
 */
import { sequentialHalfWidth } from './stats-frequentist'
import { normalCdf, normalQuantile } from './stats-numerics'

/** Power of the two-sided two-sample z-test for effect size d with n₁ and ratio·n₁ units. */
export function normalPower(effectSize: number, n1: number, alpha: number, ratio = 1): number {
  const m = 1 / (1 / n1 + 1 / (n1 * ratio))
  const z = normalQuantile(1 - alpha / 2)
  const d = Math.abs(effectSize)
  return normalCdf(d * Math.sqrt(m) - z) + normalCdf(-d * Math.sqrt(m) - z)
}

// Smallest x in (0, ∞) with ok(x) true, for a predicate that stays true once true.
function solveMonotone(ok: (x: number) => boolean): number {
  let hi = 1
  while (!ok(hi)) {
    hi *= 2
    if (hi > 1e15) return Infinity
  }
  let lo = 0
  for (let i = 0; i < 200 && hi - lo > 1e-10 * hi; i++) {
    const mid = (lo + hi) / 2
    if (ok(mid)) hi = mid
    else lo = mid
  }
  return hi
}

/** Units in the first group (not rounded) for the fixed-horizon test to reach `power`. */
export function sampleSizeFixed(effectSize: number, alpha: number, power: number, ratio = 1): number {
  if (!(Math.abs(effectSize) > 0)) return Infinity
  return solveMonotone((n) => normalPower(effectSize, n, alpha, ratio) >= power)
}

/**
 * Units per group (not rounded, equal groups) for the confidence sequence tuned at `tuning` total
 * units to exclude 0 with probability `power` when the effect is `effectSize` standard deviations.
 */
export function sampleSizeSequential(
  effectSize: number,
  alpha: number,
  power: number,
  tuning: number,
): number {
  const d = Math.abs(effectSize)
  if (!(d > 0)) return Infinity
  const zPower = normalQuantile(power)
  return solveMonotone((n) => {
    const se = Math.sqrt(2 / n)
    return sequentialHalfWidth(se, 2 * n, alpha, tuning) + zPower * se <= d
  })
}

/** Cohen's h between a baseline rate and the rate the minimum relative effect would give. */
export function cohensH(baseline: number, minimumEffect: number): number {
  const p2 = Math.min(1, Math.max(0, baseline * (1 + minimumEffect)))
  return 2 * Math.asin(Math.sqrt(p2)) - 2 * Math.asin(Math.sqrt(baseline))
}

export interface PlanInput {
  /** Baseline mean of the deciding metric (a rate for a binary metric). */
  baseline: number
  /** Unit-level standard deviation; required for a non-binary metric, ignored for a binary one. */
  sd?: number
  binary: boolean
  minimumEffect: number
  alpha: number
  power: number
  /** Arms including the control, equal split assumed. */
  arms: number
  /** Units entering the experiment per day (all arms together). */
  dailyUnits?: number
  /** The sequential method's tuning (units at which its sequence is tightest). */
  sequentialTuning?: number
}

export interface PlanSide {
  perArm: number
  total: number
  /** Days at `dailyUnits`, rounded up; null without traffic. */
  days: number | null
}

export type PlanResult =
  | {
      ok: true
      effectSize: number
      comparisons: number
      alphaPerComparison: number
      fixed: PlanSide
      sequential: PlanSide
    }
  | { ok: false; error: { reason: 'bad_input'; field: string } }

export const DEFAULT_SEQUENTIAL_TUNING = 5000

/**
 * Sample size and duration for a planned experiment. Example: a 5% conversion rate, a 10% relative
 * lift, α 0.05, power 0.8, two arms, 2,000 units a day:
 * `planSampleSize({ baseline: 0.05, binary: true, minimumEffect: 0.1, alpha: 0.05, power: 0.8, arms: 2, dailyUnits: 2000 })`
 * needs 31,218 units per arm (62,436 in all), 32 days at a fixed horizon.
 */
export function planSampleSize(input: PlanInput): PlanResult {
  const bad = (field: string): PlanResult => ({ ok: false, error: { reason: 'bad_input', field } })
  if (!(input.alpha > 0 && input.alpha < 1)) return bad('alpha')
  if (!(input.power > 0 && input.power < 1)) return bad('power')
  if (!(Number.isInteger(input.arms) && input.arms >= 2)) return bad('arms')
  if (!(Number.isFinite(input.minimumEffect) && input.minimumEffect !== 0)) return bad('minimumEffect')
  if (
    input.binary
      ? !(input.baseline > 0 && input.baseline < 1)
      : !Number.isFinite(input.baseline) || input.baseline === 0
  )
    return bad('baseline')
  if (!input.binary && !(input.sd !== undefined && input.sd > 0)) return bad('sd')
  if (input.dailyUnits !== undefined && !(input.dailyUnits > 0)) return bad('dailyUnits')
  const tuning = input.sequentialTuning ?? DEFAULT_SEQUENTIAL_TUNING
  if (!(tuning > 0)) return bad('sequentialTuning')
  const effectSize = input.binary
    ? cohensH(input.baseline, input.minimumEffect)
    : (Math.abs(input.baseline) * input.minimumEffect) / (input.sd as number)
  if (!(Math.abs(effectSize) > 0)) return bad('minimumEffect')
  const comparisons = input.arms - 1
  const alpha = input.alpha / comparisons
  const side = (perArmExact: number): PlanSide => {
    const perArm = Math.ceil(perArmExact)
    const total = perArm * input.arms
    return { perArm, total, days: input.dailyUnits ? Math.ceil(total / input.dailyUnits) : null }
  }
  return {
    ok: true,
    effectSize,
    comparisons,
    alphaPerComparison: alpha,
    fixed: side(sampleSizeFixed(effectSize, alpha, input.power)),
    sequential: side(sampleSizeSequential(effectSize, alpha, input.power, tuning)),
  }
}
