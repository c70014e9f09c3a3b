/**
 * The decision log consumer: DecisionRecords from the `gatehouse-decisions` queue -> D1
 * `decision_log`, in batches. Delivery is at-least-once, so every insert is `INSERT OR IGNORE`
 * keyed by the record id: a redelivered record is stored once. A record that cannot be written is
 * retried (`message.retry`) with backoff, never acknowledged unwritten; only a message that can
 * never be a record (malformed) is acknowledged, and logged by message id.
 *
 * Records of erased subjects (tombstoned customer or anonymous id) arriving late are not stored:
 * writing them would re-create a person the gateway has forgotten (worker/privacy/tombstone.ts).
 */
import { z } from 'zod'
import type { Env } from '../env'
import { createLogger, type Logger } from '../lib/log'
import { tombstonedKeys } from '../privacy/tombstone'
import type { DecisionRecord } from './record'

const recordSchema = z.object({
  id: z.string().min(1).max(200),
  time: z.iso.datetime({ offset: true }),
  requestId: z.string().max(200),
  channel: z.enum(['page', 'api']),
  placement: z.string().min(1).max(200),
  variant: z.string().max(200).nullable(),
  reason: z.string().max(500),
  fallback: z.string().max(200).nullable(),
  rulesVersion: z.string().max(200),
  consentSnapshotId: z.string().max(200),
  consent: z.object({
    jurisdiction: z.string(),
    purposes: z.record(z.string(), z.boolean()),
    saleShareOptOut: z.boolean(),
  }),
  identityBasis: z.string().max(50),
  customerId: z.string().max(256).nullable(),
  anonymousId: z.string().max(256).nullable(),
  experiment: z.object({ id: z.string(), arm: z.string(), holdout: z.boolean() }).nullable(),
  caps: z.record(z.string(), z.unknown()).nullable(),
  trace: z.array(z.string()),
}) satisfies z.ZodType<DecisionRecord>

export interface ConsumeResult {
  stored: number
  duplicates: number
  retried: number
  invalid: number
  suppressed: number
}

/** Delay before a failed message is redelivered: 2^attempts seconds, at most 10 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(600, 2 ** Math.min(Math.max(attempts, 1), 10))
}

const INSERT = `INSERT OR IGNORE INTO decision_log (id, at, time, request_id, channel, placement, variant, reason,
  fallback, rules_version, consent_snapshot_id, consent, identity_basis, customer_id, anonymous_id, experiment,
  caps, trace, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

function insertStatement(db: D1Database, r: DecisionRecord, now: number): D1PreparedStatement {
  return db
    .prepare(INSERT)
    .bind(
      r.id,
      Date.parse(r.time),
      r.time,
      r.requestId,
      r.channel,
      r.placement,
      r.variant,
      r.reason,
      r.fallback,
      r.rulesVersion,
      r.consentSnapshotId,
      JSON.stringify(r.consent),
      r.identityBasis,
      r.customerId,
      r.anonymousId,
      r.experiment ? JSON.stringify(r.experiment) : null,
      r.caps ? JSON.stringify(r.caps) : null,
      JSON.stringify(r.trace),
      now,
    )
}

/** Handles one batch from the decisions queue. Every message is acked or retried exactly once. */
export async function consumeDecisions(
  batch: MessageBatch<unknown>,
  env: Env,
  log: Logger = createLogger({ queue: batch.queue }),
): Promise<ConsumeResult> {
  const result: ConsumeResult = { stored: 0, duplicates: 0, retried: 0, invalid: 0, suppressed: 0 }
  const valid: Array<{ msg: Message<unknown>; record: DecisionRecord }> = []
  for (const msg of batch.messages) {
    const parsed = recordSchema.safeParse(msg.body)
    if (parsed.success) {
      valid.push({ msg, record: parsed.data })
      continue
    }
    // A body that is not a record will never become one: retrying it forever would block nothing
    // but waste the queue; it is acknowledged and reported by message id (no body: it may hold PII).
    result.invalid++
    log.error('decision_record_invalid', {
      messageId: msg.id,
      fields: parsed.error.issues.map((i) => i.path.join('.') || '(root)'),
    })
    msg.ack()
  }
  if (valid.length === 0) return result

  let erased: Set<string>
  try {
    erased = await tombstonedKeys(
      env,
      valid.flatMap(({ record }) => [
        record.customerId ? `c:${record.customerId}` : '',
        record.anonymousId ? `a:${record.anonymousId}` : '',
      ]),
    )
  } catch (error) {
    // Without the tombstone answer a record might re-create an erased person: retry later.
    log.error('decision_log_tombstone_check_failed', { error, messages: valid.length })
    for (const { msg } of valid) retry(msg, result)
    return result
  }

  const toWrite = valid.filter(({ msg, record }) => {
    const gone =
      (record.customerId && erased.has(`c:${record.customerId}`)) ||
      (record.anonymousId && erased.has(`a:${record.anonymousId}`))
    if (!gone) return true
    result.suppressed++
    log.info('decision_record_suppressed', { recordId: record.id, reason: 'subject_erased' })
    msg.ack()
    return false
  })
  if (toWrite.length === 0) return result

  const now = Date.now()
  try {
    // One D1 batch is one transaction: either every row is written or none is.
    const outcomes = await env.DB.batch(toWrite.map(({ record }) => insertStatement(env.DB, record, now)))
    outcomes.forEach((o, i) => {
      if (o.meta.changes > 0) result.stored++
      else result.duplicates++
      toWrite[i]!.msg.ack()
    })
    return result
  } catch (error) {
    log.warn('decision_log_batch_failed', { error, records: toWrite.length })
  }
  // The batch failed as a whole: write one by one so one bad row does not hold back the others.
  for (const { msg, record } of toWrite) {
    try {
      const o = await insertStatement(env.DB, record, now).run()
      if (o.meta.changes > 0) result.stored++
      else result.duplicates++
      msg.ack()
    } catch (error) {
      log.error('decision_log_write_failed', { recordId: record.id, error })
      retry(msg, result)
    }
  }
  return result
}

function retry(msg: Message<unknown>, result: ConsumeResult): void {
  result.retried++
  msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) })
}
