import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bucket, murmur3, pickWeighted } from '../../worker/decide/bucket'
import v1 from './cases/bucketing-v1.json'

describe('bucketing hash v1 (fixed vectors: a shipped version never changes)', () => {
  it.each(v1.murmur3)(
    'murmur3("$text", $seed) matches the reference implementation',
    ({ text, seed, hash }) => {
      expect(murmur3(text, seed)).toBe(hash)
    },
  )

  it.each(v1.buckets)('bucket(v1, $seed, $key, $unit)', ({ seed, key, unit, value }) => {
    expect(bucket(1, seed, key, unit)).toBe(value)
  })
})

describe('bucketing properties', () => {
  it('is uniform: chi-square over 100,000 units in 20 buckets stays below the p=0.001 critical value', () => {
    const bins = new Array<number>(20).fill(0)
    const n = 100_000
    for (let i = 0; i < n; i++) bins[Math.floor(bucket(1, 'uniformity', 'exp', `unit-${i}`) * 20)]!++
    const expected = n / 20
    const chi2 = bins.reduce((s, o) => s + (o - expected) ** 2 / expected, 0)
    // 19 degrees of freedom: critical value 43.82 at p = 0.001.
    expect(chi2).toBeLessThan(43.82)
  })

  it('splits arms by weight: a 10/90 split gives about 10% to the first arm', () => {
    let first = 0
    const n = 50_000
    for (let i = 0; i < n; i++) if (pickWeighted(bucket(1, 's', 'e', `u${i}`), [10, 90]) === 0) first++
    expect(Math.abs(first / n - 0.1)).toBeLessThan(0.01)
  })

  it('is stable and in [0, 1) for any seed, key and unit', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (seed, key, unit) => {
        const a = bucket(1, seed, key, unit)
        expect(a).toBeGreaterThanOrEqual(0)
        expect(a).toBeLessThan(1)
        expect(bucket(1, seed, key, unit)).toBe(a)
      }),
      { seed: 42, numRuns: 2000 },
    )
  })

  it('assigns independently per experiment: the same unit is not always in the same arm', () => {
    let same = 0
    for (let i = 0; i < 10_000; i++) {
      if (bucket(1, 'a', 'exp_a', `u${i}`) < 0.5 === bucket(1, 'b', 'exp_b', `u${i}`) < 0.5) same++
    }
    expect(Math.abs(same / 10_000 - 0.5)).toBeLessThan(0.03)
  })

  it('never picks an arm with weight 0', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (u) => {
        expect(pickWeighted(u, [0, 1, 0, 2])).not.toBe(0)
        expect(pickWeighted(u, [0, 1, 0, 2])).not.toBe(2)
      }),
      { seed: 7 },
    )
  })
})
