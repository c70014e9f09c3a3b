/**
 * Resolution with CMP cookies, read from real cookie values through the adapters: what a choice
 * grants in opt-in and opt-out regimes, undecided and implied consent, a CMP's own GPC and
 * sale-of-data flags, a malformed cookie, and a CMP cookie that disagrees with a TC string under
 * each `cmp.conflicts` mode. Pure: runs the resolver as the consent stage does.
 */
import { describe, expect, it } from 'vitest'
import type { Location } from '../../worker/context/location'
import { consentInputFromRequest, resolveConsent } from '../../worker/consent/signals'
import { bundledRules, type RuleSet } from '../../worker/rules'
import { compileRules } from '../../worker/rules/compile'
import { ALL_PURPOSES, tcCookie } from './consent-support'

const enc = encodeURIComponent
const oneTrust = (groups: string, extra = 'interactionCount=1') =>
  `isGpcEnabled=0&datestamp=Mon+Nov+23+2026&version=202409.1.0&consentId=c1&${extra}&groups=${enc(groups)}&geolocation=DE%3BBE`
const cookiebot = (body: string) =>
  enc(`{stamp:'abc==',necessary:true,${body},ver:1,utc:1795430400000,region:'de'}`)

const at = (country: string, region: string | null = null): Location =>
  ({ country, region, source: 'header' }) as unknown as Location

function resolve(cookies: Record<string, string>, location: Location, rules: RuleSet = bundledRules) {
  const input = consentInputFromRequest(
    new Headers(),
    new Map(Object.entries(cookies)),
    new URL('https://shop.example/'),
  )
  return resolveConsent(input, rules, location, new Date())
}

function rulesWith(yaml: string): RuleSet {
  const r = compileRules({ 'consent.yaml': yaml })
  if (!r.ok) throw new Error(JSON.stringify(r.errors))
  return r.ruleset
}

const EU = at('DE')
const CA = at('US', 'CA')

