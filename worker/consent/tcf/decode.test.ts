/**
 * The TC string decoder reads what the TCF spec says a string means: known vectors (JSON rows,
 * including docs/api.md's example and the spec's own examples), differential property tests against
 * the IAB reference library `@iabtechlabtcf/core` (oracle only), the places where that library
 * departs from the spec, and the GPP `tcfeuv2` encoding of the same string.
 */
import { GppModel } from '@iabgpp/cmpapi'
import { type GVL, PurposeRestriction, Segment, SegmentEncoder, TCModel, TCString } from '@iabtechlabtcf/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BASE64URL } from '../bits'
import { IdRanges } from '../ranges'
import type { TcfReport, TcfString } from '../types'
import { readCore, readCoreByTable } from './decode'
import { CORE_FIELDS } from './fields'
import { WORD_READER } from '../../../test/support/consent/bit-sources'
import * as F from '../../../test/support/consent/tcf-fixtures'
import { decodeTcString } from './index'
import vectors from './vectors.json'

type Vector = {
  name: string
  input: string
  maxLength?: number
  /** Dates as docs/api.md reports them (ISO 8601), the way the spec's examples state them. */
  expect?: Partial<TcfReport>
  error?: { reason: string; field: string }
}

/** A decoded string with its dates as ISO 8601 strings (by Date, not by the decoder's formatter). */
function withIsoDates(tc: TcfString): TcfReport {
  return {
    ...tc,
    created: new Date(tc.created).toISOString(),
    lastUpdated: new Date(tc.lastUpdated).toISOString(),
  }
}
const rows = vectors as Vector[]
const okRows = rows.filter((r) => r.expect).map((r) => [r.name, r] as const)
const errorRows = rows.filter((r) => r.error).map((r) => [r.name, r] as const)

/** The reference library's decode, in our output shape (sets as ranges / sorted arrays). */
function fromLibrary(input: string): TcfString {
  const tc = TCString.decode(input)
  // First base64url char carries the 3-bit SegmentType in its top bits: A-H 0, I-P 1, Q-X 2, Y-f 3.
  const types = input
    .split('.')
    .slice(1)
    .map((s) => Math.floor(BASE64URL.indexOf(s[0] ?? 'A') / 8))
  const ids = (v: { values(): Iterable<number> }) => [...v.values()].sort((a, b) => a - b)
  return {
    version: Number(tc.version),
    created: tc.created.getTime(),
    lastUpdated: tc.lastUpdated.getTime(),
    cmpId: Number(tc.cmpId),
    cmpVersion: Number(tc.cmpVersion),
    consentScreen: Number(tc.consentScreen),
    consentLanguage: tc.consentLanguage,
    vendorListVersion: Number(tc.vendorListVersion),
    policyVersion: Number(tc.policyVersion),
    isServiceSpecific: tc.isServiceSpecific,
    useNonStandardTexts: tc.useNonStandardTexts,
    specialFeatureOptIns: ids(tc.specialFeatureOptins),
    purposeConsents: ids(tc.purposeConsents),
    // The library keeps LI bits for purposes 3-6; TCF v2.2 policy voids them, and so do we.
    purposeLegitimateInterests: ids(tc.purposeLegitimateInterests).filter((p) => p < 3 || p > 6),
    purposeOneTreatment: tc.purposeOneTreatment,
    publisherCountryCode: tc.publisherCountryCode,
    vendorConsents: IdRanges.fromIds(ids(tc.vendorConsents)),
    vendorLegitimateInterests: IdRanges.fromIds(ids(tc.vendorLegitimateInterests)),
    publisherRestrictions: tc.publisherRestrictions
      .getRestrictions()
      .map((pr) => ({
        purposeId: pr.purposeId as number,
        restrictionType: pr.restrictionType as 0 | 1 | 2,
        vendors: IdRanges.fromIds(tc.publisherRestrictions.getVendors(pr)),
      }))
      .filter((r) => r.vendors.count > 0)
      .sort((a, b) => a.purposeId - b.purposeId || a.restrictionType - b.restrictionType),
    disclosedVendors: types.includes(1) ? IdRanges.fromIds(ids(tc.vendorsDisclosed)) : null,
    publisherTC: types.includes(3)
      ? {
          purposeConsents: ids(tc.publisherConsents),
          purposeLegitimateInterests: ids(tc.publisherLegitimateInterests).filter((p) => p < 3 || p > 6),
          customPurposeConsents: ids(tc.publisherCustomConsents),
          customPurposeLegitimateInterests: ids(tc.publisherCustomLegitimateInterests),
        }
      : null,
  }
}

