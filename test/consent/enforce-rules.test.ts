/**
 * The enforcement rules on their own: cookie categories, the request-cookie filter, tag matching,
 * tag neutralisation in HTMLRewriter, the Consent Mode mapping and the origin header format.
 */
import { describe, expect, it } from 'vitest'
import {
  consentModeDefaults,
  consentModeHooks,
  consentModeScriptText,
} from '../../worker/consent/enforce/consent-mode'
import {
  cookieAllowed,
  cookieClass,
  filterCookieHeader,
  isDeletion,
} from '../../worker/consent/enforce/cookies'
import { consentHeaderValue, parseConsentHeader } from '../../worker/consent/enforce/header'
import { isExecutableScriptType, tagHooks, tagNeed, type TagElement } from '../../worker/consent/enforce/tags'
import type { Consent, Purpose } from '../../worker/consent/types'
import { parseSetCookie } from '../../worker/lib/cookies'
import { emptyHooks } from '../../worker/proxy/hooks'
import { bundledRules } from '../../worker/rules'
import { tagsSchema } from '../../worker/rules/concerns/tags'

const purposes = (granted: Purpose[]): Record<Purpose, boolean> => ({
  storage: granted.includes('storage'),
  measurement: granted.includes('measurement'),
  personalization: granted.includes('personalization'),
  advertising: granted.includes('advertising'),
})

describe('cookie categories (rules/cookies.yaml)', () => {
  it.each([
    ['session', 'essential'],
    ['euconsent-v2', 'essential'],
    ['__Host-csrf', 'essential'],
    ['_ga', 'measurement'],
    ['_ga_ABC123', 'measurement'],
    ['prefs', 'personalization'],
    ['_fbp', 'advertising'],
    ['_gcl_au', 'advertising'],
    ['gh_id', 'gateway'],
    ['GA', 'all'],
    ['mystery', 'all'],
    ['', 'all'],
  ])('classifies %j as %s', (name, category) => {
    expect(cookieClass(name, bundledRules.cookies)).toBe(category)
  })

  it.each([
    { cls: 'essential', granted: [], allowed: true },
    { cls: 'gateway', granted: [], allowed: true },
    { cls: 'measurement', granted: ['measurement'], allowed: false },
    { cls: 'measurement', granted: ['storage', 'measurement'], allowed: true },
    { cls: 'advertising', granted: ['storage', 'measurement'], allowed: false },
    { cls: 'all', granted: ['storage', 'measurement', 'personalization'], allowed: false },
    { cls: 'all', granted: ['storage', 'measurement', 'personalization', 'advertising'], allowed: true },
  ] as const)('allows a $cls cookie with $granted: $allowed', ({ cls, granted, allowed }) => {
    expect(cookieAllowed(cls, { purposes: purposes([...granted]) })).toBe(allowed)
  })

  it('lets the origin delete a cookie without consent', () => {
    const now = Date.parse('2026-11-23T12:00:00Z')
    expect(isDeletion(parseSetCookie('_fbp=; Max-Age=0; Path=/')!, now)).toBe(true)
    expect(isDeletion(parseSetCookie('_fbp=; Expires=Thu, 01 Jan 1970 00:00:00 GMT')!, now)).toBe(true)
    expect(
      isDeletion(parseSetCookie('_fbp=x; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT')!, now),
    ).toBe(false)
    expect(isDeletion(parseSetCookie('_fbp=x; Path=/')!, now)).toBe(false)
  })

  it('filters the Cookie header verbatim, keeping order and duplicates, treating a nameless pair as unknown', () => {
    const allowed = (n: string) => n === 'a' || n === 'b'
    expect(filterCookieHeader('a=1; x=2; b="3"; a=4;  ; novalue', allowed)).toEqual({
      value: 'a=1; b="3"; a=4',
      dropped: ['x', ''],
    })
    expect(filterCookieHeader('x=1', allowed)).toEqual({ value: null, dropped: ['x'] })
  })
})

