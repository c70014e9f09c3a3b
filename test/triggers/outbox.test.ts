/**
 * The customer's object as the outbox of its trigger fires: a fire whose queue message was lost
 * (a runtime restarted while a retry waited in its queue) is sent again under the same fire id
 * when its delivery window ends, reaches the webhook once, and leaves the outbox when the consumer
 * reports it delivered; a fire that never gets an outcome is dead-lettered as `unacknowledged`
 * and gives its cap reservation back. The queue that loses the first message is the only fake;
 * every re-send goes through the real queues, consumer and webhook receiver.
 */
import { env } from 'cloudflare:workers'
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fireDueTrigger, type FireQueues } from '../../durable-objects/customer/apply'
import { overrideStateRules, stateRules } from '../../durable-objects/customer/state-rules'
import {
  OUTBOX_MAX_SENDS,
  outboxItemId,
  outboxWindowMs,
  timerId,
  type TimerPayload,
} from '../../durable-objects/customer/triggers'
import { bundledRules } from '../../worker/rules'
import { withCaps } from '../caps/rules'
import { deadLetter, webhook } from './webhook'

// No quiet hours (withCaps leaves them out): a fire must go out whatever the time of the run.
beforeEach(() => overrideStateRules(withCaps({ caps: [], suppressions: bundledRules.caps.suppressions })))
afterEach(() => overrideStateRules(null))

function stub(key: string) {
  return env.CUSTOMER.get(env.CUSTOMER.idFromName(key))
}

// A queue whose messages vanish after `send` resolved: what a local runtime restart did to a
// message waiting in its queue.
const losing: Queue = {
  send: async () => undefined,
  sendBatch: async () => undefined,
} as unknown as Queue

interface OutboxRow {
  status: string
  sends: number
  outcome: string | null
}

async function fireRow(key: string, fireId: string): Promise<OutboxRow | undefined> {
  return runInDurableObject(
    stub(key),
    (_i, state) =>
      state.storage.sql
        .exec<OutboxRow & Record<string, SqlStorageValue>>(
          'SELECT status, sends, outcome FROM trigger_fires WHERE fire_id = ?',
          fireId,
        )
        .toArray()[0],
  )
}

async function outboxDueAt(key: string, fireId: string): Promise<number | null> {
  return runInDurableObject(
    stub(key),
    (_i, state) =>
      state.storage.sql
        .exec<{ due_at: number }>('SELECT due_at FROM due_items WHERE id = ?', outboxItemId(fireId))
        .toArray()[0]?.due_at ?? null,
  )
}

/** A customer reachable on push whose cart-abandonment fire is sent into a queue that loses it. */
async function lostFire(key: string): Promise<string> {
  await stub(key).setAttributes([{ name: 'push_token_present', value: true, source: 'crm', at: Date.now() }])
  const eventId = crypto.randomUUID()
  const payload: TimerPayload = {
    trigger: 'cart_abandoned',
    eventId,
    eventType: 'add_to_cart',
    startedAt: Date.now() - 1_800_000,
  }
  await runInDurableObject(stub(key), async (_i, state) => {
    const queues: FireQueues = { high: losing, low: losing, dead: env.TRIGGERS_DLQ }
    await fireDueTrigger(
      state.storage,
      queues,
      stateRules(),
      payload,
      { id: timerId('cart_abandoned') },
      {
        stateKey: key,
        timeZone: 'UTC',
      },
    )
  })
  return `cart_abandoned:${eventId}`
}

/** Ends the outbox item's window now and runs the alarm as the runtime would. */
async function endWindow(key: string, fireId: string): Promise<void> {
  await runInDurableObject(stub(key), async (_i, state) => {
    state.storage.sql.exec(
      'UPDATE due_items SET due_at = ? WHERE id = ?',
      Date.now() - 1,
      outboxItemId(fireId),
    )
    await state.storage.setAlarm(Date.now() + 60_000)
  })
  await runDurableObjectAlarm(stub(key))
}

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await read()
    if (done(v) || Date.now() > end) return v
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Push messages the object counts against caps (allowed reservations of kind messages). */
const pushesCounted = (key: string) =>
  runInDurableObject(
    stub(key),
    (_i, state) =>
      state.storage.sql
        .exec<{ n: number }>(
          "SELECT COUNT(*) AS n FROM cap_reservations WHERE allowed = 1 AND kind = 'messages' AND channel = 'push'",
        )
        .one().n,
  )

