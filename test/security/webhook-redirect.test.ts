/**
 * Attack catalogue: webhook delivery must not follow redirects. A receiver (or whoever took over
 * its host name) that answers 3xx would otherwise get the signed request replayed to the
 * Location, with the signature and fire id. A redirect is a failed delivery: dead-lettered with
 * its status as the reason, for the operator to fix the URL. Runs the real queue consumer against
 * the local webhook receiver, which records any request that reaches its redirect target.
 */
import { env } from 'cloudflare:workers'
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import type { TriggerFireMessage } from '../../durable-objects/customer/triggers'
import { deliverTriggers } from '../../worker/delivery/consumer'
import { deadLetter, webhook } from '../triggers/webhook'

function fire(): TriggerFireMessage {
  const id = crypto.randomUUID()
  return {
    fireId: `cart_abandoned:${id}`,
    trigger: 'cart_abandoned',
    campaign: 'cart_recovery',
    channel: 'push',
    priority: 'high',
    stateKey: 'c:redirect-test',
    customerId: 'redirect-test',
    firedAt: Date.now() - 1000,
    startedBy: { eventId: id, type: 'add_to_cart', at: Date.now() - 1_800_000 },
  }
}

describe('webhook delivery never follows a redirect with the signature', () => {
  it('treats a 302 as a failed delivery: nothing reaches the Location, the fire is dead-lettered', async () => {
    const f = fire()
    await webhook.script(f.fireId, ['redirect'])
    const batch = createMessageBatch('gatehouse-triggers-high', [
      { id: `msg-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body: f },
    ])
    const ctx = createExecutionContext()
    await deliverTriggers(batch, env)
    await waitOnExecutionContext(ctx)
    const result = await getQueueResult(batch, ctx)
    // Not retried (the same URL would redirect again) and not lost: acknowledged into the DLQ.
    expect(result.retryMessages).toEqual([])
    expect(result.explicitAcks).toHaveLength(1)

    const seen = await webhook.deliveries(f.fireId)
    expect(seen.attempts.map((a) => a.path)).toEqual(['/push'])
    expect(seen.attempts[0]).toMatchObject({ mode: 'redirect', signature: 'ok' })
    expect(seen.delivered).toEqual([])
    expect(await deadLetter(f.fireId)).toEqual({ reason: 'redirect:http_302', attempts: 1 })
  })
})
