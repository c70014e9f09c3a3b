/**
 * From sufficient statistics (the `MetricSums` of one arm, merged over days) to the mean and the
 * unit-level variance the tests use, for every metric kind, with CUPED when a pre-exposure
 * covariate was kept. A `Moments` value means: the estimate is `mean`, and its variance is
 * `variance / n`.
 *
 * Methods:
 * - sample variance with the n - 1 denominator (the one Welch's test uses);
 * - ratio metrics by the delta method: for R = x̄ / ȳ, Var(R) ≈ (σx² - 2Rσxy + R²σy²) / (n ȳ²)
 *   (Deng, Knoblich and Lu, "Applying the Delta Method in Metric Analytics", KDD 2018, section 3);
 * - CUPED (Deng, Xu, Kohavi and Walker, "Improving the Sensitivity of Online Controlled
 *   Experiments by Utilizing Pre-Experiment Data", WSDM 2013): each unit's value becomes
 *   x - θ(c - c̄) with θ = cov(x, c) / var(c). θ is pooled across arms from the within-arm sums of
 *   squares, which makes the adjusted difference of means equal to the treatment coefficient of the
 *   regression x ~ arm + c (checked against statsmodels OLS).
 */
import type { MetricKind, MetricSums } from './types'

export interface Moments {
  n: number
  mean: number
  /** Unit-level variance: the estimate's variance is variance / n. */
  variance: number
}

// Sums at the edge of double range (or inconsistent ones) can overflow; such moments are unusable.
function finite(m: Moments): Moments | null {
  return Number.isFinite(m.mean) && Number.isFinite(m.variance) ? m : null
}

/** Every field of `MetricSums` present (missing sums read as zero), merged over days. */
export interface FullSums {
  n: number
  sum: number
  sumSq: number
  denSum: number
  denSumSq: number
  crossSum: number
  covSum: number
  covSumSq: number
  covCross: number
}

export function emptySums(): FullSums {
  return { n: 0, sum: 0, sumSq: 0, denSum: 0, denSumSq: 0, crossSum: 0, covSum: 0, covSumSq: 0, covCross: 0 }
}

/** Adds one day's sums (and its units) into `into`. Merging is order-free, as for shards. */
export function addSums(into: FullSums, units: number, sums: MetricSums | undefined): void {
  into.n += units
  if (!sums) return
  into.sum += sums.sum
  into.sumSq += sums.sumSq
  into.denSum += sums.denSum ?? 0
  into.denSumSq += sums.denSumSq ?? 0
  into.crossSum += sums.crossSum ?? 0
  into.covSum += sums.covSum ?? 0
  into.covSumSq += sums.covSumSq ?? 0
  into.covCross += sums.covCross ?? 0
}

// Σ(a - ā)(b - b̄) from Σa, Σb, Σab; clamped at 0 for a square (rounding can make it -1e-12).
function centred(n: number, sa: number, sb: number, sab: number, square: boolean): number {
  const v = sab - (sa * sb) / n
  return square && v < 0 ? 0 : v
}

/** Mean and unit-level variance of a plain metric (binary, count, revenue); null below 2 units. */
export function plainMoments(s: FullSums): Moments | null {
  if (s.n < 2) return null
  return finite({
    n: s.n,
    mean: s.sum / s.n,
    variance: centred(s.n, s.sum, s.sum, s.sumSq, true) / (s.n - 1),
  })
}

/** Ratio metric Σx / Σy by the delta method; null below 2 units or with no denominator. */
export function ratioMoments(s: FullSums): Moments | null {
  if (s.n < 2 || s.denSum === 0) return null
  const mx = s.sum / s.n
  const my = s.denSum / s.n
  const ratio = mx / my
  const vx = centred(s.n, s.sum, s.sum, s.sumSq, true) / (s.n - 1)
  const vy = centred(s.n, s.denSum, s.denSum, s.denSumSq, true) / (s.n - 1)
  const cxy = centred(s.n, s.sum, s.denSum, s.crossSum, false) / (s.n - 1)
  const variance = Math.max(0, (vx - 2 * ratio * cxy + ratio * ratio * vy) / (my * my))
  return finite({ n: s.n, mean: ratio, variance })
}

export function metricMoments(kind: MetricKind, s: FullSums): Moments | null {
  return kind === 'ratio' ? ratioMoments(s) : plainMoments(s)
}

export interface CupedResult {
  theta: number
  /** Per arm (same order as the input), the adjusted moments. */
  adjusted: (Moments | null)[]
}

/**
 * CUPED over the arms of one metric. Returns null when there is no covariate (no arm kept one) or
 * it does not vary within arms, in which case the caller uses the plain moments.
 */
export function cuped(arms: FullSums[]): CupedResult | null {
  let sxc = 0
  let scc = 0
  let totalN = 0
  let totalC = 0
  for (const s of arms) {
    if (s.n < 2) continue
    sxc += centred(s.n, s.sum, s.covSum, s.covCross, false)
    scc += centred(s.n, s.covSum, s.covSum, s.covSumSq, true)
    totalN += s.n
    totalC += s.covSum
  }
  // A covariate that never varies within an arm carries no information (and θ would divide by 0).
  if (!(scc > 0) || totalN === 0) return null
  const theta = sxc / scc
  if (!Number.isFinite(theta)) return null
  const grandC = totalC / totalN
  const adjusted = arms.map((s): Moments | null => {
    if (s.n < 2) return null
    const vx = centred(s.n, s.sum, s.sum, s.sumSq, true) / (s.n - 1)
    const vc = centred(s.n, s.covSum, s.covSum, s.covSumSq, true) / (s.n - 1)
    const cxc = centred(s.n, s.sum, s.covSum, s.covCross, false) / (s.n - 1)
    return finite({
      n: s.n,
      mean: s.sum / s.n - theta * (s.covSum / s.n - grandC),
      variance: Math.max(0, vx - 2 * theta * cxc + theta * theta * vc),
    })
  })
  // An adjustment that overflows in any arm is not used at all (arms must be comparable).
  if (adjusted.some((m, i) => m === null && arms[i]!.n >= 2)) return null
  return { theta, adjusted }
}

/** True when any arm kept a pre-exposure covariate for this metric. */
export function hasCovariate(arms: FullSums[]): boolean {
  return arms.some((s) => s.covSum !== 0 || s.covSumSq !== 0 || s.covCross !== 0)
}