describe('known TC string vectors', () => {
  it.each(okRows)('%s', (_name, row) => {
    const result = decodeTcString(row.input, row.maxLength ? { maxLength: row.maxLength } : {})
    expect(result.ok ? withIsoDates(result.value) : result.error).toMatchObject(row.expect as object)
  })

  it.each(okRows)('agrees with @iabtechlabtcf/core on: %s', (_name, row) => {
    const result = decodeTcString(row.input)
    expect(result.ok && result.value).toEqual(fromLibrary(row.input))
  })

  it.each(errorRows)('%s', (_name, row) => {
    const result = decodeTcString(row.input, row.maxLength ? { maxLength: row.maxLength } : {})
    expect(result.ok ? result.value : result.error).toMatchObject(row.error as object)
  })
})

// --- differential: strings built by the reference encoder decode to the same values ---

const idSet = (max: number) =>
  fc.oneof(
    // sparse ids: the encoder picks a BitField
    fc.uniqueArray(fc.integer({ min: 1, max }), { maxLength: 40 }),
    // long runs: the encoder picks Range encoding
    fc
      .array(fc.tuple(fc.integer({ min: 1, max }), fc.integer({ min: 0, max: 400 })), { maxLength: 6 })
      .map((runs) => [
        ...new Set(
          runs.flatMap(([s, n]) => Array.from({ length: Math.min(n, max - s) + 1 }, (_, i) => s + i)),
        ),
      ]),
  )
const subset = (n: number) => fc.uniqueArray(fc.integer({ min: 1, max: n }), { maxLength: n })
const letters = fc
  .tuple(fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 25 }))
  .map(([a, b]) => String.fromCharCode(65 + a, 65 + b))
// Deciseconds: the format's resolution. Up to 2100 so Date handling is exercised well past now.
const decisecondDate = fc.integer({ min: 0, max: 41_000_000_000 }).map((ds) => new Date(ds * 100))

const modelArb = fc.record({
  cmpId: fc.integer({ min: 2, max: 4095 }),
  cmpVersion: fc.integer({ min: 0, max: 4095 }),
  consentScreen: fc.integer({ min: 0, max: 63 }),
  consentLanguage: letters,
  vendorListVersion: fc.integer({ min: 0, max: 4095 }),
  policyVersion: fc.integer({ min: 0, max: 63 }),
  isServiceSpecific: fc.boolean(),
  useNonStandardTexts: fc.boolean(),
  specialFeatureOptins: subset(12),
  purposeConsents: subset(24),
  purposeLegitimateInterests: subset(24),
  purposeOneTreatment: fc.boolean(),
  publisherCountryCode: letters,
  created: decisecondDate,
  lastUpdated: decisecondDate,
  vendorConsents: idSet(3000),
  vendorLegitimateInterests: idSet(3000),
  restrictions: fc.array(
    fc.record({
      purposeId: fc.integer({ min: 1, max: 24 }),
      type: fc.integer({ min: 0, max: 2 }),
      vendors: idSet(2000),
    }),
    { maxLength: 4 },
  ),
  disclosed: fc.option(idSet(3000), { nil: undefined }),
  publisher: fc.option(
    fc.record({
      consents: subset(24),
      li: subset(24),
      numCustom: fc.integer({ min: 0, max: 63 }),
      custom: subset(63),
      customLi: subset(63),
    }),
    { nil: undefined },
  ),
  order: fc.boolean(),
})

