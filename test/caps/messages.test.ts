/**
 * Message caps and impression caps in the customer's Durable Object, through the real trigger
 * alarm: "at most 3 marketing messages a calendar day across email, SMS and push" holds across
 * channels, page views never use it up, sends never use up an impression cap, and a service
 * message is not counted by a marketing cap.
 */
import { env } from 'cloudflare:workers'
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { afterEach, describe, expect, it } from 'vitest'
import type { ReserveRequest } from '../../durable-objects/customer/contract'
import type { StateEvent } from '../../durable-objects/customer/events'
import { overrideStateRules } from '../../durable-objects/customer/state-rules'
import { bundledRules } from '../../worker/rules'
import { withCaps, withTriggers } from './rules'

afterEach(() => overrideStateRules(null))

const consented = { storage: true, measurement: true, personalization: true, advertising: false }

/** One trigger per starting event, so each send is decided on its own alarm run. */
const trigger = (id: string, channel: 'email' | 'sms' | 'push', tags: string[]) => ({
  id,
  campaign: id,
  tags,
  on: `start_${id}`,
  delayMinutes: 0,
  minIntervalHours: 0,
  channels: [channel],
})

function rules(caps: unknown[]) {
  const triggers = withTriggers({
    triggers: [
      trigger('mk_email', 'email', ['marketing']),
      trigger('mk_sms', 'sms', ['marketing']),
      trigger('mk_push', 'push', ['marketing']),
      trigger('mk_email_again', 'email', ['marketing']),
      trigger('receipt', 'email', ['service']),
    ],
    delivery: bundledRules.triggers.delivery,
  })
  return withCaps({ caps }, triggers)
}

const MARKETING_PER_DAY = {
  id: 'marketing_per_day',
  counts: 'messages',
  channel: ['email', 'sms', 'push'],
  tag: 'marketing',
  limit: 3,
  window: { calendar: 'day' },
}

function stub(key: string) {
  return env.CUSTOMER.get(env.CUSTOMER.idFromName(key))
}

async function customer(): Promise<string> {
  const key = `c:messages-${crypto.randomUUID()}`
  const at = Date.now()
  await stub(key).setAttributes(
    ['email_reachable', 'sms_reachable', 'push_token_present'].map((name) => ({
      name,
      value: true,
      source: 'crm',
      at,
    })),
  )
  return key
}

/** Records the trigger's starting event, makes its timer due, runs the alarm; returns the fire row. */
async function send(key: string, triggerId: string) {
  const event: StateEvent = { id: crypto.randomUUID(), type: `start_${triggerId}`, ts: Date.now(), props: {} }
  await stub(key).recordEvents({ stateKey: key, source: 'web', purposes: consented, events: [event] })
  await runInDurableObject(stub(key), async (_i, state) => {
    // Only the trigger's timer: sent fires wait in the outbox for their outcome, not due yet.
    state.storage.sql.exec("UPDATE due_items SET due_at = ? WHERE kind = 'trigger_fire'", Date.now() - 1)
    await state.storage.setAlarm(Date.now() + 60_000)
  })
  await runDurableObjectAlarm(stub(key))
  return runInDurableObject(stub(key), (_i, state) =>
    state.storage.sql
      .exec<{ channel: string | null; status: string; reason: string | null }>(
        'SELECT channel, status, reason FROM trigger_fires WHERE trigger = ? ORDER BY fired_at DESC LIMIT 1',
        triggerId,
      )
      .one(),
  )
}

/** Page views of a placement whose variant carries the marketing tag (the Worker's reserve call). */
async function pageViews(key: string, n: number) {
  const requests: ReserveRequest[] = Array.from({ length: n }, () => ({
    decisionId: crypto.randomUUID(),
    placement: 'home_hero',
    campaign: 'mk_email',
    channel: 'web',
    tags: ['marketing'],
  }))
  return (await stub(key).reserve(requests)).map((r) => (r.allowed ? 'ok' : r.reason))
}

describe('message caps across channels', () => {
  it('allows 3 marketing messages a calendar day across email, SMS and push, then refuses the 4th', async () => {
    overrideStateRules(rules([MARKETING_PER_DAY]))
    const key = await customer()
    expect(await send(key, 'mk_email')).toMatchObject({ channel: 'email', status: 'enqueued' })
    expect(await send(key, 'mk_sms')).toMatchObject({ channel: 'sms', status: 'enqueued' })
    expect(await send(key, 'mk_push')).toMatchObject({ channel: 'push', status: 'enqueued' })
    expect(await send(key, 'mk_email_again')).toMatchObject({
      channel: null,
      status: 'skipped',
      reason: 'email:cap:marketing_per_day',
    })
  })

  it('does not let page views use up the marketing message cap', async () => {
    overrideStateRules(rules([MARKETING_PER_DAY]))
    const key = await customer()
    expect(await pageViews(key, 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok'])
    for (const id of ['mk_email', 'mk_sms', 'mk_push'])
      expect(await send(key, id)).toMatchObject({ status: 'enqueued' })
    expect(await send(key, 'mk_email_again')).toMatchObject({ status: 'skipped' })
  })

  it('does not count a service message against the marketing cap', async () => {
    overrideStateRules(rules([{ ...MARKETING_PER_DAY, limit: 1 }]))
    const key = await customer()
    expect(await send(key, 'mk_email')).toMatchObject({ status: 'enqueued' })
    expect(await send(key, 'receipt')).toMatchObject({ channel: 'email', status: 'enqueued' })
    expect(await send(key, 'mk_sms')).toMatchObject({
      status: 'skipped',
      reason: 'sms:cap:marketing_per_day',
    })
  })

  it('does not let sends use up an impression cap, and the impression cap still holds for page views', async () => {
    overrideStateRules(
      rules([
        MARKETING_PER_DAY,
        {
          id: 'banner_views',
          counts: 'impressions',
          tag: 'marketing',
          limit: 2,
          window: { calendar: 'day' },
        },
      ]),
    )
    const key = await customer()
    for (const id of ['mk_email', 'mk_sms', 'mk_push'])
      expect(await send(key, id)).toMatchObject({ status: 'enqueued' })
    expect(await pageViews(key, 3)).toEqual(['ok', 'ok', 'cap:banner_views'])
  })
})
