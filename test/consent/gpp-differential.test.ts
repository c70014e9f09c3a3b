/**
 * Differential tests: random sections built with the IAB reference encoder (`@iabgpp/cmpapi`,
 * a dev dependency used only as an oracle) must decode to the same field values with Gatehouse's
 * decoder. Where the reference library departs from the GPP specification (usnat v1/v2 chosen by
 * string length instead of Version, values outside the spec's range accepted), the tests at the
 * end pin the spec's behaviour and say why.
 *
 * The library loads and runs in workerd, so these run in the Workers pool with the other tests.
 */
import { GppModel, RangeEntry } from '@iabgpp/cmpapi'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeGppString } from '../../worker/consent/gpp'
import type { FieldTable, FieldType } from '../../worker/consent/gpp/fields'
import { US_SECTIONS, type UsSectionSpec } from '../../worker/consent/gpp/us-tables'
import type { GppSectionFields } from '../../worker/consent/types'
import { int, toBase64Url } from '../support/consent/bit-strings'
import { flagsToIds, idsToFlags, libraryIdsToRanges, libraryRangeEntries } from './gpp-helpers'

type Values = Record<string, number | number[]>

// A value within the spec's range for one table row.
function arbitraryFor(t: FieldType): fc.Arbitrary<number | number[]> {
  switch (t.type) {
    case 'int':
      return fc.integer({ min: t.min, max: t.max })
    case 'intList':
      return fc.array(fc.integer({ min: t.min, max: t.max }), { minLength: t.count, maxLength: t.count })
    default:
      throw new Error(`no generator for ${t.type}`)
  }
}

function arbitraryValues(table: FieldTable): fc.Arbitrary<Values> {
  return fc.record(Object.fromEntries(table.map(([name, t]) => [name, arbitraryFor(t)])))
}

interface UsCase {
  spec: UsSectionSpec
  version: number
  values: Values
  /** GPC or sensitive-data sub-section value, or null to leave the sub-section out. */
  sub: boolean | number[] | null
}

const usCase = (spec: UsSectionSpec, version: number): fc.Arbitrary<UsCase> =>
  fc.record({
    spec: fc.constant(spec),
    version: fc.constant(version),
    values: arbitraryValues(spec.versions[version] as FieldTable),
    sub:
      spec.subsection === 'gpc'
        ? fc.option(fc.boolean(), { nil: null })
        : spec.subsection === 'sensitive'
          ? fc.option(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 8, maxLength: 8 }), { nil: null })
          : fc.constant(null),
  })

function encodeWithLibrary(c: UsCase): string {
  const model = new GppModel()
  const { name } = c.spec
  if (c.spec.versionField === 'Version') model.setFieldValue(name, 'Version', c.version)
  for (const [field, value] of Object.entries(c.values)) model.setFieldValue(name, field, value)
  if (c.spec.subsection === 'gpc') {
    model.setFieldValue(name, 'GpcSegmentIncluded', c.sub !== null)
    if (c.sub !== null) model.setFieldValue(name, 'Gpc', c.sub)
  } else if (c.spec.subsection === 'sensitive') {
    model.setFieldValue(name, 'SensitiveDataConsentSegmentIncluded', c.sub !== null)
    if (c.sub !== null) model.setFieldValue(name, 'SensitiveDataProcessing', c.sub)
  }
  return model.encode()
}

const usCases = US_SECTIONS.flatMap((spec) =>
  Object.keys(spec.versions).map((v) => ({ label: `${spec.name} v${v}`, spec, version: Number(v) })),
)