type ModelInput = typeof modelArb extends fc.Arbitrary<infer T> ? T : never

const ALL_VENDOR_IDS = new Set(Array.from({ length: 3000 }, (_, i) => i + 1))

/** Encodes with the reference library's segment encoder (TCString.encode needs a GVL, which
 *  would also rewrite the vendor sets; SegmentEncoder writes the model as given). */
function encodeWithLibrary(input: ModelInput): string {
  const m = new TCModel()
  m.version = 2
  m.cmpId = input.cmpId
  m.cmpVersion = input.cmpVersion
  m.consentScreen = input.consentScreen
  m.consentLanguage = input.consentLanguage
  m.vendorListVersion = input.vendorListVersion
  m.policyVersion = input.policyVersion
  m.isServiceSpecific = input.isServiceSpecific
  m.useNonStandardTexts = input.useNonStandardTexts
  m.specialFeatureOptins.set(input.specialFeatureOptins)
  m.purposeConsents.set(input.purposeConsents)
  m.purposeLegitimateInterests.set(input.purposeLegitimateInterests)
  m.purposeOneTreatment = input.purposeOneTreatment
  m.publisherCountryCode = input.publisherCountryCode
  m.created = input.created
  m.lastUpdated = input.lastUpdated
  m.vendorConsents.set(input.vendorConsents)
  m.vendorLegitimateInterests.set(input.vendorLegitimateInterests)
  // The restriction encoder merges ranges across ids missing from the GVL, so it needs one; a
  // GVL without vendor records leaves every restriction in place.
  m.publisherRestrictions.gvl = { vendorIds: ALL_VENDOR_IDS } as unknown as GVL
  for (const r of input.restrictions) {
    for (const v of r.vendors) m.publisherRestrictions.add(v, new PurposeRestriction(r.purposeId, r.type))
  }
  const segments: string[] = [Segment.CORE]
  if (input.disclosed) {
    m.vendorsDisclosed.set(input.disclosed)
    segments.push(Segment.VENDORS_DISCLOSED)
  }
  if (input.publisher) {
    const p = input.publisher
    m.publisherConsents.set(p.consents)
    m.publisherLegitimateInterests.set(p.li)
    m.numCustomPurposes = p.numCustom
    m.publisherCustomConsents.set(p.custom.filter((id) => id <= p.numCustom))
    m.publisherCustomLegitimateInterests.set(p.customLi.filter((id) => id <= p.numCustom))
    segments.push(Segment.PUBLISHER_TC)
  }
  if (input.order) segments.splice(1, segments.length - 1, ...segments.slice(1).reverse())
  return segments.map((s) => SegmentEncoder.encode(m, s as Segment)).join('.')
}

describe('differential against @iabtechlabtcf/core', () => {
  it('decodes every string the reference encoder builds to the reference decoder values', () => {
    fc.assert(
      fc.property(modelArb, (input) => {
        const encoded = encodeWithLibrary(input)
        const ours = decodeTcString(encoded)
        expect(ours.ok).toBe(true)
        if (ours.ok) expect(ours.value).toEqual(fromLibrary(encoded))
      }),
      { numRuns: 300 },
    )
  })

  it('reads vendor sets as the model held them, whichever encoding the library chose', () => {
    fc.assert(
      fc.property(idSet(3000), (vendors) => {
        const encoded = encodeWithLibrary({
          ...fc.sample(modelArb, { numRuns: 1, seed: 7 })[0]!,
          vendorConsents: vendors,
        })
        const ours = decodeTcString(encoded)
        expect(ours.ok && ours.value.vendorConsents).toEqual(IdRanges.fromIds(vendors))
      }),
      { numRuns: 200 },
    )
  })
})

