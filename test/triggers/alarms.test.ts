/**
 * Trigger timers on the customer's one alarm, through `runDurableObjectAlarm`: cart abandonment
 * fires once through the right channel and reaches the webhook, is cancelled by a purchase (also an
 * in-store one), respects exclusions, suppression, "only after", the minimum interval, quiet hours
 * (deferred, not dropped) and consent, survives an object restart, and a retried alarm never
 * fires twice.
 */
import { env } from 'cloudflare:workers'
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { StateEvent } from '../../durable-objects/customer/events'
import { overrideStateRules, type StateRules } from '../../durable-objects/customer/state-rules'
import type { Purpose } from '../../worker/consent/types'
import { stitch } from '../../worker/identity/stitch'
import { bundledRules } from '../../worker/rules'
import { withCaps } from '../caps/rules'
import { webhook } from './webhook'

const consented: Record<Purpose, boolean> = {
  storage: true,
  measurement: true,
  personalization: true,
  advertising: false,
}

/** The bundled triggers with caps that never get in the way and no quiet hours (tests choose). */
function testRules(over: Partial<StateRules> = {}): StateRules {
  return { ...withCaps({ caps: [], suppressions: bundledRules.caps.suppressions }), ...over }
}

beforeEach(() => overrideStateRules(testRules()))
afterEach(() => overrideStateRules(null))

function stateKey(): string {
  return `c:alarm-${crypto.randomUUID()}`
}

function stub(key: string) {
  return env.CUSTOMER.get(env.CUSTOMER.idFromName(key))
}

function ev(type: string, over: Partial<StateEvent> = {}): StateEvent {
  return { id: crypto.randomUUID(), type, ts: Date.now(), props: {}, ...over }
}

async function record(key: string, events: StateEvent[], purposes = consented, source = 'web') {
  return stub(key).recordEvents({ stateKey: key, source, purposes, events })
}

async function reachable(key: string, attrs: Record<string, boolean>) {
  await stub(key).setAttributes(
    Object.entries(attrs).map(([name, value]) => ({ name, value, source: 'crm', at: Date.now() })),
  )
}

/**
 * Makes every pending timer due now, then runs the alarm as the runtime would. Outbox items (a
 * sent fire waiting for its outcome) keep their time: test/triggers/outbox.test.ts covers them.
 */
async function fireDueTimers(key: string): Promise<void> {
  const s = stub(key)
  await runInDurableObject(s, async (_i, state) => {
    state.storage.sql.exec("UPDATE due_items SET due_at = ? WHERE kind != 'trigger_outbox'", Date.now() - 1)
    await state.storage.setAlarm(Date.now() + 60_000)
  })
  await runDurableObjectAlarm(s)
}

async function fires(key: string) {
  return runInDurableObject(stub(key), (_i, state) =>
    state.storage.sql
      .exec<{
        fire_id: string
        trigger: string
        channel: string | null
        status: string
        reason: string | null
      }>('SELECT fire_id, trigger, channel, status, reason FROM trigger_fires ORDER BY fired_at')
      .toArray(),
  )
}

async function dueItems(key: string) {
  return runInDurableObject(stub(key), (_i, state) =>
    state.storage.sql.exec<{ id: string; due_at: number }>('SELECT id, due_at FROM due_items').toArray(),
  )
}

