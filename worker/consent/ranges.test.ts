/**
 * `IdRanges` holds sorted, merged, inclusive ranges in one flat array and behaves as the set of
 * ids they cover: membership, iteration and JSON are what arrays of `[start, end]` pairs gave,
 * checked against a plain `Set` of the ids.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BOUNDS_SCRATCH, IdRanges } from './ranges'

/** The pairs of a set of ids, merged, computed the slow way. */
function naivePairs(ids: Set<number>): Array<[number, number]> {
  const sorted = [...ids].sort((a, b) => a - b)
  const pairs: Array<[number, number]> = []
  for (const id of sorted) {
    const last = pairs[pairs.length - 1]
    if (last && last[1] === id - 1) last[1] = id
    else pairs.push([id, id])
  }
  return pairs
}

const pair = fc
  .tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 12 }))
  .map(([start, length]) => [start, start + length] as [number, number])

describe('IdRanges', () => {
  it('sorts and merges overlapping and adjacent ranges', () => {
    const set = IdRanges.from([
      [5, 6],
      [1, 4],
      [9, 9],
      [9, 12],
      [20, 20],
    ])
    expect(set.toJSON()).toStrictEqual([
      [1, 6],
      [9, 12],
      [20, 20],
    ])
    expect(Array.from(set.bounds)).toStrictEqual([1, 6, 9, 12, 20, 20])
    expect(set.count).toBe(3)
    expect(set.idCount).toBe(11)
  })

  it('builds from ids in any order, duplicates included', () => {
    expect(IdRanges.fromIds([3, 1, 2, 7, 7]).toJSON()).toStrictEqual([
      [1, 3],
      [7, 7],
    ])
    expect(IdRanges.fromIds([])).toBe(IdRanges.empty)
  })

  it('finds ids by binary search, ends included', () => {
    const set = IdRanges.from([
      [1, 3],
      [7, 9],
      [65535, 65535],
    ])
    for (const id of [1, 2, 3, 7, 8, 9, 65535]) expect(set.has(id)).toBe(true)
    for (const id of [0, 4, 6, 10, 65534, 65536, NaN]) expect(set.has(id)).toBe(false)
    expect(IdRanges.empty.has(1)).toBe(false)
  })

  it('iterates and serialises as [start, end] pairs, byte for byte as the old arrays', () => {
    const pairs: Array<[number, number]> = [
      [1, 4],
      [10, 10],
      [100, 65535],
    ]
    const set = IdRanges.from(pairs)
    expect([...set]).toStrictEqual(pairs)
    expect(JSON.stringify({ vendorConsents: set })).toBe(JSON.stringify({ vendorConsents: pairs }))
    expect(JSON.stringify(IdRanges.empty)).toBe('[]')
  })

  it('shares one frozen empty set', () => {
    expect(IdRanges.from([])).toBe(IdRanges.empty)
    expect(IdRanges.ofSorted(BOUNDS_SCRATCH, 0)).toBe(IdRanges.empty)
    expect(Object.isFrozen(IdRanges.empty)).toBe(true)
    expect(Object.isFrozen(IdRanges.empty.bounds)).toBe(true)
    expect(IdRanges.empty.count).toBe(0)
    expect(IdRanges.empty.toJSON()).toStrictEqual([])
  })

  it('copies bounds out of a scratch array, so reusing the scratch changes nothing', () => {
    const scratch = [2, 3, 8, 8, 0, 0]
    const small = IdRanges.ofSorted(scratch, 2)
    const long = Array.from({ length: 40 }, (_, i) => 3 * i)
    const large = IdRanges.ofSorted(long, 20)
    scratch.fill(99)
    long.fill(99)
    expect(small.toJSON()).toStrictEqual([
      [2, 3],
      [8, 8],
    ])
    expect(large.count).toBe(20)
    expect(large.has(57)).toBe(true)
  })

  it('keeps a set of thousands of ranges in one Uint32Array, with the same behaviour', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => 2 * i + 1)
    const set = IdRanges.fromIds(ids)
    expect(set.bounds).toBeInstanceOf(Uint32Array)
    expect(set.count).toBe(5000)
    expect(set.idCount).toBe(5000)
    expect(set.has(9999)).toBe(true)
    expect(set.has(10_000)).toBe(false)
    expect(JSON.stringify(set)).toBe(JSON.stringify(ids.map((id) => [id, id])))
    expect(set.equals(IdRanges.from(ids.map((id) => [id, id] as [number, number])))).toBe(true)
    expect(IdRanges.fromIds([1, 2, 3]).bounds).toBeInstanceOf(Array)
  })

  it('unites sets', () => {
    const a = IdRanges.from([
      [1, 2],
      [10, 12],
    ])
    const b = IdRanges.from([
      [3, 5],
      [11, 20],
      [30, 30],
    ])
    expect(IdRanges.union([a, b]).toJSON()).toStrictEqual([
      [1, 5],
      [10, 20],
      [30, 30],
    ])
    expect(IdRanges.union([IdRanges.empty])).toBe(IdRanges.empty)
  })

  it('refuses pairs that are not ranges of ids', () => {
    expect(() => IdRanges.from([[5, 4]])).toThrow(RangeError)
    expect(() => IdRanges.from([[-1, 4]])).toThrow(RangeError)
    expect(() => IdRanges.from([[1, 2.5]])).toThrow(RangeError)
    expect(() => IdRanges.from([[1, NaN]])).toThrow(RangeError)
    expect(() => IdRanges.from([[1, 2 ** 32]])).toThrow(RangeError)
  })

  it('is the set of ids its pairs cover, whatever the pairs (property)', () => {
    fc.assert(
      fc.property(
        fc.array(pair, { maxLength: 40 }),
        fc.array(fc.integer({ min: -2, max: 330 })),
        (pairs, probes) => {
          const ids = new Set<number>()
          for (const [s, e] of pairs) for (let id = s; id <= e; id++) ids.add(id)
          const set = IdRanges.from(pairs)
          const expected = naivePairs(ids)
          expect(set.toJSON()).toStrictEqual(expected)
          expect([...set]).toStrictEqual(expected)
          expect(set.count).toBe(expected.length)
          expect(set.idCount).toBe(ids.size)
          for (const id of probes) expect(set.has(id)).toBe(ids.has(id))
          // Sorted and merged: each range starts at least two past the previous end.
          const b = set.bounds
          for (let i = 0; i < b.length; i += 2) {
            expect(b[i]!).toBeLessThanOrEqual(b[i + 1]!)
            if (i > 0) expect(b[i]!).toBeGreaterThan(b[i - 1]! + 1)
          }
          // Order of the pairs does not matter, and a union is the set of all ids.
          expect(IdRanges.from([...pairs].reverse()).equals(set)).toBe(true)
          const half = pairs.length >> 1
          expect(
            IdRanges.union([IdRanges.from(pairs.slice(0, half)), IdRanges.from(pairs.slice(half))]).equals(
              set,
            ),
          ).toBe(true)
        },
      ),
      { numRuns: 1000 },
    )
  })
})