// --- the straight-line core reader against the field table it is written from ---

/** A reader over a '0'/'1' string (zero-padded to whole base64url characters). */
const wordReaderOf = (bits: string) => WORD_READER.of(F.toBase64Url(bits))

describe('straight-line core reader', () => {
  const bits = (n: number) =>
    fc.array(fc.boolean(), { minLength: n, maxLength: n }).map((b) => b.map(Number).join(''))
  // Letters below 26 most of the time, so most heads are well-formed and take the straight path.
  const letter = fc
    .oneof(fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 63 }))
    .map((v) => F.int(v, 6))
  const head = fc
    .tuple(
      fc.oneof(fc.constant(2), fc.integer({ min: 0, max: 63 })),
      bits(36 + 36 + 12 + 12 + 6),
      letter,
      letter,
      bits(12 + 6 + 2 + 12 + 48 + 1),
      letter,
      letter,
    )
    .map(([version, a, l1, l2, b, c1, c2]) => F.int(version, 6) + a + l1 + l2 + b + c1 + c2)
  const section = fc.oneof(
    fc
      .uniqueArray(fc.integer({ min: 1, max: 300 }), { maxLength: 30 })
      .map((ids) => F.vendorBitfield(300, ids)),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.nat(30)), { maxLength: 8 }).map((runs) =>
      F.vendorRanges(
        300,
        runs.map(([s, n]) => [s, s + n] as [number, number]),
      ),
    ),
    bits(40),
  )
  const restrictions = fc.oneof(
    fc
      .array(
        fc.record({
          purposeId: fc.integer({ min: 0, max: 30 }),
          restrictionType: fc.integer({ min: 0, max: 3 }),
          entries: fc.array(
            fc
              .tuple(fc.integer({ min: 1, max: 300 }), fc.nat(9))
              .map(([s, n]) => [s, s + n] as [number, number]),
            {
              maxLength: 3,
            },
          ),
        }),
        { maxLength: 3 },
      )
      .map((list) => F.restrictions(list)),
    bits(30),
  )
  const core = fc.tuple(head, section, section, restrictions, fc.nat()).map(([h, vc, vli, pr, cut]) => {
    const all = h + vc + vli + pr
    // Now and then cut short, anywhere, head included.
    return cut % 4 === 0 ? all.slice(0, cut % (all.length + 1)) : all
  })

  it('reads every core as walking CORE_FIELDS does, and hands over exactly when the head is malformed', () => {
    fc.assert(
      fc.property(core, (bitString) => {
        const straight = wordReaderOf(bitString)
        const table = wordReaderOf(bitString)
        const fast = readCore(straight)
        const reference = readCoreByTable(table)
        if (fast === null) {
          // Only a head the table refuses (truncated, not version 2, a letter past Z) is handed over.
          expect(reference.ok).toBe(false)
          if (!reference.ok) expect(CORE_HEAD_FIELDS).toContain(reference.error.field)
        } else {
          expect(fast).toEqual(reference)
          if (fast.ok) expect(straight.pos).toBe(table.pos)
        }
      }),
      { numRuns: 3000 },
    )
  })
})

// The fields the straight-line reader reads at fixed offsets: everything before the first section.
const CORE_HEAD_FIELDS = CORE_FIELDS.slice(
  0,
  CORE_FIELDS.findIndex((f) => f.type === 'vendors'),
).map((f) => f.name)

// --- where the reference library departs from the spec, we follow the spec ---

