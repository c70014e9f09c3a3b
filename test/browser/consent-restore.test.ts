/**
 * The CMP restore snippet documented in docs/consent.md, run in Debian chromium on markup exactly
 * as the gateway neutralises it: after `gatehouseRestore([...])` the consented tags run (scripts
 * execute, images and iframes get their src back) and the others stay blocked. The snippet is
 * read from the docs, so the docs cannot drift from what is tested. Nothing leaves the machine.
 */
import { readFileSync } from 'node:fs'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './chromium'

// The callbacks below run inside Chromium (page.evaluate serialises them); these are the few page
// globals they touch, typed here because the project's lib is the Workers runtime, not the DOM.
interface PageElement {
  getAttribute(name: string): string | null
}
declare const window: unknown
declare const document: {
  getElementById(id: string): PageElement
  querySelectorAll(selector: string): { length: number }
}
type HTMLImageElement = PageElement
type HTMLIFrameElement = PageElement

// The first ```html block after the "Restoring after the visitor consents" paragraph.
const docs = readFileSync(new URL('../../docs/consent.md', import.meta.url), 'utf8')
const section = docs.slice(docs.indexOf('Restoring after the visitor consents'))
const snippet = section.slice(
  section.indexOf('```html') + '```html'.length,
  section.indexOf('```', section.indexOf('```html') + 7),
)

// Markup in the exact form the gateway's tag handlers produce (test/consent/enforce*.test.ts).
const PAGE = `<!doctype html><html><head>
<script data-category="marketing" type="text/plain" data-gatehouse-blocked="advertising">window.adRan = (window.adRan || 0) + 1</script>
<script type="text/plain" data-gatehouse-type="text/javascript" data-gatehouse-blocked="measurement">window.measureRan = true</script>
<script data-category="functional" type="text/plain" data-gatehouse-blocked="personalization">window.personalRan = true</script>
</head><body>
<img id="px" alt="" data-gatehouse-src="/pixel.gif" data-gatehouse-srcset="/pixel.gif 2x" data-gatehouse-blocked="advertising">
<iframe id="video" data-gatehouse-src="about:blank#video" data-gatehouse-blocked="advertising"></iframe>
${snippet}
</body></html>`

let browser: Browser

beforeAll(async () => {
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
})

describe('restoring neutralised tags with the documented snippet', () => {
  it('runs nothing before consent, then exactly the consented tags, once', async () => {
    expect(snippet).toContain('function gatehouseRestore')
    const context = await browser.newContext()
    await context.route('**/*', (route) => route.abort('blockedbyclient'))
    const page = await context.newPage()
    await page.setContent(PAGE)

    const state = () =>
      page.evaluate(() => {
        const w = window as unknown as Record<string, unknown>
        const img = document.getElementById('px') as HTMLImageElement
        const frame = document.getElementById('video') as HTMLIFrameElement
        return {
          ad: w.adRan ?? 0,
          measure: w.measureRan ?? false,
          personal: w.personalRan ?? false,
          img: img.getAttribute('src'),
          srcset: img.getAttribute('srcset'),
          frame: frame.getAttribute('src'),
          blocked: document.querySelectorAll('[data-gatehouse-blocked]').length,
        }
      })

    expect(await state()).toEqual({
      ad: 0,
      measure: false,
      personal: false,
      img: null,
      srcset: null,
      frame: null,
      blocked: 5,
    })

    await page.evaluate(() =>
      (window as unknown as { gatehouseRestore(p: string[]): void }).gatehouseRestore([
        'advertising',
        'measurement',
      ]),
    )
    expect(await state()).toEqual({
      ad: 1,
      measure: true,
      personal: false,
      img: '/pixel.gif',
      srcset: '/pixel.gif 2x',
      frame: 'about:blank#video',
      blocked: 1,
    })

    // Calling it again (a second consent callback) runs nothing twice.
    await page.evaluate(() =>
      (window as unknown as { gatehouseRestore(p: string[]): void }).gatehouseRestore([
        'advertising',
        'measurement',
      ]),
    )
    expect((await state()).ad).toBe(1)
    await context.close()
  })
})
