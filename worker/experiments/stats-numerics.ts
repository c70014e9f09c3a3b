/**
 * Special functions the statistics engine needs, written out so the engine has no dependency and
 * runs the same in workerd and Node: log-gamma, the regularized incomplete gamma and beta
 * functions, and from them the normal, Student t and chi-square distributions with the quantiles
 * the intervals use. Each is checked against SciPy in test/experiments/oracle.test.ts.
 *
 * Sources:
 * - log-gamma: Lanczos approximation with the coefficients of Numerical Recipes, 3rd ed. (Press
 *   et al. 2007), section 6.1 (`gammln`), relative error below 1e-15.
 * - incomplete gamma: Numerical Recipes 3rd ed. section 6.2, series for x < a + 1 and the
 *   continued fraction (modified Lentz, section 5.2) otherwise.
 * - incomplete beta: Numerical Recipes 3rd ed. section 6.4 (`betacf`), continued fraction with the
 *   symmetry I_x(a, b) = 1 - I_{1-x}(b, a) for x > (a + 1) / (a + b + 2).
 * - normal CDF: Φ(x) = erfc(-x/√2) / 2 with erfc(x) = Q(1/2, x²) (Abramowitz and Stegun 7.1.2 and
 *   6.5.17).
 * - normal quantile: Acklam's rational approximation (P. J. Acklam, "An algorithm for computing
 *   the inverse normal cumulative distribution function", 2003; relative error 1.15e-9), then
 *   Newton steps on Φ to full double precision.
 * - Student t CDF: P(|T| > t) = I_{ν/(ν+t²)}(ν/2, 1/2) (Abramowitz and Stegun 26.7.1, 26.5.27);
 *   beyond 1e8 degrees of freedom, the first term of Fisher's expansion (26.7.5).
 * - chi-square CDF: P(X ≤ x) = P(k/2, x/2) (Abramowitz and Stegun 26.4.19).
 */

// Machine epsilon, compared with <=: a tighter bound can never be met and would run every loop to its cap.
const EPS = Number.EPSILON
const FPMIN = 1e-300
const MAX_ITERATIONS = 100_000

// The book's 18-digit coefficients, as the doubles they round to.
const LANCZOS = [
  57.15623566586292, -59.59796035547549, 14.136097974741746, -0.4919138160976202, 3.399464998481189e-5,
  4.652362892704858e-5, -9.837447530487956e-5, 1.580887032249125e-4, -2.1026444172410488e-4,
  2.1743961811521265e-4, -1.643181065367639e-4, 8.441822398385275e-5, -2.6190838401581408e-5,
  3.6899182659531625e-6,
]

/** ln Γ(x) for x > 0 (Numerical Recipes 3rd ed. 6.1). */
export function logGamma(x: number): number {
  if (!(x > 0)) return Number.NaN
  let y = x
  const tmp0 = x + 5.2421875
  const tmp = (x + 0.5) * Math.log(tmp0) - tmp0
  let ser = 0.9999999999999971
  for (const c of LANCZOS) ser += c / ++y
  return tmp + Math.log((2.5066282746310007 * ser) / x)
}

/** Regularized lower incomplete gamma P(a, x) = γ(a, x) / Γ(a), for a > 0 and x ≥ 0. */
export function gammaP(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return Number.NaN
  if (x === 0) return 0
  if (x === Infinity) return 1
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x)
}

/** Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x), accurate in the upper tail. */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return Number.NaN
  if (x === 0) return 1
  if (x === Infinity) return 0
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x)
}

function gammaSeries(a: number, x: number): number {
  let ap = a
  let del = 1 / a
  let sum = del
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    ap += 1
    del *= x / ap
    sum += del
    if (Math.abs(del) <= Math.abs(sum) * EPS) break
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a))
}

function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a
  let c = 1 / FPMIN
  let d = 1 / b
  let h = d
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < FPMIN) d = FPMIN
    c = b + an / c
    if (Math.abs(c) < FPMIN) c = FPMIN
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) <= EPS) break
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h
}

/** Regularized incomplete beta I_x(a, b) for a, b > 0 and 0 ≤ x ≤ 1 (Numerical Recipes 6.4). */
export function betaIncomplete(a: number, b: number, x: number): number {
  return betaIncompleteXY(a, b, x, 1 - x)
}

// x and y = 1 - x passed apart, so a caller that knows 1 - x exactly (the t tail near x = 1) keeps it.
function betaIncompleteXY(a: number, b: number, x: number, y: number): number {
  if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1)) return Number.NaN
  if (x === 0) return 0
  if (y === 0) return 1
  // ln x from y when x is near 1 (and the other way round): a·ln x with a in the millions magnifies
  // any rounding in x.
  const lnX = x < 0.5 ? Math.log(x) : Math.log1p(-y)
  const lnY = y < 0.5 ? Math.log(y) : Math.log1p(-x)
  const front = Math.exp(logBetaInverse(a, b) + a * lnX + b * lnY)
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x, y)) / a
  return 1 - (front * betaContinuedFraction(b, a, y, x)) / b
}

// ln(Γ(a+b) / (Γ(a)Γ(b))). With one argument large, ln Γ(a+b) - ln Γ(a) is a difference of two
// huge numbers; Stirling's series for the ratio (Abramowitz and Stegun 6.1.41, two terms, error
// below 1/(360 a³)) keeps it exact to double precision.
function logBetaInverse(a: number, b: number): number {
  const big = Math.max(a, b)
  const small = Math.min(a, b)
  if (big < 1e5) return logGamma(a + b) - logGamma(a) - logGamma(b)
  const ratio =
    (big - 0.5) * Math.log1p(small / big) +
    small * Math.log(big + small) -
    small +
    1 / (12 * (big + small)) -
    1 / (12 * big)
  return ratio - logGamma(small)
}