describe('GPP US sections decode like the IAB reference encoder wrote them', () => {
  it.each(usCases)(
    '$label: every field matches the values the library encoded and decodes',
    ({ spec, version }) => {
      fc.assert(
        fc.property(usCase(spec, version), (c) => {
          const encoded = encodeWithLibrary(c)
          const ours = decodeGppString(encoded)
          expect(ours.ok, JSON.stringify(ours)).toBe(true)
          if (!ours.ok) return
          const section = ours.value.sections[spec.name] as GppSectionFields
          expect(ours.value.sectionIds).toEqual([spec.id])
          expect(section[spec.versionField]).toBe(version)
          // Same values as were encoded, and as the library reads back.
          const reread = new GppModel(encoded)
          for (const [field, value] of Object.entries(c.values)) {
            expect(section[field], field).toEqual(value)
            expect(section[field], `${field} (library decode)`).toEqual(
              reread.getFieldValue(spec.name, field),
            )
          }
          if (spec.subsection === 'gpc') {
            expect(section.Gpc).toBe(c.sub)
            if (c.sub !== null) expect(section.Gpc).toBe(reread.getFieldValue(spec.name, 'Gpc'))
          }
          if (spec.subsection === 'sensitive') expect(section.SensitiveDataProcessing).toEqual(c.sub)
        }),
        { numRuns: 60 },
      )
    },
  )
})

describe('GPP uspv1 and multi-section strings match the reference encoder', () => {
  it('decodes a uspv1 section with the library field names', () => {
    const flag = fc.constantFrom('Y', 'N', '-')
    fc.assert(
      fc.property(flag, flag, flag, (notice, optOut, lspa) => {
        const model = new GppModel()
        model.setFieldValue('uspv1', 'Notice', notice)
        model.setFieldValue('uspv1', 'OptOutSale', optOut)
        model.setFieldValue('uspv1', 'LspaCovered', lspa)
        const ours = decodeGppString(model.encode())
        expect(ours.ok && ours.value.sections.uspv1).toEqual({
          Version: 1,
          Notice: notice,
          OptOutSale: optOut,
          LspaCovered: lspa,
        })
      }),
    )
  })

  it('decodes several sections in header order', () => {
    fc.assert(
      fc.property(
        usCase(US_SECTIONS[0] as UsSectionSpec, 2),
        usCase(US_SECTIONS[1] as UsSectionSpec, 1),
        fc.constantFrom('1YNN', '1NYY', '1---'),
        (nat, ca, usp) => {
          const model = new GppModel()
          for (const c of [nat, ca]) {
            for (const [field, value] of Object.entries(c.values))
              model.setFieldValue(c.spec.name, field, value)
          }
          model.setFieldValue('uspv1', 'Notice', usp[1])
          model.setFieldValue('uspv1', 'OptOutSale', usp[2])
          model.setFieldValue('uspv1', 'LspaCovered', usp[3])
          const ours = decodeGppString(model.encode())
          expect(ours.ok).toBe(true)
          if (!ours.ok) return
          expect(ours.value.sectionIds).toEqual([6, 7, 8])
          const usnat = ours.value.sections.usnat as GppSectionFields
          const usca = ours.value.sections.usca as GppSectionFields
          expect(usnat.SaleOptOut).toBe(nat.values.SaleOptOut)
          expect(usca.SaleOptOut).toBe(ca.values.SaleOptOut)
          expect((ours.value.sections.uspv1 as GppSectionFields).OptOutSale).toBe(usp[2])
        },
      ),
      { numRuns: 60 },
    )
  })
})

const vendorIds = fc
  .uniqueArray(fc.integer({ min: 1, max: 2000 }), { maxLength: 40 })
  .map((ids) => [...ids].sort((a, b) => a - b))
const purposeIds = (n: number) => fc.uniqueArray(fc.integer({ min: 1, max: n }), { maxLength: n })
const restriction = fc.record({
  key: fc.integer({ min: 0, max: 63 }),
  type: fc.integer({ min: 0, max: 3 }),
  ids: vendorIds,
})

