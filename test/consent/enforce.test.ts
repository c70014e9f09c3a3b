/**
 * Consent enforcement through the real Worker and the demo storefront origin: cookies dropped and
 * withheld by category, tags neutralised, Consent Mode first in <head>, the consent header sent
 * (a client's own replaced) and Sec-GPC forwarded.
 */
import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { parseConsentHeader } from '../../worker/consent/enforce/header'
import { parseSetCookie } from '../../worker/lib/cookies'
import { ALL_PURPOSES, PAGE_ACCEPT, located, tcCookie } from './consent-support'

const gate = (path: string, headers: Record<string, string>) =>
  exports.default.fetch(new Request(`http://gate.test${path}`, { headers, redirect: 'manual' }))

interface Echo {
  headers: Record<string, string>
}

async function page(
  headers: Record<string, string>,
): Promise<{ res: Response; html: string; cookies: string[] }> {
  const res = await gate('/', { accept: PAGE_ACCEPT, ...headers })
  const html = await res.text()
  // The origin's cookies only: the gateway's own (gh_*) belong to the identity stage.
  const names = res.headers.getSetCookie().map((l) => parseSetCookie(l)!.name)
  return { res, html, cookies: names.filter((n) => !n.startsWith('gh_')) }
}

async function echo(headers: Record<string, string>): Promise<Echo['headers']> {
  const res = await gate('/echo', headers)
  expect(res.status).toBe(200)
  return ((await res.json()) as Echo).headers
}

describe('Set-Cookie from the origin', () => {
  it('keeps only essential cookies for an EU visitor without consent', async () => {
    const { cookies } = await page(located('DE'))
    expect(cookies).toEqual(['session'])
  })

  it('keeps every category once the EU visitor consented to all purposes', async () => {
    const { cookies } = await page(
      located('DE', undefined, { cookie: `euconsent-v2=${tcCookie(ALL_PURPOSES)}` }),
    )
    expect(cookies).toEqual(['session', '_ga', '_fbp', 'prefs'])
  })

  it('keeps measurement cookies but strips ad cookies when only storage and measurement are consented', async () => {
    const { cookies } = await page(
      located('FR', undefined, { cookie: `euconsent-v2=${tcCookie([1, 7, 8, 9])}` }),
    )
    expect(cookies).toEqual(['session', '_ga'])
  })

  it('strips ad cookies when a Californian sends GPC, keeping the rest', async () => {
    const { cookies } = await page(located('US', 'CA', { 'sec-gpc': '1' }))
    expect(cookies).toEqual(['session', '_ga', 'prefs'])
  })

  it('keeps every cookie for a US visitor who has not opted out', async () => {
    const { cookies } = await page(located('US', 'CA'))
    expect(cookies).toEqual(['session', '_ga', '_fbp', 'prefs'])
  })

  it('drops every non-essential cookie when the TC string has expired', async () => {
    const { cookies } = await page(
      located('DE', undefined, { cookie: `euconsent-v2=${tcCookie(ALL_PURPOSES, 420)}` }),
    )
    expect(cookies).toEqual(['session'])
  })
})

describe('request cookies sent to the origin', () => {
  const jar = 'session=s1; _ga=GA1.1.2; _fbp=fb.1.3; prefs=dark; mystery=4'

  it('withholds cookies of categories without consent, keeping essential ones', async () => {
    const headers = await echo(located('DE', undefined, { cookie: jar }))
    expect(headers.cookie).toBe('session=s1')
  })

  it('forwards ad cookies only when advertising is allowed', async () => {
    const tc = tcCookie([1, 7, 8, 9])
    const headers = await echo(located('DE', undefined, { cookie: `${jar}; euconsent-v2=${tc}` }))
    expect(headers.cookie).toBe(`session=s1; _ga=GA1.1.2; euconsent-v2=${tc}`)
  })

  it('forwards every cookie, unknown ones included, when every purpose is allowed', async () => {
    const headers = await echo(located('US', 'TX', { cookie: jar }))
    expect(headers.cookie).toBe(jar)
  })

  it('sends no Cookie header at all when nothing may be forwarded', async () => {
    const headers = await echo(located('DE', undefined, { cookie: '_ga=1; _fbp=2' }))
    expect(headers.cookie).toBeUndefined()
  })
})

