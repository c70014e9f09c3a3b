/**
 * Fuzzing the TC string decoder with 100,000 random, mutated and hostile strings: it never throws,
 * an invalid string never decodes (so it cannot grant anything), whatever decodes stays inside the
 * spec's bounds, and the output is bounded by the input (ranges are never expanded). Timing is
 * measured in `bench/tcf.ts`, not asserted here.
 */
import { TCString } from '@iabtechlabtcf/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BASE64URL as ALPHABET } from '../bits'
import type { IdRanges, TcfString } from '../types'
import * as F from '../../../test/support/consent/tcf-fixtures'
import { decodeTcString } from './index'

// Version 6 + Created 36 + LastUpdated 36 + CmpId 12 + CmpVersion 12 + ConsentScreen 6 +
// ConsentLanguage 12 + VendorListVersion 12 + TcfPolicyVersion 6 + 2 flags + SpecialFeatureOptIns 12 +
// 2 x 24 purposes + PurposeOneTreatment 1 + PublisherCC 12, two empty vendor sections (17 each)
// and NumPubRestrictions 12: the shortest possible core.
const MIN_CORE_BITS = 6 + 36 + 36 + 12 + 12 + 6 + 12 + 12 + 6 + 2 + 12 + 48 + 1 + 12 + 17 + 17 + 12

// Plain checks collecting violations, asserted once per string: an expect() per id would make
// the 100,000 runs take minutes.
function mergedViolations(name: string, ranges: IdRanges, max: number, out: string[]): void {
  let prevEnd = -1
  for (const [s, e] of ranges) {
    // within 1..max, start <= end, sorted, and merged: no overlap and no adjacency left
    if (!(s >= 1 && e >= s && e <= max && s > prevEnd + 1)) out.push(`${name} [${s}, ${e}] after ${prevEnd}`)
    prevEnd = e
  }
}

function idViolations(name: string, ids: number[], max: number, out: string[]): void {
  ids.forEach((id, i) => {
    if (!(Number.isInteger(id) && id >= 1 && id <= max && (i === 0 || id > (ids[i - 1] as number))))
      out.push(`${name} ${id}`)
  })
}

/** Whatever decodes is inside the spec's bounds and no bigger than the input could describe. */
function assertSound(input: string, tc: TcfString): void {
  const v: string[] = []
  if (tc.version !== 2) v.push(`version ${tc.version}`)
  if (!/^[A-Z]{2}$/.test(tc.consentLanguage)) v.push(`consentLanguage ${tc.consentLanguage}`)
  if (!/^[A-Z]{2}$/.test(tc.publisherCountryCode)) v.push(`publisherCountryCode ${tc.publisherCountryCode}`)
  // 36-bit deciseconds in milliseconds: whole, from 1970 to 2187.
  for (const ms of [tc.created, tc.lastUpdated]) {
    if (!Number.isInteger(ms) || ms < 0 || ms % 100 !== 0 || ms >= 2 ** 36 * 100) v.push(`date ${ms}`)
  }
  idViolations('specialFeatureOptIns', tc.specialFeatureOptIns, 12, v)
  idViolations('purposeConsents', tc.purposeConsents, 24, v)
  idViolations('purposeLegitimateInterests', tc.purposeLegitimateInterests, 24, v)
  if (tc.purposeLegitimateInterests.some((p) => p >= 3 && p <= 6)) v.push('LI for purposes 3-6')
  mergedViolations('vendorConsents', tc.vendorConsents, 65535, v)
  mergedViolations('vendorLegitimateInterests', tc.vendorLegitimateInterests, 65535, v)
  if (tc.disclosedVendors) mergedViolations('disclosedVendors', tc.disclosedVendors, 65535, v)
  let ranges =
    tc.vendorConsents.count + tc.vendorLegitimateInterests.count + (tc.disclosedVendors?.count ?? 0)
  for (const r of tc.publisherRestrictions) {
    if (!(r.purposeId >= 1 && r.purposeId <= 63)) v.push(`restriction purpose ${r.purposeId}`)
    if (![0, 1, 2].includes(r.restrictionType)) v.push(`restriction type ${r.restrictionType}`)
    if (r.vendors.count === 0) v.push('empty restriction')
    mergedViolations('restriction vendors', r.vendors, 65535, v)
    ranges += r.vendors.count
  }
  if (tc.publisherTC) {
    idViolations('publisherTC.purposeConsents', tc.publisherTC.purposeConsents, 24, v)
    idViolations('publisherTC.purposeLegitimateInterests', tc.publisherTC.purposeLegitimateInterests, 24, v)
    idViolations('publisherTC.customPurposeConsents', tc.publisherTC.customPurposeConsents, 63, v)
    idViolations(
      'publisherTC.customPurposeLegitimateInterests',
      tc.publisherTC.customPurposeLegitimateInterests,
      63,
      v,
    )
  }
  // Each range costs at least 2 bits (a set bit and the clear bit ending it) of the input.
  if (ranges * 2 > input.length * 6 + 2) v.push(`${ranges} ranges from ${input.length} characters`)
  expect(v).toEqual([])
}

