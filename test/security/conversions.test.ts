/**
 * Attack row "POST /v1/decide/conversions: anonymous, no consent, no dedupe, 10,000 conversions a
 * request steer a bandit": conversions now come only from a server holding the ingest credential,
 * at most 100 a request, each counted once by its id. A browser, with or without a visitor id or
 * JWT, moves no arm.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import { MAX_CONVERSIONS } from '../../worker/decide/api'
import { US_CA, signToken } from '../identity/support'
import { gatewayWithIngestKey, ingestHeaders, rulesWithBandit } from './ingest-key'

// A copy of upsell_bandit under an id of its own: no other test file counts into its object.
const BANDIT = `sec_bandit_${crypto.randomUUID().slice(0, 8)}`
const rules = rulesWithBandit(BANDIT)
const arms = async () => (await env.EXPERIMENT.get(env.EXPERIMENT.idFromName(BANDIT)).stats()).arms
const conversion = (arm = 'bundle_offer') => ({ id: `order-${crypto.randomUUID()}`, experiment: BANDIT, arm })

describe('conversions cannot be forged', () => {
  it.each([
    ['an anonymous browser', {}],
    ['a visitor with a consented anonymous id', { ...US_CA }],
    ['a signed-in customer (visitor JWT)', { jwt: true }],
    ['a caller with a wrong key', { authorization: 'Bearer wrong-key-0123456789abcdef' }],
  ])('refuses %s with 401/403 and moves no arm', async (_name, h: Record<string, unknown>) => {
    const gate = await gatewayWithIngestKey(rules)
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    for (const [k, v] of Object.entries(h)) if (typeof v === 'string') headers[k] = v
    if (h.jwt) headers.authorization = `Bearer ${await signToken('cust-conv-attacker')}`
    if (h['x-gatehouse-country']) {
      const id = await createApp().request('http://gate.test/v1/identity', { headers: US_CA }, env)
      headers['x-gatehouse-id'] = id.headers.get('x-gatehouse-id')!
    }
    const before = await arms()
    const res = await gate('/v1/decide/conversions', {
      method: 'POST',
      headers,
      body: JSON.stringify({ conversions: Array.from({ length: 100 }, () => conversion()) }),
    })
    expect([401, 403]).toContain(res.status)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await arms()).toEqual(before)
  })

  it('refuses 10,000 conversions in one request, and a count that multiplies one', async () => {
    const gate = await gatewayWithIngestKey(rules)
    const before = await arms()
    const many = await gate('/v1/decide/conversions', {
      method: 'POST',
      headers: ingestHeaders(),
      body: JSON.stringify({ conversions: Array.from({ length: 10_000 }, () => conversion()) }),
    })
    expect(many.status).toBe(413)
    const over = await gate('/v1/decide/conversions', {
      method: 'POST',
      headers: ingestHeaders(),
      body: JSON.stringify({
        conversions: Array.from({ length: MAX_CONVERSIONS + 1 }, (_, i) => ({
          id: `o-${i}-0000000`,
          experiment: BANDIT,
          arm: 'x',
        })),
      }),
    })
    expect(over.status).toBe(400)
    const counted = await gate('/v1/decide/conversions', {
      method: 'POST',
      headers: ingestHeaders(),
      body: JSON.stringify({ conversions: [{ ...conversion(), count: 100 }] }),
    })
    expect(counted.status).toBe(400)
    expect(await counted.json()).toMatchObject({
      errors: [{ path: 'conversions.0.count', message: 'unknown field' }],
    })
    expect(await arms()).toEqual(before)
  })

  it('counts a conversion id once, within a request and across retries', async () => {
    const gate = await gatewayWithIngestKey(rules)
    const before = (await arms()).no_upsell?.conversions ?? 0
    const c = conversion('no_upsell')
    const send = (list: unknown[]) =>
      gate('/v1/decide/conversions', {
        method: 'POST',
        headers: ingestHeaders(),
        body: JSON.stringify({ conversions: list }),
      })
    expect(await (await send([c, c, c])).json()).toEqual({ accepted: 3, counted: 1, duplicates: 2 })
    expect(await (await send([c])).json()).toEqual({ accepted: 1, counted: 0, duplicates: 1 })
    expect((await arms()).no_upsell!.conversions).toBe(before + 1)
  })
})
