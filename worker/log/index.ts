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
import { countDecisionSend } from './counters'
import type { DecisionRecord } from './record'

export interface AccessLogOptions {
  rules: RuleSet
  /** Attempts per batch before the records are reported lost (default 4). */
  attempts?: number
  /** First retry delay in ms; doubled on each further attempt (default 200). */
  backoffMs?: number
  /**
   * How long the first request of a window waits for other requests' decision records before
   * sending them all in one batch (default 20 ms; 0 sends each request's records alone).
   */
  batchWindowMs?: number
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
 * Every outcome is counted for `GET /v1/health` (./counters.ts).
 *
 * The guarantee: a record is durable once `sendBatch` resolves (Queues persist accepted
 * messages). Before that it lives only in this isolate, inside the request's `waitUntil`: an
 * isolate evicted or a runtime stopped in that window loses it without a log line
 * (docs/storage.md "What a decision record survives").
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
        countDecisionSend('sent', batch.length)
        break
      } catch (err) {
        if (attempt >= opts.attempts) {
          lost += batch.length
          countDecisionSend('lost', batch.length)
          // Never lost silently: the ids let an operator find the decisions in the request logs.
          log.error('decision_records_lost', {
            count: batch.length,
            recordIds: batch.map((r) => r.id),
            error: err,
          })
          break
        }
        countDecisionSend('retried')
        log.warn('decision_records_retry', { attempt, error: err })
        const delay = opts.backoffMs * 2 ** (attempt - 1)
        await sleep(delay / 2 + Math.random() * (delay / 2))
      }
    }
  }
  return lost
}

/**
 * Decision records of this isolate's concurrent requests, sent to one queue together: a queue
 * send costs the same for 1 record as for 100, and a busy page sends one or two per request.
 *
 * The first request of a window is its leader: it waits `windowMs`, then sends every record
 * added meanwhile, inside its own `waitUntil`, so the isolate stays alive until they are sent
 * (or reported lost by `sendDecisionRecords`, as before). Later requests only append their
 * records and finish at once. No promise is shared between requests (workerd does not allow a
 * request to wait on another request's I/O); the records are plain data. A window that fills
 * up to the queue's batch limit is sent at once by the request that filled it.
 */
export class DecisionRecordBatcher {
  #pending: DecisionRecord[] = []
  #windowOpen = false

  constructor(private readonly windowMs: number) {}

  /**
   * Adds `records`. When this call opens a window (or fills one), it returns the send of the
   * whole batch through `send`, which the caller must keep alive with waitUntil; otherwise null.
   */
  add(
    records: readonly DecisionRecord[],
    send: (batch: DecisionRecord[]) => Promise<number>,
  ): Promise<number> | null {
    for (const r of records) this.#pending.push(r)
    if (this.windowMs <= 0 || this.#pending.length >= MAX_BATCH) return this.#take(send)
    if (this.#windowOpen) return null
    this.#windowOpen = true
    return new Promise<void>((resolve) => setTimeout(resolve, this.windowMs)).then(() => this.#take(send))
  }

  #take(send: (batch: DecisionRecord[]) => Promise<number>): Promise<number> {
    const batch = this.#pending
    this.#pending = []
    this.#windowOpen = false
    return batch.length > 0 ? send(batch) : Promise.resolve(0)
  }
}

// One batcher per queue binding (tests give each app its own queue object).
const batchers = new WeakMap<Queue, DecisionRecordBatcher>()

export const accessLog = ({
  rules,
  attempts = 4,
  backoffMs = 200,
  batchWindowMs = 20,
}: AccessLogOptions): MiddlewareHandler<AppEnv> =>
  async function accessLog(c, next) {
    await next()
    const res = c.res
    c.get('log').info('request', {
      method: c.req.method,
      path: c.get('request').url.pathname,
      status: res.status,
      ms: Date.now() - c.get('request').receivedAt,
      route: c.get('request').gatewayRoute ? 'gateway' : 'proxy',
      fallback: res.headers.get('x-gatehouse-fallback'),
      decisions: c.get('decisionRecords').length,
      rulesVersion: rules.version,
    })
    const records = c.get('decisionRecords')
    if (records.length > 0) {
      const queue = c.env.DECISIONS
      let batcher = batchers.get(queue)
      if (!batcher) batchers.set(queue, (batcher = new DecisionRecordBatcher(batchWindowMs)))
      // The leader's logger reports a lost batch; that line lists every record id in it.
      const log = c.get('log')
      const send = batcher.add(records, (batch) =>
        sendDecisionRecords(queue, batch, log, { attempts, backoffMs }),
      )
      if (send) runInBackground(c, send)
    }
  }
