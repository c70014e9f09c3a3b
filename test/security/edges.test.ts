/**
 * Attack catalogue, the gateway's edges: row 10 (the client's Host becoming the public host in
 * X-Forwarded-Host, Location and cookie Domain rewrites), the client's X-Forwarded-For chain, and
 * the demo origin's `/__control/*` reachable through the proxy. Each runs through the whole Worker
 * against the real demo storefront, with the attacker's request and a control request beside it.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import type { Env } from '../../worker/env'
import { PAGE, gate, originFetch } from '../proxy/support'

interface Echo {
  url: string
  headers: Record<string, string>
}

/** The whole Worker at any URL (the test's stand-in for a client that sends any Host). */
function at(url: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(url, { redirect: 'manual', ...init }))
}

/** The whole app with some bindings overridden (a deployment configured differently). */
async function configured(overrides: Partial<Env>, url: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext()
  const res = await createApp().fetch(
    new Request(url, { redirect: 'manual', ...init }),
    { ...env, ...overrides } as Env,
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return res
}

const ADD_TO_CART: RequestInit = {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'cart=mug' },
  body: 'slug=lamp',
}

describe('row 10: the public host comes from configuration, never from the client', () => {
  it.each([
    ['a redirect', 'http://evil.example/redirect?to=/cart', {}],
    ['a form post that sets a cookie', 'http://evil.example/cart/add', ADD_TO_CART],
    ['a page', 'http://evil.example/', { headers: PAGE }],
    ['a host that only starts like the site', 'http://gate.test.evil.example/redirect?to=/cart', {}],
    ['the site on another port', 'http://gate.test:8080/redirect?to=/cart', {}],
  ])('refuses %s for an unlisted host with 421, echoing the host nowhere', async (_label, url, init) => {
    const res = await at(url, init)
    expect(res.status).toBe(421)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    const problem = (await res.json()) as { errors: Array<{ path: string }> }
    expect(problem.errors).toEqual([{ path: 'host', message: expect.any(String) }])
    expect(res.headers.get('location')).toBeNull()
    const host = new URL(url).hostname
    for (const line of res.headers.getSetCookie()) expect(line).not.toContain(host)
  })

  it('rewrites Location and cookie Domain to the listed host the request came on', async () => {
    const redirect = await gate('/redirect?to=/cart')
    expect(redirect.headers.get('location')).toBe('http://gate.test/cart')
    const post = await gate('/cart/add', ADD_TO_CART)
    expect(post.status).toBe(303)
    expect(post.headers.getSetCookie()).toContain('cart=mug.lamp; Path=/; Domain=gate.test; SameSite=Lax')
  })

  it('uses the second listed host when the request came on it, and refuses the first one once unlisted', async () => {
    const hosts = { PUBLIC_HOSTS: 'shop.example, www.shop.example' }
    const www = await configured(hosts, 'https://www.shop.example/cart/add', ADD_TO_CART)
    expect(www.headers.get('location')).toBe('https://www.shop.example/cart')
    expect(www.headers.getSetCookie()).toContain(
      'cart=mug.lamp; Path=/; Domain=www.shop.example; SameSite=Lax',
    )
    // gate.test is listed in the test configuration, not in this deployment's.
    expect((await configured(hosts, 'http://gate.test/redirect?to=/cart')).status).toBe(421)
  })

  it('sends the listed host as X-Forwarded-Host whatever Host header or X-Forwarded-Host the client sends', async () => {
    const res = await gate('/echo', { headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' } })
    expect(res.status).toBe(200)
    const echo = (await res.json()) as Echo
    expect(echo.headers['x-forwarded-host']).toBe('gate.test')
  })

  it("still answers the gateway's own routes on any host: they never echo it", async () => {
    const res = await at('http://evil.example/v1/health')
    expect(res.status).toBe(200)
  })
})

describe("the client's X-Forwarded-For chain is not kept", () => {
  it.each([
    ['a forged chain', { 'x-forwarded-for': '198.51.100.1, 10.0.0.1' }],
    [
      'a forged address with X-Real-IP beside it',
      { 'X-Forwarded-For': '198.51.100.1', 'x-real-ip': '198.51.100.2' },
    ],
  ])('replaces %s with the connecting IP alone', async (_label, forged) => {
    const res = await gate('/echo', { headers: { ...forged, 'cf-connecting-ip': '203.0.113.9' } })
    const echo = (await res.json()) as Echo
    expect(echo.headers['x-forwarded-for']).toBe('203.0.113.9')
    expect(echo.headers).not.toHaveProperty('x-real-ip')
  })

  it('sends no X-Forwarded-For at all when the connecting IP is unknown', async () => {
    const res = await gate('/echo', { headers: { 'x-forwarded-for': '198.51.100.1' } })
    const echo = (await res.json()) as Echo
    expect(echo.headers).not.toHaveProperty('x-forwarded-for')
  })

  it('sends no X-Forwarded-For when CF-Connecting-IP is not an address', async () => {
    const res = await gate('/echo', {
      headers: { 'cf-connecting-ip': '203.0.113.9, 198.51.100.1', 'x-forwarded-for': '198.51.100.1' },
    })
    const echo = (await res.json()) as Echo
    expect(echo.headers).not.toHaveProperty('x-forwarded-for')
  })

  it('passes an IPv6 connecting address', async () => {
    const res = await gate('/echo', { headers: { 'cf-connecting-ip': '2001:db8::7' } })
    expect(((await res.json()) as Echo).headers['x-forwarded-for']).toBe('2001:db8::7')
  })
})

describe("the origin's /__control/* is never reachable through the gateway", () => {
  it.each([
    ['the plain path', '/__control/fault'],
    ['upper case', '/__CONTROL/fault'],
    ['percent-escaped underscores', '/%5F%5Fcontrol/fault'],
    ['an escaped slash', '/__control%2Ffault'],
    ['a path parameter', '/__control;x=1/fault'],
    ['a dot segment', '/product/%2E%2E/__control/fault'],
  ])('answers a fault injection through %s with 404, and the fault never lands', async (_label, path) => {
    // The storefront echoes this path with 200 unless a fault makes it answer 503.
    const victim = `/echo/control-${crypto.randomUUID()}`
    const res = await gate(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: victim, mode: 'fail' }),
    })
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    // The storefront still serves the page the attacker tried to break.
    const page = await originFetch(victim)
    expect(page.status).toBe(200)
    await page.body?.cancel()
  })

  it('answers the bare /__control and its other routes with 404', async () => {
    for (const path of ['/__control', '/__control/', '/__control/release?id=1']) {
      expect((await gate(path)).status, path).toBe(404)
    }
  })

  it('still proxies paths that only look alike', async () => {
    const res = await gate('/echo/__control/fault')
    expect(res.status).toBe(200)
    expect(((await res.json()) as Echo).url).toBe('/echo/__control/fault')
  })

  it('lets a deployment list its own origin-only paths', async () => {
    const rules = (await import('../../worker/rules')).bundledRules
    const app = createApp({ rules: { ...rules, site: { ...rules.site, neverProxied: ['/echo/private'] } } })
    const ctx = createExecutionContext()
    const refused = await app.fetch(new Request('http://gate.test/echo/private/x'), env, ctx)
    const allowed = await app.fetch(new Request('http://gate.test/__control/release?id=none'), env, ctx)
    await waitOnExecutionContext(ctx)
    expect(refused.status).toBe(404)
    // The list replaces the default: /__control is proxied again in this deployment.
    expect(allowed.status).toBe(200)
    await allowed.body?.cancel()
  })
})
