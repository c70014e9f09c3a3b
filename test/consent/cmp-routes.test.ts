/**
 * CMP cookies through the real Worker and the demo storefront origin: a proxied page enforced from
 * an OneTrust, Cookiebot or vanilla-cookieconsent cookie (origin cookies kept or stripped, tags
 * run or neutralised, Consent Mode), and `GET /v1/consent` reporting `signals.cmp.<name>`. A
 * malformed or undecided CMP cookie grants nothing and is never a 5xx.
 */
import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { parseSetCookie } from '../../worker/lib/cookies'
import { PAGE_ACCEPT, located, tcCookie } from './consent-support'

const enc = encodeURIComponent
// As OneTrust writes it: the query string itself, its groups percent-encoded.
const oneTrust = (groups: string, interactions = 1) =>
  `OptanonConsent=isGpcEnabled=0&datestamp=Mon+Nov+23+2026&version=202409.1.0&interactionCount=${interactions}&groups=${enc(groups)}&geolocation=DE%3BBE`
const cookiebot = (stats: boolean, marketing: boolean) =>
  `CookieConsent=${enc(`{stamp:'abc==',necessary:true,preferences:false,statistics:${stats},marketing:${marketing},method:'explicit',ver:1,utc:1795430400000,region:'de'}`)}`
const ccCookie = (categories: string[]) =>
  `cc_cookie=${enc(JSON.stringify({ categories, revision: 0, data: null, consentTimestamp: '2026-11-23T10:00:00.000Z', consentId: 'c1', services: {}, languageCode: 'en', lastConsentTimestamp: '2026-11-23T10:00:00.000Z' }))}`

const gate = (path: string, headers: Record<string, string>) =>
  exports.default.fetch(new Request(`http://gate.test${path}`, { headers, redirect: 'manual' }))

async function page(cookie: string) {
  const res = await gate('/', located('DE', undefined, { accept: PAGE_ACCEPT, cookie }))
  expect(res.status).toBe(200)
  const html = await res.text()
  const cookies = res.headers
    .getSetCookie()
    .map((l) => parseSetCookie(l)!.name)
    .filter((n) => !n.startsWith('gh_'))
  return { html, cookies }
}

async function consentOf(headers: Record<string, string>) {
  const res = await gate('/v1/consent', headers)
  expect(res.status).toBe(200)
  return (await res.json()) as {
    jurisdiction: string
    purposes: Record<string, boolean>
    reasons: string[]
    signals: { cmp?: Record<string, Record<string, unknown>> }
    sources: Array<Record<string, unknown>>
  }
}

const adBlocked = (html: string) =>
  /<script[^>]*adnetwork[^>]*data-gatehouse-blocked="advertising"/.test(html)
const measurementBlocked = (html: string) =>
  /<script[^>]*googletagmanager[^>]*data-gatehouse-blocked="measurement"/.test(html)

describe('a proxied page for an EU visitor with a CMP cookie', () => {
  it.each([
    ['OneTrust', oneTrust('C0001:1,C0002:1,C0003:0,C0004:0')],
    ['Cookiebot', cookiebot(true, false)],
    ['vanilla-cookieconsent', ccCookie(['necessary', 'analytics'])],
  ])(
    '%s analytics only: keeps _ga and the measurement tag, strips _fbp and neutralises the ad tag',
    async (_, cookie) => {
      const { html, cookies } = await page(cookie)
      expect(cookies).toEqual(['session', '_ga'])
      expect(measurementBlocked(html)).toBe(false)
      expect(adBlocked(html)).toBe(true)
      expect(html).toContain("analytics_storage:'granted'")
      expect(html).toContain("ad_storage:'denied'")
    },
  )

  it('keeps every category once OneTrust records acceptance of all groups', async () => {
    const { html, cookies } = await page(oneTrust('C0001:1,C0002:1,C0003:1,C0004:1'))
    expect(cookies).toEqual(['session', '_ga', '_fbp', 'prefs'])
    expect(adBlocked(html)).toBe(false)
  })

  it('runs nothing and keeps only essential cookies while the visitor has not decided', async () => {
    const { html, cookies } = await page(oneTrust('C0001:1,C0002:0,C0004:0', 0))
    expect(cookies).toEqual(['session'])
    expect(measurementBlocked(html)).toBe(true)
    expect(adBlocked(html)).toBe(true)
  })

  it('grants nothing from a malformed CMP cookie, and still serves the page', async () => {
    const { html, cookies } = await page('CookieConsent=%7Bnecessary%3Atrue%2Cstatistics%3A')
    expect(cookies).toEqual(['session'])
    expect(measurementBlocked(html)).toBe(true)
  })
})