describe('cart abandonment', () => {
  it('fires exactly once, 30 minutes after add_to_cart, through push and reaches the webhook', async () => {
    const key = stateKey()
    await reachable(key, { push_token_present: true, email_reachable: true })
    const cart = ev('add_to_cart')
    const r = await record(key, [cart])
    expect(r.timersStarted).toEqual(['cart_abandoned'])
    const [item] = await dueItems(key)
    expect(item!.due_at).toBe(cart.ts + 30 * 60_000)

    await fireDueTimers(key)
    await fireDueTimers(key)
    const rows = await fires(key)
    expect(rows).toEqual([
      {
        fire_id: `cart_abandoned:${cart.id}`,
        trigger: 'cart_abandoned',
        channel: 'push',
        status: 'enqueued',
        reason: null,
      },
    ])
    const seen = await webhook.waitFor(`cart_abandoned:${cart.id}`)
    expect(seen.delivered).toHaveLength(1)
    expect(seen.delivered[0]!.path).toBe('/push')
    expect(seen.delivered[0]!.body).toMatchObject({
      trigger: 'cart_abandoned',
      campaign: 'cart_recovery',
      customerId: key.slice(2),
    })
    expect(seen.attempts.every((a) => a.signature === 'ok')).toBe(true)
  })

  it('falls back to email when the customer has no push token', async () => {
    const key = stateKey()
    await reachable(key, { push_token_present: false, email_reachable: true })
    const cart = ev('add_to_cart')
    await record(key, [cart])
    await fireDueTimers(key)
    expect((await fires(key))[0]).toMatchObject({ channel: 'email', status: 'enqueued' })
    expect((await webhook.waitFor(`cart_abandoned:${cart.id}`)).delivered[0]!.path).toBe('/email')
  })

  it('falls back to email when push is capped, and records a skip when every channel is capped', async () => {
    overrideStateRules(
      testRules(
        withCaps({ caps: [{ id: 'push_day', channel: 'push', limit: 0, window: { calendar: 'day' } }] }),
      ),
    )
    const key = stateKey()
    await reachable(key, { push_token_present: true, email_reachable: true })
    await record(key, [ev('add_to_cart')])
    await fireDueTimers(key)
    expect((await fires(key))[0]).toMatchObject({ channel: 'email', status: 'enqueued' })

    overrideStateRules(
      testRules(
        withCaps({
          caps: [
            {
              id: 'all',
              counts: 'messages',
              campaign: 'cart_recovery',
              limit: 0,
              window: { rollingHours: 48 },
            },
          ],
        }),
      ),
    )
    const other = stateKey()
    await reachable(other, { push_token_present: true, email_reachable: true })
    await record(other, [ev('add_to_cart')])
    await fireDueTimers(other)
    expect((await fires(other))[0]).toMatchObject({ status: 'skipped', reason: 'push:cap:all,email:cap:all' })
  })

  it('is cancelled by a purchase', async () => {
    const key = stateKey()
    await reachable(key, { push_token_present: true })
    await record(key, [ev('add_to_cart')])
    const r = await record(key, [ev('purchase')])
    expect(r.timersCancelled).toEqual(['cart_abandoned'])
    expect(await dueItems(key)).toEqual([])
    expect(await runDurableObjectAlarm(stub(key))).toBe(false)
    expect(await fires(key)).toEqual([])
  })

  it('is cancelled by a purchase even when measurement consent was withdrawn since', async () => {
    const key = stateKey()
    await reachable(key, { push_token_present: true })
    await record(key, [ev('add_to_cart')])
    await record(key, [ev('checkout_start')], { ...consented, measurement: false })
    expect(await dueItems(key)).toEqual([])
  })

  it('restarts from the latest add_to_cart', async () => {
    const key = stateKey()
    await record(key, [ev('add_to_cart', { ts: Date.now() - 10 * 60_000 })])
    const later = ev('add_to_cart')
    await record(key, [later])
    const items = await dueItems(key)
    expect(items).toEqual([{ id: 'trigger:cart_abandoned', due_at: later.ts + 30 * 60_000 }])
  })

  it('does not start without the consent the trigger requires', async () => {
    const key = stateKey()
    const r = await record(key, [ev('add_to_cart')], { ...consented, measurement: false })
    expect(r.timersStarted).toEqual([])
    expect(await dueItems(key)).toEqual([])
  })

  it('respects exclusions: never fires for an employee', async () => {
    const key = stateKey()
    await reachable(key, { push_token_present: true, employee: true })
    await record(key, [ev('add_to_cart')])
    await fireDueTimers(key)
    expect(await fires(key)).toEqual([
      expect.objectContaining({ status: 'skipped', reason: 'excluded:attribute:employee' }),
    ])
  })

  it('never fires after the campaign was suppressed by a conversion', async () => {
    overrideStateRules(
      testRules({
        triggers: {
          ...bundledRules.triggers,
          triggers: bundledRules.triggers.triggers.map((t) => ({ ...t, cancelOn: [] })),
        },
      }),
    )
    const key = stateKey()
    await reachable(key, { push_token_present: true })
    await record(key, [ev('add_to_cart')])
    await record(key, [ev('purchase')], { ...consented, measurement: false }, 'pos')
    await fireDueTimers(key)
    expect(await fires(key)).toEqual([
      expect.objectContaining({ status: 'skipped', reason: 'suppressed:cart_recovery' }),
    ])
  })

  it('keeps a minimum interval between two fires', async () => {
    const key = stateKey()
    await reachable(key, { push_token_present: true })
    await record(key, [ev('add_to_cart')])
    await fireDueTimers(key)
    await record(key, [ev('add_to_cart')])
    await fireDueTimers(key)
    expect((await fires(key)).map((f) => f.reason ?? f.status)).toEqual(['enqueued', 'min_interval'])
  })

  it('defers a fire due in quiet hours to their end instead of dropping it', async () => {
    const hour = new Date().getUTCHours()
    const pad = (h: number) => String(h % 24).padStart(2, '0') + ':00'
    overrideStateRules(
      testRules(
        withCaps({
          caps: [],
          quietHours: { start: pad(hour), end: pad(hour + 2), channels: ['push', 'email'] },
        }),
      ),
    )
    const key = stateKey()
    await reachable(key, { push_token_present: true })
    const cart = ev('add_to_cart')
    await record(key, [cart])
    await fireDueTimers(key)
    expect(await fires(key)).toEqual([])
    const [deferred] = await dueItems(key)
    const end = new Date()
    end.setUTCHours(hour + 2, 0, 0, 0)
    expect(deferred!.due_at).toBe(end.getTime())

    // Quiet hours over: the same timer fires.
    overrideStateRules(testRules())
    await fireDueTimers(key)
    expect(await fires(key)).toEqual([
      expect.objectContaining({ fire_id: `cart_abandoned:${cart.id}`, status: 'enqueued' }),
    ])
  })

  it('survives an object restart', async () => {
    const key = stateKey()
    await reachable(key, { push_token_present: true })
    const cart = ev('add_to_cart')
    await record(key, [cart])
    await abortAllDurableObjects()
    await fireDueTimers(key)
    expect(await fires(key)).toEqual([
      expect.objectContaining({ fire_id: `cart_abandoned:${cart.id}`, status: 'enqueued' }),
    ])
  })

  it('never fires twice when the alarm is retried after it fired', async () => {
    const key = stateKey()
    await reachable(key, { push_token_present: true })
    const cart = ev('add_to_cart')
    await record(key, [cart])
    await fireDueTimers(key)
    // A retried alarm: the same due item runs again (as if its deletion had been lost).
    await runInDurableObject(stub(key), (_i, state) => {
      state.storage.sql.exec(
        "INSERT INTO due_items (id, kind, due_at, payload) VALUES ('trigger:cart_abandoned', 'trigger_fire', ?, ?)",
        Date.now() - 1,
        JSON.stringify({
          trigger: 'cart_abandoned',
          eventId: cart.id,
          eventType: 'add_to_cart',
          startedAt: cart.ts,
        }),
      )
    })
    await fireDueTimers(key)
    expect(await fires(key)).toHaveLength(1)
    const fireId = `cart_abandoned:${cart.id}`
    await webhook.waitFor(fireId)
    await new Promise((r) => setTimeout(r, 300))
    const seen = await webhook.deliveries(fireId)
    expect(seen.attempts).toHaveLength(1)
  })

  it('re-sends a fire recorded but not yet enqueued under the same id (crash between record and send)', async () => {
    const key = stateKey()
    await reachable(key, { push_token_present: true })
    const cart = ev('add_to_cart')
    await record(key, [cart])
    const fireId = `cart_abandoned:${cart.id}`
    await runInDurableObject(stub(key), (_i, state) => {
      state.storage.sql.exec(
        `INSERT INTO trigger_fires (fire_id, trigger, campaign, channel, status, reason, started_by, started_at, fired_at)
         VALUES (?, 'cart_abandoned', 'cart_recovery', 'push', 'pending', NULL, ?, ?, ?)`,
        fireId,
        cart.id,
        cart.ts,
        Date.now(),
      )
    })
    await fireDueTimers(key)
    expect(await fires(key)).toEqual([
      expect.objectContaining({ fire_id: fireId, status: 'enqueued', channel: 'push' }),
    ])
    expect((await webhook.waitFor(fireId)).delivered).toHaveLength(1)
  })
})

