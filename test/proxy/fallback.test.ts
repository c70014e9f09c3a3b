/**
 * When the origin is slow, down or failing, visitors get the last good copy of a page or the
 * configured fallback page, with an honest status and a header saying so; API clients get a
 * problem+json. Copies are only kept when the origin's cache headers allow a shared cache to.
 */
import { describe, expect, it } from 'vitest'
import { PAGE, fault, rulesWithSite, testGateway, uniqueProduct } from './support'

// A short budget keeps the timeout cases fast; the var overrides the rule file (configuration.md).
const gatewayEnv = { ORIGIN_TIMEOUT_MS: '400' }
const rules = rulesWithSite({ retryAfterSeconds: 42 })

describe('origin failures on pages', () => {
  it.each([
    ['answers 5xx', 'fail', 'status'],
    ['is too slow', 'slow', 'timeout'],
    ['is down', 'down', 'unreachable'],
  ] as const)('serves the last good copy when the origin %s', async (_label, mode, reason) => {
    const gw = testGateway({ rules, env: gatewayEnv })
    const path = uniqueProduct(`stale-${mode}`)
    const good = await gw.fetch(path, { headers: PAGE })
    expect(good.status).toBe(200)
    const goodHtml = await good.text()

    await fault(path, mode, 1_500)
    const res = await gw.fetch(path, { headers: PAGE })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-gatehouse-fallback')).toBe('stale-copy')
    expect(res.headers.get('x-gatehouse-fallback-reason')).toBe(reason)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.text()).toBe(goodHtml)
    await fault(path, 'ok')
  })

  it.each([
    ['answers 5xx', 'fail'],
    ['is too slow', 'slow'],
    ['is down', 'down'],
  ] as const)(
    'serves the fallback page with 503 and Retry-After when the origin %s and no copy exists',
    async (_label, mode) => {
      const gw = testGateway({ rules, env: gatewayEnv })
      const path = uniqueProduct(`never-seen-${mode}`)
      await fault(path, mode, 1_500)
      const res = await gw.fetch(path, { headers: PAGE })
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('42')
      expect(res.headers.get('x-gatehouse-fallback')).toBe('fallback-page')
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(await res.text()).toBe(rules.site.fallbackPage)
      await fault(path, 'ok')
    },
  )

  it('never shows visitors the stack trace of a failing origin', async () => {
    const gw = testGateway({ rules, env: gatewayEnv })
    const res = await gw.fetch('/fail', { headers: PAGE })
    expect(res.status).toBe(503)
    const html = await res.text()
    expect(html).not.toContain('db.js')
    expect(html).toBe(rules.site.fallbackPage)
  })

  it('keeps no copy of pages the origin marks private or no-store, or that set cookies', async () => {
    const gw = testGateway({ rules, env: gatewayEnv })
    // /cart is `private, no-store`; / sets cookies: neither may be replayed to anyone.
    for (const path of ['/cart', '/']) {
      const good = await gw.fetch(path, { headers: PAGE })
      expect(good.status).toBe(200)
      await good.text()
    }
    for (const path of ['/cart', '/']) {
      await fault(path, 'fail')
      try {
        const res = await gw.fetch(path, { headers: PAGE })
        expect(res.headers.get('x-gatehouse-fallback')).toBe('fallback-page')
        expect(res.status).toBe(503)
      } finally {
        await fault(path, 'ok')
      }
    }
  })

  it('keeps the origin copy, never the personalised one', async () => {
    // The test stage personalises the slot for "alice" only, as the decide stage would.
    const gw = testGateway({
      rules,
      env: gatewayEnv,
      stage: (c) => {
        if (c.req.header('x-test-visitor') !== 'alice') return
        c.var.hooks.personalised = true
        c.var.hooks.html.push({
          selector: '[data-gatehouse-slot="product_banner"]',
          handler: { element: (el) => void el.setInnerContent('Welcome back, Alice') },
        })
      },
    })
    const path = uniqueProduct('personal')
    const alice = await gw.fetch(path, { headers: { ...PAGE, 'x-test-visitor': 'alice' } })
    expect(alice.headers.get('cache-control')).toBe('private, no-store')
    expect(await alice.text()).toContain('Welcome back, Alice')

    await fault(path, 'fail')
    const someoneElse = await gw.fetch(path, { headers: PAGE })
    expect(someoneElse.headers.get('x-gatehouse-fallback')).toBe('stale-copy')
    const html = await someoneElse.text()
    expect(html).not.toContain('Alice')
    expect(html).toContain('Free delivery on orders over')
    await fault(path, 'ok')
  })
})

describe('origin failures on API calls and writes', () => {
  it('answers 504 problem+json when the origin times out on a JSON request', async () => {
    const gw = testGateway({ rules, env: gatewayEnv })
    const res = await gw.fetch('/slow?ms=2000', { headers: { accept: 'application/json' } })
    expect(res.status).toBe(504)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toMatchObject({ status: 504, title: 'Origin timeout' })
  })

  it('answers 502 problem+json when a POST cannot reach the origin, never replaying a copy', async () => {
    const gw = testGateway({ rules, env: gatewayEnv })
    await fault('/echo/down-write', 'down')
    const res = await gw.fetch('/echo/down-write', { method: 'POST', headers: PAGE, body: 'x=1' })
    expect(res.status).toBe(502)
    expect(await res.json()).toMatchObject({ status: 502, title: 'Origin unreachable' })
    await fault('/echo/down-write', 'ok')
  })

  it('passes an origin 5xx through for non-page requests', async () => {
    const gw = testGateway({ rules, env: gatewayEnv })
    const res = await gw.fetch('/fail', { headers: { accept: 'application/json' } })
    expect(res.status).toBe(500)
    expect(res.headers.get('x-gatehouse-fallback')).toBeNull()
    await res.text()
  })

  it('serves a stale copy of an asset when the origin fails', async () => {
    const gw = testGateway({ rules, env: gatewayEnv })
    const path = `/static/store.css`
    const good = await (await gw.fetch(path)).text()
    await fault(path, 'down')
    try {
      const res = await gw.fetch(path)
      expect(res.headers.get('x-gatehouse-fallback')).toBe('stale-copy')
      expect(await res.text()).toBe(good)
    } finally {
      await fault(path, 'ok')
    }
  })
})