describe('the customer object as the outbox of its fires', () => {
  it('keeps a sent fire in the outbox until its delivery window ends', async () => {
    const key = `c:outbox-${crypto.randomUUID()}`
    const before = Date.now()
    const fireId = await lostFire(key)
    expect(await fireRow(key, fireId)).toEqual({ status: 'enqueued', sends: 1, outcome: null })
    const due = await outboxDueAt(key, fireId)
    expect(due).toBeGreaterThanOrEqual(before + outboxWindowMs(bundledRules.triggers.delivery))
  })

  it('re-sends a fire whose queue message was lost under the same fire id, delivered once', async () => {
    const key = `c:outbox-${crypto.randomUUID()}`
    const fireId = await lostFire(key)
    expect((await webhook.deliveries(fireId)).attempts).toEqual([])

    await endWindow(key, fireId)
    const seen = await webhook.waitFor(fireId)
    expect(seen.delivered).toHaveLength(1)
    expect(seen.delivered[0]!.body).toMatchObject({ fireId, customerId: key.slice(2), channel: 'push' })

    // The consumer reports the delivery back: the fire leaves the outbox.
    const row = await until(
      () => fireRow(key, fireId),
      (r) => r?.outcome === 'delivered',
    )
    expect(row).toEqual({ status: 'enqueued', sends: 2, outcome: 'delivered' })
    expect(await outboxDueAt(key, fireId)).toBeNull()
    // A late alarm finds nothing to do and sends nothing more.
    await endWindow(key, fireId)
    expect((await fireRow(key, fireId))!.sends).toBe(2)
  })

  it('takes a normally delivered fire out of the outbox when the consumer reports it', async () => {
    const key = `c:outbox-${crypto.randomUUID()}`
    await stub(key).setAttributes([
      { name: 'push_token_present', value: true, source: 'crm', at: Date.now() },
    ])
    const cart = { id: crypto.randomUUID(), type: 'add_to_cart', ts: Date.now() - 1_800_000, props: {} }
    await stub(key).recordEvents({
      stateKey: key,
      source: 'web',
      purposes: { storage: true, measurement: true, personalization: true, advertising: false },
      events: [cart],
    })
    await runInDurableObject(stub(key), async (_i, state) => {
      state.storage.sql.exec("UPDATE due_items SET due_at = ? WHERE kind = 'trigger_fire'", Date.now() - 1)
      await state.storage.setAlarm(Date.now() + 60_000)
    })
    await runDurableObjectAlarm(stub(key))
    const fireId = `cart_abandoned:${cart.id}`
    const row = await until(
      () => fireRow(key, fireId),
      (r) => r?.outcome === 'delivered',
    )
    expect(row).toEqual({ status: 'enqueued', sends: 1, outcome: 'delivered' })
    expect(await outboxDueAt(key, fireId)).toBeNull()
    expect((await webhook.deliveries(fireId)).delivered).toHaveLength(1)
  })

  it(`dead-letters a fire with no outcome after ${OUTBOX_MAX_SENDS} sends and releases its cap reservation`, async () => {
    overrideStateRules(
      withCaps({
        caps: [
          { id: 'push_day', counts: 'messages', channel: ['push'], limit: 1, window: { calendar: 'day' } },
        ],
      }),
    )
    const key = `c:outbox-${crypto.randomUUID()}`
    const fireId = await lostFire(key)
    // The one push message of the day is spent on the lost fire.
    expect(await pushesCounted(key)).toBe(1)

    await runInDurableObject(stub(key), (_i, state) => {
      state.storage.sql.exec('UPDATE trigger_fires SET sends = ? WHERE fire_id = ?', OUTBOX_MAX_SENDS, fireId)
    })
    await endWindow(key, fireId)

    expect(await fireRow(key, fireId)).toEqual({
      status: 'enqueued',
      sends: OUTBOX_MAX_SENDS,
      outcome: 'dead',
    })
    expect(await outboxDueAt(key, fireId)).toBeNull()
    expect(await deadLetter(fireId)).toEqual({ reason: 'unacknowledged', attempts: OUTBOX_MAX_SENDS })
    expect((await webhook.deliveries(fireId)).attempts).toEqual([])
    // The reservation was given back: the day's push is available again.
    expect(await pushesCounted(key)).toBe(0)
  })

  it('records the first outcome only and ignores reports for unknown fires', async () => {
    const key = `c:outbox-${crypto.randomUUID()}`
    const fireId = await lostFire(key)
    expect(await stub(key).fireOutcome(fireId, 'delivered')).toEqual({ recorded: true })
    expect(await stub(key).fireOutcome(fireId, 'dead')).toEqual({ recorded: false })
    expect(await stub(key).fireOutcome('cart_abandoned:unknown', 'delivered')).toEqual({ recorded: false })
    expect(await fireRow(key, fireId)).toMatchObject({ outcome: 'delivered' })
    expect(await outboxDueAt(key, fireId)).toBeNull()
  })
})
