/**
 * Equality for `IdRanges` (worker/consent/ranges.ts) in `toEqual`, `toMatchObject` and friends:
 * tests written when id sets were arrays of `[start, end]` pairs keep comparing against those
 * arrays. An `IdRanges` equals an array exactly when its `toJSON()` deep-equals that array (the
 * pairs the old arrays held, and what docs/api.md serialises), and another `IdRanges` exactly when
 * their bounds are equal; it equals nothing else.
 */
import { expect } from 'vitest'
import { IdRanges } from '../../worker/consent/ranges'

expect.addEqualityTesters([
  function idRangesEquality(a: unknown, b: unknown, customTesters) {
    const aIsRanges = a instanceof IdRanges
    const bIsRanges = b instanceof IdRanges
    if (!aIsRanges && !bIsRanges) return undefined
    if (aIsRanges && bIsRanges) return a.equals(b)
    const ranges = (aIsRanges ? a : b) as IdRanges
    const other = aIsRanges ? b : a
    if (!Array.isArray(other)) return false
    return this.equals(ranges.toJSON(), other, customTesters)
  },
])
