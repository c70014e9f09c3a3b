/**
 * The gateway's injected scripts under the origin's Content-Security-Policy, in Debian chromium:
 * the demo storefront's `/csp/*` pages send a nonce-based, a hash-based and a Report-Only policy,
 * and through the BUILT gateway in Miniflare the Consent Mode defaults actually run (they are in
 * `window.dataLayer`), the beacon loads, the site's own script still runs and the browser reports
 * no violation; likewise under policies in a `<meta http-equiv>` element (`/csp/meta-*`). A control inserts an inline script without the nonce to show that violations are
 * seen. Nothing leaves the machine.
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
let gateway: RunningWorker
let browser: Browser
const contexts: BrowserContext[] = []

beforeAll(async () => {
  storefront = await startStorefront({ port: 0 })
  const originUrl = `http://127.0.0.1:${(storefront.address() as AddressInfo).port}`
  gateway = await startGateway({ scriptPath: await buildBundle(), originUrl })
  browser = await launchChromium()
})

afterAll(async () => {
  for (const c of contexts) await c.close()
  await browser?.close()
  await gateway?.dispose()
  storefront?.close()
})

/** A visitor located by the development override headers (the harness runs in development mode: bench/lib/gateway.ts). */
async function visitor(country: string, region?: string): Promise<BrowserContext> {
  const context = await browser.newContext({
    extraHTTPHeaders: { 'x-gatehouse-country': country, ...(region ? { 'x-gatehouse-region': region } : {}) },
  })
  contexts.push(context)
  // Only the gateway is reachable; third-party tags are never fetched.
  await context.route('**/*', (route) =>
    new URL(route.request().url()).host === gateway.url.host
      ? route.continue()
      : route.abort('blockedbyclient'),
  )
  // Runs before the page's own scripts (DevTools protocol, outside the page's CSP): records
  // every violation the page reports, enforced or report-only.
  await context.addInitScript(() => {
    const w = globalThis as unknown as {
      cspViolations: string[]
      document: { addEventListener(type: string, listener: (e: Record<string, string>) => void): void }
    }
    w.cspViolations = []
    w.document.addEventListener('securitypolicyviolation', (e) => {
      w.cspViolations.push(`${e.disposition} ${e.effectiveDirective} ${e.blockedURI} ${e.sample}`)
    })
  })
  return context
}

interface Visit {
  page: Page
  /** Console messages about a Content Security Policy. */
  cspConsole: string[]
}

async function visit(context: BrowserContext, path: string): Promise<Visit> {
  const page = await context.newPage()
  const cspConsole: string[] = []
  page.on('console', (msg) => {
    if (/content security policy/i.test(msg.text())) cspConsole.push(msg.text())
  })
  const res = await page.goto(new URL(path, gateway.url).href, { waitUntil: 'load' })
  expect(res?.status()).toBe(200)
  return { page, cspConsole }
}

const consentDefault = (page: Page) =>
  page.evaluate(
    "(window.dataLayer || []).map((a) => Array.from(a)).find((a) => a[0] === 'consent' && a[1] === 'default') || null",
  )
const violations = (page: Page) => page.evaluate('window.cspViolations') as Promise<string[]>

const GRANTED = {
  ad_storage: 'granted',
  ad_user_data: 'granted',
  ad_personalization: 'granted',
  analytics_storage: 'granted',
  functionality_storage: 'granted',
  personalization_storage: 'granted',
  security_storage: 'granted',
}

/**
 * A visitor who granted everything: the Consent Mode defaults ran granted, the site's own script
 * ran, the beacon loaded, and the browser reported no violation and logged nothing about CSP.
 */
async function expectAllRanCleanly(context: BrowserContext, path: string): Promise<void> {
  const { page, cspConsole } = await visit(context, path)
  expect(await consentDefault(page), path).toEqual(['consent', 'default', GRANTED])
  expect(await page.evaluate('window.siteScriptRan'), path).toBe(true)
  expect(await page.evaluate('Boolean(window.gatehouse && window.gatehouse.v)'), path).toBe(true)
  expect(await violations(page), path).toEqual([])
  expect(cspConsole, path).toEqual([])
  await page.close()
}

describe('injected scripts under the origin CSP, in a real browser', () => {
  it('runs the Consent Mode defaults and the beacon under a nonce policy with strict-dynamic', async () => {
    const { page, cspConsole } = await visit(await visitor('US', 'CA'), '/csp/nonce')
    expect(await consentDefault(page)).toEqual(['consent', 'default', GRANTED])
    expect(await page.evaluate('window.siteScriptRan')).toBe(true)
    expect(await page.evaluate('Boolean(window.gatehouse && window.gatehouse.v)')).toBe(true)
    expect(await violations(page)).toEqual([])
    expect(cspConsole).toEqual([])

    // Control: an inline event handler (no nonce can cover one) is refused and reported, so the
    // empty list above means our scripts were allowed, not that violations went unseen.
    await page.evaluate("document.querySelector('h1').setAttribute('onclick', 'window.rogue = 1')")
    await page.locator('h1').click()
    await expect.poll(() => violations(page)).toHaveLength(1)
    expect(await page.evaluate('window.rogue')).toBeUndefined()
    await page.close()
  })

  it('runs the denied defaults under a hash policy the gateway added the Consent Mode hash to', async () => {
    const { page, cspConsole } = await visit(await visitor('DE'), '/csp/hash')
    expect(await consentDefault(page)).toEqual([
      'consent',
      'default',
      Object.fromEntries(
        Object.keys(GRANTED).map((k) => [k, k === 'security_storage' ? 'granted' : 'denied']),
      ),
    ])
    expect(await page.evaluate('window.siteScriptRan')).toBe(true)
    expect(await violations(page)).toEqual([])
    expect(cspConsole).toEqual([])
    await page.close()
  })

  it('runs the Consent Mode defaults before a <meta> policy, and fits the beacon to it', async () => {
    const us = await visitor('US', 'CA')
    for (const path of ['/csp/meta-nonce', '/csp/meta-self']) await expectAllRanCleanly(us, path)

    // A <meta> policy that allows no external script: the Consent Mode defaults, written before
    // it, still ran; the beacon was left out rather than blocked. The site's own ad pixel is
    // blocked and reported, which shows the policy is in force and its violations are seen.
    const { page } = await visit(us, '/csp/meta-hash')
    expect(await consentDefault(page)).toEqual(['consent', 'default', GRANTED])
    expect(await page.evaluate('window.siteScriptRan')).toBe(true)
    expect(await page.evaluate('window.gatehouse')).toBeUndefined()
    const seen = await violations(page)
    expect(seen).toEqual([expect.stringContaining('https://tags.adnetwork.example/pixel.js')])
    await page.close()
  })

  it('loads the beacon by self under a hash policy, and reports nothing under a Report-Only nonce policy', async () => {
    const us = await visitor('US', 'CA')
    for (const path of ['/csp/hash', '/csp/report-only']) await expectAllRanCleanly(us, path)
  })
})