/** Decodes; a throw fails the property. Checks soundness whenever the result is ok. */
function decodeSound(input: string): ReturnType<typeof decodeTcString> {
  const result = decodeTcString(input)
  if (result.ok) assertSound(input, result.value)
  else if (!(result.error.reason && result.error.field))
    expect(result.error).toBe('an error naming a reason and field')
  return result
}

const ids = (max: number) => fc.uniqueArray(fc.integer({ min: 1, max }), { maxLength: 30 })
const entry: fc.Arbitrary<F.RangeEntry> = fc.oneof(
  fc.integer({ min: 0, max: 65535 }),
  fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 })),
)
const section = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 400 }), ids(400)).map(([max, v]) =>
    F.vendorBitfield(
      max,
      v.filter((id) => id <= max),
    ),
  ),
  fc
    .tuple(
      fc.integer({ min: 1, max: 3000 }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.nat(50)), { maxLength: 8 }),
    )
    .map(([max, runs]) =>
      F.vendorRanges(
        max,
        runs.map(([s, n]) => [Math.min(s, max), Math.min(s + n, max)] as [number, number]),
      ),
    ),
)

/** Well-formed TC strings (core plus optional segments), built bit by bit from the field table. */
const validTcString = fc
  .record({
    created: fc.integer({ min: 0, max: 20_000_000_000 }),
    cmpId: fc.integer({ min: 0, max: 4095 }),
    policyVersion: fc.integer({ min: 0, max: 63 }),
    isServiceSpecific: fc.boolean(),
    purposeConsents: ids(24),
    purposeLegitimateInterests: ids(24),
    specialFeatureOptIns: ids(12),
    vendorConsents: section,
    vendorLegitimateInterests: section,
    restrictions: fc.array(
      fc.record({
        purposeId: fc.integer({ min: 1, max: 63 }),
        restrictionType: fc.integer({ min: 0, max: 2 }),
        entries: fc.array(
          fc
            .tuple(fc.integer({ min: 1, max: 500 }), fc.nat(20))
            .map(([s, n]) => [s, s + n] as [number, number]),
          { maxLength: 4 },
        ),
      }),
      { maxLength: 3 },
    ),
    disclosed: fc.option(section, { nil: undefined }),
    publisher: fc.option(fc.record({ n: fc.integer({ min: 0, max: 63 }), c: ids(63), l: ids(24) }), {
      nil: undefined,
    }),
    allowed: fc.option(section, { nil: undefined }),
  })
  .map((v) => {
    const created = v.created * 100
    const segments = [
      F.coreBits({
        created,
        lastUpdated: created,
        cmpId: v.cmpId,
        policyVersion: v.policyVersion,
        isServiceSpecific: v.isServiceSpecific,
        purposeConsents: v.purposeConsents,
        purposeLegitimateInterests: v.purposeLegitimateInterests,
        specialFeatureOptIns: v.specialFeatureOptIns,
        vendorConsents: v.vendorConsents,
        vendorLegitimateInterests: v.vendorLegitimateInterests,
        publisherRestrictions: F.restrictions(v.restrictions),
      }),
    ]
    if (v.disclosed) segments.push(F.vendorsSegment(1, v.disclosed))
    if (v.allowed) segments.push(F.vendorsSegment(2, v.allowed))
    if (v.publisher) {
      const custom = v.publisher.c.filter((id) => id <= v.publisher!.n)
      segments.push(
        F.publisherTcSegment({
          purposeConsents: v.publisher.l,
          purposeLegitimateInterests: [],
          numCustomPurposes: v.publisher.n,
          customPurposeConsents: custom,
          customPurposeLegitimateInterests: custom,
        }),
      )
    }
    return F.tcString(...segments)
  })

/** Flips bit `bit` (0-5) of the base64url character at `index`. */
function flip(s: string, index: number, bit: number): string {
  const i = index % s.length
  const v = ALPHABET.indexOf(s[i] as string)
  if (v < 0) return s
  return s.slice(0, i) + ALPHABET[v ^ (1 << bit)] + s.slice(i + 1)
}

