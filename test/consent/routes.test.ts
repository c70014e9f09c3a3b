/**
 * `GET /v1/consent` exactly as docs/api.md describes it, and `GET /.well-known/gpc.json` from the rules.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import { bundledRules, type RuleSet } from '../../worker/rules'
import { ALL_PURPOSES, GPP, located, tcCookie } from './consent-support'
import { coreBits, tcString, vendorBitfield, vendorsSegment } from '../support/consent/tcf-fixtures'

const consentOf = async (headers: Record<string, string>, query = '') => {
  const res = await exports.default.fetch(new Request(`http://gate.test/v1/consent${query}`, { headers }))
  expect(res.status).toBe(200)
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  return (await res.json()) as Record<string, unknown> & {
    signals: Record<string, Record<string, unknown>>
    reasons: string[]
    purposes: Record<string, boolean>
  }
}

describe('GET /v1/consent', () => {
  it('answers with the docs/api.md shape for an EU visitor without signals', async () => {
    const body = await consentOf(located('DE'))
    expect(body).toMatchObject({
      jurisdiction: 'EU',
      purposes: { storage: false, measurement: false, personalization: false, advertising: false },
      saleShareOptOut: false,
      gpc: false,
      signals: {},
    })
    expect(body.reasons).toEqual([
      'EU is opt-in; no valid TCF consent signal -> no storage, measurement, personalization or advertising',
    ])
  })

  it('reports a valid TC string field by field, ids as merged ranges, and the purposes it grants', async () => {
    const body = await consentOf(
      located('AT', undefined, { cookie: `euconsent-v2=${tcCookie(ALL_PURPOSES)}` }),
    )
    expect(body.purposes).toEqual({
      storage: true,
      measurement: true,
      personalization: true,
      advertising: true,
    })
    const tcf = body.signals.tcf!
    // Dates as docs/api.md shows them: ISO 8601, the day `tcCookie` stamped (a day ago, to the decisecond).
    expect(tcf.created).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d00Z$/)
    const age = Date.now() - Date.parse(tcf.created as string)
    expect(age).toBeGreaterThanOrEqual(86_400_000)
    expect(age).toBeLessThan(86_400_000 + 60_000)
    expect(tcf.lastUpdated).toBe(tcf.created)
    expect(tcf).toMatchObject({
      valid: true,
      errors: [],
      version: 2,
      cmpId: 880,
      consentLanguage: 'EN',
      isServiceSpecific: true,
      publisherCountryCode: 'DE',
      purposeConsents: ALL_PURPOSES,
      purposeLegitimateInterests: [],
      vendorConsents: [[1, 4]],
      disclosedVendors: [[1, 3]],
      publisherTC: null,
    })
    expect(Object.keys(tcf)).toEqual(
      expect.arrayContaining([
        'created',
        'lastUpdated',
        'specialFeatureOptIns',
        'publisherRestrictions',
        'vendorListVersion',
        'policyVersion',
      ]),
    )
    expect(body.reasons).toContain(
      'EU is opt-in; TCF string (cookie:euconsent-v2) valid; purpose 1 consented -> storage',
    )
  })

  it('reports a garbage query string as invalid with errors and grants nothing', async () => {
    const body = await consentOf(located('DE'), '?gdpr_consent=%24%7BGDPR_CONSENT_755%7D')
    expect(body.signals.tcf).toEqual({ valid: false, errors: [expect.any(String)] })
    expect(body.purposes).toEqual({
      storage: false,
      measurement: false,
      personalization: false,
      advertising: false,
    })
    expect(body.reasons[0]).toMatch(/^TCF string \(query:gdpr_consent\) invalid: .+ -> grants nothing$/)
  })

  it('reports an expired TC string as invalid, with the fields it decoded to', async () => {
    const body = await consentOf(
      located('DE', undefined, { cookie: `euconsent-v2=${tcCookie(ALL_PURPOSES, 420)}` }),
    )
    expect(body.signals.tcf).toMatchObject({
      valid: false,
      errors: [expect.stringContaining('more than 13 months old')],
      version: 2,
      purposeConsents: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    })
    expect(body.purposes.storage).toBe(false)
  })

  it.each([
    [
      'not service-specific',
      { isServiceSpecific: false },
      'IsServiceSpecific is 0',
      { isServiceSpecific: false, policyVersion: 5 },
    ],
    [
      'an old policy version',
      { policyVersion: 2 },
      'TcfPolicyVersion is 2',
      { isServiceSpecific: true, policyVersion: 2 },
    ],
  ])(
    'reports a TC string that decodes but is %s as invalid, beside what it said',
    async (_case, over, error, said) => {
      const t = Math.floor((Date.now() - 86_400_000) / 100) * 100
      const tc = tcString(
        coreBits({ created: t, lastUpdated: t, purposeConsents: ALL_PURPOSES, cmpId: 31, ...over }),
        vendorsSegment(1, vendorBitfield(8, [1, 2, 3])),
      )
      const body = await consentOf(located('DE', undefined, { cookie: `euconsent-v2=${tc}` }))
      expect(body.signals.tcf).toMatchObject({
        valid: false,
        errors: [expect.stringContaining(error)],
        cmpId: 31,
        purposeConsents: ALL_PURPOSES,
        ...said,
      })
      expect(body.purposes).toEqual({
        storage: false,
        measurement: false,
        personalization: false,
        advertising: false,
      })
    },
  )

  it('reports GPP sections under their prefix with the spec field names', async () => {
    const body = await consentOf(located('US', 'CA', { cookie: `__gpp=${GPP.uscaSaleOptOut}; __gpp_sid=8` }))
    expect(body.signals.gpp).toMatchObject({
      valid: true,
      errors: [],
      sectionIds: [8],
      sections: { usca: { Version: 1, SaleOptOut: 1, SharingOptOut: 2, Gpc: false } },
    })
    expect(body).toMatchObject({
      jurisdiction: 'US-CA',
      saleShareOptOut: true,
      purposes: { advertising: false, measurement: true },
    })
  })

  it('reports GPP as invalid when gpp_sid does not match its header', async () => {
    const body = await consentOf(located('US', 'CA'), `?gpp=${GPP.uscaSaleOptOut}&gpp_sid=7`)
    expect(body.signals.gpp).toMatchObject({ valid: false })
    expect(String((body.signals.gpp!.errors as string[])[0])).toContain('query:gpp_sid')
    // Unreadable in an opt-out regime: it may have carried an opt-out, so it counts as one (fail safe).
    expect(body.saleShareOptOut).toBe(true)
    expect(body.purposes.advertising).toBe(false)
  })

  it('reports a US Privacy string', async () => {
    const body = await consentOf(located('US', 'VA'), '?us_privacy=1YYN')
    expect(body.signals.usp).toEqual({
      valid: true,
      errors: [],
      version: 1,
      notice: 'Y',
      optOutSale: 'Y',
      lspaCovered: 'N',
    })
    expect(body).toMatchObject({ jurisdiction: 'US-VA', saleShareOptOut: true })
  })

  it.each([
    { header: '1', gpc: true },
    { header: '0, 1', gpc: true },
    { header: '1, 1', gpc: true },
    { header: '0', gpc: false },
    { header: 'true', gpc: false },
    { header: ' 1 ', gpc: true },
  ])('reads Sec-GPC "$header" as gpc=$gpc', async ({ header, gpc }) => {
    const body = await consentOf(located('US', 'CA', { 'sec-gpc': header }))
    expect(body.gpc).toBe(gpc)
    expect(body.saleShareOptOut).toBe(gpc)
  })
})

describe('GET /.well-known/gpc.json', () => {
  it('serves the GPC support resource from rules/consent.yaml', async () => {
    const res = await exports.default.fetch('http://gate.test/.well-known/gpc.json')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await res.json()).toEqual({ gpc: true, lastUpdate: bundledRules.consent.gpcWellKnown.lastUpdate })
  })

  it('answers 404 problem+json when the site switches it off', async () => {
    const rules: RuleSet = {
      ...bundledRules,
      consent: { ...bundledRules.consent, gpcWellKnown: { enabled: false, lastUpdate: null } },
    }
    const ctx = createExecutionContext()
    const res = await createApp({ rules }).fetch(
      new Request('http://gate.test/.well-known/gpc.json'),
      env,
      ctx,
    )
    await waitOnExecutionContext(ctx)
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
  })
})
