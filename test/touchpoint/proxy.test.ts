/**
 * The touchpoint stage through the real Worker and the demo storefront's /echo route: what the
 * origin receives, what is stored for the visitor, and the optional clean-URL redirect.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { createApp } from '../../worker/app'
import { unmappedCounts } from '../../worker/touchpoint'
import {
  DE,
  US_CA,
  appFetch,
  cookieClaims,
  gate,
  idCookie,
  rulesWith,
  signToken,
  whoami,
} from '../identity/support'

interface Echo {
  url: string
  headers: Record<string, string | undefined>
}

const state = (key: string) => env.CUSTOMER.get(env.CUSTOMER.idFromName(key))
const GPC = { ...US_CA, 'sec-gpc': '1' }

async function echo(path: string, headers: Record<string, string>): Promise<Echo> {
  const res = await gate(path, { headers })
  expect(res.status).toBe(200)
  return (await res.json()) as Echo
}

describe('click ids on the way to the origin', () => {
  it.each([
    ['an opt-in visitor without consent', DE],
    ['an opt-out visitor who sent Global Privacy Control', GPC],
  ])('removes click ids for %s and keeps the other parameters', async (_name, headers) => {
    const got = await echo('/echo?gclid=abc&color=red&FBCLID=xyz&utm_source=google', headers)
    const url = new URL(got.url, 'http://origin')
    expect(url.searchParams.get('gclid')).toBeNull()
    expect(url.searchParams.get('FBCLID')).toBeNull()
    expect(url.searchParams.get('color')).toBe('red')
    expect(url.searchParams.get('utm_source')).toBe('google')
  })

  it('keeps click ids when advertising consent is given', async () => {
    const got = await echo('/echo?gclid=abc&msclkid=def', US_CA)
    expect(new URL(got.url, 'http://origin').search).toBe('?gclid=abc&msclkid=def')
  })
})

describe('X-Gatehouse-Touchpoint', () => {
  it('gives the origin the normalised touchpoint in place of a client-sent one', async () => {
    const got = await echo('/echo?utm_source=FB&utm_medium=Paid%20Social&utm_campaign=Spring%20Sale', {
      ...US_CA,
      'x-gatehouse-touchpoint': 'v=1&src=forged',
    })
    const tp = new URLSearchParams(got.headers['x-gatehouse-touchpoint'])
    expect(tp.get('v')).toBe('1')
    expect(tp.get('src')).toBe('facebook')
    expect(tp.get('med')).toBe('paid_social')
    expect(tp.get('cmp')).toBe('spring sale')
    expect(Number(tp.get('at'))).toBeGreaterThan(0)
  })

  it('removes a client-sent header when the visit has no touchpoint', async () => {
    const got = await echo('/echo', { ...US_CA, 'x-gatehouse-touchpoint': 'v=1&src=forged' })
    expect(got.headers['x-gatehouse-touchpoint']).toBeUndefined()
  })

  it('names click ids without their values', async () => {
    const got = await echo('/echo?gclid=secret-click', US_CA)
    const tp = new URLSearchParams(got.headers['x-gatehouse-touchpoint'])
    expect(tp.get('clk')).toBe('gclid')
    expect(got.headers['x-gatehouse-touchpoint']).not.toContain('secret-click')
  })
})

describe('touchpoint history in the customer state', () => {
  it('stores the touchpoint of a visitor with measurement consent', async () => {
    const res = await gate('/?utm_source=FB&utm_medium=cpc&utm_campaign=launch&gclid=g1', {
      headers: { ...US_CA, referer: 'https://l.facebook.com/' },
    })
    const anonymousId = cookieClaims(idCookie(res)!.value).a
    await vi.waitFor(
      async () => expect((await state(`a:${anonymousId}`).touchpoints()).history).toHaveLength(1),
      {
        timeout: 5000,
      },
    )
    const stored = await state(`a:${anonymousId}`).touchpoints()
    expect(stored.first).toMatchObject({
      source: 'facebook',
      medium: 'cpc',
      campaign: 'launch',
      clickIds: { gclid: 'g1' },
      referrerHost: 'l.facebook.com',
      landingPath: '/',
    })
    expect(stored.last).toEqual(stored.first)
  })

  it('stores nothing for a signed-in customer without measurement consent', async () => {
    const sub = `no-measure-${crypto.randomUUID()}`
    const app = createApp()
    const res = await appFetch(app, '/?utm_source=google&utm_medium=cpc', {
      headers: { ...DE, authorization: `Bearer ${await signToken(sub)}` },
    })
    expect(res.status).toBe(200)
    expect((await state(`c:${sub}`).touchpoints()).history).toEqual([])
  })

  it('keeps the first touch and the most recent ones up to the history limit', async () => {
    const app = createApp({ rules: rulesWith({ utm: { historyLimit: 3 } }) })
    const first = await appFetch(app, '/?utm_source=google&utm_campaign=c0', { headers: US_CA })
    const cookie = `gh_id=${idCookie(first)!.value}`
    for (const n of [1, 2, 3, 4]) {
      await appFetch(app, `/?utm_source=google&utm_campaign=c${n}`, { headers: { ...US_CA, cookie } })
    }
    const anonymousId = cookieClaims(idCookie(first)!.value).a
    const stored = await state(`a:${anonymousId}`).touchpoints()
    expect(stored.history.map((t) => t.campaign)).toEqual(['c0', 'c3', 'c4'])
    expect(stored.first!.campaign).toBe('c0')
    expect(stored.last!.campaign).toBe('c4')
  })

  it('does not store a reload of the same campaign twice', async () => {
    const app = createApp()
    const first = await appFetch(app, '/?utm_source=google&utm_campaign=once', { headers: US_CA })
    const cookie = `gh_id=${idCookie(first)!.value}`
    await appFetch(app, '/?utm_source=google&utm_campaign=once', { headers: { ...US_CA, cookie } })
    const anonymousId = cookieClaims(idCookie(first)!.value).a
    expect((await state(`a:${anonymousId}`).touchpoints()).history).toHaveLength(1)
  })
})

describe('out-of-taxonomy values', () => {
  it('counts and logs them, redacting anything that does not look like a label', async () => {
    const lines: string[] = []
    const app = createApp({ logSink: (_level, line) => lines.push(line) })
    const before = unmappedCounts().get('source:myspace') ?? 0
    await appFetch(app, '/v1/identity?utm_source=MySpace&utm_medium=email', { headers: US_CA })
    await appFetch(app, '/v1/identity?utm_source=ann%40example.com', { headers: US_CA })
    expect(unmappedCounts().get('source:myspace')).toBe(before + 1)
    const logged = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === 'utm_other')
    expect(logged).toEqual([
      expect.objectContaining({ field: 'source', value: 'myspace' }),
      expect.objectContaining({ field: 'source', value: '[redacted]' }),
    ])
    expect(lines.join('\n')).not.toContain('ann@example.com')
  })

  it('reports the touchpoint of an API call in GET /v1/identity', async () => {
    const { body } = await whoami({ ...US_CA })
    expect(body.touchpoint).toBeNull()
    const res = await gate('/v1/identity?utm_source=tiktok.com&utm_medium=carrier-pigeon', { headers: US_CA })
    const tp = ((await res.json()) as { touchpoint: Record<string, unknown> }).touchpoint
    expect(tp).toMatchObject({ source: 'tiktok', medium: '(other)', unmapped: ['medium'] })
  })
})

describe('clean-URL redirect (rules/utm.yaml redirectToCleanUrl)', () => {
  const app = createApp({ rules: rulesWith({ utm: { redirectToCleanUrl: true } }) })

  it('captures the parameters, then redirects a page view to the URL without them', async () => {
    const res = await appFetch(app, '/products?utm_source=google&utm_medium=cpc&gclid=abc&color=red', {
      headers: US_CA,
    })
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/products?color=red')
    expect(res.headers.get('cache-control')).toBe('no-store')
    // The visitor keeps the id under which the touchpoint was stored.
    const anonymousId = cookieClaims(idCookie(res)!.value).a
    expect((await state(`a:${anonymousId}`).touchpoints()).first).toMatchObject({
      source: 'google',
      medium: 'cpc',
    })
  })

  it('does not redirect form posts or gateway routes', async () => {
    const post = await appFetch(app, '/echo?utm_source=google', { method: 'POST', body: 'x', headers: US_CA })
    expect(post.status).toBe(200)
    const api = await appFetch(app, '/v1/identity?utm_source=google', { headers: US_CA })
    expect(api.status).toBe(200)
  })

  it('does not redirect a URL without campaign parameters', async () => {
    const res = await appFetch(app, '/echo?color=red', { headers: US_CA })
    expect(res.status).toBe(200)
  })
})
