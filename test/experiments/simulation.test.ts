/**
 * Statistical behaviour by simulation, with fixed seeds so every run sees the same draws: A/A
 * experiments keep the false positive rate at α (the sequential method even when read every day,
 * where the fixed-horizon test is shown to fail), an A/B test with the minimum effect reaches the
 * planned power at the planned size, and the sample ratio check fires on a skewed split and not on
 * a fair one. Bounds are three binomial standard deviations around the target, so a correct engine
 * passes and a miscalibrated one (say a 10% false positive rate) cannot.
 */
import { describe, expect, it } from 'vitest'
import { analyseExperiment } from '../../worker/experiments/analysis'
import { planSampleSize } from '../../worker/experiments/plan'
import { welch } from '../../worker/experiments/stats-frequentist'
import { addSums, emptySums, plainMoments } from '../../worker/experiments/stats-moments'
import { sampleRatioMismatch } from '../../worker/experiments/stats-srm'
import type { ArmDay, ExperimentInput } from '../../worker/experiments/types'

// mulberry32: a small seeded generator (T. Ettinger, public domain), plenty for Bernoulli draws.
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

const ALPHA = 0.05
const day = (i: number): string => new Date(Date.UTC(2026, 10, 1 + i)).toISOString().slice(0, 10)

/** Daily rows of a two-arm binary experiment: `perDay` units per arm and day, conversion rates pa, pb. */
function simulate(seed: number, days: number, perDay: number, pa: number, pb: number): ArmDay[] {
  const next = rng(seed)
  const rows: ArmDay[] = []
  for (let d = 0; d < days; d++)
    for (const [arm, p] of [
      ['a', pa],
      ['b', pb],
    ] as const) {
      let converted = 0
      for (let i = 0; i < perDay; i++) if (next() < p) converted++
      rows.push({
        arm,
        day: day(d),
        units: perDay,
        metrics: { purchase: { sum: converted, sumSq: converted } },
      })
    }
  return rows
}

function experiment(rows: ArmDay[], minimumEffect = 0.2): ExperimentInput {
  return {
    id: 'sim',
    control: 'a',
    arms: ['a', 'b'],
    weights: { a: 50, b: 50 },
    metrics: [{ id: 'purchase', kind: 'binary', event: 'purchase', windowDays: 7, higherIsBetter: true }],
    policy: { primary: 'purchase', guardrails: [], alpha: ALPHA, power: 0.8, minimumEffect },
    rows,
  }
}

const threeSd = (p: number, n: number): number => 3 * Math.sqrt((p * (1 - p)) / n)
const NOW = new Date('2026-12-01T00:00:00Z')

describe('A/A experiments', () => {
  const SIMS = 600
  const DAYS = 14
  const PER_DAY = 150
  const runs = Array.from({ length: SIMS }, (_, i) => simulate(1000 + i, DAYS, PER_DAY, 0.1, 0.1))

  it('one look at the end: the fixed-horizon test rejects at rate α', () => {
    let rejected = 0
    for (const rows of runs) {
      const report = analyseExperiment(experiment(rows), { method: 'fixed', now: NOW })
      if (report.metrics[0]!.arms[1]!.effect!.outcome !== 'inconclusive') rejected++
    }
    expect(Math.abs(rejected / SIMS - ALPHA)).toBeLessThanOrEqual(threeSd(ALPHA, SIMS))
  })

  it('looking every day: the confidence sequence keeps the false positive rate at or below α', () => {
    let rejected = 0
    for (const rows of runs) {
      const report = analyseExperiment(experiment(rows), { now: NOW })
      expect(report.series).toHaveLength(DAYS)
      const everExcludedZero = report.series.some((p) => {
        const b = p.arms.b!
        return b.lower !== null && b.upper !== null && (b.lower > 0 || b.upper < 0)
      })
      if (everExcludedZero) rejected++
    }
    expect(rejected / SIMS).toBeLessThanOrEqual(ALPHA + threeSd(ALPHA, SIMS))
  })

  it('looking every day with the fixed-horizon test instead inflates false positives well beyond α', () => {
    // Why the report defaults to the sequential method: stopping at the first p < α over 14 looks.
    let rejected = 0
    for (const rows of runs) {
      const a = emptySums()
      const b = emptySums()
      let hit = false
      for (let d = 0; d < DAYS; d++) {
        addSums(a, PER_DAY, rows[2 * d]!.metrics.purchase)
        addSums(b, PER_DAY, rows[2 * d + 1]!.metrics.purchase)
        const w = welch(plainMoments(a)!, plainMoments(b)!, ALPHA)
        if (w && w.pValue < ALPHA) hit = true
      }
      if (hit) rejected++
    }
    expect(rejected / SIMS).toBeGreaterThan(ALPHA + threeSd(ALPHA, SIMS))
  })
})

