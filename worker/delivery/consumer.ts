/**
 * Queue consumers for fired triggers (`gatehouse-triggers-high`, `gatehouse-triggers-low`) and their
 * dead letters (`gatehouse-triggers-dlq`).
 *
 * Each fire is posted to its channel's webhook (rules/triggers.yaml `delivery.webhooks`), signed
 * (./sign.ts), within a time budget. A failure (network, timeout, 408/429/5xx) is retried with
 * exponential backoff (`message.retry({ delaySeconds })`); after `delivery.maxAttempts` attempts, or
 * at once for a permanent refusal (other 4xx) or a channel without a webhook, the fire goes to the
 * dead-letter queue, whose consumer records it in D1 and logs it: nothing is dropped silently.
 * Delivered fires are recorded in D1 with their trigger-to-delivery delay (./metrics.ts).
 *
 * Both outcomes are reported back to the customer's object, the outbox of its fires (./outcome.ts).
 * A fire the object re-sends after a lost message is recognised by its id in D1 and not posted again.
 */
import type { TriggerFireMessage } from '../../durable-objects/customer/triggers'
import type { Env } from '../env'
import { isChannel } from '../lib/channels'
import { createLogger, type Logger } from '../lib/log'
import { err, ok, type Result } from '../lib/result'
import { bundledRules, type RuleSet } from '../rules'
import { recordDeadLetter, recordDelivery } from './metrics'
import { deliveredBefore, reportOutcome } from './outcome'
import { FIRE_ID_HEADER, SIGNATURE_HEADER, signatureHeader } from './sign'

export const TRIGGER_QUEUES = ['gatehouse-triggers-high', 'gatehouse-triggers-low'] as const
export const DEAD_LETTER_QUEUE = 'gatehouse-triggers-dlq'

export interface DeliveryOptions {
  rules?: RuleSet
  log?: Logger
  /** Clock, for tests of the delay. */
  now?: () => number
}

/** What the dead-letter queue carries: the fire and why it died. */
export interface DeadLetter {
  fire: TriggerFireMessage | unknown
  reason: string
  attempts: number
}

export function isFireMessage(v: unknown): v is TriggerFireMessage {
  if (!v || typeof v !== 'object') return false
  const m = v as Record<string, unknown>
  return (
    typeof m.fireId === 'string' &&
    typeof m.trigger === 'string' &&
    typeof m.campaign === 'string' &&
    isChannel(m.channel) &&
    typeof m.firedAt === 'number' &&
    typeof m.stateKey === 'string'
  )
}

/** Delay before retry `attempt` (1-based): base * 2^(attempt-1), at most 12 hours (the Queues maximum). */
export function backoffSeconds(base: number, attempt: number): number {
  return Math.min(43_200, base * 2 ** Math.max(0, Math.min(attempt - 1, 20)))
}

/** The webhook URL of a channel, from the rules (a URL, or the name of a Worker variable holding one). */
function webhookUrl(rules: RuleSet, env: Env, channel: string): string | null {
  const hook = rules.triggers.delivery.webhooks[channel as keyof typeof rules.triggers.delivery.webhooks]
  if (!hook) return null
  const raw = 'url' in hook ? hook.url : (env as unknown as Record<string, unknown>)[hook.env]
  if (typeof raw !== 'string') return null
  try {
    const url = new URL(raw)
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.toString() : null
  } catch {
    return null
  }
}

type PostOutcome = Result<{ status: number }, { retry: boolean; reason: string }>

async function post(
  url: string,
  body: string,
  fireId: string,
  secret: string,
  timeoutMs: number,
  now: number,
): Promise<PostOutcome> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  try {
    const res = await fetch(url, {
      method: 'POST',
      body,
      signal: controller.signal,
      // Never followed: fetch would replay the signed request (signature and fire id) to wherever
      // the Location points, and a 303 would even turn it into a GET. RFC 9110 15.4: the client
      // decides; here a redirect is a failed delivery the operator fixes by updating the URL.
      redirect: 'manual',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: await signatureHeader(secret, body, Math.floor(now / 1000)),
        [FIRE_ID_HEADER]: fireId,
        'idempotency-key': fireId,
        'user-agent': 'Gatehouse-Webhooks/1',
      },
    })
    // The body is not needed; release the connection.
    await res.body?.cancel().catch(() => undefined)
    if (res.ok) return ok({ status: res.status })
    if (res.status >= 300 && res.status < 400)
      return err({ retry: false, reason: `redirect:http_${res.status}` })
    const retry = res.status === 408 || res.status === 429 || res.status >= 500
    return err({ retry, reason: `http_${res.status}` })
  } catch (error) {
    return err({
      retry: true,
      reason: controller.signal.aborted
        ? 'timeout'
        : `network:${error instanceof Error ? error.name : 'error'}`,
    })
  } finally {
    clearTimeout(timer)
  }
}

