/**
 * Frequentist comparison of one treatment arm with the control: Welch's two-sided t-test on the
 * absolute difference, the relative difference by the delta method, and the always-valid
 * confidence sequence that lets a marketer look every day.
 *
 * Sources:
 * - Welch's test and the Welch-Satterthwaite degrees of freedom: B. L. Welch, "The generalization
 *   of 'Student's' problem when several different population variances are involved",
 *   Biometrika 34 (1947); checked against `scipy.stats.ttest_ind(equal_var=False)`.
 * - Relative effect Δ = x̄t / x̄c - 1, Var(Δ) ≈ σt²/(nt x̄c²) + x̄t² σc²/(nc x̄c⁴) (delta method:
 *   Deng, Knoblich and Lu, KDD 2018, section 3.3).
 * - Confidence sequence: the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy
 *   and Ramdas, "Time-uniform central limit theory and asymptotic confidence sequences" (Annals of
 *   Statistics, 2024; arXiv:2103.06476), Theorem 2.2 with the boundary of Howard, Ramdas,
 *   McAuliffe and Sekhon (2021): for N units and an estimate whose variance is s²/N,
 *   half-width = s √( 2(Nρ² + 1) / (N²ρ²) · ln(√(Nρ² + 1) / α) ), with ρ chosen so the sequence
 *   is tightest at N* units: ρ² = (-2 ln α + ln(-2 ln α + 1)) / N*. This is the method GrowthBook
 *   documents for sequential testing, with N* its tuning parameter (default 5,000).
 */
import type { Moments } from './stats-moments'
import { normalQuantile, studentTQuantile, studentTSf } from './stats-numerics'

export interface Interval {
  lower: number
  upper: number
}

export interface WelchResult {
  estimate: number
  stdError: number
  df: number
  t: number
  pValue: number
  interval: Interval
  /** t(1 - α/2, df): the multiplier of the interval, reused for the relative effect's. */
  quantile: number
}

/** The Welch-Satterthwaite degrees of freedom for two means with unit variances v and sizes n. */
export function welchDf(c: Moments, t: Moments): number {
  const a = c.variance / c.n
  const b = t.variance / t.n
  const num = (a + b) * (a + b)
  const den = (a * a) / (c.n - 1) + (b * b) / (t.n - 1)
  return den > 0 ? num / den : Infinity
}

/** Welch's two-sided t-test of treatment minus control; null when the difference has no variance. */
export function welch(c: Moments, t: Moments, alpha: number): WelchResult | null {
  const se = Math.sqrt(c.variance / c.n + t.variance / t.n)
  if (!(se > 0 && Number.isFinite(se))) return null
  const df = welchDf(c, t)
  const estimate = t.mean - c.mean
  const stat = estimate / se
  const pValue = Math.min(1, 2 * studentTSf(Math.abs(stat), df))
  const q = studentTQuantile(1 - alpha / 2, df)
  return {
    estimate,
    stdError: se,
    df,
    t: stat,
    pValue,
    interval: { lower: estimate - q * se, upper: estimate + q * se },
    quantile: q,
  }
}

export interface RelativeResult {
  estimate: number
  stdError: number
}

/** The relative difference x̄t / x̄c - 1 and its delta-method standard error; null if x̄c is 0. */
export function relativeDelta(c: Moments, t: Moments): RelativeResult | null {
  if (c.mean === 0) return null
  const mc = c.mean
  const variance = t.variance / (t.n * mc * mc) + (t.mean * t.mean * c.variance) / (c.n * mc * mc * mc * mc)
  if (!(variance > 0 && Number.isFinite(variance))) return null
  return { estimate: t.mean / mc - 1, stdError: Math.sqrt(variance) }
}

/** estimate ± quantile·se (the relative effect's interval, with the Welch test's quantile). */
export function tInterval(estimate: number, se: number, quantile: number): Interval {
  return { lower: estimate - quantile * se, upper: estimate + quantile * se }
}

/** ρ² of the confidence sequence, tightest at `tuning` units (Waudby-Smith et al., section 3.1). */
export function sequentialRhoSquared(alpha: number, tuning: number): number {
  const l = -2 * Math.log(alpha)
  return (l + Math.log(l + 1)) / tuning
}

/**
 * Half-width of the asymptotic confidence sequence after `n` units for an estimate with standard
 * error `se` (so s² = n·se²). Valid at every n at once: looking daily does not inflate α.
 */
export function sequentialHalfWidth(se: number, n: number, alpha: number, tuning: number): number {
  const rho2 = sequentialRhoSquared(alpha, tuning)
  const s = se * Math.sqrt(n)
  const nr = n * rho2 + 1
  return s * Math.sqrt(((2 * nr) / (n * n * rho2)) * Math.log(Math.sqrt(nr) / alpha))
}

/**
 * The always-valid p-value: the smallest α' at which the sequence (with ρ fixed at the configured
 * α) excludes 0. Solving half-width = |estimate| for α' gives it in closed form:
 * α' = √(Nρ² + 1) · exp(-(estimate / se)² N ρ² / (2 (Nρ² + 1))).
 */
export function sequentialPValue(
  estimate: number,
  se: number,
  n: number,
  alpha: number,
  tuning: number,
): number {
  const rho2 = sequentialRhoSquared(alpha, tuning)
  const nr = n * rho2 + 1
  const z2 = (estimate * estimate) / (se * se)
  return Math.min(1, Math.sqrt(nr) * Math.exp(-(z2 * rho2 * n) / (2 * nr)))
}

/** Bonferroni: p-values multiplied by the number of comparisons, capped at 1. */
export function bonferroni(pValue: number, comparisons: number): number {
  return Math.min(1, pValue * Math.max(1, comparisons))
}

// The report asks for the same one or two levels thousands of times (every arm and day).
let lastAlpha = Number.NaN
let lastZ = Number.NaN

/** z for a two-sided interval at level 1 - alpha. */
export function zTwoSided(alpha: number): number {
  if (alpha !== lastAlpha) {
    lastZ = normalQuantile(1 - alpha / 2)
    lastAlpha = alpha
  }
  return lastZ
}