describe('GPP tcfcav1 decodes like the reference encoder wrote it', () => {
  it('matches every core, publisher purposes and disclosed vendors field', () => {
    fc.assert(
      fc.property(
        fc.record({
          CmpId: fc.integer({ min: 0, max: 4095 }),
          CmpVersion: fc.integer({ min: 0, max: 4095 }),
          ConsentScreen: fc.integer({ min: 0, max: 63 }),
          ConsentLanguage: fc.stringMatching(/^[A-Z]{2}$/),
          VendorListVersion: fc.integer({ min: 0, max: 4095 }),
          TcfPolicyVersion: fc.integer({ min: 0, max: 63 }),
          UseNonStandardStacks: fc.boolean(),
          special: purposeIds(12),
          express: purposeIds(24),
          implied: purposeIds(24),
          vendorsExpress: vendorIds,
          vendorsImplied: vendorIds,
          restrictions: fc.array(restriction, { maxLength: 4 }),
          pubExpress: purposeIds(24),
          pubImplied: purposeIds(24),
          numCustom: fc.integer({ min: 0, max: 10 }),
          customSeed: fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
          disclosed: vendorIds,
          created: fc.integer({ min: 1_600_000_000_0, max: 1_900_000_000_0 }),
        }),
        (v) => {
          const m = new GppModel()
          const s = 'tcfcav1'
          m.setFieldValue(s, 'CmpId', v.CmpId)
          m.setFieldValue(s, 'CmpVersion', v.CmpVersion)
          m.setFieldValue(s, 'ConsentScreen', v.ConsentScreen)
          m.setFieldValue(s, 'ConsentLanguage', v.ConsentLanguage)
          m.setFieldValue(s, 'VendorListVersion', v.VendorListVersion)
          m.setFieldValue(s, 'TcfPolicyVersion', v.TcfPolicyVersion)
          m.setFieldValue(s, 'UseNonStandardStacks', v.UseNonStandardStacks)
          m.setFieldValue(s, 'SpecialFeatureExpressConsent', idsToFlags(v.special, 12))
          m.setFieldValue(s, 'PurposesExpressConsent', idsToFlags(v.express, 24))
          m.setFieldValue(s, 'PurposesImpliedConsent', idsToFlags(v.implied, 24))
          m.setFieldValue(s, 'VendorExpressConsent', [...v.vendorsExpress])
          m.setFieldValue(s, 'VendorImpliedConsent', [...v.vendorsImplied])
          m.setFieldValue(
            s,
            'PubRestrictions',
            v.restrictions.map((r) => new RangeEntry(r.key, r.type, [...r.ids])),
          )
          m.setFieldValue(s, 'PubPurposesExpressConsent', idsToFlags(v.pubExpress, 24))
          m.setFieldValue(s, 'PubPurposesImpliedConsent', idsToFlags(v.pubImplied, 24))
          m.setFieldValue(s, 'NumCustomPurposes', v.numCustom)
          m.setFieldValue(s, 'CustomPurposesExpressConsent', v.customSeed.slice(0, v.numCustom))
          m.setFieldValue(s, 'CustomPurposesImpliedConsent', v.customSeed.slice(10, 10 + v.numCustom))
          m.setFieldValue(s, 'DisclosedVendors', [...v.disclosed])
          // Setting any other field stamps Created/LastUpdated with "now": set them last.
          m.setFieldValue(s, 'Created', new Date(v.created * 100))
          m.setFieldValue(s, 'LastUpdated', new Date(v.created * 100))
          const encoded = m.encode()

          const ours = decodeGppString(encoded)
          expect(ours.ok, JSON.stringify(ours)).toBe(true)
          if (!ours.ok) return
          const got = ours.value.sections.tcfcav1 as GppSectionFields
          const lib = new GppModel(encoded)
          const get = (f: string) => lib.getFieldValue(s, f)
          expect(got.Version).toBe(1)
          for (const f of ['CmpId', 'CmpVersion', 'ConsentScreen', 'VendorListVersion', 'TcfPolicyVersion']) {
            expect(got[f], f).toBe(get(f))
          }
          expect(got.ConsentLanguage).toBe(v.ConsentLanguage)
          expect(got.UseNonStandardStacks).toBe(v.UseNonStandardStacks)
          expect(got.Created).toBe((get('Created') as Date).toISOString())
          expect(got.LastUpdated).toBe(new Date(v.created * 100).toISOString())
          for (const f of [
            'SpecialFeatureExpressConsent',
            'PurposesExpressConsent',
            'PurposesImpliedConsent',
            'PubPurposesExpressConsent',
            'PubPurposesImpliedConsent',
            'CustomPurposesExpressConsent',
            'CustomPurposesImpliedConsent',
          ]) {
            expect(got[f], f).toEqual(flagsToIds(get(f)))
          }
          expect(got.NumCustomPurposes).toBe(v.numCustom)
          expect(got.VendorExpressConsent).toEqual(libraryIdsToRanges(get('VendorExpressConsent')))
          expect(got.VendorImpliedConsent).toEqual(libraryIdsToRanges(v.vendorsImplied))
          expect(got.PubRestrictions).toEqual(libraryRangeEntries(get('PubRestrictions')))
          // The library only writes the Disclosed Vendors sub-section when the list is not empty.
          expect(got.DisclosedVendors).toEqual(
            v.disclosed.length > 0 ? libraryIdsToRanges(v.disclosed) : null,
          )
        },
      ),
      { numRuns: 150 },
    )
  })
})