/** Consumer of the two trigger queues. */
export async function deliverTriggers(
  batch: MessageBatch<unknown>,
  env: Env,
  opts: DeliveryOptions = {},
): Promise<void> {
  const rules = opts.rules ?? bundledRules
  const log = opts.log ?? createLogger({ queue: batch.queue })
  const d = rules.triggers.delivery
  const clock = opts.now ?? Date.now
  for (const msg of batch.messages) {
    const fire = msg.body
    const dead = async (reason: string) => {
      await env.TRIGGERS_DLQ.send({ fire, reason, attempts: msg.attempts } satisfies DeadLetter, {
        contentType: 'json',
      })
      msg.ack()
    }
    if (!isFireMessage(fire)) {
      log.error('trigger_message_malformed', { id: msg.id })
      await dead('malformed')
      continue
    }
    const url = webhookUrl(rules, env, fire.channel)
    if (!url || !env.WEBHOOK_SECRET) {
      log.error('trigger_webhook_not_configured', { fireId: fire.fireId, channel: fire.channel })
      await dead(url ? 'no_webhook_secret' : 'no_webhook')
      continue
    }
    if (await deliveredBefore(env.DB, fire.fireId, log)) {
      log.info('trigger_already_delivered', { fireId: fire.fireId })
      await reportOutcome(env, fire, 'delivered', log)
      msg.ack()
      continue
    }
    const body = JSON.stringify({ ...fire, attempt: msg.attempts })
    const outcome = await post(url, body, fire.fireId, env.WEBHOOK_SECRET, d.timeoutMs, clock())
    if (outcome.ok) {
      const deliveredAt = clock()
      await recordDelivery(env.DB, fire, deliveredAt, msg.attempts).catch((error: unknown) =>
        // The delivery happened; a lost metric row must not cause a second delivery.
        log.warn('trigger_delivery_metric_failed', { fireId: fire.fireId, error }),
      )
      log.info('trigger_delivered', {
        fireId: fire.fireId,
        channel: fire.channel,
        delayMs: deliveredAt - fire.firedAt,
      })
      await reportOutcome(env, fire, 'delivered', log)
      msg.ack()
      continue
    }
    log.warn('trigger_delivery_failed', {
      fireId: fire.fireId,
      reason: outcome.error.reason,
      attempt: msg.attempts,
    })
    if (!outcome.error.retry) await dead(outcome.error.reason)
    else if (msg.attempts >= d.maxAttempts) await dead(`retries_exhausted:${outcome.error.reason}`)
    else msg.retry({ delaySeconds: backoffSeconds(d.backoffBaseSeconds, msg.attempts) })
  }
}

/**
 * Consumer of the dead-letter queue: records each dead fire durably in D1 and logs it (ids and
 * reasons only, no personal data). Also receives fires the Queues runtime moved after its own
 * `max_retries` (those arrive as the bare fire, reason `max_retries`).
 */
export async function recordDeadLetters(
  batch: MessageBatch<unknown>,
  env: Env,
  opts: DeliveryOptions = {},
): Promise<void> {
  const log = opts.log ?? createLogger({ queue: batch.queue })
  const clock = opts.now ?? Date.now
  for (const msg of batch.messages) {
    const body = msg.body as Partial<DeadLetter> | null
    const letter: DeadLetter =
      body && typeof body === 'object' && 'reason' in body && 'fire' in body
        ? { fire: body.fire, reason: String(body.reason), attempts: Number(body.attempts) || msg.attempts }
        : { fire: body, reason: 'max_retries', attempts: msg.attempts }
    try {
      await recordDeadLetter(env.DB, letter, msg.id, clock())
      const f = isFireMessage(letter.fire) ? letter.fire : null
      log.error('trigger_dead_letter', {
        fireId: f?.fireId ?? msg.id,
        trigger: f?.trigger ?? null,
        channel: f?.channel ?? null,
        reason: letter.reason,
        attempts: letter.attempts,
      })
      if (f) await reportOutcome(env, f, 'dead', log)
      msg.ack()
    } catch (error) {
      log.error('trigger_dead_letter_not_recorded', { id: msg.id, error })
      msg.retry({ delaySeconds: 30 })
    }
  }
}

/** Dispatch for worker/index.ts: true when the queue is one of ours. */
export async function triggerQueue(
  batch: MessageBatch<unknown>,
  env: Env,
  opts: DeliveryOptions = {},
): Promise<boolean> {
  if ((TRIGGER_QUEUES as readonly string[]).includes(batch.queue)) {
    await deliverTriggers(batch, env, opts)
    return true
  }
  if (batch.queue === DEAD_LETTER_QUEUE) {
    await recordDeadLetters(batch, env, opts)
    return true
  }
  return false
}
