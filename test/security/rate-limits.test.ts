/**
 * Rate limits on identity-bearing and write routes: one visitor, or one address, cannot flood
 * `/v1/events`, `/v1/me` or `/v1/decide/conversions`; over the limit the answer is 429
 * problem+json with `Retry-After`, and other visitors and addresses are not affected. The
 * limiters are real Miniflare rate-limit bindings: the production ones from wrangler.toml, and
 * for reaching a limit quickly TEST_RATE_LIMIT_3 (3 a minute, vitest.config.ts) in their place.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import { ipKey, planRateLimit, RATE_LIMITERS } from '../../worker/ratelimit/policy'

const testEnv = env as typeof env & { TEST_RATE_LIMIT_3: RateLimit }
// California is opt-out: the gateway keeps a signed anonymous id, so the visitor has a stable key.
const US_CA = { 'x-gatehouse-country': 'US', 'x-gatehouse-region': 'CA' }

/** The whole gateway with every limiter replaced by the 3-a-minute test limiter. */
function tightGateway() {
  const small = testEnv.TEST_RATE_LIMIT_3
  const app = createApp({
    rateLimit: {
      limiters: () => ({ RATE_LIMIT_VISITOR: small, RATE_LIMIT_IP: small, RATE_LIMIT_PRIVACY: small }),
    },
  })
  return async (path: string, init: RequestInit = {}) => app.request(`http://gate.test${path}`, init, env)
}

function randomIp(): string {
  const b = crypto.getRandomValues(new Uint8Array(3))
  return `198.51.${b[0]}.${b[1]! % 254 || 1}`
}

/** Sends until the first 429 (at most `max`); fixed windows can roll over mid-test, so allow one retry. */
async function untilLimited(
  send: () => Promise<Response>,
  max = 8,
): Promise<{ ok: number; limited: Response | null }> {
  let ok = 0
  for (let i = 0; i < max; i++) {
    const res = await send()
    if (res.status === 429) return { ok, limited: res }
    ok++
  }
  return { ok, limited: null }
}

const eventBody = () =>
  JSON.stringify({
    events: [{ id: crypto.randomUUID(), type: 'page_view', ts: new Date().toISOString(), props: {} }],
  })

describe('rate limits', () => {
  it('binds the production limiters from wrangler.toml, with the limits the policy states', async () => {
    for (const name of Object.keys(RATE_LIMITERS) as Array<keyof typeof RATE_LIMITERS>) {
      const limiter = env[name]
      expect(limiter, name).toBeDefined()
      expect(await limiter!.limit({ key: `probe:${crypto.randomUUID()}` })).toEqual({ success: true })
    }
  })

  it('answers an address flooding POST /v1/events with 429 and Retry-After; another address is served', async () => {
    const gate = tightGateway()
    const attacker = randomIp()
    const post = (ip: string) =>
      gate('/v1/events', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip },
        body: eventBody(),
      })
    const r = await untilLimited(() => post(attacker))
    expect(r.limited).not.toBeNull()
    expect(r.ok).toBeGreaterThanOrEqual(3)
    const res = r.limited!
    expect(res.headers.get('retry-after')).toBe(String(RATE_LIMITERS.RATE_LIMIT_IP.period))
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toMatchObject({ status: 429, title: 'Too many requests' })
    expect((await post(randomIp())).status).toBe(202)
  })

  it('limits one visitor on /v1/me whatever addresses they use, and not the next visitor', async () => {
    const gate = tightGateway()
    const first = await gate('/v1/identity', { headers: US_CA })
    const token = first.headers.get('x-gatehouse-id')!
    expect(token).toBeTruthy()
    const r = await untilLimited(() =>
      gate('/v1/me', { headers: { ...US_CA, 'x-gatehouse-id': token, 'cf-connecting-ip': randomIp() } }),
    )
    expect(r.limited?.status).toBe(429)
    expect(r.ok).toBeGreaterThanOrEqual(3)
    expect(r.limited!.headers.get('retry-after')).toBe('60')
    // The erase route shares the self-service limit: a flood of DELETEs is refused before any store.
    const del = await gate('/v1/me', {
      method: 'DELETE',
      headers: { ...US_CA, 'x-gatehouse-id': token, 'cf-connecting-ip': randomIp() },
    })
    expect(del.status).toBe(429)
    const other = await gate('/v1/identity', { headers: US_CA })
    const otherToken = other.headers.get('x-gatehouse-id')!
    const mine = await gate('/v1/me', {
      headers: { ...US_CA, 'x-gatehouse-id': otherToken, 'cf-connecting-ip': randomIp() },
    })
    expect(mine.status).toBe(200)
  })

  it('limits conversions per address, before the credential is even checked', async () => {
    const gate = tightGateway()
    const ip = randomIp()
    const r = await untilLimited(() =>
      gate('/v1/decide/conversions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip },
        body: '{}',
      }),
    )
    expect(r.limited?.status).toBe(429)
  })

  it('plans keys per visitor and per address (IPv6 per /64), and nothing for unlisted routes', () => {
    const caller = {
      basis: 'cookie' as const,
      customerId: null,
      anonymousId: 'anon-1',
      ip: '2001:db8:1:2:aaaa::1',
    }
    expect(planRateLimit('POST', '/v1/events', caller)).toEqual([
      { limiter: 'RATE_LIMIT_VISITOR', key: 'events:a:anon-1', dimension: 'visitor' },
      { limiter: 'RATE_LIMIT_IP', key: 'events:ip:2001:db8:1:2::/64', dimension: 'ip' },
    ])
    expect(planRateLimit('DELETE', '/v1/me', { ...caller, customerId: 'cust-9', basis: 'jwt' })[0]).toEqual({
      limiter: 'RATE_LIMIT_PRIVACY',
      key: 'me:c:cust-9',
      dimension: 'visitor',
    })
    // An ephemeral visitor has a fresh id per request: only the address holds them.
    expect(
      planRateLimit('POST', '/v1/events', { ...caller, basis: 'ephemeral' }).map((c) => c.dimension),
    ).toEqual(['ip'])
    expect(planRateLimit('POST', '/v1/decide', caller)).toEqual([])
    expect(ipKey('::ffff:192.0.2.7')).toBe('192.0.2.7')
    expect(ipKey('2001:db8::')).toBe('2001:db8:0:0::/64')
    expect(ipKey('300.1.1.1')).toBeNull()
    expect(ipKey('not-an-ip')).toBeNull()
    expect(ipKey('1:2:3:4:5:6:7:8:9')).toBeNull()
  })
})