describe('GET /v1/consent with CMP cookies', () => {
  it('reports signals.cmp.<name> with the parsed categories and what they mapped to', async () => {
    const body = await consentOf(
      located('DE', undefined, { cookie: oneTrust('C0001:1,C0002:1,C0003:0,C0004:0') }),
    )
    expect(body.purposes).toEqual({
      storage: true,
      measurement: true,
      personalization: false,
      advertising: false,
    })
    expect(body.signals.cmp?.onetrust).toEqual({
      valid: true,
      errors: [],
      from: 'cookie:OptanonConsent',
      state: 'explicit',
      categories: { C0001: true, C0002: true, C0003: false, C0004: false },
      mapped: {
        storage: 'granted',
        measurement: 'granted',
        personalization: 'refused',
        advertising: 'refused',
      },
      gpc: false,
      saleOptOut: false,
      fields: {
        version: '202409.1.0',
        datestamp: 'Mon Nov 23 2026',
        interactionCount: '1',
        geolocation: 'DE;BE',
      },
    })
    expect(body.sources).toContainEqual({
      signal: 'cmp',
      from: 'cookie:OptanonConsent',
      valid: true,
      used: true,
    })
  })

  it('reports a malformed CMP cookie as invalid with an error naming its field', async () => {
    const body = await consentOf(located('DE', undefined, { cookie: oneTrust('C0001:1,C0002:maybe') }))
    expect(body.signals.cmp?.onetrust).toEqual({
      valid: false,
      errors: [expect.stringContaining('OptanonConsent.groups')],
      from: 'cookie:OptanonConsent',
    })
    expect(body.purposes.measurement).toBe(false)
  })

  it('says undecided, not refused, for a visitor who has not chosen', async () => {
    const body = await consentOf(located('DE', undefined, { cookie: oneTrust('C0001:1,C0002:0', 0) }))
    expect(body.reasons.join('\n')).toContain('undecided')
    expect(body.reasons.join('\n')).not.toMatch(/refused|denied/)
  })

  it("takes away what a Californian refused in the CMP, and honours the CMP's GPC flag", async () => {
    const refused = await consentOf(located('US', 'CA', { cookie: cookiebot(true, false) }))
    // preferences and marketing were refused: no personalization, no advertising.
    expect(refused.purposes).toEqual({
      storage: true,
      measurement: true,
      personalization: false,
      advertising: false,
    })
    const gpc = await consentOf(
      located('US', 'CA', {
        cookie: oneTrust('C0001:1,C0002:1,C0004:1').replace('isGpcEnabled=0', 'isGpcEnabled=1'),
      }),
    )
    expect(gpc.purposes.advertising).toBe(false)
    expect(gpc.reasons.join('\n')).toContain('GPC flag of OneTrust (cookie:OptanonConsent)')
  })

  it('reads the TC string OneTrust keeps in eupubconsent-v2, and grants nothing from garbage there', async () => {
    const tc = tcCookie([1, 7, 8, 9, 10])
    const body = (await consentOf(
      located('DE', undefined, {
        cookie: `${oneTrust('C0001:1,C0002:1,C0004:0')}; OptanonAlertBoxClosed=2026-11-23T10:00:00.000Z; eupubconsent-v2=${tc}`,
      }),
    )) as Awaited<ReturnType<typeof consentOf>> & { sources: Array<{ from: string; used: boolean }> }
    expect(body.purposes).toMatchObject({ storage: true, measurement: true, advertising: false })
    expect(body.sources).toContainEqual(
      expect.objectContaining({ from: 'cookie:eupubconsent-v2', valid: true, used: true }),
    )

    const garbage = (await consentOf(
      located('DE', undefined, { cookie: 'eupubconsent-v2=CQ%%not-a-tc-string' }),
    )) as Awaited<ReturnType<typeof consentOf>> & { sources: Array<{ from: string; valid: boolean }> }
    expect(garbage.purposes).toEqual({
      storage: false,
      measurement: false,
      personalization: false,
      advertising: false,
    })
    expect(garbage.sources).toContainEqual(
      expect.objectContaining({ from: 'cookie:eupubconsent-v2', valid: false }),
    )
  })
})
