/**
 * Pending trigger timers are visible to the subject (`GET /v1/me`) and to operators (the DSAR
 * export), in words: which trigger, when it is due, which event started it.
 */
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import { pendingTriggers } from '../../worker/privacy/pending-triggers'
import { ALL_PURPOSES, located, tcCookie } from '../consent/consent-support'
import { appFetch, signToken } from '../identity/support'
import { adminToken, bearer, capturingApp } from '../admin/support'

const app = createApp()

async function asUser(sub: string, path: string, init: RequestInit = {}, purposes = ALL_PURPOSES) {
  return appFetch(app, path, {
    ...init,
    headers: located('DE', undefined, {
      authorization: `Bearer ${await signToken(sub)}`,
      cookie: `euconsent-v2=${tcCookie(purposes)}`,
      ...(init.headers as Record<string, string>),
    }),
  })
}

const addToCart = (at: Date) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    events: [{ id: crypto.randomUUID(), type: 'add_to_cart', ts: at.toISOString(), props: {} }],
  }),
})

describe('pending trigger timers', () => {
  it('shows the subject their waiting cart reminder in GET /v1/me, and nothing once consent withdraws it', async () => {
    const sub = `pending-${crypto.randomUUID()}`
    const before = Date.now()
    const stored = await asUser(sub, '/v1/events', addToCart(new Date()))
    expect(await stored.json()).toMatchObject({ stored: true })

    const me = (await (await asUser(sub, '/v1/me')).json()) as {
      pendingTriggers: Array<{ trigger: string; dueAt: string; startedBy: { eventType: string; at: string } }>
    }
    expect(me.pendingTriggers).toHaveLength(1)
    const [timer] = me.pendingTriggers
    expect(timer!.trigger).toBe('cart_abandoned')
    expect(timer!.startedBy.eventType).toBe('add_to_cart')
    expect(Date.parse(timer!.dueAt)).toBeGreaterThan(before)

    // Measurement withdrawn in the CMP: the timer is cancelled, and /v1/me says so.
    const after = (await (await asUser(sub, '/v1/me', {}, [1])).json()) as { pendingTriggers: unknown[] }
    expect(after.pendingTriggers).toEqual([])
  })

  it('lists them for operators in the DSAR export', async () => {
    const sub = `pending-${crypto.randomUUID()}`
    await asUser(sub, '/v1/events', addToCart(new Date()))
    const token = await adminToken({ sub: 'dpo-1', roles: ['privacy'] })
    const res = await capturingApp().fetch('/admin/v1/subjects/export', {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ identifier: { type: 'customer_id', value: sub } }),
    })
    expect(res.status).toBe(200)
    const doc = (await res.json()) as { pendingTriggers: Array<{ trigger: string }> }
    expect(doc.pendingTriggers.map((t) => t.trigger)).toEqual(['cart_abandoned'])
  })
})

describe('pendingTriggers', () => {
  it('reads only timers with a well-formed payload and time, soonest first', () => {
    const payload = (trigger: string) =>
      JSON.stringify({ trigger, eventId: 'e1', eventType: 'add_to_cart', startedAt: 1_000 })
    expect(
      pendingTriggers([
        { due_at: 5_000, payload: payload('late') },
        { due_at: 2_000, payload: payload('soon') },
        { due_at: 3_000, payload: '{not json' },
        { due_at: 3_000, payload: '{"trigger":1}' },
        { due_at: Number.NaN, payload: payload('never') },
      ]),
    ).toEqual([
      {
        trigger: 'soon',
        dueAt: new Date(2_000).toISOString(),
        startedBy: { eventType: 'add_to_cart', at: new Date(1_000).toISOString() },
      },
      {
        trigger: 'late',
        dueAt: new Date(5_000).toISOString(),
        startedBy: { eventType: 'add_to_cart', at: new Date(1_000).toISOString() },
      },
    ])
  })
})
