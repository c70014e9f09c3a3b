/**
 * What the visitor's browser gets back: redirects and cookies pointing at the public host, each
 * cookie kept apart, the stages' hooks applied, HTML rewritten and everything else untouched.
 */
import type { Context } from 'hono'
import { describe, expect, it } from 'vitest'
import type { AppEnv } from '../../worker/env'
import { parseSetCookie } from '../../worker/lib/cookies'
import { PAGE, originFetch, testGateway } from './support'

describe('redirects', () => {
  it('rewrites a Location on the origin host to the public host', async () => {
    const res = await testGateway().fetch('/redirect?to=/cart')
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('http://gate.test/cart')
  })

  it('rewrites the Location and the cookie Domain of a form post redirect', async () => {
    const res = await testGateway().fetch('/cart/add', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'cart=mug' },
      body: 'slug=lamp',
    })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('http://gate.test/cart')
    const [cart] = res.headers.getSetCookie()
    expect(cart).toBe('cart=mug.lamp; Path=/; Domain=gate.test; SameSite=Lax')
  })
})

describe('cookies', () => {
  it('keeps several Set-Cookie headers apart and rewrites the origin Domain', async () => {
    const res = await testGateway().fetch('/', { headers: PAGE })
    await res.text()
    const cookies = res.headers.getSetCookie().map((line) => parseSetCookie(line)!)
    expect(cookies.map((c) => c.name)).toEqual(['session', '_ga', '_fbp', 'prefs'])
    const ga = cookies.find((c) => c.name === '_ga')!
    expect(ga.attributes).toContainEqual(['Domain', 'gate.test'])
    // Expires-style commas inside one cookie never split it.
    expect(cookies.every((c) => c.value.length > 0)).toBe(true)
  })

  it('drops cookies a stage filters out and appends the cookies the gateway sets', async () => {
    const gw = testGateway({
      stage: (c) => {
        c.var.hooks.setCookie.push((cookie) => cookie.name !== '_fbp')
        c.var.hooks.cookies.push('gh_id=abc.sig; Path=/; HttpOnly; Secure; SameSite=Lax')
      },
    })
    const res = await gw.fetch('/', { headers: PAGE })
    await res.text()
    const names = res.headers.getSetCookie().map((line) => parseSetCookie(line)!.name)
    expect(names).toEqual(['session', '_ga', 'prefs', 'gh_id'])
    expect(gw.lines.find((l) => l.event === 'set_cookie_filtered')).toMatchObject({ dropped: ['_fbp'] })
  })
})

describe('response hooks', () => {
  const slotHook = (c: Context<AppEnv>) => {
    c.var.hooks.html.push({
      selector: '[data-gatehouse-slot="product_banner"]',
      handler: { element: (el) => void el.setInnerContent('<strong>Spring sale</strong>', { html: true }) },
    })
    c.var.hooks.responseHeaders.push(['x-gatehouse-variant', 'spring_sale'])
  }

  it('rewrites HTML through the stages HTMLRewriter hooks', async () => {
    const gw = testGateway({ stage: slotHook })
    const res = await gw.fetch('/product/lamp', { headers: PAGE })
    expect(res.headers.get('x-gatehouse-variant')).toBe('spring_sale')
    expect(res.headers.get('content-length')).toBeNull()
    const html = await res.text()
    expect(html).toContain(
      '<section data-gatehouse-slot="product_banner"><strong>Spring sale</strong></section>',
    )
    expect(html).toContain('<h1>Desk lamp</h1>')
  })

  it('runs document hooks on HTML', async () => {
    const gw = testGateway({
      stage: (c) => {
        c.var.hooks.htmlDocument.push({
          end: (end) => void end.append('<!-- via gatehouse -->', { html: true }),
        })
      },
    })
    const html = await (await gw.fetch('/product/mug', { headers: PAGE })).text()
    expect(html.trimEnd().endsWith('<!-- via gatehouse -->')).toBe(true)
  })

  it('never touches non-HTML bytes, even when HTML hooks are registered', async () => {
    const gw = testGateway({ stage: slotHook })
    const direct = new Uint8Array(await (await originFetch('/api/products')).arrayBuffer())
    const proxied = await gw.fetch('/api/products')
    expect(proxied.headers.get('content-length')).toBe(String(direct.length))
    expect(new Uint8Array(await proxied.arrayBuffer())).toEqual(direct)
    const css = await gw.fetch('/static/store.css')
    expect(await css.text()).toContain('[data-gatehouse-slot]')
  })

  it('marks personalised responses private, no-store so no shared cache keeps them', async () => {
    const gw = testGateway({
      stage: (c) => {
        c.var.hooks.personalised = true
      },
    })
    const res = await gw.fetch('/product/chair', { headers: PAGE })
    expect(res.headers.get('cache-control')).toBe('private, no-store')
    expect(res.headers.get('etag')).toBeNull()
    await res.text()
  })

  it('leaves the origin cache headers alone when nothing is personalised', async () => {
    const res = await testGateway().fetch('/product/chair', { headers: PAGE })
    expect(res.headers.get('cache-control')).toBe('public, max-age=60')
    await res.text()
  })
})