describe('CMP cookies in resolution', () => {
  it('grants measurement (and storage) but not advertising when an EU visitor accepted analytics only in OneTrust', () => {
    const { consent, signals } = resolve(
      { OptanonConsent: oneTrust('C0001:1,C0002:1,C0003:0,C0004:0'), OptanonAlertBoxClosed: '2026-11-23' },
      EU,
    )
    expect(consent.purposes).toEqual({
      storage: true,
      measurement: true,
      personalization: false,
      advertising: false,
    })
    expect(consent.reasons).toContain(
      'EU is opt-in; OneTrust (cookie:OptanonConsent) C0002 accepted -> measurement',
    )
    expect(consent.reasons).toContain(
      'EU is opt-in; OneTrust (cookie:OptanonConsent) C0004 refused -> no advertising',
    )
    expect(consent.sources).toContainEqual({
      signal: 'cmp',
      from: 'cookie:OptanonConsent',
      valid: true,
      used: true,
    })
    expect(signals.cmp?.onetrust).toMatchObject({
      valid: true,
      errors: [],
      state: 'explicit',
      categories: { C0001: true, C0002: true, C0003: false, C0004: false },
      mapped: {
        storage: 'granted',
        measurement: 'granted',
        personalization: 'refused',
        advertising: 'refused',
      },
      fields: { version: '202409.1.0', interactionCount: '1', geolocation: 'DE;BE' },
    })
  })

  it('grants nothing before the visitor decides, and says undecided rather than refused', () => {
    const { consent } = resolve(
      { OptanonConsent: oneTrust('C0001:1,C0002:0,C0004:0', 'interactionCount=0') },
      EU,
    )
    expect(Object.values(consent.purposes)).toEqual([false, false, false, false])
    expect(consent.reasons.join('\n')).toMatch(/undecided/)
    expect(consent.reasons.join('\n')).not.toMatch(/refused|denied/)
  })

  it('does not count implied consent in an opt-in regime', () => {
    const { consent } = resolve(
      { CookieConsent: cookiebot("preferences:true,statistics:true,marketing:true,method:'implied'") },
      EU,
    )
    expect(Object.values(consent.purposes)).toEqual([false, false, false, false])
    expect(consent.reasons.join('\n')).toContain(
      'records implied consent, which does not count in an opt-in regime',
    )
  })

  it('counts implied consent and "region needs no consent" only where the regime is opt-out', () => {
    expect(resolve({ CookieConsent: '-1' }, EU).consent.purposes.measurement).toBe(false)
    expect(resolve({ CookieConsent: '-1' }, CA).consent.purposes).toEqual({
      storage: true,
      measurement: true,
      personalization: true,
      advertising: true,
    })
  })

  it('takes away what a US visitor refused in the CMP', () => {
    const { consent } = resolve(
      { CookieConsent: cookiebot("preferences:true,statistics:true,marketing:false,method:'explicit'") },
      CA,
    )
    expect(consent.purposes).toEqual({
      storage: true,
      measurement: true,
      personalization: true,
      advertising: false,
    })
    expect(consent.reasons).toContain(
      'US-CA is opt-out; Cookiebot (cookie:CookieConsent) marketing refused -> no advertising',
    )
  })

  it("honours the CMP's own GPC flag as an opt-out", () => {
    const { consent } = resolve(
      { OptanonConsent: oneTrust('C0001:1,C0002:1,C0004:1').replace('isGpcEnabled=0', 'isGpcEnabled=1') },
      CA,
    )
    expect(consent.saleShareOptOut).toBe(true)
    expect(consent.gpc).toBe(true)
    expect(consent.purposes.advertising).toBe(false)
    expect(consent.reasons.join('\n')).toContain('GPC flag of OneTrust (cookie:OptanonConsent)')
  })

  it("honours Shopify's sale-of-data refusal as a sale/share opt-out", () => {
    const cookie = enc(JSON.stringify({ con: { CMP: { a: '1', m: '1', p: '1', s: '0' } }, v: '2.1' }))
    const { consent } = resolve({ _tracking_consent: cookie }, CA)
    expect(consent.saleShareOptOut).toBe(true)
    expect(consent.purposes.advertising).toBe(false)
  })

  it('reports a malformed CMP cookie as invalid and grants nothing from it', () => {
    const { consent, signals } = resolve({ cc_cookie: '%7B%22categories%22%3A' }, EU)
    expect(Object.values(consent.purposes)).toEqual([false, false, false, false])
    expect(signals.cmp?.['vanilla-cookieconsent']).toMatchObject({ valid: false, from: 'cookie:cc_cookie' })
    expect(consent.sources).toContainEqual({
      signal: 'cmp',
      from: 'cookie:cc_cookie',
      valid: false,
      used: false,
    })
    expect(consent.reasons[0]).toMatch(
      /^vanilla-cookieconsent \(cookie:cc_cookie\) invalid: .+ -> grants nothing$/,
    )
  })

  it('ignores a CMP the rules do not list', () => {
    const rules = rulesWith('cmp:\n  read: [cookiebot]\n')
    const { consent, signals } = resolve({ OptanonConsent: oneTrust('C0001:1,C0002:1') }, EU, rules)
    expect(consent.purposes.measurement).toBe(false)
    expect(signals.cmp).toBeUndefined()
  })

  it("maps the site's own category ids from the rules", () => {
    const rules = rulesWith('cmp:\n  categories:\n    onetrust:\n      C0007: [storage, personalization]\n')
    const { consent } = resolve({ OptanonConsent: oneTrust('C0001:1,C0007:1') }, EU, rules)
    expect(consent.purposes).toEqual({
      storage: true,
      measurement: false,
      personalization: true,
      advertising: false,
    })
  })

  it('reads the TC string Cookiebot keeps in iab2 as a TCF signal', () => {
    const tc = tcCookie(ALL_PURPOSES)
    const { consent } = resolve(
      {
        CookieConsent: cookiebot(
          `preferences:true,statistics:true,marketing:true,method:'explicit',iab2:'${tc}'`,
        ),
      },
      EU,
    )
    expect(consent.sources).toContainEqual({
      signal: 'tcf',
      from: 'cookie:CookieConsent#iab2',
      valid: true,
      used: true,
    })
    expect(consent.purposes.advertising).toBe(true)
  })

  describe('a CMP cookie and a TC string that disagree', () => {
    const cookies = {
      'euconsent-v2': tcCookie(ALL_PURPOSES),
      OptanonConsent: oneTrust('C0001:1,C0002:1,C0003:1,C0004:0,C0005:0'),
    }
    it.each([
      ['most-restrictive', false],
      ['prefer-cmp', false],
      ['prefer-iab', true],
    ] as const)('conflicts %s decides advertising (%s), naming both signals', (mode, advertising) => {
      const { consent } = resolve(cookies, EU, rulesWith(`cmp:\n  conflicts: ${mode}\n`))
      expect(consent.purposes.advertising).toBe(advertising)
      expect(consent.purposes.measurement).toBe(true)
      const reason = consent.reasons.find((r) => r.includes('cmp.conflicts'))!
      expect(reason).toContain('TCF string (cookie:euconsent-v2)')
      expect(reason).toContain('OneTrust (cookie:OptanonConsent) C0004, C0005 refused')
      expect(reason).toMatch(
        new RegExp(`cmp.conflicts: ${mode} -> ${advertising ? 'advertising' : 'no advertising'}$`),
      )
    })

    it('grants what the CMP grants under prefer-cmp when the TC string refuses it', () => {
      const { consent } = resolve(
        { 'euconsent-v2': tcCookie([1]), OptanonConsent: oneTrust('C0001:1,C0004:1') },
        EU,
        rulesWith('cmp:\n  conflicts: prefer-cmp\n'),
      )
      expect(consent.purposes.advertising).toBe(true)
    })
  })
})
