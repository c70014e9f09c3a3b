/**
 * Consent records, the pure part: which consents are worth a record, and a fingerprint that
 * changes with the consent or its evidence (a re-issued TC string) and nothing else. The record
 * never carries a raw signal value.
 */
import { describe, expect, it } from 'vitest'
import type { Location } from '../context/location'
import { bundledRules } from '../rules'
import { consentEvidence, resolveRequestConsent } from './index'
import { planConsentRecord, worthRecording } from './record'
import { consentInputFromBody, consentInputFromRequest } from './signals'
import { coreBits, tcString, vendorBitfield, vendorsSegment } from '../../test/support/consent/tcf-fixtures'

const url = new URL('https://shop.example/')
const eu: Location = { country: 'DE', region: null, source: 'cf' }
const usCa: Location = { country: 'US', region: 'CA', source: 'cf' }

function tc(purposes: number[], at = Date.now() - 86_400_000): string {
  const t = Math.floor(at / 100) * 100
  return tcString(
    coreBits({ created: t, lastUpdated: t, purposeConsents: purposes, publisherCountryCode: 'DE' }),
    vendorsSegment(1, vendorBitfield(8, [1, 2])),
  )
}

function resolved(cookies: Record<string, string>, location: Location = eu, headers = new Headers()) {
  const input = consentInputFromRequest(headers, new Map(Object.entries(cookies)), url)
  return resolveRequestConsent(input, bundledRules, location, new Date()).consent
}

const plan = (c: ReturnType<typeof resolved>) => planConsentRecord(c, consentEvidence(c))

describe('planConsentRecord', () => {
  it('gives the same fingerprint for the same consent read from the same string', () => {
    const s = tc([1, 7, 8])
    expect(plan(resolved({ 'euconsent-v2': s })).fingerprint).toBe(
      plan(resolved({ 'euconsent-v2': s })).fingerprint,
    )
  })

  it('gives a new fingerprint for other choices, and for a re-issued string with the same choices', () => {
    const a = plan(resolved({ 'euconsent-v2': tc([1, 7, 8]) })).fingerprint
    expect(plan(resolved({ 'euconsent-v2': tc([1]) })).fingerprint).not.toBe(a)
    expect(plan(resolved({ 'euconsent-v2': tc([1, 7, 8], Date.now() - 3_600_000) })).fingerprint).not.toBe(a)
  })

  it('names the TCF source with its version fields and keeps the raw string out of the record', () => {
    const s = tc([1, 7, 8])
    const p = plan(resolved({ 'euconsent-v2': s }))
    expect(p.evidence).toHaveLength(1)
    expect(p.evidence[0]!.evidence).toMatchObject({
      signal: 'tcf',
      from: 'cookie:euconsent-v2',
      fields: { version: 2, policyVersion: expect.any(Number), isServiceSpecific: true },
    })
    expect(p.evidence[0]!.raw).toBe(s)
    expect(JSON.stringify(p.record)).not.toContain(s)
    expect(JSON.stringify(p.evidence.map((e) => e.evidence))).not.toContain(s)
  })

  it('names a CMP cookie with the CMP and its state, and a body block by its field', () => {
    const cc = encodeURIComponent(
      JSON.stringify({
        categories: ['necessary', 'analytics'],
        revision: 0,
        consentTimestamp: '2026-11-23T10:00:00.000Z',
        consentId: '9b0c6d1e-2f3a-4b5c-8d7e-6f5a4b3c2d1e',
        lastConsentTimestamp: '2026-11-23T10:00:00.000Z',
      }),
    )
    const p = plan(resolved({ cc_cookie: cc }))
    const cmp = p.evidence.find((e) => e.evidence.signal === 'cmp')
    expect(cmp?.evidence).toMatchObject({
      signal: 'cmp',
      from: 'cookie:cc_cookie',
      cmp: 'vanilla-cookieconsent',
      fields: { state: 'explicit' },
    })
    expect(cmp?.raw).toBe(cc)

    const s = tc([1])
    const input = consentInputFromBody(
      { tcString: s },
      consentInputFromRequest(new Headers(), new Map(), url),
    )
    const body = resolveRequestConsent(input, bundledRules, eu, new Date()).consent
    expect(plan(body).evidence[0]).toMatchObject({ evidence: { from: 'body:consent.tcString' }, raw: s })
  })
})

describe('worthRecording', () => {
  it('records an EU choice, a refusal and a visitor with nothing granted', () => {
    expect(worthRecording(resolved({ 'euconsent-v2': tc([1, 7, 8]) }))).toBe(true)
    expect(worthRecording(resolved({ 'euconsent-v2': tc([]) }))).toBe(true)
    expect(worthRecording(resolved({}))).toBe(true)
  })

  it('records GPC in an opt-out regime, but not a visitor there who expressed nothing', () => {
    expect(worthRecording(resolved({}, usCa))).toBe(false)
    expect(worthRecording(resolved({}, usCa, new Headers({ 'sec-gpc': '1' })))).toBe(true)
  })
})