describe('tag matching (rules/tags.yaml)', () => {
  const page = new URL('https://shop.example/products')
  it.each([
    ['script', 'https://www.google-analytics.com/analytics.js', null, 'measurement'],
    ['img', 'https://region1.analytics.google.com/g/collect?v=2', null, 'measurement'],
    ['script', 'https://connect.facebook.net/en_US/fbevents.js', null, 'advertising'],
    ['img', 'https://www.facebook.com/tr?id=1&ev=PageView', null, 'advertising'],
    ['img', 'https://www.facebook.com/profile', null, null],
    ['iframe', 'https://td.doubleclick.net/td/rul/1', null, 'advertising'],
    ['script', '//doubleclick.net/x.js', null, 'advertising'],
    ['script', 'https://notdoubleclick.net/x.js', null, null],
    ['script', 'https://www.googletagmanager.com/gtm.js?id=GTM-1', null, null],
    ['script', '/static/app.js', null, null],
    ['script', 'javascript:alert(1)', null, null],
    ['script', 'https://cdn.shop.example/app.js', 'marketing', 'advertising'],
    ['script', null, 'Analytics', 'measurement'],
    ['script', 'https://connect.facebook.net/x.js', 'necessary', 'essential'],
    ['img', null, 'something-new', 'advertising'],
  ] as const)('%s src=%j data-category=%j needs %j', (element, src, category, need) => {
    expect(tagNeed(element as TagElement, src, category, page, bundledRules.tags)).toBe(need)
  })

  it.each([
    [null, true],
    ['', true],
    ['module', true],
    ['text/javascript', true],
    [' Application/JavaScript ', true],
    ['application/ld+json', false],
    ['text/plain', false],
    ['importmap', false],
  ])('treats script type %j as executable: %s', (type, executable) => {
    expect(isExecutableScriptType(type)).toBe(executable)
  })

  it('neutralises tags restorably and leaves everything else as it was', async () => {
    const html = `<head>
<script type="module" src="https://connect.facebook.net/m.js"></script>
<script type="application/ld+json" data-category="marketing">{"@type":"Product"}</script>
<script data-category="marketing">fbq('track')</script>
<script data-category="necessary">boot()</script>
<script src="/app.js"></script>
</head><body>
<img src="https://www.facebook.com/tr?id=1" srcset="https://www.facebook.com/tr?id=2 2x" alt="">
<img src="/logo.png" alt="logo">
<iframe src="https://td.doubleclick.net/x"></iframe>
</body>`
    let rewriter = new HTMLRewriter()
    for (const h of tagHooks(
      { purposes: purposes(['storage', 'measurement']) },
      bundledRules.tags,
      new URL('https://shop.example/'),
    )) {
      rewriter = rewriter.on(h.selector, h.handler)
    }
    const out = await rewriter
      .transform(new Response(html, { headers: { 'content-type': 'text/html' } }))
      .text()
    expect(out).toContain(
      '<script type="text/plain" src="https://connect.facebook.net/m.js" data-gatehouse-type="module" data-gatehouse-blocked="advertising"></script>',
    )
    expect(out).toContain(
      '<script type="application/ld+json" data-category="marketing">{"@type":"Product"}</script>',
    )
    expect(out).toContain(
      '<script data-category="marketing" type="text/plain" data-gatehouse-blocked="advertising">fbq(\'track\')</script>',
    )
    expect(out).toContain('<script data-category="necessary">boot()</script>')
    expect(out).toContain('<script src="/app.js"></script>')
    expect(out).toContain(
      '<img alt="" data-gatehouse-src="https://www.facebook.com/tr?id=1" data-gatehouse-srcset="https://www.facebook.com/tr?id=2 2x" data-gatehouse-blocked="advertising">',
    )
    expect(out).toContain('<img src="/logo.png" alt="logo">')
    expect(out).toContain(
      '<iframe data-gatehouse-src="https://td.doubleclick.net/x" data-gatehouse-blocked="advertising"></iframe>',
    )
  })

  it('registers no tag handlers when every tag purpose is allowed', () => {
    expect(
      tagHooks(
        { purposes: purposes(['storage', 'measurement', 'personalization', 'advertising']) },
        bundledRules.tags,
        new URL('https://x.example/'),
      ),
    ).toEqual([])
  })
})