describe('where the reference library departs from the GPP specification, the decoder follows the spec', () => {
  // usnat Version 1 core: 6 + 9 * 2 + 12 * 2 + 2 * 2 + 4 * 2 = 60 bits; SaleOptOut = 1 (opted out).
  const usnatV1Bits =
    int(1, 6) +
    '01'.repeat(6) +
    '01' +
    '10' +
    '10' +
    '00'.repeat(12) +
    '00'.repeat(2) +
    '00' +
    '01' +
    '00' +
    '00'

  it('chooses the usnat v1 layout from Version even when the padding is not the one the library expects', () => {
    // Padded to 72 bits (a multiple of 24, as TCF-style encoders pad), not 60 or 66: the library
    // picks the layout by length and reads this v1 body with the v2 layout.
    const gpp = `DBABLA~${toBase64Url(usnatV1Bits, 24)}`
    const ours = decodeGppString(gpp)
    expect(ours.ok).toBe(true)
    const usnat = (ours.ok ? ours.value.sections.usnat : {}) as GppSectionFields
    expect(usnat.Version).toBe(1)
    expect(usnat.SaleOptOut).toBe(1)
    expect(usnat.SensitiveDataProcessing).toHaveLength(12)
    expect(usnat.KnownChildSensitiveDataConsents).toHaveLength(2)
    expect(usnat.MspaCoveredTransaction).toBe(1)
    // The library returns the v2-shaped misreading: MspaCoveredTransaction comes out wrong.
    const lib = new GppModel(gpp)
    expect(lib.getFieldValue('usnat', 'MspaCoveredTransaction')).not.toBe(1)
  })

  it('decodes usnat v1 with both the 6-bit and the 8-bit padding the same', () => {
    const six = decodeGppString(`DBABLA~${toBase64Url(usnatV1Bits, 6)}`)
    const eight = decodeGppString(`DBABLA~${toBase64Url(usnatV1Bits, 8)}`)
    expect(six.ok && eight.ok).toBe(true)
    expect(six).toEqual(eight)
  })

  it('rejects a usnat body labelled Version 2 that only carries the shorter v1 layout', () => {
    const v2Label = int(2, 6) + usnatV1Bits.slice(6)
    const gpp = `DBABLA~${toBase64Url(v2Label, 8)}`
    const ours = decodeGppString(gpp)
    // Read with the v2 layout the fields misalign (MspaCoveredTransaction lands on 0) and run out.
    expect(ours.ok).toBe(false)
    if (!ours.ok) expect(ours.error.field).toMatch(/^usnat\./)
    // The library pads the missing categories with zeros and reports a v2 string.
    expect(new GppModel(gpp).getFieldValue('usnat', 'Version')).toBe(2)
  })

  it('rejects 2-bit values of 3, which the spec leaves undefined, naming the field', () => {
    const bits = usnatV1Bits.slice(0, 18) + '11' + usnatV1Bits.slice(20) // SaleOptOut = 3
    const gpp = `DBABLA~${toBase64Url(bits, 8)}`
    const ours = decodeGppString(gpp)
    expect(ours).toMatchObject({ ok: false, error: { reason: 'out_of_range', field: 'usnat.SaleOptOut' } })
    // The library accepts the undefined value as is.
    expect(new GppModel(gpp).getFieldValue('usnat', 'SaleOptOut')).toBe(3)
  })
})
