/**
 * Server-to-server ingestion of offline interactions (POS, call centre): its own hashed API key,
 * subjects by customer id or email (peppered, through the identity index), profile attributes by
 * source precedence, and an in-store purchase that suppresses and cancels online messages.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { identifierKey } from '../../worker/identity/keys'
import { adminToken } from '../admin/support'
import { customer, event, eventsApp } from './harness'

const KEY = 'pos-system-key-0123456789abcdef'
const OTHER_KEY = 'rotated-old-key-0123456789abcdef'

async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

async function gate() {
  return eventsApp({}, { env: { INGEST_API_KEY_HASHES: `${await sha256(OTHER_KEY)}, ${await sha256(KEY)}` } })
}

async function ingest(body: unknown, key: string | null = KEY) {
  return (await gate()).request('/v1/ingest/events', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
  })
}

describe('POST /v1/ingest/events', () => {
  it.each([
    ['no key', null, 401],
    ['a wrong key', 'not-the-right-key-0123456789', 403],
  ])('refuses %s', async (_name, key, status) => {
    const res = await ingest({ subject: { type: 'customer_id', value: 'c1' }, events: [event()] }, key)
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
  })

  it('refuses an admin JWT without the ingest role, and a forged one', async () => {
    const privacy = await ingest(
      { subject: { type: 'customer_id', value: 'c1' }, events: [] },
      await adminToken({ roles: ['privacy'] }),
    )
    expect(privacy.status).toBe(403)
    const forged = await ingest(
      { subject: { type: 'customer_id', value: 'c1' }, events: [] },
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln',
    )
    expect(forged.status).toBe(401)
  })

  it('accepts an admin JWT carrying the ingest role, even with no API key configured', async () => {
    const subject = { type: 'customer_id', value: `jwt-ingest-${crypto.randomUUID()}` }
    const e = event({ type: 'purchase' })
    const res = await eventsApp({}).request('/v1/ingest/events', {
      method: 'POST',
      body: JSON.stringify({ subject, source: 'pos', events: [e] }),
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await adminToken({ sub: 'pos-job', roles: ['ingest'] })}`,
      },
    })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ accepted: 1, stored: true })
    const held = (await customer(`c:${subject.value}`).exportAll()) as { events?: Array<{ id: string }> }
    expect(held.events?.map((row) => row.id)).toContain(e.id)
  })

  it('refuses everything when no key hashes are configured', async () => {
    const res = await eventsApp({}).request('/v1/ingest/events', {
      method: 'POST',
      body: '{}',
      headers: { authorization: `Bearer ${KEY}` },
    })
    expect(res.status).toBe(401)
  })

  it('accepts any configured key (rotation)', async () => {
    const res = await ingest(
      { subject: { type: 'customer_id', value: 'rotation' }, events: [event()] },
      OTHER_KEY,
    )
    expect(res.status).toBe(202)
  })

  it.each([
    [{ events: [] }, 'subject'],
    [{ subject: { type: 'phone', value: '+4912345678' }, events: [] }, 'subject.type'],
    [{ subject: { type: 'customer_id', value: '' }, events: [] }, 'subject.value'],
    [{ subject: { type: 'customer_id', value: 'x' }, source: 'Point Of Sale', events: [] }, 'source'],
    [
      { subject: { type: 'customer_id', value: 'x' }, attributes: { email: 'a@b.example' }, events: [] },
      'attributes.email',
    ],
    [
      { subject: { type: 'customer_id', value: 'x' }, attributes: { tier: { nested: 1 } }, events: [] },
      'attributes.tier',
    ],
    [{ subject: { type: 'email', value: 'not-an-email' }, events: [event()] }, 'subject.value'],
  ])('answers a bad envelope with 400 naming the field (%#)', async (body, path) => {
    const res = await ingest(body)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toContain(
      path,
    )
  })

  it('answers 404 for an email no customer is linked to', async () => {
    const res = await ingest({ subject: { type: 'email', value: 'nobody@example.com' }, events: [event()] })
    expect(res.status).toBe(404)
  })

  it('suppresses the online campaign and cancels the abandonment timer after an in-store purchase', async () => {
    const stateKey = 'c:store-buyer'
    // Online: the customer adds to cart and leaves.
    const online = eventsApp({ purposes: { storage: true, measurement: true }, stateKey })
    await online.post({ events: [event({ type: 'add_to_cart' })] })
    // In store: the POS reports the purchase by customer id, with no measurement consent asserted.
    const res = await ingest({
      subject: { type: 'customer_id', value: 'store-buyer' },
      source: 'pos',
      events: [event({ type: 'purchase', ts: new Date().toISOString(), props: { store: 'vienna-1' } })],
    })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({
      accepted: 1,
      storage: 'minimal',
      suppressed: ['browse_abandonment', 'cart_recovery'],
      timersCancelled: ['cart_abandoned'],
    })
    const state = await customer(stateKey).getDecisionState()
    expect(state.suppressedCampaigns).toEqual(['browse_abandonment', 'cart_recovery'])
    const [email] = await customer(stateKey).reserve([
      {
        decisionId: 'after-store',
        placement: 'email',
        campaign: 'cart_recovery',
        channel: 'email',
        tags: [],
      },
    ])
    expect(email).toMatchObject({ allowed: false, reason: 'suppressed:cart_recovery' })
  })

  it('accepts offline events older than browsers may send', async () => {
    const old = new Date(Date.now() - 60 * 86_400_000).toISOString()
    const res = await ingest({
      subject: { type: 'customer_id', value: 'old-pos' },
      events: [event({ type: 'purchase', ts: old })],
    })
    expect(await res.json()).toMatchObject({ accepted: 1, rejected: [] })
  })

  it('resolves an email through its peppered identity link', async () => {
    const key = (await identifierKey('email', 'Ana@Example.com', env.ID_PEPPER))!
    await env.IDENTITY.get(env.IDENTITY.idFromName(key)).claim({
      identifierKey: key,
      identifierType: 'email',
      customerId: 'ana',
      stateKey: 'c:ana',
      assertedBy: 'admin',
    })
    const res = await ingest({
      subject: { type: 'email', value: ' ana@example.com ' },
      events: [event({ type: 'purchase' })],
    })
    expect(res.status).toBe(202)
    expect((await customer('c:ana').getDecisionState()).events.purchase!.count).toBe(1)
  })

  it('keeps the most trusted source of an attribute (rules/profile.yaml precedence)', async () => {
    const subject = { type: 'customer_id', value: 'precedence' }
    await ingest({ subject, source: 'crm', attributes: { email_reachable: false, tier: 'gold' }, events: [] })
    await ingest({
      subject,
      source: 'app',
      attributes: { email_reachable: true, push_token_present: true },
      events: [],
    })
    await ingest({ subject, source: 'crm', attributes: { tier: 'platinum' }, events: [] })
    const { attributes } = await customer('c:precedence').getDecisionState()
    expect(attributes.email_reachable).toMatchObject({ value: false, source: 'crm' })
    expect(attributes.push_token_present).toMatchObject({ value: true, source: 'app' })
    expect(attributes.tier).toMatchObject({ value: 'platinum', source: 'crm' })
    expect(attributes.tier!.updatedAt).toBeGreaterThan(Date.now() - 60_000)
  })
})
