/**
 * Policy validity of decoded TC strings: a well-formed string only counts when it is a TCF v2
 * service-specific string, recent enough, on a current policy version, with DisclosedVendors when
 * required and not stamped in the future. Each row names the one rule it breaks.
 */
import { describe, expect, it } from 'vitest'
import { IdRanges } from '../ranges'
import type { TcfString } from '../types'
import { checkTcfValidity, DEFAULT_TCF_VALIDITY_POLICY, type TcfValidityPolicy } from './index'

const NOW = new Date('2026-11-23T12:00:00.000Z')

const VALID: TcfString = {
  version: 2,
  created: Date.parse('2026-06-03T00:00:00.000Z'),
  lastUpdated: Date.parse('2026-06-03T00:00:00.000Z'),
  cmpId: 880,
  cmpVersion: 1,
  consentScreen: 1,
  consentLanguage: 'EN',
  vendorListVersion: 140,
  policyVersion: 5,
  isServiceSpecific: true,
  useNonStandardTexts: false,
  specialFeatureOptIns: [],
  purposeConsents: [1, 2, 3],
  purposeLegitimateInterests: [2, 7],
  purposeOneTreatment: false,
  publisherCountryCode: 'DE',
  vendorConsents: IdRanges.from([[1, 4]]),
  vendorLegitimateInterests: IdRanges.empty,
  publisherRestrictions: [],
  disclosedVendors: IdRanges.from([[1, 10]]),
  publisherTC: null,
}

type Row = [
  name: string,
  change: Partial<TcfString>,
  policy: Partial<TcfValidityPolicy>,
  error: string | null,
]

const rows: Row[] = [
  ['accepts a current service-specific v2 string', {}, {}, null],
  ['refuses a string that is not service-specific', { isServiceSpecific: false }, {}, 'IsServiceSpecific'],
  ['refuses a version other than 2', { version: 1 }, {}, 'Version'],
  [
    'refuses policy version 2 on a string created after 2023-09-30',
    {
      policyVersion: 2,
      created: Date.parse('2023-10-01T00:00:00.000Z'),
      lastUpdated: Date.parse('2026-01-01T00:00:00.000Z'),
    },
    {},
    'TcfPolicyVersion',
  ],
  [
    'accepts policy version 2 on a string created on 2023-09-30',
    {
      policyVersion: 2,
      created: Date.parse('2023-09-30T23:59:59.900Z'),
      lastUpdated: Date.parse('2026-01-01T00:00:00.000Z'),
      disclosedVendors: null,
    },
    {},
    null,
  ],
  [
    'refuses a string last updated more than 13 months ago',
    {
      created: Date.parse('2025-10-22T00:00:00.000Z'),
      lastUpdated: Date.parse('2025-10-22T00:00:00.000Z'),
      disclosedVendors: null,
    },
    {},
    'LastUpdated',
  ],
  [
    'accepts a string last updated just under 13 months ago',
    {
      created: Date.parse('2025-10-24T00:00:00.000Z'),
      lastUpdated: Date.parse('2025-10-24T00:00:00.000Z'),
      disclosedVendors: null,
    },
    {},
    null,
  ],
  [
    'honours a configured maximum age',
    { lastUpdated: Date.parse('2026-06-03T00:00:00.000Z') },
    { maxAgeMonths: 3 },
    'LastUpdated',
  ],
  [
    'refuses a string created from 2026-03-01 without DisclosedVendors',
    { disclosedVendors: null },
    {},
    'DisclosedVendors',
  ],
  [
    'accepts a string created before 2026-03-01 without DisclosedVendors',
    {
      created: Date.parse('2026-02-28T23:00:00.000Z'),
      lastUpdated: Date.parse('2026-06-03T00:00:00.000Z'),
      disclosedVendors: null,
    },
    {},
    null,
  ],
  [
    'lets the DisclosedVendors requirement be switched off',
    { disclosedVendors: null },
    { requireDisclosedVendorsFrom: null },
    null,
  ],
  [
    'refuses a string created in the future beyond the skew',
    { created: Date.parse('2026-11-25T00:00:00.000Z') },
    {},
    'Created',
  ],
  [
    'refuses a string updated in the future beyond the skew',
    { lastUpdated: Date.parse('2026-11-25T00:00:00.000Z') },
    {},
    'LastUpdated',
  ],
  [
    'tolerates device clocks a few hours ahead',
    { created: Date.parse('2026-11-23T18:00:00.000Z'), lastUpdated: Date.parse('2026-11-23T18:00:00.000Z') },
    {},
    null,
  ],
  [
    'honours a configured skew',
    { created: Date.parse('2026-11-23T12:10:00.000Z') },
    { maxFutureSkewMinutes: 5 },
    'Created',
  ],
]

describe('checkTcfValidity', () => {
  it.each(rows)('%s', (_name, change, policy, error) => {
    const errors = checkTcfValidity(
      { ...VALID, ...change },
      { ...DEFAULT_TCF_VALIDITY_POLICY, ...policy },
      NOW,
    )
    if (error === null) expect(errors).toEqual([])
    else {
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatch(new RegExp(`^${error}`))
    }
  })

  it('fails closed when the policy dates are not dates', () => {
    const errors = checkTcfValidity(
      VALID,
      { ...DEFAULT_TCF_VALIDITY_POLICY, policyVersionMinAfter: { date: 'soon', min: 4 } },
      NOW,
    )
    expect(errors.some((e) => e.startsWith('TcfPolicyVersion'))).toBe(false)
    const lowPolicy = checkTcfValidity(
      { ...VALID, policyVersion: 2 },
      { ...DEFAULT_TCF_VALIDITY_POLICY, policyVersionMinAfter: { date: 'soon', min: 4 } },
      NOW,
    )
    expect(lowPolicy.some((e) => e.startsWith('TcfPolicyVersion'))).toBe(true)
  })

  it('reports every rule a string breaks', () => {
    const errors = checkTcfValidity(
      { ...VALID, isServiceSpecific: false, policyVersion: 3, disclosedVendors: null },
      DEFAULT_TCF_VALIDITY_POLICY,
      NOW,
    )
    expect(errors.map((e) => e.split(' ')[0])).toEqual([
      'IsServiceSpecific',
      'TcfPolicyVersion',
      'DisclosedVendors',
    ])
  })
})