describe('other triggers', () => {
  it('sends a satisfaction survey only after a resolution event', async () => {
    const key = stateKey()
    await reachable(key, { email_reachable: true })
    await record(key, [ev('support_case_closed')])
    await fireDueTimers(key)
    expect(await fires(key)).toEqual([
      expect.objectContaining({ status: 'skipped', reason: 'only_after:support_case_resolved' }),
    ])

    const other = stateKey()
    await reachable(other, { email_reachable: true })
    await record(other, [ev('support_case_resolved', { ts: Date.now() - 60_000 }), ev('support_case_closed')])
    await fireDueTimers(other)
    expect(await fires(other)).toEqual([
      expect.objectContaining({ trigger: 'satisfaction_survey', channel: 'email', status: 'enqueued' }),
    ])
  })

  it('starts the browse trigger for a high-intent session and not for exploratory browsing', async () => {
    const now = Date.now()
    const browsing = stateKey()
    const quick = await record(browsing, [ev('product_view', { ts: now - 1000 })])
    expect(quick.timersStarted).toEqual([])

    const intent = stateKey()
    await record(intent, [
      ev('dwell', { ts: now - 60_000, props: { dwellMs: 300_000 } }),
      ev('scroll', { ts: now - 50_000, props: { depth: 80 } }),
      ev('product_view', { ts: now - 40_000 }),
      ev('product_view', { ts: now - 30_000 }),
      ev('product_view', { ts: now - 20_000 }),
    ])
    const r = await record(intent, [ev('product_view', { ts: now - 1000 })])
    expect(r.timersStarted).toEqual(['high_intent_browse'])
    expect((await stub(intent).getDecisionState()).intentScore).toBeGreaterThanOrEqual(0.6)
  })
})