function betaContinuedFraction(a: number, b: number, x: number, y: number): number {
  const qab = a + b
  const qap = a + 1
  const qam = a - 1
  let c = 1
  // 1 - (a+b)x/(a+1), written with y = 1 - x so it keeps its precision when x is near 1.
  let d = (a * y + 1 - b * x) / qap
  if (Math.abs(d) < FPMIN) d = FPMIN
  d = 1 / d
  let h = d
  for (let m = 1; m < MAX_ITERATIONS; m++) {
    const m2 = 2 * m
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2))
    d = 1 + aa * d
    if (Math.abs(d) < FPMIN) d = FPMIN
    c = 1 + aa / c
    if (Math.abs(c) < FPMIN) c = FPMIN
    d = 1 / d
    h *= d * c
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2))
    d = 1 + aa * d
    if (Math.abs(d) < FPMIN) d = FPMIN
    c = 1 + aa / c
    if (Math.abs(c) < FPMIN) c = FPMIN
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) <= EPS) break
  }
  return h
}

/** The standard normal density φ(x). */
export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI)
}

/** The standard normal CDF Φ(x), accurate in both tails. */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN
  // erfc(z) = Q(1/2, z²) for z ≥ 0 and erfc(-z) = 2 - erfc(z).
  const z = x / Math.SQRT2
  if (z < 0) return 0.5 * gammaQ(0.5, z * z)
  return 1 - 0.5 * gammaQ(0.5, z * z)
}

/** The upper tail 1 - Φ(x), without cancellation for large x. */
export function normalSf(x: number): number {
  return normalCdf(-x)
}

const ACKLAM_A = [
  -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
  2.506628277459239,
]
const ACKLAM_B = [
  -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1,
]
const ACKLAM_C = [
  -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
]
const ACKLAM_D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416]

/** The standard normal quantile Φ⁻¹(p) for 0 < p < 1 (±Infinity at 0 and 1). */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) return Number.NaN
  if (p === 0) return -Infinity
  if (p === 1) return Infinity
  const [a0, a1, a2, a3, a4, a5] = ACKLAM_A as [number, number, number, number, number, number]
  const [b0, b1, b2, b3, b4] = ACKLAM_B as [number, number, number, number, number]
  const [c0, c1, c2, c3, c4, c5] = ACKLAM_C as [number, number, number, number, number, number]
  const [d0, d1, d2, d3] = ACKLAM_D as [number, number, number, number]
  const pLow = 0.02425
  let x: number
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p))
    x =
      (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
      ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
  } else if (p <= 1 - pLow) {
    const q = p - 0.5
    const r = q * q
    x =
      ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
      (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  } else {
    const q = Math.sqrt(-2 * Math.log1p(-p))
    x =
      -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
      ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
  }
  // Newton on Φ(x) = p, working on the smaller tail so the residual keeps its precision.
  for (let i = 0; i < 3; i++) {
    const density = normalPdf(x)
    if (density === 0) break
    const residual = p < 0.5 ? normalCdf(x) - p : 1 - p - normalSf(x)
    x -= residual / density
  }
  return x
}

/** P(T > t) for Student's t with `df` > 0 degrees of freedom (the upper tail). */
export function studentTSf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN
  if (df === Infinity) return normalSf(t)
  // Beyond 1e8 degrees of freedom the continued fraction sits on its slow boundary and loses ~1e-8;
  // the first term of Fisher's expansion (Abramowitz and Stegun 26.7.5) is exact to ~t⁶/df² there.
  if (df > 1e8) return normalSf(t) + (normalPdf(t) * (t * t * t + t)) / (4 * df)
  const t2 = t * t
  const tail = 0.5 * betaIncompleteXY(df / 2, 0.5, df / (df + t2), t2 / (df + t2))
  return t >= 0 ? tail : 1 - tail
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  return studentTSf(-t, df)
}

/** Student's t density with `df` degrees of freedom. */
export function studentTPdf(t: number, df: number): number {
  const logC = logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * Math.log(df * Math.PI)
  return Math.exp(logC - ((df + 1) / 2) * Math.log1p((t * t) / df))
}

/**
 * The Student t quantile: t with P(T ≤ t) = p. Newton's method on the upper tail from the normal
 * quantile, kept inside a bracket that bisection narrows whenever a Newton step would leave it
 * (so it always converges, in 3-6 steps for the levels intervals use).
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) {
    if (p === 0) return -Infinity
    if (p === 1) return Infinity
    return Number.NaN
  }
  if (df === Infinity) return normalQuantile(p)
  if (p < 0.5) return -studentTQuantile(1 - p, df)
  if (p === 0.5) return 0
  const tail = 1 - p
  let lo = 0
  let hi = Math.max(1, normalQuantile(p))
  while (studentTSf(hi, df) > tail) {
    lo = hi
    hi *= 2
  }
  let x = Math.min(hi, Math.max(lo, normalQuantile(p)))
  for (let i = 0; i < 200; i++) {
    const f = studentTSf(x, df) - tail
    if (f === 0) return x
    if (f > 0) lo = x
    else hi = x
    const density = studentTPdf(x, df)
    let next = density > 0 ? x + f / density : Number.NaN
    if (!(next > lo && next < hi)) next = (lo + hi) / 2
    if (Math.abs(next - x) <= 1e-15 * Math.abs(next) || hi - lo <= 1e-15 * hi) return next
    x = next
  }
  return x
}

/** P(X > x) for a chi-square variable with k degrees of freedom. */
export function chiSquareSf(x: number, k: number): number {
  if (!(k > 0) || Number.isNaN(x)) return Number.NaN
  if (x <= 0) return 1
  return gammaQ(k / 2, x / 2)
}
