/**
 * Delivery of fired triggers: the queue consumer against the local webhook receiver (which
 * verifies signatures and deduplicates), retries with backoff, the dead-letter queue after the
 * retry budget, and the trigger-to-delivery delay figures.
 */
import { env, exports } from 'cloudflare:workers'
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import type { TriggerFireMessage } from '../../durable-objects/customer/triggers'
import { backoffSeconds, deliverTriggers, recordDeadLetters } from '../../worker/delivery/consumer'
import { percentile } from '../../worker/delivery/metrics'
import { signatureHeader, verifySignature } from '../../worker/delivery/sign'
import { bundledRules, type RuleSet } from '../../worker/rules'
import { triggersSchema } from '../../worker/rules/concerns/triggers'
import { deadLetter, webhook } from './webhook'

const rules: RuleSet = {
  ...bundledRules,
  triggers: triggersSchema.parse({
    ...bundledRules.triggers,
    delivery: { ...bundledRules.triggers.delivery, timeoutMs: 500, maxAttempts: 4, backoffBaseSeconds: 10 },
  }),
}

function fire(over: Partial<TriggerFireMessage> = {}): TriggerFireMessage {
  const id = crypto.randomUUID()
  return {
    fireId: `cart_abandoned:${id}`,
    trigger: 'cart_abandoned',
    campaign: 'cart_recovery',
    channel: 'push',
    priority: 'high',
    stateKey: 'c:delivery-test',
    customerId: 'delivery-test',
    firedAt: Date.now() - 1500,
    startedBy: { eventId: id, type: 'add_to_cart', at: Date.now() - 1_800_000 },
    ...over,
  }
}

async function consume(queue: string, body: unknown, attempts: number, handler = deliverTriggers) {
  const batch = createMessageBatch(queue, [
    { id: `msg-${attempts}-${crypto.randomUUID()}`, timestamp: new Date(), attempts, body },
  ])
  // Record the delay each retry asks for (getQueueResult reports which messages were retried, not when).
  const delays: Array<number | undefined> = []
  for (const m of batch.messages) {
    const retry = m.retry.bind(m)
    Object.defineProperty(m, 'retry', {
      value: (o?: QueueRetryOptions) => {
        delays.push(o?.delaySeconds)
        retry(o)
      },
    })
  }
  const ctx = createExecutionContext()
  await handler(batch, env, { rules })
  await waitOnExecutionContext(ctx)
  return { ...(await getQueueResult(batch, ctx)), delays }
}