describe('TC string fuzzing (100,000 strings)', () => {
  it('never throws on random base64url strings with dots (30,000)', () => {
    const chars = fc.constantFrom(...(ALPHABET + '.').split(''))
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 700 }), (s) => {
        decodeSound(s)
      }),
      { numRuns: 30_000 },
    )
  })

  it('refuses any string with a character outside base64url and dot (10,000)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.nat(), (s, at) => {
        const bad = s.replace(/[A-Za-z0-9_.-]/g, '') || '='
        const input = s.slice(0, at % (s.length + 1)) + bad[0] + s.slice(at % (s.length + 1))
        expect(decodeSound(input).ok).toBe(false)
      }),
      { numRuns: 10_000 },
    )
  })

  it('decodes every well-formed string, and keeps bit-flipped ones within bounds (6,000 + 24,000)', () => {
    const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 6 })
    fc.assert(
      fc.property(validTcString, fc.array(flips, { minLength: 4, maxLength: 4 }), (s, mutants) => {
        expect(decodeSound(s).ok).toBe(true)
        for (const m of mutants) decodeSound(m.reduce((acc, [i, b]) => flip(acc, i, b), s))
      }),
      { numRuns: 6_000 },
    )
  }, 60_000)

  it('agrees with the reference library on mutated strings both accept (2,000)', () => {
    // Strings either side refuses are skipped, so the comparisons are counted: a generator or
    // library change that made every string one of those would otherwise pass comparing nothing.
    let compared = 0
    fc.assert(
      fc.property(validTcString, fc.nat(), fc.integer({ min: 0, max: 5 }), (s, i, b) => {
        const mutated = flip(s, i, b)
        const ours = decodeSound(mutated)
        // Only compare what the library can decode in reasonable time (it expands ranges).
        if (
          !ours.ok ||
          ours.value.vendorConsents.idCount + ours.value.vendorLegitimateInterests.idCount > 20_000
        )
          return
        let theirs: ReturnType<typeof TCString.decode>
        try {
          theirs = TCString.decode(mutated)
        } catch {
          return // the library throws on some strings we accept; the known-vector tests cover why
        }
        expect(ours.value.cmpId).toBe(Number(theirs.cmpId))
        expect(ours.value.created).toBe(theirs.created.getTime())
        expect(ours.value.purposeConsents).toEqual([...theirs.purposeConsents.values()].sort((x, y) => x - y))
        expect(ours.value.vendorConsents.idCount).toBe(theirs.vendorConsents.size)
        compared++
      }),
      { numRuns: 2_000 },
    )
    // A single bit flip leaves most strings decodable by both (about three quarters in practice).
    expect(compared).toBeGreaterThanOrEqual(1_000)
  })

  it('refuses every string truncated below the shortest core (10,000)', () => {
    fc.assert(
      fc.property(validTcString, fc.nat(), (s, cut) => {
        const core = s.split('.')[0] as string
        const length = cut % Math.ceil(MIN_CORE_BITS / 6)
        expect(decodeSound(core.slice(0, length)).ok).toBe(false)
        decodeSound(s.slice(0, cut % (s.length + 1)))
      }),
      { numRuns: 10_000 },
    )
  })

  it('refuses strings whose first segment is not the core after segment shuffles (5,000)', () => {
    fc.assert(
      fc.property(validTcString, fc.nat(), (s, k) => {
        const segments = s.split('.')
        if (segments.length < 2) return
        const first = 1 + (k % (segments.length - 1))
        const shuffled = [segments[first], ...segments.filter((_, i) => i !== first)].join('.')
        // A later segment starts with SegmentType 1-3, read as Version 8-31: never version 2.
        expect(decodeSound(shuffled)).toMatchObject({ ok: false, error: { field: 'Version' } })
        decodeSound([...segments, ...segments.slice(1)].join('.'))
      }),
      { numRuns: 5_000 },
    )
  })

  it('stays bounded on hostile counts and ranges (15,000)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        fc.array(entry, { maxLength: 40 }),
        fc.integer({ min: 0, max: 4095 }),
        fc.integer({ min: 0, max: 4095 }),
        fc.boolean(),
        (max, entries, numEntries, numRestrictions, lie) => {
          const vendorConsents = F.vendorRanges(max, entries, lie ? numEntries : entries.length)
          const publisherRestrictions = F.restrictions(
            [{ purposeId: 1, restrictionType: 0, entries: entries.slice(0, 10) }],
            lie ? numRestrictions : 1,
          )
          const input = F.tcString(F.coreBits({ vendorConsents, publisherRestrictions }))
          const result = decodeSound(input)
          if (result.ok) {
            // At most one range per entry read: never an expansion of what the entries claim.
            expect(result.value.vendorConsents.count).toBeLessThanOrEqual(entries.length)
            expect(result.value.vendorConsents.idCount).toBeLessThanOrEqual(max)
          }
          if (lie && numEntries > entries.length) expect(result.ok).toBe(false)
        },
      ),
      { numRuns: 15_000 },
    )
  })
})
