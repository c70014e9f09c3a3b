import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../../worker/app'
import { bundledRules } from '../../worker/rules'
import { ALL_PURPOSES, located, PAGE_ACCEPT, tcCookie } from '../consent/consent-support'

function page(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`http://gate.test${path}`, { headers: { accept: PAGE_ACCEPT, ...headers } })
}

function slot(html: string, name: string): string {
  const m = new RegExp(`<section data-gatehouse-slot="${name}"[^>]*>([\\s\\S]*?)</section>`).exec(html)
  if (!m) throw new Error(`no slot ${name} in page`)
  return m[0]
}

/** The bundled rules with another customer-state time budget (rules/placements.yaml `state.budgetMs`). */
function withStateBudget(budgetMs: number) {
  return {
    ...bundledRules,
    placements: { ...bundledRules.placements, state: { ...bundledRules.placements.state, budgetMs } },
  }
}

/** A page through an app built on `rules`, with the log lines it wrote at warn level. */
async function pageWith(
  rules: ReturnType<typeof withStateBudget>,
  path: string,
  headers: Record<string, string>,
) {
  const warn = vi.spyOn(console, 'warn')
  const ctx = createExecutionContext()
  const res = await createApp({ rules }).fetch(
    new Request(`http://gate.test${path}`, { headers: { accept: PAGE_ACCEPT, ...headers } }),
    env,
    ctx,
  )
  const html = await res.text()
  await waitOnExecutionContext(ctx)
  const warnings = warn.mock.calls.map((args) => String(args[0]))
  return { res, html, warnings }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('slots on proxied pages', () => {
  it('fills the home hero with the decided variant and marks the page private', async () => {
    // A generous state budget: a cold object on a loaded test machine must not turn this into the
    // fallback (that path has its own test below).
    const { res, html, warnings } = await pageWith(withStateBudget(2000), '/', located('US', 'CA'))
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toMatch(/private/)
    const hero = slot(html, 'home_hero')
    expect(hero).toMatch(/data-gatehouse-variant="(default_hero|free_shipping)"/)
    expect(hero).toMatch(/data-gatehouse-reason="(rule:hero_test|holdout)"/)
    expect(hero).not.toContain('Everyday things, made well.')
    expect(warnings.some((w) => w.includes('decision_state_unavailable'))).toBe(false)
  })

  it('shows the hero fallback, not an error, when customer state cannot answer within its budget', async () => {
    const { res, html, warnings } = await pageWith(withStateBudget(0), '/', located('US', 'CA'))
    expect(res.status).toBe(200)
    const hero = slot(html, 'home_hero')
    expect(hero).toContain('data-gatehouse-variant="default_hero"')
    expect(hero).toContain('data-gatehouse-reason="fallback"')
    expect(hero).toContain('<h2>Welcome to the demo store</h2>')
    expect(warnings.some((w) => w.includes('decision_state_unavailable'))).toBe(true)
  })

  it('shows an EU visitor without consent the fallback, in their language, with reason consent', async () => {
    const hero = slot(
      await (await page('/', located('DE', undefined, { 'accept-language': 'de-DE,de;q=0.9' }))).text(),
      'home_hero',
    )
    expect(hero).toContain('data-gatehouse-variant="default_hero"')
    expect(hero).toContain('data-gatehouse-reason="consent"')
    expect(hero).toContain('<h2>Willkommen im Demo-Shop</h2>')
  })

  it('fills the product banner on product pages', async () => {
    const res = await page(
      '/product/lamp',
      located('DE', undefined, { cookie: `euconsent-v2=${tcCookie(ALL_PURPOSES)}` }),
    )
    const html = await res.text()
    const banner = slot(html, 'product_banner')
    expect(banner).toContain('data-gatehouse-variant="standard_banner"')
    expect(banner).toContain('<p>Free returns within 30 days.</p>')
    expect(res.headers.get('cache-control')).toMatch(/private/)
  })

  it('fills the cart upsell on the cart page', async () => {
    const html = await (await page('/cart', located('US', 'CA'))).text()
    expect(slot(html, 'cart_upsell')).toMatch(
      /data-gatehouse-variant="(no_upsell|bundle_offer|weekday_express)"/,
    )
  })

  it('leaves a slot whose placement is not in the rule set as the origin sent it', async () => {
    const res = await page('/catalog', located('US', 'CA'))
    if (res.status !== 200) return expect(res.status).toBe(404)
    const html = await res.text()
    expect(html).toContain('<section data-gatehouse-slot="catalog_banner"><p>All items</p></section>')
  })

  it('shows the placement fallback in a slot on a page the rules do not map (never per-visitor content there)', async () => {
    const app = createApp({
      rules: { ...bundledRules, placements: { ...bundledRules.placements, pages: {} } },
    })
    const ctx = createExecutionContext()
    const res = await app.fetch(
      new Request('http://gate.test/', { headers: { accept: PAGE_ACCEPT, ...located('US', 'CA') } }),
      env,
      ctx,
    )
    const hero = slot(await res.text(), 'home_hero')
    await waitOnExecutionContext(ctx)
    expect(hero).toContain('data-gatehouse-variant="default_hero"')
    expect(hero).toContain('data-gatehouse-reason="fallback"')
    expect(hero).toContain('<h2>Welcome to the demo store</h2>')
  })

  it('does not decide (or spend caps) for requests that are not page loads', async () => {
    const res = await exports.default.fetch('http://gate.test/product/lamp', {
      headers: { accept: '*/*', ...located('US', 'CA') },
    })
    const banner = slot(await res.text(), 'product_banner')
    expect(banner).toContain('data-gatehouse-variant="standard_banner"')
    expect(banner).toContain('data-gatehouse-reason="fallback"')
  })
})
