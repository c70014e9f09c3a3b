/**
 * A second real CMP in a real browser: Debian chromium opens the storefront's `/klaro` page, which
 * runs Klaro from npm, through the BUILT gateway in Miniflare. The test turns on "Analytics" only
 * in Klaro's own "Let me choose" dialog and checks what the gateway made of Klaro's `klaro` cookie
 * on the next page: the measurement tag runs, the ad tag stays neutralised, Consent Mode says
 * analytics granted and ads denied. Then it withdraws in Klaro's dialog and checks the reverse.
 * Screenshots of both states go to test-results/. Nothing leaves the machine.
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

async function open(page: Page): Promise<void> {
  const res = await page.goto(new URL('/klaro', gateway.url).href, { waitUntil: 'load' })
  expect(res?.status()).toBe(200)
}

async function pageState(page: Page) {
  return page.evaluate(() => {
    const entry = (window.dataLayer ?? []).find(
      (a) => (a as unknown[])[0] === 'consent' && (a as unknown[])[1] === 'default',
    ) as unknown[] | undefined
    const d = (entry?.[2] ?? {}) as Record<string, string>
    return {
      measurementTagRan: window.measurementTagRan === true,
      adTagRan: window.adTagRan === true,
      analytics_storage: d.analytics_storage,
      ad_storage: d.ad_storage,
    }
  })
}

async function klaroCookie(): Promise<Record<string, boolean> | null> {
  const c = (await context.cookies(gateway.url.href)).find((x) => x.name === 'klaro')
  return c ? (JSON.parse(decodeURIComponent(c.value)) as Record<string, boolean>) : null
}

/** In Klaro's dialog: flips the "Analytics" purpose and saves ("Accept selected" at first, "Save" once a choice exists). */
async function toggleAnalyticsAndSave(page: Page): Promise<void> {
  const dialog = page.locator('#klaro .cookie-modal').filter({ visible: true })
  await dialog.waitFor()
  await dialog.locator('label[for="purpose-item-analytics"]').click()
  await dialog.getByRole('button', { name: /^(Accept selected|Save)$/ }).click()
}

async function consentReport(page: Page) {
  return (await page.evaluate(async () => (await fetch('/v1/consent')).json())) as {
    purposes: Record<string, boolean>
    signals: { cmp: Record<string, unknown> }
  }
}

describe('Klaro on the storefront’s /klaro page, enforced by the gateway', () => {
  it('runs no tag before the visitor chooses, while Klaro’s notice is up', async () => {
    const page = await context.newPage()
    await open(page)
    await page.getByRole('link', { name: 'Let me choose' }).waitFor()
    expect(await pageState(page)).toEqual({
      measurementTagRan: false,
      adTagRan: false,
      analytics_storage: 'denied',
      ad_storage: 'denied',
    })
    await page.close()
  })

  it('after "Analytics" only in Klaro’s dialog: measurement runs, ads stay blocked; after withdrawing, measurement is blocked', async () => {
    const page = await context.newPage()
    await open(page)
    await page.getByRole('link', { name: 'Let me choose' }).click()
    await toggleAnalyticsAndSave(page)
    await expect.poll(klaroCookie).toEqual({ 'google-analytics': true, 'google-ads': false })

    await open(page)
    await expect
      .poll(() => pageState(page))
      .toEqual({
        measurementTagRan: true,
        adTagRan: false,
        analytics_storage: 'granted',
        ad_storage: 'denied',
      })
    const report = await consentReport(page)
    expect(report.purposes).toMatchObject({ measurement: true, advertising: false })
    expect(report.signals.cmp.klaro).toMatchObject({
      valid: true,
      from: 'cookie:klaro',
      categories: { 'google-analytics': true, 'google-ads': false },
    })
    await page.screenshot({ path: new URL('cmp-klaro-analytics-only.png', RESULTS).pathname })

    // Withdrawal in Klaro's own dialog (what a "Cookie settings" link calls: klaro.show()).
    await page.evaluate(() => (window.klaro as { show(): void }).show())
    await toggleAnalyticsAndSave(page)
    await expect.poll(klaroCookie).toEqual({ 'google-analytics': false, 'google-ads': false })
    await open(page)
    await expect
      .poll(() => pageState(page))
      .toEqual({
        measurementTagRan: false,
        adTagRan: false,
        analytics_storage: 'denied',
        ad_storage: 'denied',
      })
    expect((await consentReport(page)).purposes).toMatchObject({ measurement: false, advertising: false })
    await page.screenshot({ path: new URL('cmp-klaro-withdrawn.png', RESULTS).pathname })
    await page.close()
  })
})