describe('timers after login', () => {
  it('re-arms the abandonment timer of an absorbed anonymous cart in the customer state, once', async () => {
    const anon = `a:${crypto.randomUUID()}`
    const key = stateKey()
    const cart = ev('add_to_cart', { ts: Date.now() - 5 * 60_000 })
    await record(anon, [cart])
    // Login: identity stitching absorbs the anonymous state's rows into the customer's (timers excluded).
    await stub(key).absorb(anon, await stub(anon).exportAll())
    expect(await stub(key).restoreTimers()).toEqual({ restored: ['cart_abandoned'] })
    expect(await stub(key).restoreTimers()).toEqual({ restored: [] })
    expect(await dueItems(key)).toEqual([{ id: 'trigger:cart_abandoned', due_at: cart.ts + 30 * 60_000 }])

    await reachable(key, { push_token_present: true })
    await fireDueTimers(key)
    expect(await fires(key)).toEqual([
      expect.objectContaining({ fire_id: `cart_abandoned:${cart.id}`, status: 'enqueued' }),
    ])
    expect(await stub(key).restoreTimers()).toEqual({ restored: [] })
  })

  it('does not re-arm a timer a later purchase cancelled', async () => {
    const anon = `a:${crypto.randomUUID()}`
    const key = stateKey()
    await record(anon, [ev('add_to_cart', { ts: Date.now() - 60_000 }), ev('purchase')])
    await stub(key).absorb(anon, await stub(anon).exportAll())
    expect(await stub(key).restoreTimers()).toEqual({ restored: [] })
  })

  it('gives a cart started before login its abandonment timer in the customer state when stitching absorbs it', async () => {
    const anonymousId = crypto.randomUUID()
    const customerId = `login-${crypto.randomUUID()}`
    const cart = ev('add_to_cart', { ts: Date.now() - 5 * 60_000 })
    await record(`a:${anonymousId}`, [cart])
    // The login, as the identity stage runs it: JWT subject meets the anonymous cookie.
    const stitched = await stitch(env, { customerId, anonymousId, identifiers: [], assertedBy: 'jwt' })
    expect(stitched).toMatchObject({ fallback: null, absorbed: [`a:${anonymousId}`] })
    const key = `c:${customerId}`
    expect(await dueItems(key)).toEqual(
      expect.arrayContaining([{ id: 'trigger:cart_abandoned', due_at: cart.ts + 30 * 60_000 }]),
    )
    // The anonymous object was erased with its timer: only the customer's fires.
    expect(await dueItems(`a:${anonymousId}`)).toEqual([])

    await reachable(key, { push_token_present: true })
    await fireDueTimers(key)
    expect(await fires(key)).toEqual([
      expect.objectContaining({ fire_id: `cart_abandoned:${cart.id}`, status: 'enqueued' }),
    ])
    // A retried login changes nothing: the timer does not fire again.
    await stitch(env, { customerId, anonymousId, identifiers: [], assertedBy: 'jwt' })
    await fireDueTimers(key)
    expect(await fires(key)).toHaveLength(1)
  })
})
