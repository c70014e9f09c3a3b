/**
 * What the report tells a marketer: each verdict from the situation that calls for it, the words
 * that explain it, and the engine's answer to bad rows (skipped and named, never a throw, never a
 * number that is not JSON).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { analyseExperiment } from '../../worker/experiments/analysis'
import type { ArmDay, ExperimentInput, MetricSums } from '../../worker/experiments/types'

const NOW = new Date('2026-11-10T12:00:00Z')
const bin = (converted: number): MetricSums => ({ sum: converted, sumSq: converted })

function input(
  rows: ArmDay[],
  over: Partial<ExperimentInput['policy']> = {},
  arms = ['a', 'b'],
): ExperimentInput {
  return {
    id: 'hero',
    control: 'a',
    arms,
    weights: Object.fromEntries(arms.map((a) => [a, 100 / arms.length])),
    metrics: [
      { id: 'purchase', kind: 'binary', event: 'purchase', windowDays: 7, higherIsBetter: true },
      { id: 'refund', kind: 'binary', event: 'refund', windowDays: 14, higherIsBetter: false },
    ],
    policy: {
      primary: 'purchase',
      guardrails: ['refund'],
      alpha: 0.05,
      power: 0.8,
      minimumEffect: 0.05,
      ...over,
    },
    rows,
  }
}

/** One row per arm and day for `days` days, with the given conversions per day. */
function daily(
  days: number,
  perArm: Record<string, { units: number; purchase: number; refund: number }>,
): ArmDay[] {
  const rows: ArmDay[] = []
  for (let d = 0; d < days; d++)
    for (const [arm, v] of Object.entries(perArm))
      rows.push({
        arm,
        day: new Date(Date.UTC(2026, 10, 1 + d)).toISOString().slice(0, 10),
        units: v.units,
        metrics: { purchase: bin(v.purchase), refund: bin(v.refund) },
      })
  return rows
}

describe('verdicts', () => {
  it('no exposures: says there is no data yet', () => {
    const r = analyseExperiment(input([]), { now: NOW })
    expect(r.verdict.kind).toBe('no-data')
    expect(r.totalUnits).toBe(0)
    expect(r.series).toEqual([])
  })

  it('a clear winner on the primary metric with guardrails intact: ship it, with the lift in words', () => {
    const rows = daily(10, {
      a: { units: 2000, purchase: 100, refund: 10 },
      b: { units: 2000, purchase: 130, refund: 10 },
    })
    const r = analyseExperiment(input(rows), { now: NOW })
    expect(r.verdict.kind).toBe('ship')
    expect(r.verdict.arms).toEqual(['b'])
    expect(r.verdict.summary).toBe('Ship b (+30.0% on purchase).')
    expect(r.verdict.reasons[0]).toMatch(/^b beats a on purchase: \+30\.0%, interval \+\d/)
  })

  it('an arm that raises refunds (lower is better) is stopped even when it sells more', () => {
    const rows = daily(10, {
      a: { units: 2000, purchase: 100, refund: 10 },
      b: { units: 2000, purchase: 130, refund: 30 },
    })
    const r = analyseExperiment(input(rows), { now: NOW })
    expect(r.metrics[1]!.arms[1]!.effect!.outcome).toBe('worse')
    expect(r.verdict.kind).toBe('stop-guardrail')
    expect(r.verdict.arms).toEqual(['b'])
    expect(r.verdict.summary).toBe('Stop: b harms a guardrail (refund).')
  })

  it('with three arms, the winner that keeps the guardrails is shipped and the harmful one named', () => {
    const rows = daily(10, {
      a: { units: 2000, purchase: 100, refund: 10 },
      b: { units: 2000, purchase: 140, refund: 30 },
      c: { units: 2000, purchase: 125, refund: 10 },
    })
    const r = analyseExperiment(input(rows, {}, ['a', 'b', 'c']), { now: NOW })
    expect(r.correction).toEqual({ method: 'bonferroni', comparisons: 2, alphaPerComparison: 0.025 })
    expect(r.verdict.kind).toBe('ship')
    expect(r.verdict.arms).toEqual(['c'])
    expect(r.verdict.reasons.some((x) => x.startsWith('b harms guardrail refund'))).toBe(true)
  })

  it('too early to tell: keep running, with the units and days still needed at the current pace', () => {
    const rows = daily(3, {
      a: { units: 500, purchase: 25, refund: 2 },
      b: { units: 500, purchase: 26, refund: 2 },
    })
    const r = analyseExperiment(input(rows), { now: new Date('2026-11-03T18:00:00Z') })
    expect(r.verdict.kind).toBe('keep-running')
    expect(r.verdict.unitsNeeded).toBeGreaterThan(100_000)
    // 3,000 units in 3 days: 1,000 a day.
    expect(r.verdict.daysNeeded).toBe(Math.ceil(r.verdict.unitsNeeded! / 1000))
    expect(r.verdict.summary).toMatch(
      /^No detectable effect yet on purchase: about [\d,]+ more units \(\d+ more days at the current pace\) to detect \+5\.0% with power 0\.8\.$/,
    )
  })

  it('a large flat experiment: no arm can reach the minimum effect, so stop and keep the control', () => {
    const rows = daily(20, {
      a: { units: 50_000, purchase: 5000, refund: 100 },
      b: { units: 50_000, purchase: 5000, refund: 100 },
    })
    const r = analyseExperiment(input(rows), { now: NOW })
    expect(r.verdict.kind).toBe('no-effect')
    expect(r.verdict.summary).toBe(
      'No arm can beat a by the minimum effect of +5.0% on purchase: stop and keep a.',
    )
  })

  it('a sample ratio mismatch blocks even a clear winner, and says the observed split', () => {
    const rows = daily(10, {
      a: { units: 2000, purchase: 100, refund: 10 },
      b: { units: 2300, purchase: 160, refund: 10 },
    })
    const r = analyseExperiment(input(rows), { now: NOW })
    expect(r.verdict.kind).toBe('invalid-srm')
    expect(r.verdict.reasons[1]).toBe('observed split: a 46.5% (planned 50.0%), b 53.5% (planned 50.0%)')
  })

  it('fixed-horizon and sequential readings differ only in their intervals, and sequential is wider', () => {
    const rows = daily(5, {
      a: { units: 1000, purchase: 50, refund: 5 },
      b: { units: 1000, purchase: 62, refund: 5 },
    })
    const seq = analyseExperiment(input(rows), { now: NOW }).metrics[0]!.arms[1]!.effect!
    const fixed = analyseExperiment(input(rows), { now: NOW, method: 'fixed' }).metrics[0]!.arms[1]!.effect!
    expect(seq.pValue).toBe(fixed.pValue)
    const width = (i: { lower: number; upper: number }) => i.upper - i.lower
    expect(width(seq.absolute.sequentialInterval)).toBeGreaterThan(width(seq.absolute.interval))
    expect(seq.sequentialPValue).toBeGreaterThan(seq.pValue)
  })
})

