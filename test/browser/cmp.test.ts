/**
 * A real CMP in a real browser: Debian chromium browses the demo storefront, which runs
 * vanilla-cookieconsent from npm on every page, through the BUILT gateway in Miniflare. The test
 * clicks "accept analytics only" in the CMP's own banner and checks what the gateway made of the
 * CMP's cookie on the next page: measurement tags run and their cookies survive, ad tags stay
 * neutralised and their cookies are stripped, Consent Mode says analytics granted and ads denied.
 * Then it withdraws in the CMP's preferences and checks the reverse. Screenshots of both states go
 * to test-results/. Third-party tag hosts are answered locally with a script that records it ran;
 * nothing leaves the machine.
 */
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningWorker } from '../../bench/lib/gateway'
import { RESULTS, startCmpHarness, type CmpHarness } from './cmp-harness'

// Page globals the evaluated callbacks touch (the project's lib is the Workers runtime, not the DOM).
declare const window: Record<string, unknown> & { dataLayer?: unknown[] }

let harness: CmpHarness
let gateway: RunningWorker
let context: BrowserContext

beforeAll(async () => {
  harness = await startCmpHarness()
  ;({ gateway, context } = harness)
})

afterAll(async () => {
  await harness?.close()
})

async function open(page: Page, path: string): Promise<void> {
  const res = await page.goto(new URL(path, gateway.url).href, { waitUntil: 'load' })
  expect(res?.status(), `GET ${path}`).toBe(200)
}

/** What ran in the page, and the Consent Mode defaults the gateway put at the top of <head>. */
async function pageState(page: Page) {
  return page.evaluate(() => {
    const entry = (window.dataLayer ?? []).find(
      (a) => (a as unknown[])[0] === 'consent' && (a as unknown[])[1] === 'default',
    ) as unknown[] | undefined
    const defaults = (entry?.[2] ?? {}) as Record<string, string>
    return {
      measurementTagRan: window.measurementTagRan === true,
      adTagRan: window.adTagRan === true,
      analytics_storage: defaults.analytics_storage,
      ad_storage: defaults.ad_storage,
    }
  })
}

/**
 * Writes what the test found into the page (a panel over it) before a screenshot, so the image
 * shows the state the assertions checked, not only the storefront's unchanged look.
 */
async function screenshot(page: Page, file: string, title: string): Promise<void> {
  const state = await pageState(page)
  const cookies = (await cookieNames()).sort().join(', ')
  const lines = [
    title,
    `measurement tag (googletagmanager): ${state.measurementTagRan ? 'RAN' : 'blocked'}`,
    `ad tag (adnetwork): ${state.adTagRan ? 'RAN' : 'blocked'}`,
    `Consent Mode: analytics_storage=${state.analytics_storage}, ad_storage=${state.ad_storage}`,
    `cookies on the gateway host: ${cookies}`,
  ]
  await page.evaluate((text) => {
    interface El {
      textContent: string
      setAttribute(k: string, v: string): void
    }
    const d = (
      globalThis as unknown as {
        document: { createElement(t: string): El; body: { appendChild(e: El): void } }
      }
    ).document
    const panel = d.createElement('pre')
    panel.textContent = text
    panel.setAttribute(
      'style',
      'position:fixed;top:8px;right:8px;z-index:99999;background:#102a43;color:#fff;padding:12px;font:13px monospace;border-radius:6px',
    )
    d.body.appendChild(panel)
  }, lines.join('\n'))
  await page.screenshot({ path: new URL(file, RESULTS).pathname })
}

async function cookieNames(): Promise<string[]> {
  return (await context.cookies(gateway.url.href)).map((c) => c.name)
}

interface ConsentReport {
  jurisdiction: string
  purposes: Record<string, boolean>
  signals: { cmp: Record<string, { categories: Record<string, boolean> }> }
}

async function consentReport(page: Page): Promise<ConsentReport> {
  return (await page.evaluate(async () => (await fetch('/v1/consent')).json())) as ConsentReport
}

