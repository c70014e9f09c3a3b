import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addSums, eventContribution, sumsDelta, ZERO_TOTALS, type UnitTotals } from './unit-delta'
import type { MetricDefinition, MetricSums } from './types'
import { planExposures } from './exposure-plan'
import type { MeasuredExperiment } from './definitions'

const ratio: MetricDefinition = {
  id: 'aov',
  kind: 'ratio',
  event: 'purchase',
  prop: 'value',
  denominator: { event: 'purchase' },
  windowDays: 14,
  higherIsBetter: true,
}
const binary: MetricDefinition = {
  id: 'c',
  kind: 'binary',
  event: 'purchase',
  windowDays: 14,
  higherIsBetter: true,
}

describe('one unit in the aggregates', () => {
  it('reads a revenue prop as a number and anything else as 0, never NaN', () => {
    const rev: MetricDefinition = { ...binary, kind: 'revenue', prop: 'value' }
    expect(eventContribution(rev, { type: 'purchase', props: { value: 12.5 } })).toEqual({ x: 12.5, y: 0 })
    expect(eventContribution(rev, { type: 'purchase', props: { value: '7' } })).toEqual({ x: 7, y: 0 })
    expect(eventContribution(rev, { type: 'purchase', props: { value: 'a lot' } })).toEqual({ x: 0, y: 0 })
    expect(eventContribution(rev, { type: 'purchase', props: {} })).toEqual({ x: 0, y: 0 })
    expect(eventContribution(ratio, { type: 'purchase', props: { value: 30 } })).toEqual({ x: 30, y: 1 })
  })

  it('incremental deltas add up to the unit terms computed at once (any order of events)', () => {
    const step = fc.record({
      x: fc.integer({ min: 0, max: 50 }),
      y: fc.integer({ min: 0, max: 3 }),
      c: fc.integer({ min: 0, max: 5 }),
    })
    fc.assert(
      fc.property(fc.array(step, { maxLength: 8 }), fc.constantFrom(ratio, binary), (steps, m) => {
        let t: UnitTotals = { ...ZERO_TOTALS }
        const acc: MetricSums = { sum: 0, sumSq: 0 }
        for (const s of steps) {
          const next = { x: t.x + s.x, y: t.y + s.y, c: t.c + s.c }
          addSums(acc, sumsDelta(m, t, next))
          t = next
        }
        const whole = sumsDelta(m, ZERO_TOTALS, t)
        for (const [k, v] of Object.entries(whole)) expect(acc[k as keyof MetricSums] ?? 0).toBeCloseTo(v, 9)
      }),
    )
  })
})

describe('planExposures', () => {
  const measured = new Map<string, MeasuredExperiment>([
    ['hero_test', { arms: ['a', 'b'] } as MeasuredExperiment],
    ['holdout', { arms: ['holdout', 'exposed'] } as MeasuredExperiment],
  ])
  const at = 1_700_000_000_000
  it.each([
    {
      name: 'an arm shown and the holdout comparison group',
      decisions: [{ experiment: { id: 'hero_test', arm: 'b', holdout: false }, fallback: null }],
      eligible: true,
      want: [
        { experiment: 'hero_test', arm: 'b', at },
        { experiment: 'holdout', arm: 'exposed', at },
      ],
    },
    {
      name: 'a unit in the global holdout',
      decisions: [{ experiment: { id: 'holdout', arm: 'holdout', holdout: true }, fallback: 'holdout' }],
      eligible: true,
      want: [{ experiment: 'holdout', arm: 'holdout', at }],
    },
    {
      name: 'nothing for a unit the holdout could not take (no consent), nor an arm the rules do not have',
      decisions: [{ experiment: { id: 'hero_test', arm: 'z', holdout: false }, fallback: null }],
      eligible: false,
      want: [],
    },
    {
      name: 'nothing when state did not answer (the holdout check was never reached)',
      decisions: [{ experiment: null, fallback: 'state_unavailable' }],
      eligible: true,
      want: [],
    },
  ])('$name', ({ decisions, eligible, want }) => {
    expect(planExposures(measured, { decisions, holdoutEligible: eligible, at })).toEqual(want)
  })
})