describe('trigger delivery', () => {
  it('delivers exactly once to the receiver through a failure and a timeout, with verified signatures', async () => {
    const f = fire()
    await webhook.script(f.fireId, ['fail', 'timeout', 'ok'])

    const first = await consume('gatehouse-triggers-high', f, 1)
    expect(first.explicitAcks).toEqual([])
    expect(first.retryMessages).toHaveLength(1)
    expect(first.delays).toEqual([10])

    const second = await consume('gatehouse-triggers-high', f, 2)
    expect(second.retryMessages).toHaveLength(1)
    expect(second.delays).toEqual([20])

    const third = await consume('gatehouse-triggers-high', f, 3)
    expect(third.explicitAcks).toHaveLength(1)
    expect(third.retryMessages).toEqual([])

    const seen = await webhook.deliveries(f.fireId)
    expect(seen.attempts.map((a) => a.mode)).toEqual(['fail', 'timeout', 'ok'])
    expect(seen.attempts.every((a) => a.signature === 'ok' && a.path === '/push')).toBe(true)
    // The timed-out call was processed by the receiver; the retry was recognised by its fire id.
    expect(seen.delivered).toHaveLength(1)
    expect(seen.duplicates).toBe(1)
    expect(seen.delivered[0]!.body).toMatchObject({
      fireId: f.fireId,
      channel: 'push',
      customerId: 'delivery-test',
    })

    const row = await env.DB.prepare('SELECT attempts, delay_ms FROM trigger_deliveries WHERE fire_id = ?')
      .bind(f.fireId)
      .first<{ attempts: number; delay_ms: number }>()
    expect(row!.attempts).toBe(3)
    expect(row!.delay_ms).toBeGreaterThanOrEqual(1500)
  })

  it('does not post a fire again that was delivered before (a re-send from the outbox)', async () => {
    const f = fire()
    await webhook.script(f.fireId, ['ok', 'ok'])
    expect((await consume('gatehouse-triggers-high', f, 1)).explicitAcks).toHaveLength(1)
    // The same fire as a new message: the object re-sent it because the outcome report was lost.
    expect((await consume('gatehouse-triggers-high', f, 1)).explicitAcks).toHaveLength(1)
    const seen = await webhook.deliveries(f.fireId)
    expect(seen.attempts).toHaveLength(1)
    expect(seen.delivered).toHaveLength(1)
  })

  it('backs off exponentially between attempts', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffSeconds(10, a))).toEqual([10, 20, 40, 80, 160])
    expect(backoffSeconds(3600, 30)).toBe(43_200)
  })

  it('sends a fire to the dead-letter queue after the retry budget, where it is recorded', async () => {
    const f = fire({ channel: 'email', priority: 'low' })
    await webhook.script(f.fireId, ['fail', 'fail', 'fail', 'fail'])
    for (const attempt of [1, 2, 3]) {
      expect((await consume('gatehouse-triggers-low', f, attempt)).retryMessages).toHaveLength(1)
    }
    const last = await consume('gatehouse-triggers-low', f, 4)
    expect(last.retryMessages).toEqual([])
    expect(last.explicitAcks).toHaveLength(1)
    // The real dead-letter consumer (worker/index.ts) records it in D1.
    expect(await deadLetter(f.fireId)).toEqual({ reason: 'retries_exhausted:http_503', attempts: 4 })
    expect((await webhook.deliveries(f.fireId)).delivered).toEqual([])
  })

  it('dead-letters at once when the receiver refuses the fire permanently', async () => {
    const f = fire()
    await webhook.script(f.fireId, ['reject'])
    const r = await consume('gatehouse-triggers-high', f, 1)
    expect(r.explicitAcks).toHaveLength(1)
    expect(await deadLetter(f.fireId)).toEqual({ reason: 'http_400', attempts: 1 })
  })

  it('dead-letters a fire for a channel without a webhook and a malformed message, never dropping them', async () => {
    const f = fire({ channel: 'app' })
    expect((await consume('gatehouse-triggers-high', f, 1)).explicitAcks).toHaveLength(1)
    expect(await deadLetter(f.fireId)).toMatchObject({ reason: 'no_webhook' })
    const r = await consume('gatehouse-triggers-low', { nonsense: true }, 1)
    expect(r.explicitAcks).toHaveLength(1)
  })

  it('records letters the runtime moved to the dead-letter queue by itself', async () => {
    const f = fire()
    const r = await consume('gatehouse-triggers-dlq', f, 1, recordDeadLetters)
    expect(r.explicitAcks).toHaveLength(1)
    expect(await deadLetter(f.fireId)).toEqual({ reason: 'max_retries', attempts: 1 })
  })

  it('exposes the trigger-to-delivery delay as p50/p99 figures', async () => {
    const f = fire({ firedAt: Date.now() - 4000 })
    await consume('gatehouse-triggers-high', f, 1)
    const res = await exports.default.fetch('http://gate.test/v1/health/triggers?hours=1')
    expect(res.status).toBe(200)
    const m = (await res.json()) as {
      deliveries: number
      p50Ms: number
      p99Ms: number
      byPriority: { high: { deliveries: number } }
    }
    expect(m.deliveries).toBeGreaterThanOrEqual(1)
    expect(m.byPriority.high.deliveries).toBeGreaterThanOrEqual(1)
    expect(m.p99Ms).toBeGreaterThanOrEqual(m.p50Ms)
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5)
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10)
  })
})

describe('webhook signatures', () => {
  const secret = 'test-webhook-secret-0123456789abcdef'
  const body = JSON.stringify({ fireId: 'x:1' })
  const now = 1_763_892_000

  it('verifies a signature made over the timestamp and body', async () => {
    const header = await signatureHeader(secret, body, now)
    expect(await verifySignature({ secret, header, body, nowSeconds: now + 10 })).toEqual({
      ok: true,
      value: { timestamp: now },
    })
  })

  it.each([
    [
      'a tampered body',
      async () => ({ header: await signatureHeader(secret, body, now), body: body + ' ', at: now }),
      'mismatch',
    ],
    [
      'another secret',
      async () => ({ header: await signatureHeader('other', body, now), body, at: now }),
      'mismatch',
    ],
    [
      'a replay outside the window',
      async () => ({ header: await signatureHeader(secret, body, now), body, at: now + 301 }),
      'outside_window',
    ],
    ['a malformed header', async () => ({ header: 'v1=abc', body, at: now }), 'malformed'],
  ])('refuses %s', async (_name, make, reason) => {
    const { header, body: b, at } = await make()
    expect(await verifySignature({ secret, header, body: b, nowSeconds: at })).toEqual({
      ok: false,
      error: { reason },
    })
  })
})
