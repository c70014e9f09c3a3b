/**
 * The consent bridge in a real browser: a page whose CMP keeps consent only in the browser and
 * exposes the IAB TCF API (`__tcfapi`, a minimal implementation of its documented event API,
 * installed before any page script) loads `/v1/consent-bridge.js` through the BUILT gateway in
 * Miniflare. When the visitor chooses in that CMP, the bridge writes `gh_cmp` and the gateway
 * enforces the choice on the next request: analytics granted, ads denied; after a withdrawal in
 * the CMP, the reverse. Screenshots of both states go to test-results/.
 */
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningWorker } from '../../bench/lib/gateway'
import { BRIDGE_PATH } from '../../worker/consent/bridge/script'
import { coreBits, tcString, vendorBitfield, vendorsSegment } from '../support/consent/tcf-fixtures'
import { RESULTS, startCmpHarness, type CmpHarness } from './cmp-harness'

// Page globals the evaluated callbacks touch (the project's lib is the Workers runtime, not the DOM).
declare const window: Record<string, unknown> & { dataLayer?: unknown[] }

/** A valid TC string created a day ago, consenting to `purposes` (1 storage; 7-10 measurement). */
function tc(purposes: number[]): string {
  const t = Math.floor((Date.now() - 86_400_000) / 100) * 100
  return tcString(
    coreBits({ created: t, lastUpdated: t, purposeConsents: purposes, publisherCountryCode: 'DE' }),
    vendorsSegment(1, vendorBitfield(8, [1, 2, 3])),
  )
}

/**
 * A browser-only CMP's IAB TCF API, as the TCF "Consent Management Platform API" documents it:
 * `addEventListener` calls back at once with the current TCData (`tcloaded` once a choice exists,
 * `cmpuishown` before) and again with `useractioncomplete` on every choice. `__testChoose(tc)` is
 * the visitor choosing in the CMP's banner.
 */
function installTcfApi(): void {
  type TcData = { tcString?: string; eventStatus: string; gdprApplies: boolean; listenerId?: number }
  const w = globalThis as unknown as Record<string, unknown>
  const listeners: Array<(d: TcData, ok: boolean) => void> = []
  let current: string | undefined
  const data = (eventStatus: string): TcData => ({ tcString: current, eventStatus, gdprApplies: true })
  w.__tcfapi = (command: string, version: number, cb: (d: unknown, ok: boolean) => void) => {
    if (version !== 2) return cb(null, false)
    if (command === 'ping') return cb({ gdprApplies: true, cmpLoaded: true, apiVersion: '2.2' }, true)
    if (command === 'addEventListener') {
      listeners.push(cb)
      return cb({ ...data(current ? 'tcloaded' : 'cmpuishown'), listenerId: listeners.length }, true)
    }
    cb(null, false)
  }
  w.__testChoose = (s: string) => {
    current = s
    listeners.forEach((cb, i) => cb({ ...data('useractioncomplete'), listenerId: i + 1 }, true))
  }
}

let harness: CmpHarness
let gateway: RunningWorker
let context: BrowserContext

beforeAll(async () => {
  harness = await startCmpHarness({ initScript: installTcfApi, answerTags: false })
  ;({ gateway, context } = harness)
})

afterAll(async () => {
  await harness?.close()
})

async function openWithBridge(page: Page, path: string): Promise<void> {
  const res = await page.goto(new URL(path, gateway.url).href, { waitUntil: 'load' })
  expect(res?.status(), `GET ${path}`).toBe(200)
  // As a site would include it: the versioned, first-party URL.
  await page.addScriptTag({ url: BRIDGE_PATH })
}

async function bridged(): Promise<string | undefined> {
  return (await context.cookies(gateway.url.href)).find((c) => c.name === 'gh_cmp')?.value
}

async function consentReport(page: Page) {
  return (await page.evaluate(async () => (await fetch('/v1/consent')).json())) as {
    purposes: Record<string, boolean>
    sources: Array<{ from: string; valid: boolean; used: boolean }>
  }
}

async function consentMode(page: Page) {
  return page.evaluate(() => {
    const entry = (window.dataLayer ?? []).find(
      (a) => (a as unknown[])[0] === 'consent' && (a as unknown[])[1] === 'default',
    ) as unknown[] | undefined
    const d = (entry?.[2] ?? {}) as Record<string, string>
    return { analytics_storage: d.analytics_storage, ad_storage: d.ad_storage }
  })
}

describe('the consent bridge with a browser-only CMP speaking __tcfapi', () => {
  it('writes nothing before the visitor chooses, so nothing is granted', async () => {
    const page = await context.newPage()
    await openWithBridge(page, '/')
    expect(await bridged()).toBeUndefined()
    expect(Object.values((await consentReport(page)).purposes).some(Boolean)).toBe(false)
    await page.close()
  })

  it('carries "analytics only" to the gateway on the next request, then the withdrawal', async () => {
    const page = await context.newPage()
    await openWithBridge(page, '/')
    const analyticsOnly = tc([1, 7, 8, 9, 10])
    await page.evaluate((s) => (window.__testChoose as (s: string) => void)(s), analyticsOnly)
    await expect.poll(bridged).toBe(`1~t~${analyticsOnly}`)

    await openWithBridge(page, '/')
    expect(await consentMode(page)).toEqual({ analytics_storage: 'granted', ad_storage: 'denied' })
    const granted = await consentReport(page)
    expect(granted.purposes).toEqual({
      storage: true,
      measurement: true,
      personalization: false,
      advertising: false,
    })
    expect(granted.sources).toContainEqual({ signal: 'tcf', from: 'cookie:gh_cmp', valid: true, used: true })
    await page.screenshot({ path: new URL('cmp-bridge-analytics-only.png', RESULTS).pathname })

    // The visitor withdraws in the CMP: the CMP reports a new string, the bridge copies it.
    const storageOnly = tc([1])
    await page.evaluate((s) => (window.__testChoose as (s: string) => void)(s), storageOnly)
    await expect.poll(bridged).toBe(`1~t~${storageOnly}`)
    await openWithBridge(page, '/')
    expect(await consentMode(page)).toEqual({ analytics_storage: 'denied', ad_storage: 'denied' })
    expect((await consentReport(page)).purposes).toMatchObject({ measurement: false, advertising: false })
    await page.screenshot({ path: new URL('cmp-bridge-withdrawn.png', RESULTS).pathname })
    await page.close()
  })
})
