/**
 * A due item whose handler keeps failing, through the customer's real alarm
 * (`runDurableObjectAlarm`): every failure is logged with the item's kind and id and counted;
 * after `MAX_ATTEMPTS` the item moves to `dead_items`, is listed by `deadItems()` and is never run
 * again, while the object's next timers fire as before.
 *
 * The failure is real: the timer's payload makes the fire message larger than a queue message may
 * be (128 KB), so the queue refuses every send.
 */
import { env } from 'cloudflare:workers'
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { overrideStateRules } from '../../durable-objects/customer/state-rules'
import { TRIGGER_DUE_KIND } from '../../durable-objects/customer/triggers'
import { MAX_ATTEMPTS, scheduleItem } from '../../durable-objects/lib/schedule'
import type { Purpose } from '../../worker/consent/types'
import { bundledRules } from '../../worker/rules'
import { withCaps } from '../caps/rules'
import { webhook } from './webhook'

const consented: Record<Purpose, boolean> = {
  storage: true,
  measurement: true,
  personalization: true,
  advertising: false,
}

// No caps, no quiet hours, and no minimum interval, so the dead fire cannot hold back the next one.
beforeEach(() => {
  const rules = withCaps({ caps: [], suppressions: bundledRules.caps.suppressions })
  overrideStateRules({
    ...rules,
    triggers: {
      ...rules.triggers,
      triggers: rules.triggers.triggers.map((t) => ({ ...t, minIntervalHours: 0 })),
    },
  })
})
afterEach(() => {
  overrideStateRules(null)
  vi.restoreAllMocks()
})

function stub(key: string) {
  return env.CUSTOMER.get(env.CUSTOMER.idFromName(key))
}

/** Makes every due item due now and runs the alarm as the runtime would; false if none was set. */
async function runAlarmNow(key: string): Promise<boolean> {
  await runInDurableObject(stub(key), async (_i, state) => {
    state.storage.sql.exec('UPDATE due_items SET due_at = ?', Date.now() - 1)
    if ((await state.storage.getAlarm()) === null) return
    await state.storage.setAlarm(Date.now() + 60_000)
  })
  return runDurableObjectAlarm(stub(key))
}

async function dueItems(key: string) {
  return runInDurableObject(stub(key), (_i, state) =>
    state.storage.sql
      .exec<{ id: string; kind: string; attempts: number }>('SELECT id, kind, attempts FROM due_items')
      .toArray(),
  )
}

/** Log lines (parsed) whose event is `event`, from everything written to `spy`. */
function logged(spy: { mock: { calls: unknown[][] } }, event: string): Array<Record<string, unknown>> {
  return spy.mock.calls
    .map((args) => String(args[0]))
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === event)
}

describe('a due item that keeps failing', () => {
  it(`is logged on every failure, dead after ${MAX_ATTEMPTS} attempts, listed, and never run again`, async () => {
    const key = `c:dead-${crypto.randomUUID()}`
    await stub(key).setAttributes([
      { name: 'push_token_present', value: true, source: 'crm', at: Date.now() },
    ])
    // A timer whose fire message the queue must refuse: its starting event id alone exceeds 128 KB.
    const eventId = 'x'.repeat(130_000)
    await runInDurableObject(stub(key), (_i, state) =>
      scheduleItem(state.storage, {
        id: 'trigger:cart_abandoned',
        kind: TRIGGER_DUE_KIND,
        // Due later: only runAlarmNow runs it, so the runtime's own alarm cannot add an attempt.
        dueAt: Date.now() + 3_600_000,
        payload: { trigger: 'cart_abandoned', eventId, eventType: 'add_to_cart', startedAt: Date.now() },
      }),
    )
    const warn = vi.spyOn(console, 'warn')
    const error = vi.spyOn(console, 'error')

    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      expect(await runAlarmNow(key)).toBe(true)
      expect(await dueItems(key)).toEqual([
        { id: 'trigger:cart_abandoned', kind: TRIGGER_DUE_KIND, attempts: attempt },
      ])
    }
    const failures = logged(warn, 'due_item_failed')
    expect(failures).toHaveLength(MAX_ATTEMPTS - 1)
    expect(failures.map((f) => f.attempts)).toEqual([...Array(MAX_ATTEMPTS - 1).keys()].map((i) => i + 1))
    for (const f of failures) {
      expect(f).toMatchObject({ kind: TRIGGER_DUE_KIND, id: 'trigger:cart_abandoned' })
      expect(f.error).toMatchObject({ message: expect.any(String) })
    }
    expect(await stub(key).deadItems()).toEqual([])

    // The last attempt fails too: the item is dead, logged as such, and gone from the schedule.
    expect(await runAlarmNow(key)).toBe(true)
    expect(await dueItems(key)).toEqual([])
    const dead = logged(error, 'due_item_dead')
    expect(dead).toEqual([
      expect.objectContaining({
        kind: TRIGGER_DUE_KIND,
        id: 'trigger:cart_abandoned',
        attempts: MAX_ATTEMPTS,
      }),
    ])
    const listed = await stub(key).deadItems()
    expect(listed).toEqual([
      {
        id: 'trigger:cart_abandoned',
        kind: TRIGGER_DUE_KIND,
        payload: expect.objectContaining({ trigger: 'cart_abandoned', eventId }),
        attempts: MAX_ATTEMPTS,
        lastError: expect.stringMatching(/\S/),
        deadAt: expect.any(Number),
      },
    ])

    // No more retries: nothing is due, so the alarm has nothing to run and logs nothing new.
    const before = warn.mock.calls.length + error.mock.calls.length
    expect(await runAlarmNow(key)).toBe(false)
    expect(warn.mock.calls.length + error.mock.calls.length).toBe(before)
    expect(await stub(key).deadItems()).toHaveLength(1)

    // The object's next timer is unaffected: it starts, fires once and reaches the webhook.
    const cart = { id: crypto.randomUUID(), type: 'add_to_cart', ts: Date.now(), props: {} }
    const r = await stub(key).recordEvents({
      stateKey: key,
      source: 'web',
      purposes: consented,
      events: [cart],
    })
    expect(r.timersStarted).toEqual(['cart_abandoned'])
    expect(await runAlarmNow(key)).toBe(true)
    const seen = await webhook.waitFor(`cart_abandoned:${cart.id}`)
    expect(seen.delivered).toHaveLength(1)
    expect(await dueItems(key)).toEqual([])
    expect(await stub(key).deadItems()).toHaveLength(1)
  })

  it("moves an item whose payload cannot be read to the dead items, and exports it with the person's data", async () => {
    const key = `c:dead-${crypto.randomUUID()}`
    await runInDurableObject(stub(key), async (_i, state) => {
      state.storage.sql.exec(
        "INSERT INTO due_items (id, kind, due_at, payload, attempts) VALUES ('broken', ?, ?, '{not json', ?)",
        TRIGGER_DUE_KIND,
        Date.now() - 1,
        MAX_ATTEMPTS - 1,
      )
      await state.storage.setAlarm(Date.now() + 60_000)
    })
    expect(await runAlarmNow(key)).toBe(true)
    expect(await stub(key).deadItems()).toEqual([
      expect.objectContaining({ id: 'broken', payload: '{not json', attempts: MAX_ATTEMPTS }),
    ])
    // A dead item names the person's events: a DSAR export includes it.
    expect((await stub(key).exportAll()).dead_items).toEqual([expect.objectContaining({ id: 'broken' })])
  })
})
