/**
 * The `log` stage: one structured JSON access line per request, and the request's decision
 * records queued to DECISIONS after the response has gone (never on the critical path).
 *
 * The access line holds no personal data: no IP, no user agent, no cookies and no query string
 * (queries carry click ids, emails in newsletter links, ...); the path alone is logged.
 */
import type { MiddlewareHandler } from 'hono'
import { runInBackground } from '../context/background'
import type { AppEnv } from '../env'
import type { Logger } from '../lib/log'
import type { RuleSet } from '../rules'
import type { DecisionRecord } from './record'

export interface AccessLogOptions {
  rules: RuleSet
  /** Attempts per batch before the records are reported lost (default 4). */
  attempts?: number
  /** First retry delay in ms; doubled on each further attempt (default 200). */
  backoffMs?: number
}

// Queues accept at most 100 messages per sendBatch call.
const MAX_BATCH = 100

export interface SendOptions {
  attempts: number
  backoffMs: number
  sleep?: (ms: number) => Promise<void>
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Sends decision records in batches, retrying each failed batch with exponential backoff and
 * jitter. Resolves with how many records could not be sent (and logs their ids), never throws.
 */
export async function sendDecisionRecords(
  queue: Queue,
  records: DecisionRecord[],
  log: Logger,
  opts: SendOptions,
): Promise<number> {
  const sleep = opts.sleep ?? wait
  let lost = 0
  for (let i = 0; i < records.length; i += MAX_BATCH) {
    const batch = records.slice(i, i + MAX_BATCH)
    for (let attempt = 1; ; attempt++) {
      try {
        await queue.sendBatch(batch.map((body) => ({ body, contentType: 'json' as const })))
        break
      } catch (err) {
        if (attempt >= opts.attempts) {
          lost += batch.length
          // Never lost silently: the ids let an operator find the decisions in the request logs.
          log.error('decision_records_lost', {
            count: batch.length,
            recordIds: batch.map((r) => r.id),
            error: err instanceof Error ? err : String(err),
          })
          break
        }
        log.warn('decision_records_retry', { attempt, error: err instanceof Error ? err : String(err) })
        const delay = opts.backoffMs * 2 ** (attempt - 1)
        await sleep(delay / 2 + Math.random() * (delay / 2))
      }
    }
  }
  return lost
}

export const accessLog = ({
  rules,
  attempts = 4,
  backoffMs = 200,
}: AccessLogOptions): MiddlewareHandler<AppEnv> =>
  async function accessLog(c, next) {
    await next()
    const res = c.res
    c.var.log.info('request', {
      method: c.req.method,
      path: c.var.request.url.pathname,
      status: res.status,
      ms: Date.now() - c.var.request.receivedAt,
      route: c.var.request.gatewayRoute ? 'gateway' : 'proxy',
      fallback: res.headers.get('x-gatehouse-fallback'),
      decisions: c.var.decisionRecords.length,
      rulesVersion: rules.version,
    })
    const records = c.var.decisionRecords
    if (records.length > 0) {
      runInBackground(c, sendDecisionRecords(c.env.DECISIONS, records, c.var.log, { attempts, backoffMs }))
    }
  }
