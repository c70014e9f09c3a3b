/**
 * Events through the whole gateway pipeline (context, consent, identity): what the visitor's
 * consent and identity decide is what gets stored, and page views land in the same state.
 */
import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'

function anonymousIdOf(token: string): string {
  const payload = token.split('.')[2]!
  return (JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { a: string }).a
}

async function post(headers: Record<string, string>, events: unknown[]) {
  return exports.default.fetch('http://gate.test/v1/events', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ events }),
  })
}

const cart = () => ({
  id: crypto.randomUUID(),
  type: 'add_to_cart',
  ts: new Date().toISOString(),
  props: { sku: 'a1' },
})

describe('events through the gateway pipeline', () => {
  it('stores an opt-out visitor’s events and page views in their anonymous state', async () => {
    const us = { 'x-gatehouse-country': 'US', 'x-gatehouse-region': 'TX' }
    const first = await post(us, [cart()])
    expect(first.status).toBe(202)
    expect(await first.json()).toMatchObject({ accepted: 1, stored: true, storage: 'full' })
    const token = first.headers.get('x-gatehouse-id')!
    const stateKey = `a:${anonymousIdOf(token)}`
    const state = env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey))
    expect((await state.getDecisionState()).events.add_to_cart!.count).toBe(1)

    const page = await exports.default.fetch('http://gate.test/', {
      headers: { ...us, accept: 'text/html', 'x-gatehouse-id': token },
    })
    expect(await page.text()).toContain('/v1/beacon.js?v=')
    let views = 0
    for (let i = 0; i < 40 && views === 0; i++) {
      views = (await state.getDecisionState()).events.page_view?.count ?? 0
      if (!views) await new Promise((r) => setTimeout(r, 50))
    }
    expect(views).toBe(1)
  })

  it('keeps nothing for an EU visitor without consent, and says why', async () => {
    const res = await post({ 'x-gatehouse-country': 'DE' }, [cart()])
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ accepted: 1, stored: false, reason: 'no_customer_state' })
    const page = await exports.default.fetch('http://gate.test/', {
      headers: { 'x-gatehouse-country': 'DE', accept: 'text/html' },
    })
    expect(await page.text()).not.toContain('beacon.js')
  })
})
