/**
 * `unlisted` in rules/tags.yaml through the whole Worker and the demo storefront's `/embeds` page:
 * with `thirdParty` set, tags from hosts that are neither the page's nor listed first-party are
 * neutralised (restorably) until the visitor consents to that purpose; the default lets them run.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import type { Env } from '../../worker/env'
import { bundledRules } from '../../worker/rules'
import { tagsSchema } from '../../worker/rules/concerns/tags'
import { ALL_PURPOSES, PAGE_ACCEPT, located, tcCookie } from './consent-support'

const strict = createApp({
  rules: {
    ...bundledRules,
    tags: tagsSchema.parse({
      ...bundledRules.tags,
      unlisted: { thirdParty: 'personalization', firstParty: ['*.shop-static.example'] },
    }),
  },
})
const bundled = createApp()

async function embeds(app: ReturnType<typeof createApp>, headers: Record<string, string>): Promise<string> {
  const ctx = createExecutionContext()
  const res = await app.fetch(
    new Request('http://gate.test/embeds', { headers: { accept: PAGE_ACCEPT, ...headers } }),
    env as unknown as Env,
    ctx,
  )
  const html = await res.text()
  await waitOnExecutionContext(ctx)
  expect(res.status).toBe(200)
  return html
}

describe('unlisted third-party tags', () => {
  it('neutralises unknown third parties until personalization is consented, restorably', async () => {
    const html = await embeds(strict, located('DE'))
    expect(html).toContain(
      '<script src="https://widgets.unknown.example/reviews.js" type="text/plain" data-gatehouse-blocked="personalization"></script>',
    )
    expect(html).toContain(
      '<img alt="" data-gatehouse-src="https://pixel.unknown.example/p.gif" data-gatehouse-blocked="personalization">',
    )
    expect(html).toContain(
      '<iframe title="Map" data-gatehouse-src="https://maps.unknown.example/embed?q=store" data-gatehouse-blocked="personalization">',
    )
  })

  it("keeps the page's own and the listed first-party hosts' tags", async () => {
    const html = await embeds(strict, located('DE'))
    expect(html).toContain('<script src="/static/app.js"></script>')
    expect(html).toContain('<img src="https://img.shop-static.example/lamp.jpg" alt="Desk lamp">')
  })

  it('lets data-category and src rules decide before unlisted does', async () => {
    const html = await embeds(strict, located('DE'))
    // The page's measurement and advertising tags keep their own purposes.
    expect(html).toContain(
      'data-category="measurement" type="text/plain" data-gatehouse-blocked="measurement"',
    )
    expect(html).toContain(
      'data-category="advertising" type="text/plain" data-gatehouse-blocked="advertising"',
    )
  })

  it('lets unknown third parties run once personalization is consented', async () => {
    const html = await embeds(
      strict,
      located('DE', undefined, { cookie: `euconsent-v2=${tcCookie(ALL_PURPOSES)}` }),
    )
    expect(html).toContain('<script src="https://widgets.unknown.example/reviews.js"></script>')
    expect(html).toContain('<iframe src="https://maps.unknown.example/embed?q=store" title="Map">')
    expect(html).not.toContain('data-gatehouse-blocked')
  })

  it('lets unknown third parties run with the bundled rules (thirdParty: allow)', async () => {
    const html = await embeds(bundled, located('DE'))
    expect(html).toContain('<script src="https://widgets.unknown.example/reviews.js"></script>')
    expect(html).toContain('<img src="https://pixel.unknown.example/p.gif" alt="">')
    expect(html).not.toContain('data-gatehouse-blocked="personalization"')
  })
})
