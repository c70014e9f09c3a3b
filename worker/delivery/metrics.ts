/**
 * Trigger delivery records in D1 (migrations/0100_trigger_deliveries.sql) and the SLA figure built
 * from them: the delay between a trigger firing in the customer's object and its webhook accepting
 * it, p50/p99 over a recent window, per priority. Exposed at `GET /v1/health/triggers`.
 */
import { Hono } from 'hono'
import type { TriggerFireMessage } from '../../durable-objects/customer/triggers'
import type { AppEnv } from '../env'
import { problemResponse } from '../lib/problem'
import type { DeadLetter } from './consumer'

export async function recordDelivery(
  db: D1Database,
  fire: TriggerFireMessage,
  deliveredAt: number,
  attempts: number,
): Promise<void> {
  // The first successful delivery counts: a redelivered message does not change the figure.
  await db
    .prepare(
      `INSERT OR IGNORE INTO trigger_deliveries
       (fire_id, trigger, campaign, channel, priority, fired_at, delivered_at, delay_ms, attempts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      fire.fireId,
      fire.trigger,
      fire.campaign,
      fire.channel,
      fire.priority,
      fire.firedAt,
      deliveredAt,
      Math.max(0, deliveredAt - fire.firedAt),
      attempts,
    )
    .run()
}

export async function recordDeadLetter(
  db: D1Database,
  letter: DeadLetter,
  messageId: string,
  at: number,
): Promise<void> {
  const f = (letter.fire && typeof letter.fire === 'object' ? letter.fire : {}) as Partial<TriggerFireMessage>
  await db
    .prepare(
      `INSERT OR REPLACE INTO trigger_dead_letters (fire_id, trigger, channel, state_key, reason, attempts, dead_at, message)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      typeof f.fireId === 'string' ? f.fireId : `message:${messageId}`,
      typeof f.trigger === 'string' ? f.trigger : null,
      typeof f.channel === 'string' ? f.channel : null,
      typeof f.stateKey === 'string' ? f.stateKey : null,
      letter.reason,
      letter.attempts,
      at,
      JSON.stringify(letter.fire ?? null).slice(0, 16_384),
    )
    .run()
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export interface DelayFigures {
  deliveries: number
  p50Ms: number | null
  p99Ms: number | null
  maxMs: number | null
}

export interface TriggerMetrics extends DelayFigures {
  windowHours: number
  byPriority: Record<'high' | 'low', DelayFigures>
  deadLetters: number
}

function figures(delays: number[]): DelayFigures {
  const sorted = [...delays].sort((a, b) => a - b)
  return {
    deliveries: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! : null,
  }
}

/** Delay figures over the deliveries of the last `windowHours` (at most the latest 20,000). */
async function triggerMetrics(db: D1Database, now: number, windowHours = 24): Promise<TriggerMetrics> {
  const since = now - windowHours * 3_600_000
  const rows = await db
    .prepare(
      'SELECT priority, delay_ms FROM trigger_deliveries WHERE delivered_at >= ? ORDER BY delivered_at DESC LIMIT 20000',
    )
    .bind(since)
    .all<{ priority: string; delay_ms: number }>()
  const dead = await db
    .prepare('SELECT COUNT(*) AS n FROM trigger_dead_letters WHERE dead_at >= ?')
    .bind(since)
    .first<{ n: number }>()
  const all = rows.results.map((r) => r.delay_ms)
  return {
    windowHours,
    ...figures(all),
    byPriority: {
      high: figures(rows.results.filter((r) => r.priority === 'high').map((r) => r.delay_ms)),
      low: figures(rows.results.filter((r) => r.priority === 'low').map((r) => r.delay_ms)),
    },
    deadLetters: dead?.n ?? 0,
  }
}

/** `GET /v1/health/triggers?hours=24`: aggregate figures only, no personal data. */
export const triggerMetricsRoutes = (): Hono<AppEnv> => {
  const app = new Hono<AppEnv>()
  app.get('/health/triggers', async function triggerHealth(c) {
    const hours = Number(c.req.query('hours') ?? 24)
    const windowHours = Number.isFinite(hours) && hours > 0 && hours <= 24 * 31 ? hours : 24
    try {
      return c.json(await triggerMetrics(c.env.DB, Date.now(), windowHours), 200, {
        'cache-control': 'no-store',
      })
    } catch (error) {
      c.get('log')?.warn('trigger_metrics_unavailable', { error })
      return problemResponse(
        {
          type: 'about:blank',
          title: 'Service unavailable',
          status: 503,
          detail: 'Delivery figures are unavailable.',
        },
        { 'retry-after': '10' },
      )
    }
  })
  return app
}
