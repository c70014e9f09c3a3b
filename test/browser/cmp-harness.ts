/**
 * What the CMP browser tests share: the demo storefront, the BUILT gateway in Miniflare in front of
 * it, and a Chromium context of an EU visitor (the development location override: opt-in, nothing
 * before a choice). Nothing leaves the machine: third-party tag hosts answer locally with a script
 * that records it ran (the tests' stand-in for Google Analytics and an ad network), or are refused.
 */
import { mkdirSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, BrowserContext } from 'playwright-core'
import { buildBundle, startGateway, type RunningWorker } from '../../bench/lib/gateway'
import { launchChromium } from './chromium'
// @ts-expect-error: plain ESM module without types
import { startStorefront } from '../../examples/storefront/server.mjs'

/** Where the screenshots go (they are the review). */
export const RESULTS = new URL('../../test-results/', import.meta.url)

/** What each third-party tag host answers: a script that records it ran. */
export const TAG_HOSTS: Readonly<Record<string, string>> = {
  'www.googletagmanager.example': 'window.measurementTagRan = true',
  'tags.adnetwork.example': 'window.adTagRan = true',
}

export interface CmpHarness {
  gateway: RunningWorker
  context: BrowserContext
  close(): Promise<void>
}

export interface CmpHarnessOptions {
  /** Installed in every page before its own scripts (e.g. a CMP's JavaScript API). */
  initScript?: () => void
  /** Answer the tag hosts with their recording script (default), or refuse them. */
  answerTags?: boolean
}

export async function startCmpHarness(opts: CmpHarnessOptions = {}): Promise<CmpHarness> {
  mkdirSync(RESULTS, { recursive: true })
  const storefront: Server = await startStorefront({ port: 0 })
  const originUrl = `http://127.0.0.1:${(storefront.address() as AddressInfo).port}`
  const gateway = await startGateway({ scriptPath: await buildBundle(), originUrl })
  const browser: Browser = await launchChromium()
  const context = await browser.newContext({ extraHTTPHeaders: { 'x-gatehouse-country': 'DE' } })
  if (opts.initScript) await context.addInitScript(opts.initScript)
  const answerTags = opts.answerTags ?? true
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url())
    if (url.host === gateway.url.host) return route.continue()
    const body = answerTags ? TAG_HOSTS[url.hostname] : undefined
    if (body) return route.fulfill({ status: 200, contentType: 'text/javascript', body })
    return route.abort('blockedbyclient')
  })
  return {
    gateway,
    context,
    async close() {
      await context.close()
      await browser.close()
      await gateway.dispose()
      storefront.close()
    },
  }
}
