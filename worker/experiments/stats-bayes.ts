/**
 * Bayesian reading of one treatment arm against the control, with the Gaussian approximation
 * GrowthBook documents for its Bayesian engine: the relative effect's posterior is normal, centred
 * on the delta-method estimate with its standard error (a flat prior), or shrunk toward a normal
 * prior N(m0, s0²) by the conjugate update (precisions add; the mean is precision-weighted).
 *
 * Closed forms for δ ~ N(μ, σ²), "good" meaning a rise when higher is better and a fall otherwise
 * (g = μ or -μ):
 * - chance to beat control P(good) = Φ(g / σ);
 * - expected loss of shipping the arm E[max(0, -G)] = σ φ(g/σ) - g Φ(-g/σ), and of keeping the
 *   control E[max(0, G)] = σ φ(g/σ) + g Φ(g/σ) (the normal partial expectation; Johnson, Kotz and
 *   Balakrishnan, Continuous Univariate Distributions vol. 1, 13.10; used as "risk" by C. Stucchio,
 *   "Bayesian A/B Testing at VWO", 2015);
 * - credible interval μ ± z(1-α/2) σ.
 */
import { type Interval, zTwoSided } from './stats-frequentist'
import { normalCdf, normalPdf } from './stats-numerics'

export interface GaussianPrior {
  mean: number
  sd: number
}

export interface BayesResult {
  /** Posterior mean and standard deviation of the relative effect. */
  mean: number
  sd: number
  chanceToBeatControl: number
  /** Expected relative loss if this arm is shipped and it is in fact worse. */
  expectedLoss: number
  /** Expected relative loss if the control is kept and this arm is in fact better. */
  riskOfControl: number
  credibleInterval: Interval
}

export function bayesGaussian(
  estimate: number,
  stdError: number,
  higherIsBetter: boolean,
  alpha: number,
  prior?: GaussianPrior,
): BayesResult {
  let mean = estimate
  let sd = stdError
  if (prior && prior.sd > 0) {
    const precision = 1 / (stdError * stdError) + 1 / (prior.sd * prior.sd)
    mean = (estimate / (stdError * stdError) + prior.mean / (prior.sd * prior.sd)) / precision
    sd = Math.sqrt(1 / precision)
  }
  const g = higherIsBetter ? mean : -mean
  const z = g / sd
  const q = zTwoSided(alpha)
  return {
    mean,
    sd,
    chanceToBeatControl: normalCdf(z),
    expectedLoss: sd * normalPdf(z) - g * normalCdf(-z),
    riskOfControl: sd * normalPdf(z) + g * normalCdf(z),
    credibleInterval: { lower: mean - q * sd, upper: mean + q * sd },
  }
}
