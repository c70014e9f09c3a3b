/**
 * Check-and-reserve in the customer's Durable Object: caps hold under concurrency, retries are
 * idempotent, and a capped decision is recorded as a skip with its reason.
 */
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { afterEach, describe, expect, it } from 'vitest'
import type { ReserveRequest } from '../../durable-objects/customer/contract'
import { overrideStateRules } from '../../durable-objects/customer/state-rules'
import { withCaps } from './rules'

afterEach(() => overrideStateRules(null))

function request(i: number, over: Partial<ReserveRequest> = {}): ReserveRequest {
  return {
    decisionId: `d-${i}`,
    placement: 'home_hero',
    campaign: 'spring',
    channel: 'web',
    tags: [],
    ...over,
  }
}

describe('reserve', () => {
  it.each([1, 7, 50])('allows exactly %i of 200 concurrent reserves on one customer', async (limit) => {
    overrideStateRules(
      withCaps({ caps: [{ id: 'hero', placement: 'home_hero', limit, window: { rollingHours: 24 } }] }),
    )
    // Several rounds on fresh customers: the exact count must hold every time, not once by luck.
    for (let round = 1; round <= 3; round++) {
      const fresh = env.CUSTOMER.get(env.CUSTOMER.idFromName(`c:concurrent-${limit}-round-${round}`))
      const r = await Promise.all(Array.from({ length: 200 }, (_, i) => fresh.reserve([request(i)])))
      expect(r.filter((x) => x[0]!.allowed).length).toBe(limit)
    }
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName(`c:concurrent-${limit}`))
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => stub.reserve([request(i)])))
    const allowed = results.filter((r) => r[0]!.allowed).length
    expect(allowed).toBe(limit)
    const skipped = results.map((r) => r[0]!).filter((r) => !r.allowed)
    expect(skipped.every((r) => !r.allowed && r.reason === 'cap:hero')).toBe(true)
    // Each skip is recorded with its reason.
    await runInDurableObject(stub, (_i, state) => {
      const rows = state.storage.sql
        .exec<{ allowed: number; reason: string | null; n: number }>(
          'SELECT allowed, reason, COUNT(*) AS n FROM cap_reservations GROUP BY allowed, reason',
        )
        .toArray()
      expect(rows).toEqual(
        expect.arrayContaining([
          { allowed: 1, reason: null, n: limit },
          { allowed: 0, reason: 'cap:hero', n: 200 - limit },
        ]),
      )
    })
  })

  it('answers a retried decision id with its first answer and counts it once', async () => {
    overrideStateRules(
      withCaps({ caps: [{ id: 'hero', placement: 'home_hero', limit: 2, window: { rollingHours: 1 } }] }),
    )
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName('c:idempotent'))
    const first = await stub.reserve([request(1)])
    const again = await stub.reserve([request(1)])
    expect(again).toEqual(first)
    expect((await stub.reserve([request(2)]))[0]!.allowed).toBe(true)
    expect((await stub.reserve([request(3)]))[0]).toMatchObject({ allowed: false, reason: 'cap:hero' })
  })

  it('checks every placement of one call atomically, in order', async () => {
    overrideStateRules(
      withCaps({ caps: [{ id: 'web_total', channel: 'web', limit: 2, window: { rollingHours: 1 } }] }),
    )
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName('c:multi'))
    const res = await stub.reserve([request(1), request(2, { placement: 'footer' }), request(3)])
    expect(res.map((r) => r.allowed)).toEqual([true, true, false])
    expect(res[1]!.caps).toEqual([{ cap: 'web_total', used: 2, limit: 2, window: 'rolling:1h' }])
  })

  it('counts each campaign separately for a "*" campaign cap and honours per-campaign overrides', async () => {
    overrideStateRules(
      withCaps({
        caps: [
          {
            id: 'per_campaign',
            counts: 'impressions',
            campaign: '*',
            limit: 1,
            window: { rollingHours: 24 },
          },
        ],
        campaignOverrides: { vip: { per_campaign: 3 }, house: { per_campaign: null } },
      }),
    )
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName('c:per-campaign'))
    const ask = async (i: number, campaign: string) =>
      (await stub.reserve([request(i, { campaign })]))[0]!.allowed
    expect([await ask(1, 'a'), await ask(2, 'a'), await ask(3, 'b')]).toEqual([true, false, true])
    expect([await ask(4, 'vip'), await ask(5, 'vip'), await ask(6, 'vip'), await ask(7, 'vip')]).toEqual([
      true,
      true,
      true,
      false,
    ])
    expect(await Promise.all([8, 9, 10, 11].map((i) => ask(i, 'house')))).toEqual([true, true, true, true])
  })

  it('caps by tag and by channel across placements', async () => {
    overrideStateRules(
      withCaps({
        caps: [
          { id: 'promo', counts: 'impressions', tag: 'promo', limit: 1, window: { rollingHours: 24 } },
          { id: 'app', channel: 'app', limit: 2, window: { rollingHours: 24 } },
        ],
      }),
    )
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName('c:tags'))
    const r = await stub.reserve([
      request(1, { tags: ['promo', 'spring'] }),
      request(2, { placement: 'sidebar', tags: ['promo'] }),
      request(3, { placement: 'sidebar', tags: ['promotion'] }),
      request(4, { channel: 'app' }),
      request(5, { channel: 'app', campaign: 'other' }),
      request(6, { channel: 'app', campaign: 'third' }),
    ])
    expect(r.map((x) => (x.allowed ? 'ok' : x.reason))).toEqual([
      'ok',
      'cap:promo',
      'ok',
      'ok',
      'ok',
      'cap:app',
    ])
  })

  it('answers a malformed request with invalid_request instead of throwing', async () => {
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName('c:malformed'))
    const res = await stub.reserve([
      { decisionId: '', placement: 'x', campaign: null, channel: 'fax', tags: [] } as never,
    ])
    expect(res).toEqual([{ allowed: false, reason: 'invalid_request', caps: [] }])
  })
})