describe('X-Gatehouse-Consent and Sec-GPC towards the origin', () => {
  it('sends the resolved consent in one header, replacing one the client forged', async () => {
    const headers = await echo(
      located('DE', undefined, { 'x-gatehouse-consent': 'j=US;r=out;s=1;m=1;p=1;a=1' }),
    )
    const sent = parseConsentHeader(headers['x-gatehouse-consent']!)
    expect(sent).toMatchObject({ j: 'EU', r: 'in', s: '0', m: '0', p: '0', a: '0', sso: '0', gpc: '0' })
    expect(sent!.v).toMatch(/^[0-9a-f]{16}$/)
  })

  it('forwards Sec-GPC unchanged and reports the opt-out', async () => {
    const headers = await echo(located('US', 'CA', { 'sec-gpc': '1' }))
    expect(headers['sec-gpc']).toBe('1')
    expect(parseConsentHeader(headers['x-gatehouse-consent']!)).toMatchObject({
      j: 'US-CA',
      r: 'out',
      s: '1',
      m: '1',
      p: '1',
      a: '0',
      sso: '1',
      gpc: '1',
    })
  })

  it('forwards Sec-GPC even when the client lists it in Connection', async () => {
    const headers = await echo(located('US', 'CA', { 'sec-gpc': '1', connection: 'sec-gpc' }))
    expect(headers['sec-gpc']).toBe('1')
  })

  it('matches the snapshot id reported by GET /v1/consent', async () => {
    const tc = tcCookie([1, 7, 8, 9])
    const headers = await echo(located('DE', undefined, { cookie: `euconsent-v2=${tc}` }))
    const res = await gate('/v1/consent', located('DE', undefined, { cookie: `euconsent-v2=${tc}` }))
    const body = (await res.json()) as { snapshotId: string }
    expect(parseConsentHeader(headers['x-gatehouse-consent']!)!.v).toBe(body.snapshotId)
  })
})

describe('third-party tags and Consent Mode in proxied HTML', () => {
  it('neutralises tags without consent, restorably', async () => {
    const { html } = await page(located('DE'))
    expect(html).toContain(
      '<script async src="https://www.googletagmanager.example/gtag/js?id=G-DEMO" data-category="measurement" type="text/plain" data-gatehouse-blocked="measurement"></script>',
    )
    expect(html).toContain(
      '<script src="https://tags.adnetwork.example/pixel.js" data-category="advertising" type="text/plain" data-gatehouse-blocked="advertising"></script>',
    )
    expect(html).toMatch(
      /<iframe title="Spring collection video" data-category="advertising" width="320" height="180" data-gatehouse-src="https:\/\/video.example\/embed\/spring" data-gatehouse-blocked="advertising">/,
    )
    expect(html).not.toContain(' src="https://video.example')
  })

  it('leaves tags alone once their purpose is consented', async () => {
    const { html } = await page(
      located('DE', undefined, { cookie: `euconsent-v2=${tcCookie(ALL_PURPOSES)}` }),
    )
    expect(html).toContain(
      '<script src="https://tags.adnetwork.example/pixel.js" data-category="advertising"></script>',
    )
    expect(html).toContain('<iframe src="https://video.example/embed/spring"')
    expect(html).not.toContain('data-gatehouse-blocked')
  })

  it('blocks only the ad tags of a Californian who sent GPC', async () => {
    const { html } = await page(located('US', 'CA', { 'sec-gpc': '1' }))
    expect(html).toContain('data-category="measurement"></script>')
    expect(html).toContain('data-gatehouse-blocked="advertising"')
    expect(html).not.toContain('data-gatehouse-blocked="measurement"')
  })

  it('injects the Consent Mode defaults as the first thing in <head>, all denied without consent', async () => {
    const { html } = await page(located('DE'))
    const head = html.slice(html.indexOf('<head>') + '<head>'.length)
    expect(
      head.startsWith(
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}gtag('consent','default',{ad_storage:'denied',ad_user_data:'denied',ad_personalization:'denied',analytics_storage:'denied',functionality_storage:'denied',personalization_storage:'denied',security_storage:'granted'})</script>",
      ),
    ).toBe(true)
    expect(html.indexOf("gtag('consent','default'")).toBeLessThan(html.indexOf('googletagmanager'))
  })

  it('grants in Consent Mode what the visitor consented to', async () => {
    const { html } = await page(
      located('DE', undefined, { cookie: `euconsent-v2=${tcCookie([1, 7, 8, 9])}` }),
    )
    expect(html).toContain(
      "{ad_storage:'denied',ad_user_data:'denied',ad_personalization:'denied',analytics_storage:'granted',functionality_storage:'granted',personalization_storage:'denied',security_storage:'granted'}",
    )
  })

  it('denies ad user data and personalisation in Consent Mode after a US opt-out', async () => {
    const { html } = await page(located('US', 'CA', { cookie: 'usprivacy=1YYN' }))
    expect(html).toContain(
      "{ad_storage:'denied',ad_user_data:'denied',ad_personalization:'denied',analytics_storage:'granted',functionality_storage:'granted',personalization_storage:'granted',security_storage:'granted'}",
    )
  })

  it('keeps the origin caching of assets, which consent does not change', async () => {
    const res = await gate('/static/store.css', located('DE', undefined, { accept: 'text/css,*/*;q=0.1' }))
    expect(res.headers.get('cache-control')).toBe('public, max-age=3600')
    await res.text()
  })

  it('marks consent-dependent HTML private so no shared cache serves it to another visitor', async () => {
    const { res } = await page(located('DE'))
    expect(res.headers.get('cache-control')).toBe('private, no-store')
  })
})