describe('unlisted third-party tags (rules/tags.yaml unlisted)', () => {
  const page = new URL('https://shop.example:8443/products')
  const strict = tagsSchema.parse({
    unlisted: { thirdParty: 'advertising', firstParty: ['cdn.shop-assets.example', '*.shop-static.example'] },
  })
  const scriptsOnly = tagsSchema.parse({ unlisted: { thirdParty: 'measurement', elements: ['script'] } })

  it('lets every unlisted tag run by default', () => {
    expect(bundledRules.tags.unlisted).toEqual({
      thirdParty: 'allow',
      firstParty: [],
      elements: ['script', 'iframe', 'img'],
    })
    expect(
      tagNeed('script', 'https://widgets.unknown.example/w.js', null, page, bundledRules.tags),
    ).toBeNull()
  })

  it.each([
    ['script', 'https://widgets.unknown.example/w.js', null, 'advertising'],
    ['iframe', 'https://maps.unknown.example/embed', null, 'advertising'],
    ['img', '//pixel.unknown.example/p.gif', null, 'advertising'],
    ['script', 'https://shop.example/app.js', null, null],
    ['script', 'http://shop.example:8080/app.js', null, null],
    ['script', '/static/app.js', null, null],
    ['script', 'app.js', null, null],
    ['img', 'https://cdn.shop-assets.example/lamp.jpg', null, null],
    ['img', 'https://img.cdn.shop-assets.example/lamp.jpg', null, 'advertising'],
    ['img', 'https://img.shop-static.example/lamp.jpg', null, null],
    ['img', 'https://shop-static.example/lamp.jpg', null, null],
    ['img', 'https://notshop-static.example/lamp.jpg', null, 'advertising'],
    ['script', 'https://www.shop.example/app.js', null, 'advertising'],
    ['script', 'https://connect.facebook.net/fbevents.js', null, 'advertising'],
    ['script', 'https://www.google-analytics.com/analytics.js', null, 'measurement'],
    ['script', 'https://widgets.unknown.example/w.js', 'necessary', 'essential'],
    ['script', 'https://widgets.unknown.example/w.js', 'analytics', 'measurement'],
    ['script', null, null, null],
    ['script', 'data:text/javascript,1', null, null],
    ['script', 'https://[bad', null, null],
  ] as const)('%s src=%j data-category=%j needs %j', (element, src, category, need) => {
    expect(tagNeed(element as TagElement, src, category, page, strict)).toBe(need)
  })

  it.each([
    ['script', 'measurement'],
    ['iframe', null],
    ['img', null],
  ] as const)('applies only to the listed elements: %s needs %j', (element, need) => {
    expect(tagNeed(element, 'https://x.unknown.example/a', null, page, scriptsOnly)).toBe(need)
  })

  it('states essential third parties without blocking them', () => {
    const essential = tagsSchema.parse({ unlisted: { thirdParty: 'essential' } })
    expect(tagNeed('script', 'https://x.unknown.example/a.js', null, page, essential)).toBe('essential')
  })

  it('refuses a first-party entry with a scheme or a path', () => {
    expect(tagsSchema.safeParse({ unlisted: { firstParty: ['https://cdn.example.com'] } }).success).toBe(
      false,
    )
    expect(tagsSchema.safeParse({ unlisted: { firstParty: ['cdn.example.com/x'] } }).success).toBe(false)
    expect(tagsSchema.safeParse({ unlisted: { thirdParty: 'block' } }).success).toBe(false)
  })
})