describe('vanilla-cookieconsent on the storefront, enforced by the gateway', () => {
  it('runs no tag and keeps no tracking cookie before the visitor chooses', async () => {
    const page = await context.newPage()
    await open(page, '/')
    await page.getByRole('button', { name: 'Manage preferences' }).waitFor()
    await page.screenshot({ path: new URL('cmp-banner.png', RESULTS).pathname })
    expect(await pageState(page)).toEqual({
      measurementTagRan: false,
      adTagRan: false,
      analytics_storage: 'denied',
      ad_storage: 'denied',
    })
    expect(await cookieNames()).not.toContain('_ga')
    expect(await cookieNames()).not.toContain('_fbp')
    await page.close()
  })

  it('after "accept analytics only" in the banner: measurement runs and keeps _ga, ads stay blocked', async () => {
    const page = await context.newPage()
    await open(page, '/')
    await page.getByRole('button', { name: 'Manage preferences' }).click()
    const dialog = page.getByRole('dialog', { name: 'Cookie preferences' })
    await dialog.waitFor()
    await dialog.locator('input[value="analytics"]').check({ force: true })
    await dialog.getByRole('button', { name: 'Save preferences' }).click()
    await expect.poll(cookieNames).toContain('cc_cookie')

    await open(page, '/product/lamp')
    await open(page, '/')
    await expect
      .poll(() => pageState(page))
      .toEqual({
        measurementTagRan: true,
        adTagRan: false,
        analytics_storage: 'granted',
        ad_storage: 'denied',
      })
    expect(await page.locator('script[src*="adnetwork"]').getAttribute('data-gatehouse-blocked')).toBe(
      'advertising',
    )
    const names = await cookieNames()
    expect(names).toContain('_ga')
    expect(names).not.toContain('_fbp')
    const report = await consentReport(page)
    expect(report.jurisdiction).toBe('EU')
    expect(report.purposes).toEqual({
      storage: true,
      measurement: true,
      personalization: false,
      advertising: false,
    })
    expect(report.signals.cmp['vanilla-cookieconsent']).toMatchObject({
      valid: true,
      from: 'cookie:cc_cookie',
      categories: { necessary: true, analytics: true },
      mapped: { measurement: 'granted', advertising: 'refused' },
    })
    await screenshot(page, 'cmp-analytics-only.png', 'after "accept analytics only" (EU visitor)')
    await page.close()
  })

  it('after withdrawing in the CMP preferences: measurement is blocked again and _ga is not set anew', async () => {
    const page = await context.newPage()
    await open(page, '/')
    await page.locator('#cookie-preferences').click()
    const dialog = page.getByRole('dialog', { name: 'Cookie preferences' })
    await dialog.waitFor()
    await dialog.locator('input[value="analytics"]').uncheck({ force: true })
    await dialog.getByRole('button', { name: 'Save preferences' }).click()
    // The CMP's autoClear removes _ga; from here on the gateway must keep the origin from setting it.
    await expect.poll(cookieNames).not.toContain('_ga')

    await open(page, '/')
    await expect
      .poll(() => pageState(page))
      .toEqual({
        measurementTagRan: false,
        adTagRan: false,
        analytics_storage: 'denied',
        ad_storage: 'denied',
      })
    expect(await page.locator('script[src*="googletagmanager"]').getAttribute('data-gatehouse-blocked')).toBe(
      'measurement',
    )
    const names = await cookieNames()
    expect(names).not.toContain('_ga')
    expect(names).not.toContain('_fbp')
    const report = await consentReport(page)
    expect(report.purposes.measurement).toBe(false)
    expect(report.signals.cmp['vanilla-cookieconsent']?.categories).toEqual({ necessary: true })
    await screenshot(page, 'cmp-withdrawn.png', 'after withdrawing analytics in the CMP preferences')
    await page.close()
  })
})