describe('the IdRanges equality used by toEqual (test/setup/id-ranges.ts)', () => {
  const set = IdRanges.from([
    [1, 4],
    [10, 10],
  ])

  it('equals the array of the same pairs, and nothing looser', () => {
    expect(set).toEqual([
      [1, 4],
      [10, 10],
    ])
    expect([
      [1, 4],
      [10, 10],
    ]).toEqual(set)
    expect(set).not.toEqual([[1, 4]])
    expect(set).not.toEqual([
      [1, 4],
      [10, 11],
    ])
    expect(set).not.toEqual([1, 4, 10, 10])
    expect(set).not.toEqual({ bounds: [1, 4, 10, 10] })
    expect(IdRanges.empty).toEqual([])
    expect(IdRanges.empty).not.toEqual({})
  })

  it('compares two sets by their bounds, nested too', () => {
    expect({ v: set }).toEqual({ v: IdRanges.fromIds([1, 2, 3, 4, 10]) })
    expect({ v: set }).not.toEqual({ v: IdRanges.fromIds([1, 2, 3, 4]) })
    expect({ ok: true, value: { v: set } }).toMatchObject({
      value: {
        v: [
          [1, 4],
          [10, 10],
        ],
      },
    })
    expect({ ok: true, value: { v: set } }).not.toMatchObject({ value: { v: [[1, 4]] } })
  })
})