describe('Consent Mode and the origin header', () => {
  it.each([
    { granted: [], sso: false, expected: 'dddddd' },
    { granted: ['storage'], sso: false, expected: 'ddddgd' },
    { granted: ['storage', 'measurement'], sso: false, expected: 'dddggd' },
    { granted: ['storage', 'measurement', 'personalization', 'advertising'], sso: false, expected: 'gggggg' },
    { granted: ['advertising'], sso: false, expected: 'dggddd' },
    { granted: ['storage', 'advertising'], sso: true, expected: 'gddd' + 'gd' },
  ] as const)(
    'maps $granted (sale/share opt-out $sso) to Consent Mode $expected',
    ({ granted, sso, expected }) => {
      const d = consentModeDefaults({ purposes: purposes([...granted]), saleShareOptOut: sso })
      const got = [
        d.ad_storage,
        d.ad_user_data,
        d.ad_personalization,
        d.analytics_storage,
        d.functionality_storage,
        d.personalization_storage,
      ]
        .map((v) => v[0])
        .join('')
      expect(got).toBe(expected)
      expect(d.security_storage).toBe('granted')
    },
  )

  const inject = async (html: string) => {
    let rewriter = new HTMLRewriter()
    for (const h of consentModeHooks({ purposes: purposes([]), saleShareOptOut: false })) {
      rewriter = rewriter.on(h.selector, h.handler)
    }
    return rewriter.transform(new Response(html, { headers: { 'content-type': 'text/html' } })).text()
  }

  it('injects Consent Mode once, as the first child of <head>', async () => {
    const out = await inject(
      '<html><head><meta charset="utf-8"><script src="a.js"></script></head><head></head></html>',
    )
    expect(out.startsWith('<html><head><script>window.dataLayer=window.dataLayer||[];')).toBe(true)
    expect(out.split("gtag('consent','default'").length).toBe(2)
    expect(out.indexOf("gtag('consent'")).toBeLessThan(out.indexOf('a.js'))
  })

  it('injects Consent Mode before the first script of a page without a <head> tag', async () => {
    const out = await inject(
      '<!doctype html><title>t</title><p>x</p><script src="a.js"></script><script src="b.js"></script>',
    )
    expect(out).toMatch(
      /<p>x<\/p><script>window\.dataLayer=.*<\/script><script src="a\.js"><\/script><script src="b\.js">/,
    )
    expect(out.split("gtag('consent','default'").length).toBe(2)
  })

  it('registers its text for the CSP fit and carries the nonce the response stage set', async () => {
    const consent = { purposes: purposes(['storage']), saleShareOptOut: false }
    const hooks = emptyHooks()
    let rewriter = new HTMLRewriter()
    for (const h of consentModeHooks(consent, hooks)) rewriter = rewriter.on(h.selector, h.handler)
    const text = consentModeScriptText(consent)
    expect(hooks.inlineScripts).toEqual([text])
    // Set after registration, before the rewrite: as the response stage does.
    hooks.scriptNonce = 'r4nd0m+/='
    const out = await rewriter
      .transform(new Response('<head><title>t</title></head>', { headers: { 'content-type': 'text/html' } }))
      .text()
    expect(out).toBe(`<head><script nonce="r4nd0m+/=">${text}</script><title>t</title></head>`)
  })

  it('writes the consent header compactly and reads it back', () => {
    const consent: Consent = {
      purposes: purposes(['storage', 'measurement']),
      saleShareOptOut: true,
      gpc: true,
      jurisdiction: 'US-CA',
      regime: 'opt-out',
      sources: [],
      reasons: [],
      snapshotId: '0123456789abcdef',
    }
    const value = consentHeaderValue(consent)
    expect(value).toBe('j=US-CA;r=out;s=1;m=1;p=0;a=0;sso=1;gpc=1;v=0123456789abcdef')
    expect(parseConsentHeader(value)).toEqual({
      j: 'US-CA',
      r: 'out',
      s: '1',
      m: '1',
      p: '0',
      a: '0',
      sso: '1',
      gpc: '1',
      v: '0123456789abcdef',
    })
  })
})