// Paths of numbers JSON cannot carry (NaN, ±Infinity would arrive as null).
function nonFinite(value: unknown, path: string): string[] {
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [`${path} = ${value}`]
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => nonFinite(v, `${path}.${k}`))
  return []
}

describe('bad input is skipped and named, never thrown', () => {
  it('rows for unknown arms, negative or fractional units, bad days and non-numeric sums are ignored', () => {
    const good = daily(2, {
      a: { units: 100, purchase: 5, refund: 1 },
      b: { units: 100, purchase: 6, refund: 1 },
    })
    const bad = [
      { arm: 'zz', day: '2026-11-01', units: 10, metrics: {} },
      { arm: 'a', day: '2026-11-01', units: -5, metrics: {} },
      { arm: 'a', day: '2026-11-01', units: 1.5, metrics: {} },
      { arm: 'a', day: 'yesterday', units: 5, metrics: {} },
      { arm: 'b', day: '2026-11-01', units: 5, metrics: { purchase: { sum: Number.NaN, sumSq: 1 } } },
      { arm: 'b', day: '2026-11-01', units: 5, metrics: { purchase: { sum: 1, sumSq: -1 } } },
      null,
    ] as unknown as ArmDay[]
    const r = analyseExperiment(input([...good, ...bad]), { now: NOW })
    expect(r.totalUnits).toBe(400)
    expect(r.warnings).toEqual([
      '1 row(s) for arm "zz", which is not in the experiment, ignored',
      '6 malformed row(s) ignored',
    ])
  })

  it('a policy naming undefined metrics or an impossible alpha is reported, with safe defaults', () => {
    const rows = daily(2, {
      a: { units: 100, purchase: 5, refund: 1 },
      b: { units: 100, purchase: 6, refund: 1 },
    })
    const r = analyseExperiment(input(rows, { primary: 'nope', guardrails: ['gone'], alpha: 2 }), {
      now: NOW,
    })
    expect(r.alpha).toBe(0.05)
    expect(r.verdict.kind).toBe('no-data')
    expect(r.warnings).toContain('policy.primary names metric "nope", which is not defined')
    expect(r.warnings).toContain('policy.guardrails names metric "gone", which is not defined')
  })

  it('arms with no conversions or one unit get a note instead of an effect', () => {
    const rows = daily(1, {
      a: { units: 1, purchase: 0, refund: 0 },
      b: { units: 50, purchase: 0, refund: 0 },
    })
    const r = analyseExperiment(input(rows, {}, ['a', 'b']), { now: NOW })
    expect(r.metrics[0]!.arms[1]!.effect).toBeNull()
    expect(r.metrics[0]!.arms[1]!.note).toMatch(/fewer than 2 units/)
  })

  it('any rows at all: never throws, and every number in the report is finite (JSON carries it unchanged)', () => {
    const sums = fc.record(
      {
        sum: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        sumSq: fc.double({ min: 0, max: 1e12, noNaN: true }),
        covSum: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        covSumSq: fc.double({ min: 0, max: 1e12, noNaN: true }),
        covCross: fc.double({ min: -1e12, max: 1e12, noNaN: true }),
      },
      { requiredKeys: ['sum', 'sumSq'] },
    )
    const row = fc.record({
      arm: fc.constantFrom('a', 'b', 'c', 'x'),
      day: fc.constantFrom('2026-11-01', '2026-11-02', '2026-11-05', 'bad'),
      units: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constant(-1)),
      metrics: fc.record({ purchase: sums, refund: sums }, { requiredKeys: [] }),
    })
    fc.assert(
      fc.property(
        fc.array(row, { maxLength: 30 }),
        fc.constantFrom('sequential', 'fixed'),
        (rows, method) => {
          const r = analyseExperiment(input(rows as ArmDay[], {}, ['a', 'b', 'c']), {
            now: NOW,
            method: method as 'sequential' | 'fixed',
          })
          expect(nonFinite(r, 'report')).toEqual([])
          expect(r.verdict.summary.length).toBeGreaterThan(0)
        },
      ),
      { numRuns: 200 },
    )
  })
})