describe('A/B experiments with the minimum effect', () => {
  const BASELINE = 0.1
  const EFFECT = 0.2
  const SIMS = 300
  const plan = planSampleSize({
    baseline: BASELINE,
    binary: true,
    minimumEffect: EFFECT,
    alpha: ALPHA,
    power: 0.8,
    arms: 2,
  })
  if (!plan.ok) throw new Error('plan failed')

  it('reach the planned power at the fixed-horizon size', () => {
    const perDay = Math.ceil(plan.fixed.perArm / 10)
    let detected = 0
    for (let i = 0; i < SIMS; i++) {
      const rows = simulate(5000 + i, 10, perDay, BASELINE, BASELINE * (1 + EFFECT))
      const report = analyseExperiment(experiment(rows), { method: 'fixed', now: NOW })
      if (report.metrics[0]!.arms[1]!.effect!.outcome === 'better') detected++
    }
    expect(Math.abs(detected / SIMS - 0.8)).toBeLessThanOrEqual(threeSd(0.8, SIMS))
  })

  it('reach at least the planned power at the sequential size, read daily, and say "ship b"', () => {
    const perDay = Math.ceil(plan.sequential.perArm / 10)
    let detected = 0
    let shipped = 0
    for (let i = 0; i < SIMS; i++) {
      const rows = simulate(9000 + i, 10, perDay, BASELINE, BASELINE * (1 + EFFECT))
      const report = analyseExperiment(experiment(rows, 0), { now: NOW })
      if (report.series.some((p) => (p.arms.b!.lower ?? 0) > 0)) detected++
      if (report.verdict.kind === 'ship' && report.verdict.arms[0] === 'b') shipped++
    }
    expect(detected / SIMS).toBeGreaterThanOrEqual(0.8 - threeSd(0.8, SIMS))
    expect(shipped / SIMS).toBeGreaterThanOrEqual(0.8 - threeSd(0.8, SIMS))
  })
})

describe('sample ratio mismatch', () => {
  const SIMS = 500
  const UNITS = 10_000
  function split(seed: number, shareB: number): Record<string, number> {
    const next = rng(seed)
    let b = 0
    for (let i = 0; i < UNITS; i++) if (next() < shareB) b++
    return { a: UNITS - b, b }
  }

  it('does not fire on a fair 50/50 split (at most the 0.1% it allows, plus chance)', () => {
    let flagged = 0
    for (let i = 0; i < SIMS; i++)
      if (sampleRatioMismatch(split(20_000 + i, 0.5), { a: 50, b: 50 }).flagged) flagged++
    // Expected 0.5 of 500; three or more would happen by chance about 1.4% of the time.
    expect(flagged).toBeLessThanOrEqual(2)
  })

  it('fires on a 47/53 split and blocks the verdict', () => {
    let flagged = 0
    for (let i = 0; i < SIMS; i++)
      if (sampleRatioMismatch(split(30_000 + i, 0.53), { a: 50, b: 50 }).flagged) flagged++
    expect(flagged / SIMS).toBeGreaterThanOrEqual(0.99)
    const counts = split(30_000, 0.53)
    const rows: ArmDay[] = [
      { arm: 'a', day: day(0), units: counts.a!, metrics: { purchase: { sum: 100, sumSq: 100 } } },
      { arm: 'b', day: day(0), units: counts.b!, metrics: { purchase: { sum: 900, sumSq: 900 } } },
    ]
    const report = analyseExperiment(experiment(rows), { now: NOW })
    expect(report.srm.flagged).toBe(true)
    // A huge apparent effect, but the split is broken: the report refuses to call it.
    expect(report.metrics[0]!.arms[1]!.effect!.outcome).toBe('better')
    expect(report.verdict.kind).toBe('invalid-srm')
  })
})
