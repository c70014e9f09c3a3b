/**
 * Every CMP adapter against cookie values in the shapes the CMPs' own documentation and code
 * write (full, partial, refusal, undecided, malformed), one row each; a bug report becomes a row.
 * Then fast-check: no adapter throws on any text, and garbage never reads as an accepted category.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PURPOSES } from '../types'
import { cmpGrants } from './grants'
import { CMP_ADAPTERS, CMP_BY_NAME } from './index'
import type { CmpState } from './types'

const enc = encodeURIComponent
const ot = (groups: string, extra = 'interactionCount=1') =>
  `isGpcEnabled=0&datestamp=Mon+Nov+23+2026+10%3A00%3A00+GMT%2B0100&version=202409.1.0&browserGpcFlag=0&isIABGlobal=false&hosts=&consentId=3f6b1c8e-1d2a-4f7e-9a51-2b0f4c7d9e10&${extra}&landingPath=NotLandingPage&groups=${enc(groups)}&geolocation=DE%3BBE&AwaitingReconsent=false`
const cb = (body: string) =>
  enc(`{stamp:'k2wPq1Q0sC4x8Yb7v1Wm8Fq6T5e3+A2Q==',${body},ver:1,utc:1795430400000,region:'de'}`)
const cc = (categories: string[]) =>
  enc(
    JSON.stringify({
      categories,
      revision: 0,
      data: null,
      consentTimestamp: '2026-11-23T10:00:00.000Z',
      consentId: '9b0c6d1e-2f3a-4b5c-8d7e-6f5a4b3c2d1e',
      services: { analytics: [] },
      languageCode: 'en',
      lastConsentTimestamp: '2026-11-23T10:00:00.000Z',
      expirationTime: 1811154000000,
    }),
  )
const shop = (cmp: Record<string, string>) =>
  enc(JSON.stringify({ con: { CMP: cmp }, v: '2.1', region: 'DEBE', reg: 'GDPR', consent_id: 'x1' }))
const iub = (purposes: Record<string, boolean>) =>
  enc(JSON.stringify({ timestamp: '2026-11-23T10:00:00.000Z', version: '1.60.0', purposes, id: 1234567 }))
const didomiToken = (enabled: string[], disabled: string[]) =>
  btoa(
    JSON.stringify({
      user_id: '18a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8',
      created: '2026-11-23T10:00:00.000Z',
      updated: '2026-11-23T10:00:00.000Z',
      vendors: { enabled: [], disabled: [] },
      purposes: { enabled, disabled },
      version: 2,
    }),
  ).replace(/=+$/, '')

interface Row {
  name: string
  cmp: string
  cookies: Record<string, string>
  state?: CmpState
  categories?: Record<string, boolean>
  gpc?: boolean
  saleOptOut?: boolean
  tcString?: string
  error?: string
}

const rows: Row[] = [
  // OneTrust: groups=<id>:<0|1>, interactionCount, OptanonAlertBoxClosed, isGpcEnabled.
  {
    name: 'OneTrust accept all',
    cmp: 'onetrust',
    cookies: {
      OptanonConsent: ot('C0001:1,C0002:1,C0003:1,C0004:1'),
      OptanonAlertBoxClosed: '2026-11-23T10:00:00.000Z',
    },
    state: 'explicit',
    categories: { C0001: true, C0002: true, C0003: true, C0004: true },
  },
  {
    name: 'OneTrust analytics only',
    cmp: 'onetrust',
    cookies: { OptanonConsent: ot('C0001:1,C0002:1,C0003:0,C0004:0') },
    state: 'explicit',
    categories: { C0001: true, C0002: true, C0003: false, C0004: false },
  },
  {
    name: 'OneTrust reject all',
    cmp: 'onetrust',
    cookies: {
      OptanonConsent: ot('C0001:1,C0002:0,C0003:0,C0004:0'),
      OptanonAlertBoxClosed: '2026-11-23T10:00:00.000Z',
    },
    state: 'explicit',
    categories: { C0001: true, C0002: false, C0003: false, C0004: false },
  },
  {
    name: 'OneTrust before any choice',
    cmp: 'onetrust',
    cookies: { OptanonConsent: ot('C0001:1,C0002:0,C0003:0,C0004:0', 'interactionCount=0') },
    state: 'undecided',
  },
  {
    name: 'OneTrust implied (opt-out model) groups on without interaction',
    cmp: 'onetrust',
    cookies: { OptanonConsent: ot('C0001:1,C0002:1,C0004:1', 'interactionCount=0') },
    state: 'implied',
  },
  {
    name: 'OneTrust with its GPC flag',
    cmp: 'onetrust',
    cookies: { OptanonConsent: ot('C0001:1,C0004:0').replace('isGpcEnabled=0', 'isGpcEnabled=1') },
    state: 'explicit',
    gpc: true,
  },
  {
    name: 'OneTrust custom group ids',
    cmp: 'onetrust',
    cookies: { OptanonConsent: ot('C0001:1,SPD_BG:1,STACK42:0') },
    categories: { C0001: true, SPD_BG: true, STACK42: false },
  },
  {
    name: 'OneTrust value encoded as a whole',
    cmp: 'onetrust',
    cookies: { OptanonConsent: enc(ot('C0001:1,C0002:1')) },
    state: 'explicit',
    categories: { C0001: true, C0002: true },
  },
  {
    name: 'OneTrust group flag not 0/1',
    cmp: 'onetrust',
    cookies: { OptanonConsent: ot('C0001:1,C0002:yes') },
    error: 'bad_value',
  },
  {
    name: 'OneTrust without groups',
    cmp: 'onetrust',
    cookies: { OptanonConsent: 'isGpcEnabled=0&interactionCount=1' },
    error: 'missing',
  },
  {
    name: 'OneTrust interactionCount not a count',
    cmp: 'onetrust',
    cookies: { OptanonConsent: ot('C0001:1', 'interactionCount=-2') },
    error: 'bad_value',
  },
  // Cookiebot: URL-encoded object literal; method; -1; iab2.
  {
    name: 'Cookiebot statistics only',
    cmp: 'cookiebot',
    cookies: {
      CookieConsent: cb("necessary:true,preferences:false,statistics:true,marketing:false,method:'explicit'"),
    },
    state: 'explicit',
    categories: { necessary: true, preferences: false, statistics: true, marketing: false },
  },
  {
    name: 'Cookiebot declined',
    cmp: 'cookiebot',
    cookies: {
      CookieConsent: cb(
        "necessary:true,preferences:false,statistics:false,marketing:false,method:'explicit'",
      ),
    },
    state: 'explicit',
    categories: { necessary: true, preferences: false, statistics: false, marketing: false },
  },
  {
    name: 'Cookiebot implied',
    cmp: 'cookiebot',
    cookies: {
      CookieConsent: cb("necessary:true,preferences:true,statistics:true,marketing:true,method:'implied'"),
    },
    state: 'implied',
  },
  {
    name: 'Cookiebot region needs no consent (-1)',
    cmp: 'cookiebot',
    cookies: { CookieConsent: '-1' },
    state: 'not-required',
  },
  {
    name: 'Cookiebot legacy declined (0)',
    cmp: 'cookiebot',
    cookies: { CookieConsent: '0' },
    state: 'explicit',
    categories: { necessary: true, preferences: false, statistics: false, marketing: false },
  },
  {
    name: 'Cookiebot with its TC string',
    cmp: 'cookiebot',
    cookies: {
      CookieConsent: cb(
        "necessary:true,preferences:true,statistics:true,marketing:true,method:'explicit',iab2:'CQBxyzAQBxyzAAGABCENBKFgAAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAAA'",
      ),
    },
    tcString: 'CQBxyzAQBxyzAAGABCENBKFgAAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAAA',
  },
  {
    name: 'Cookiebot written as JSON is not its format',
    cmp: 'cookiebot',
    cookies: { CookieConsent: enc('{"necessary":true,"statistics":true}') },
    error: 'bad_syntax',
  },
  {
    name: 'Cookiebot category not a boolean',
    cmp: 'cookiebot',
    cookies: { CookieConsent: cb('necessary:true,preferences:1,statistics:true,marketing:false') },
    error: 'bad_value',
  },
  {
    name: 'Cookiebot truncated',
    cmp: 'cookiebot',
    cookies: { CookieConsent: cb('necessary:true').slice(0, 30) },
    error: 'bad_syntax',
  },
  // vanilla-cookieconsent v3: categories lists the accepted ones only.
  {
    name: 'vanilla-cookieconsent accept all',
    cmp: 'vanilla-cookieconsent',
    cookies: { cc_cookie: cc(['necessary', 'analytics', 'ads']) },
    state: 'explicit',
    categories: { necessary: true, analytics: true, ads: true },
  },
  {
    name: 'vanilla-cookieconsent necessary only',
    cmp: 'vanilla-cookieconsent',
    cookies: { cc_cookie: cc(['necessary']) },
    state: 'explicit',
    categories: { necessary: true },
  },
  {
    name: 'vanilla-cookieconsent without consentId is no consent',
    cmp: 'vanilla-cookieconsent',
    cookies: { cc_cookie: enc(JSON.stringify({ categories: ['analytics'] })) },
    error: 'missing',
  },
  {
    name: 'vanilla-cookieconsent categories not a list',
    cmp: 'vanilla-cookieconsent',
    cookies: {
      cc_cookie: enc(
        JSON.stringify({
          categories: 'analytics',
          consentId: 'a',
          consentTimestamp: 'b',
          lastConsentTimestamp: 'c',
        }),
      ),
    },
    error: 'bad_value',
  },
  // Klaro: per-service booleans.
  {
    name: 'Klaro per service',
    cmp: 'klaro',
    cookies: { klaro: enc('{"matomo":true,"google-ads":false}') },
    state: 'explicit',
    categories: { matomo: true, 'google-ads': false },
  },
  {
    name: 'Klaro unencoded JSON',
    cmp: 'klaro',
    cookies: { klaro: '{"matomo":false}' },
    categories: { matomo: false },
  },
  {
    name: 'Klaro service value not boolean',
    cmp: 'klaro',
    cookies: { klaro: '{"matomo":"yes"}' },
    error: 'bad_value',
  },
  // CookieYes: key:value list, action empty until the visitor acts.
  {
    name: 'CookieYes analytics only',
    cmp: 'cookieyes',
    cookies: {
      'cookieyes-consent':
        'consentid:ZXhhbXBsZQ,consent:yes,action:yes,necessary:yes,functional:no,analytics:yes,performance:no,advertisement:no,other:no',
    },
    state: 'explicit',
    categories: {
      necessary: true,
      functional: false,
      analytics: true,
      performance: false,
      advertisement: false,
      other: false,
    },
  },
  {
    name: 'CookieYes before any action',
    cmp: 'cookieyes',
    cookies: {
      'cookieyes-consent':
        'consentid:ZXhhbXBsZQ,consent:no,action:,necessary:yes,functional:no,analytics:no,performance:no,advertisement:no,other:no',
    },
    state: 'undecided',
  },
  {
    name: 'CookieYes value not yes/no',
    cmp: 'cookieyes',
    cookies: { 'cookieyes-consent': 'consentid:x,consent:yes,action:yes,analytics:maybe' },
    error: 'bad_value',
  },
  {
    name: 'CookieYes without action',
    cmp: 'cookieyes',
    cookies: { 'cookieyes-consent': 'consentid:x,analytics:yes' },
    error: 'missing',
  },
  // Complianz: one cookie per category.
  {
    name: 'Complianz statistics allowed, marketing denied',
    cmp: 'complianz',
    cookies: {
      cmplz_functional: 'allow',
      cmplz_statistics: 'allow',
      cmplz_marketing: 'deny',
      'cmplz_banner-status': 'dismissed',
    },
    state: 'explicit',
    categories: { functional: true, statistics: true, marketing: false },
  },
  {
    name: 'Complianz value not allow/deny',
    cmp: 'complianz',
    cookies: { cmplz_marketing: 'yes' },
    error: 'bad_value',
  },
  // Shopify: con.CMP {a, m, p, s}.
  {
    name: 'Shopify analytics only',
    cmp: 'shopify',
    cookies: { _tracking_consent: shop({ a: '1', m: '0', p: '0', s: '0' }) },
    state: 'explicit',
    categories: { a: true, m: false, p: false, s: false },
    saleOptOut: true,
  },
  {
    name: 'Shopify no choice yet',
    cmp: 'shopify',
    cookies: { _tracking_consent: shop({ a: '', m: '', p: '', s: '' }) },
    state: 'undecided',
    saleOptOut: false,
  },
  {
    name: 'Shopify 2.0 GDPR flag',
    cmp: 'shopify',
    cookies: { _tracking_consent: enc('{"v":"2.0","lim":["GDPR"],"reg":"GDPR","con":{"GDPR":"1"}}') },
    state: 'explicit',
    categories: { a: true, m: true, p: true },
  },
  {
    name: 'Shopify flag not "1"/"0"/""',
    cmp: 'shopify',
    cookies: { _tracking_consent: shop({ a: 'yes', m: '0', p: '0', s: '' }) },
    error: 'bad_value',
  },
  // iubenda: purposes 1-5.
  {
    name: 'iubenda measurement only',
    cmp: 'iubenda',
    cookies: { '_iub_cs-1234567': iub({ 1: true, 2: false, 3: false, 4: true, 5: false }) },
    state: 'explicit',
    categories: { 1: true, 2: false, 3: false, 4: true, 5: false },
  },
  {
    name: 'iubenda legacy consent false',
    cmp: 'iubenda',
    cookies: { '_iub_cs-s99': enc('{"timestamp":"2026-11-23","consent":false}') },
    categories: { 1: true, 2: false, 3: false, 4: false, 5: false },
  },
  {
    name: 'iubenda without purposes or consent',
    cmp: 'iubenda',
    cookies: { '_iub_cs-1': enc('{"timestamp":"x"}') },
    error: 'missing',
  },
  // Didomi: base64 JSON, purposes enabled/disabled.
  {
    name: 'Didomi analytics enabled, ads disabled',
    cmp: 'didomi',
    cookies: {
      didomi_token: didomiToken(
        ['cookies', 'measure_content_performance'],
        ['select_basic_ads', 'create_ads_profile'],
      ),
    },
    state: 'explicit',
    categories: {
      cookies: true,
      measure_content_performance: true,
      select_basic_ads: false,
      create_ads_profile: false,
    },
  },
  {
    name: 'Didomi with no purposes chosen',
    cmp: 'didomi',
    cookies: { didomi_token: didomiToken([], []) },
    state: 'undecided',
  },
  {
    name: 'Didomi not base64',
    cmp: 'didomi',
    cookies: { didomi_token: '%%%not-base64%%%' },
    error: 'bad_base64',
  },
  // Cookie Information, Borlabs, CookieFirst, Axeptio, TrustArc.
  {
    name: 'Cookie Information statistic approved, marketing denied',
    cmp: 'cookieinformation',
    cookies: {
      CookieInformationConsent: enc(
        JSON.stringify({
          website_uuid: 'w',
          timestamp: '2026-11-23T10:00:00Z',
          consents_approved: ['cookie_cat_necessary', 'cookie_cat_statistic'],
          consents_denied: ['cookie_cat_marketing'],
        }),
      ),
    },
    categories: { cookie_cat_necessary: true, cookie_cat_statistic: true, cookie_cat_marketing: false },
  },
  {
    name: 'Borlabs accepted groups',
    cmp: 'borlabs',
    cookies: {
      'borlabs-cookie': enc(
        JSON.stringify({
          consents: { essential: ['borlabs-cookie'], statistics: ['google-analytics'] },
          uid: 'u',
          version: '1',
        }),
      ),
    },
    categories: { essential: true, statistics: true },
  },
  {
    name: 'CookieFirst performance only',
    cmp: 'cookiefirst',
    cookies: {
      'cookiefirst-consent': enc(
        '{"necessary":true,"performance":true,"functional":false,"advertising":false,"timestamp":1795430400,"type":"category"}',
      ),
    },
    categories: { necessary: true, performance: true, functional: false, advertising: false },
  },
  {
    name: 'Axeptio completed',
    cmp: 'axeptio',
    cookies: {
      axeptio_cookies: enc(
        '{"$$token":"t","$$date":"2026-11-23T10:00:00.000Z","$$completed":true,"google_analytics":true,"facebook_pixel":false}',
      ),
    },
    state: 'explicit',
    categories: { google_analytics: true, facebook_pixel: false },
  },
  {
    name: 'Axeptio not completed',
    cmp: 'axeptio',
    cookies: { axeptio_cookies: enc('{"$$completed":false,"google_analytics":false}') },
    state: 'undecided',
  },
  {
    name: 'TrustArc functional accepted, expressed',
    cmp: 'trustarc',
    cookies: { notice_gdpr_prefs: '0,1:', notice_behavior: 'expressed,eu' },
    state: 'explicit',
    categories: { 0: true, 1: true },
  },
  {
    name: 'TrustArc implied',
    cmp: 'trustarc',
    cookies: { notice_gdpr_prefs: '0,1,2:', notice_behavior: 'implied,eu' },
    state: 'implied',
  },
  {
    name: 'TrustArc prefs malformed',
    cmp: 'trustarc',
    cookies: { notice_gdpr_prefs: 'all' },
    error: 'bad_syntax',
  },
]

describe('CMP cookie adapters', () => {
  it.each(rows)('$name', (row) => {
    const adapter = CMP_BY_NAME.get(row.cmp)!
    const found = adapter.find(new Map(Object.entries(row.cookies)))
    expect(found).not.toBeNull()
    const result = adapter.parse(found!.raw)
    if (row.error) {
      expect(result.ok).toBe(false)
      if (!result.ok) expect(result.error.reason).toBe(row.error)
      return
    }
    expect(result.ok).toBe(true)
    if (!result.ok) return
    if (row.state) expect(result.value.state).toBe(row.state)
    if (row.categories) expect({ ...result.value.categories }).toEqual(row.categories)
    if (row.gpc !== undefined) expect(result.value.gpc).toBe(row.gpc)
    if (row.saleOptOut !== undefined) expect(result.value.saleOptOut).toBe(row.saleOptOut)
    if (row.tcString) expect(result.value.tcString).toBe(row.tcString)
  })

  it('finds nothing on a request without the CMP cookie', () => {
    const jar = new Map([['session', 'abc']])
    for (const a of CMP_ADAPTERS) expect(a.find(jar)).toBeNull()
  })

  it('refuses a cookie over the browser limit of 4096 bytes', () => {
    for (const a of CMP_ADAPTERS) {
      const r = a.parse('x'.repeat(5000))
      expect(r.ok).toBe(false)
    }
  })

  it('never throws, whatever the cookie holds', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.json().map((j) => encodeURIComponent(j)),
      fc.json(),
      fc.json().map((j) => btoa(unescape(encodeURIComponent(j)))),
    )
    fc.assert(
      fc.property(fc.constantFrom(...CMP_ADAPTERS), text, (a, raw) => {
        a.parse(raw)
        a.parse('1' + raw)
      }),
      { numRuns: 3000 },
    )
  })

  it('never grants a purpose on garbage', () => {
    // Text without the structure a CMP writes cannot accept a category that stands for a purpose
    // (Cookiebot's legacy `0` keeps `necessary`, which stands for none).
    const garbage = fc.string({ unit: fc.constantFrom(...'abcXYZ019 ;=&%+-_!*,'), maxLength: 200 })
    fc.assert(
      fc.property(fc.constantFrom(...CMP_ADAPTERS), garbage, (a, raw) => {
        const r = a.parse(raw)
        if (!r.ok || r.value.state !== 'explicit') return true
        const g = cmpGrants(r.value, a.standard)
        return PURPOSES.every((p) => g[p].verdict !== 'granted')
      }),
      { numRuns: 3000 },
    )
  })
})