describe('publisher restrictions in any order', () => {
  it('merges entries of the same purpose and type and sorts them, however they are written', () => {
    const id = fc.integer({ min: 1, max: 300 })
    const rangeEntry: fc.Arbitrary<F.RangeEntry> = fc.oneof(
      id,
      fc.tuple(id, fc.integer({ min: 0, max: 40 })).map(([a, n]) => [a, a + n] as [number, number]),
    )
    const entry = fc.record({
      purposeId: fc.integer({ min: 1, max: 6 }),
      restrictionType: fc.integer({ min: 0, max: 2 }),
      entries: fc.array(rangeEntry, { maxLength: 4 }),
    })
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), (list) => {
        const result = decodeTcString(F.tcString(F.coreBits({ publisherRestrictions: F.restrictions(list) })))
        expect(result.ok).toBe(true)
        if (!result.ok) return
        // The reference: every id of every entry, grouped by purpose and type, written out.
        const byKey = new Map<number, Array<[number, number]>>()
        for (const e of list) {
          if (e.entries.length === 0) continue
          const key = e.purposeId * 4 + e.restrictionType
          const pairs = e.entries.map((r): [number, number] => (typeof r === 'number' ? [r, r] : r))
          byKey.set(key, [...(byKey.get(key) ?? []), ...pairs])
        }
        const expected = [...byKey.keys()]
          .sort((a, b) => a - b)
          .map((key) => ({
            purposeId: key >> 2,
            restrictionType: key & 3,
            vendors: IdRanges.from(byKey.get(key)!),
          }))
        expect(result.value.publisherRestrictions).toEqual(expected)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('spec over reference library', () => {
  it('refuses a range ending before it starts, which the library silently reads as no vendors', () => {
    // Spec, Range section: EndVendorId ends an "inclusive contiguous ascending-order series".
    const input = F.tcString(F.coreBits({ vendorConsents: F.vendorRanges(100, [[50, 10]]) }))
    expect([...TCString.decode(input).vendorConsents.values()]).toEqual([])
    expect(decodeTcString(input)).toMatchObject({
      ok: false,
      error: { reason: 'bad_range', field: 'VendorConsents.EndVendorId' },
    })
  })

  it('refuses vendor ids above MaxVendorId, which the library accepts', () => {
    // Spec: MaxVendorId is "the maximum Vendor ID that is represented in the following ... range encoding".
    const input = F.tcString(F.coreBits({ vendorConsents: F.vendorRanges(10, [[5, 500]]) }))
    expect(TCString.decode(input).vendorConsents.has(500)).toBe(true)
    expect(decodeTcString(input)).toMatchObject({
      ok: false,
      error: { reason: 'out_of_range', field: 'VendorConsents.EndVendorId' },
    })
  })

  it('refuses a BitField cut short with a Result naming the field, where the library throws', () => {
    const input = F.tcString(F.coreBits({ vendorConsents: F.int(2000, 16) + '0' + '1'.repeat(64) }))
    expect(() => TCString.decode(input)).toThrow(/length mismatch/)
    expect(decodeTcString(input)).toMatchObject({
      ok: false,
      error: { reason: 'truncated', field: 'VendorConsents.BitField' },
    })
  })

  it('keeps a 1..65535 range as one range where the library builds 65,535 entries', () => {
    const input = F.tcString(F.coreBits({ vendorConsents: F.vendorRanges(65535, [[1, 65535]]) }))
    expect(TCString.decode(input).vendorConsents.size).toBe(65535)
    expect(decodeTcString(input)).toMatchObject({ ok: true, value: { vendorConsents: [[1, 65535]] } })
  })

  it('refuses the undefined RestrictionType 3 with a Result, where the library throws a bare Error', () => {
    const input = F.tcString(
      F.coreBits({
        publisherRestrictions: F.restrictions([{ purposeId: 2, restrictionType: 3, entries: [7] }]),
      }),
    )
    expect(() => TCString.decode(input)).toThrow(/invalid PurposeRestriction/)
    expect(decodeTcString(input)).toMatchObject({
      ok: false,
      error: { field: 'PublisherRestrictions.RestrictionType' },
    })
  })

  it('ignores LI bits for purposes 3-6, which the library reports as established', () => {
    const input = F.tcString(F.coreBits({ purposeLegitimateInterests: [2, 4, 7] }))
    expect([...TCString.decode(input).purposeLegitimateInterests.values()]).toContain(4)
    expect(decodeTcString(input)).toMatchObject({ ok: true, value: { purposeLegitimateInterests: [2, 7] } })
  })

  it('ignores the deprecated AllowedVendors segment without failing', () => {
    const input = F.tcString(F.coreBits(), F.vendorsSegment(2, F.vendorBitfield(3, [1, 3])))
    expect(TCString.decode(input).vendorsAllowed.has(3)).toBe(true)
    expect(decodeTcString(input)).toMatchObject({
      ok: true,
      value: { disclosedVendors: null, publisherTC: null },
    })
  })

  it('refuses a version 1 string as bad_version instead of reading it with another layout', () => {
    // TCF v1.1 "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA": the library tries the v1 layout and throws.
    expect(() => TCString.decode('BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA')).toThrow()
    expect(decodeTcString('BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA')).toMatchObject({
      ok: false,
      error: { reason: 'bad_version', field: 'Version' },
    })
  })
})

describe('padding', () => {
  it('reads the same values whatever zero padding the encoder used (6-bit, byte or 24-bit)', () => {
    // The spec pads to whole base64 characters; the IAB library pads to 24 bits and GPP encoders
    // to 6 or 8. Trailing zero bits after the last field carry nothing.
    const core = F.coreBits({ vendorConsents: F.vendorBitfield(7, [1, 3, 7]) })
    const disclosed = F.vendorsSegment(1, F.vendorRanges(9, [[2, 9]]))
    const expected = decodeTcString(F.tcString(core, disclosed))
    expect(expected.ok).toBe(true)
    for (const extra of [0, 2, 8, 24, 30]) {
      const padded = F.tcString(core + '0'.repeat(extra), disclosed + '0'.repeat(extra))
      expect(decodeTcString(padded)).toEqual(expected)
      expect(fromLibrary(padded)).toEqual(expected.ok && expected.value)
    }
  })
})

describe('GPP tcfeuv2 section', () => {
  it('decodes the tcfeuv2 section the GPP reference encoder writes, segments and all', () => {
    const gpp = new GppModel()
    gpp.setFieldValue('tcfeuv2', 'CmpId', 880)
    gpp.setFieldValue('tcfeuv2', 'CmpVersion', 3)
    gpp.setFieldValue('tcfeuv2', 'ConsentLanguage', 'FR')
    gpp.setFieldValue('tcfeuv2', 'VendorListVersion', 140)
    gpp.setFieldValue('tcfeuv2', 'PolicyVersion', 5)
    gpp.setFieldValue('tcfeuv2', 'IsServiceSpecific', true)
    gpp.setFieldValue('tcfeuv2', 'PurposeConsents', [true, true, false, true])
    gpp.setFieldValue('tcfeuv2', 'VendorConsents', [1, 2, 3, 755, 756])
    gpp.setFieldValue('tcfeuv2', 'VendorsDisclosed', [1, 2, 3, 4, 755, 756, 900])
    gpp.setFieldValue('tcfeuv2', 'PublisherConsents', [true])
    const section = gpp.encodeSection('tcfeuv2')
    expect(section).toContain('.')
    const result = decodeTcString(section)
    expect(result).toMatchObject({
      ok: true,
      value: {
        cmpId: 880,
        cmpVersion: 3,
        consentLanguage: 'FR',
        vendorListVersion: 140,
        policyVersion: 5,
        isServiceSpecific: true,
        purposeConsents: [1, 2, 4],
        vendorConsents: [
          [1, 3],
          [755, 756],
        ] satisfies Array<[number, number]>,
        disclosedVendors: [
          [1, 4],
          [755, 756],
          [900, 900],
        ] satisfies Array<[number, number]>,
      },
    })
  })
})
