/**
 * Sample ratio mismatch: does the split of units across arms match the configured weights? A
 * chi-square goodness-of-fit test (Pearson 1900; `scipy.stats.chisquare` is the oracle), flagged
 * at p < 0.001, the threshold Fabijan et al. recommend ("Diagnosing Sample Ratio Mismatch in Online
 * Controlled Experiments", KDD 2019) and GrowthBook uses. A flagged split means assignment or
 * logging is broken for some units, so no effect estimate can be trusted until it is explained.
 */
import { chiSquareSf } from './stats-numerics'

export const SRM_THRESHOLD = 0.001

export interface SrmResult {
  chiSquare: number
  df: number
  pValue: number
  flagged: boolean
  /** Units each arm should have had under the configured weights. */
  expected: Record<string, number>
  observed: Record<string, number>
}

/**
 * Chi-square test of observed units per arm against weights (any positive scale). An arm with
 * weight 0 that received units is a mismatch by itself (p = 0); arms with weight 0 and no units
 * take no part. With no units at all there is nothing to test (p = 1).
 */
export function sampleRatioMismatch(
  observed: Record<string, number>,
  weights: Record<string, number>,
): SrmResult {
  const arms = Object.keys(observed)
  const total = arms.reduce((s, a) => s + (observed[a] ?? 0), 0)
  const weightSum = arms.reduce((s, a) => s + Math.max(0, weights[a] ?? 0), 0)
  const expected: Record<string, number> = {}
  let chiSquare = 0
  let cells = 0
  let impossible = false
  for (const arm of arms) {
    const w = Math.max(0, weights[arm] ?? 0)
    const o = observed[arm] ?? 0
    const e = weightSum > 0 ? (total * w) / weightSum : 0
    expected[arm] = e
    if (w === 0) {
      if (o > 0) impossible = true
      continue
    }
    cells++
    if (e > 0) chiSquare += ((o - e) * (o - e)) / e
  }
  const df = Math.max(0, cells - 1)
  let pValue = 1
  if (impossible) pValue = 0
  else if (total > 0 && df > 0) pValue = chiSquareSf(chiSquare, df)
  return {
    chiSquare,
    df,
    pValue,
    flagged: pValue < SRM_THRESHOLD,
    expected,
    observed: { ...observed },
  }
}
