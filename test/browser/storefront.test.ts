/**
 * What a person sees: Debian chromium (driven by playwright-core) browses the demo storefront
 * through the BUILT gateway running in Miniflare. Every request that is not to the loopback
 * gateway is blocked, so third-party tags are never fetched. If chromium is missing this test
 * fails: `.ci/run` installs it, so it can never be silently skipped.
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './chromium'
import { buildBundle, startGateway, type RunningWorker } from '../../bench/lib/gateway'
// @ts-expect-error: plain ESM module without types
import { startStorefront } from '../../examples/storefront/server.mjs'

let storefront: Server
let originUrl: string
let gateway: RunningWorker
let browser: Browser
let context: BrowserContext

beforeAll(async () => {
  storefront = await startStorefront({ port: 0 })
  originUrl = `http://127.0.0.1:${(storefront.address() as AddressInfo).port}`
  const scriptPath = await buildBundle()
  gateway = await startGateway({ scriptPath, originUrl, bindings: { ORIGIN_TIMEOUT_MS: '1500' } })
  browser = await launchChromium()
  context = await browser.newContext()
  // Nothing may leave the machine: only the gateway itself is reachable from the page.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url())
    if (url.host === gateway.url.host) return route.continue()
    return route.abort('blockedbyclient')
  })
})

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await gateway?.dispose()
  storefront?.close()
})

async function open(path: string): Promise<Page> {
  const page = await context.newPage()
  const res = await page.goto(new URL(path, gateway.url).href)
  expect(res, `navigation to ${path}`).not.toBeNull()
  return page
}

async function fault(path: string, mode: 'fail' | 'ok'): Promise<void> {
  const res = await fetch(`${originUrl}/__control/fault`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path, mode }),
  })
  expect(res.ok).toBe(true)
}

describe('the demo store through the gateway, in a real browser', () => {
  it('shows the home page with its hero slot filled and the product list', async () => {
    const page = await open('/')
    await expect(page.title()).resolves.toBe('Home · Demo store')
    expect(await page.locator('h1').first().textContent()).toBe('Demo store')
    const hero = page.locator('[data-gatehouse-slot="home_hero"]')
    expect(await hero.isVisible()).toBe(true)
    expect((await hero.innerText()).trim().length).toBeGreaterThan(0)
    expect(await page.locator('#products li').count()).toBe(3)
    await page.close()
  })

  it('navigates to a product, adds it to the cart and lands on the gateway cart page', async () => {
    const page = await open('/')
    await Promise.all([
      page.waitForURL('**/product/lamp'),
      page.locator('#products a', { hasText: 'Desk lamp' }).click(),
    ])
    expect(await page.locator('h1').textContent()).toBe('Desk lamp')
    expect((await page.locator('[data-gatehouse-slot="product_banner"]').innerText()).trim()).not.toBe('')

    await Promise.all([page.waitForURL('**/cart'), page.getByRole('button', { name: 'Add to cart' }).click()])
    // The origin's redirect named its own host; the visitor stays on the gateway's.
    expect(new URL(page.url()).host).toBe(gateway.url.host)
    expect(await page.locator('#cart-count').textContent()).toBe('1 item')
    // The upsell may legitimately decide to show nothing (its fallback is empty); the slot is there.
    expect(await page.locator('[data-gatehouse-slot="cart_upsell"]').count()).toBe(1)
    await page.close()
  })

  it('keeps the essential session cookie and the cart cookie on the gateway host', async () => {
    const cookies = await context.cookies(gateway.url.href)
    const session = cookies.find((c) => c.name === 'session')
    expect(session).toBeDefined()
    expect(session!.httpOnly).toBe(true)
    expect(cookies.find((c) => c.name === 'cart')?.value).toBe('lamp')
  })

  it('loads the page and its assets from the gateway only, never from a third-party host', async () => {
    const page = await context.newPage()
    const answered: string[] = []
    page.on('response', (res) => answered.push(res.url()))
    await page.goto(new URL('/', gateway.url).href, { waitUntil: 'load' })
    expect(answered.length).toBeGreaterThan(0)
    for (const url of answered) expect(new URL(url).host).toBe(gateway.url.host)
    expect(answered.some((url) => url.endsWith('/static/store.css'))).toBe(true)
    // The stylesheet came through the gateway and applies (evaluated in the page, not in Node).
    expect(await page.evaluate('getComputedStyle(document.body).fontFamily')).toContain('system-ui')
    await page.close()
  })

  it('shows the last good copy of a page while the origin is failing', async () => {
    const page = await open('/product/chair')
    expect(await page.locator('h1').textContent()).toBe('Oak chair')
    await fault('/product/chair', 'fail')
    try {
      const res = await page.reload()
      expect(res?.status()).toBe(200)
      expect(await res?.headerValue('x-gatehouse-fallback')).toBe('stale-copy')
      expect(await page.locator('h1').textContent()).toBe('Oak chair')
    } finally {
      await fault('/product/chair', 'ok')
      await page.close()
    }
  })

  it('shows the friendly fallback page, not the origin error, when a page fails', async () => {
    const page = await context.newPage()
    const res = await page.goto(new URL('/fail', gateway.url).href)
    expect(res?.status()).toBe(503)
    expect(await page.locator('h1').textContent()).toBe('We will be back shortly')
    expect(await page.content()).not.toContain('db.js')
    await page.close()
  })
})
