/**
 * Report computation time: `analyseExperiment` on 20 arms x 90 days, the largest experiment the
 * admin API is expected to serve, with three metrics (a binary primary, a revenue guardrail with a
 * CUPED covariate, a ratio metric), so every method runs: Welch with its t quantiles, the delta
 * method, CUPED, the confidence sequence, the Bayesian reading, SRM, the verdict and the 90-point
 * daily series. Also 2 arms x 30 days, the common case. Both methods (sequential and fixed).
 *
 *   npm run bench:report        (tsx bench/experiments.ts)
 */
import { analyseExperiment } from '../worker/experiments/analysis'
import type { ArmDay, ExperimentInput } from '../worker/experiments/types'

function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Sums drawn directly (not unit by unit): what is timed is the analysis, not the data.
function experiment(arms: number, days: number): ExperimentInput {
  const next = rng(arms * 1000 + days)
  const names = Array.from({ length: arms }, (_, i) => `arm${i}`)
  const rows: ArmDay[] = []
  for (let d = 0; d < days; d++)
    for (const arm of names) {
      const units = 900 + Math.floor(next() * 200)
      const converted = Math.round(units * (0.05 + next() * 0.01))
      const revenue = converted * 40 * (0.9 + next() * 0.2)
      const orders = converted + Math.round(next() * 10)
      rows.push({
        arm,
        day: new Date(Date.UTC(2026, 0, 1 + d)).toISOString().slice(0, 10),
        units,
        metrics: {
          converted: { sum: converted, sumSq: converted },
          revenue: {
            sum: revenue,
            sumSq: revenue * 60,
            covSum: revenue * 0.8,
            covSumSq: revenue * 45,
            covCross: revenue * 30,
          },
          aov: {
            sum: revenue,
            sumSq: revenue * 60,
            denSum: orders,
            denSumSq: orders * 1.3,
            crossSum: revenue * 1.5,
          },
        },
      })
    }
  return {
    id: `bench-${arms}x${days}`,
    control: names[0]!,
    arms: names,
    weights: Object.fromEntries(names.map((a) => [a, 1])),
    metrics: [
      { id: 'converted', kind: 'binary', event: 'purchase', windowDays: 7, higherIsBetter: true },
      {
        id: 'revenue',
        kind: 'revenue',
        event: 'purchase',
        prop: 'value',
        windowDays: 7,
        higherIsBetter: true,
      },
      {
        id: 'aov',
        kind: 'ratio',
        event: 'purchase',
        prop: 'value',
        denominator: { event: 'purchase' },
        windowDays: 7,
        higherIsBetter: true,
      },
    ],
    policy: { primary: 'converted', guardrails: ['revenue'], alpha: 0.05, power: 0.8, minimumEffect: 0.02 },
    rows,
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const now = new Date('2026-04-01T00:00:00Z')

for (const [arms, days] of [
  [20, 90],
  [2, 30],
] as const) {
  const input = experiment(arms, days)
  for (const method of ['sequential', 'fixed'] as const) {
    // Warm up so V8 has compiled the engine, then time single reports (what one admin request costs).
    for (let i = 0; i < 20; i++) analyseExperiment(input, { now, method })
    const times: number[] = []
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now()
      analyseExperiment(input, { now, method })
      times.push(performance.now() - t0)
    }
    const cold = experiment(arms, days)
    console.log(
      `${arms} arms x ${days} days (${input.rows.length} rows, 3 metrics), ${method}: ` +
        `median ${median(times).toFixed(2)} ms, min ${Math.min(...times).toFixed(2)} ms, max ${Math.max(...times).toFixed(2)} ms` +
        ` over 50 reports; series ${analyseExperiment(cold, { now, method }).series.length} points`,
    )
  }
}
