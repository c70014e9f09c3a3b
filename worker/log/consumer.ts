/**
 * The decision log consumer: DecisionRecords from the `gatehouse-decisions` queue -> D1
 * `decision_log`, in batches. Delivery is at-least-once, so every insert is `INSERT OR IGNORE`
 * keyed by the record id: a redelivered record is stored once. A record that cannot be written is
 * retried (`message.retry`) with backoff, never acknowledged unwritten; only a message that can
 * never be a record (malformed) is acknowledged, and logged by message id.
 *
 * Every stored record is also written to the R2 archive (worker/archive), the person's fields
 * sealed under their subject key; a message is acked only once its record is in both, and a record
 * already archived (`decision_log.archived_at`) is not archived again.
 *
 * Records of erased subjects (tombstoned customer or anonymous id) arriving late are not stored:
 * writing them would re-create a person the gateway has forgotten (worker/privacy/tombstone.ts).
 */
import { z } from 'zod'
import { archiveRecords } from '../archive/write'
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
  /** Records written to the R2 archive by this batch (worker/archive). */
  archived: number
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
  const result: ConsumeResult = {
    stored: 0,
    duplicates: 0,
    retried: 0,
    invalid: 0,
    suppressed: 0,
    archived: 0,
  }
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
  const inD1 = await writeD1(env, toWrite, now, result, log)
  await archive(env, inD1, now, result, log)
  return result
}

type Entry = { msg: Message<unknown>; record: DecisionRecord }

/** Writes `entries` to D1; returns those now stored (new or duplicates). Failed ones are retried. */
async function writeD1(
  env: Env,
  entries: Entry[],
  now: number,
  result: ConsumeResult,
  log: Logger,
): Promise<Entry[]> {
  try {
    // One D1 batch is one transaction: either every row is written or none is.
    const outcomes = await env.DB.batch(entries.map(({ record }) => insertStatement(env.DB, record, now)))
    outcomes.forEach((o) => {
      if (o.meta.changes > 0) result.stored++
      else result.duplicates++
    })
    return entries
  } catch (error) {
    log.warn('decision_log_batch_failed', { error, records: entries.length })
  }
  // The batch failed as a whole: write one by one so one bad row does not hold back the others.
  const stored: Entry[] = []
  for (const entry of entries) {
    try {
      const o = await insertStatement(env.DB, entry.record, now).run()
      if (o.meta.changes > 0) result.stored++
      else result.duplicates++
      stored.push(entry)
    } catch (error) {
      log.error('decision_log_write_failed', { recordId: entry.record.id, error })
      retry(entry.msg, result)
    }
  }
  return stored
}

/**
 * Archives the records D1 holds but has not marked archived (`archived_at`), then marks them, and
 * acks each message once its record is in both. A redelivered record already archived is not
 * written again; a redelivered batch that was archived but not marked writes the same object key
 * again (worker/archive/layout.ts), so the archive holds one copy.
 */
async function archive(env: Env, entries: Entry[], now: number, result: ConsumeResult, log: Logger) {
  if (entries.length === 0) return
  let pending: Set<string>
  try {
    pending = await unarchived(
      env.DB,
      entries.map((e) => e.record.id),
    )
  } catch (error) {
    log.error('decision_archive_check_failed', { error, records: entries.length })
    for (const { msg } of entries) retry(msg, result)
    return
  }
  // One copy per id, also when a batch carries the same record twice.
  const toArchive = new Map<string, DecisionRecord>()
  for (const { record } of entries) if (pending.has(record.id)) toArchive.set(record.id, record)
  const outcome = await archiveRecords(env, [...toArchive.values()], { log })
  const done = [...outcome.archived, ...outcome.erased]
  try {
    await markArchived(env.DB, done, now)
  } catch (error) {
    // Archived but not marked: the retry archives the same ids again, under the same object key.
    log.warn('decision_archive_mark_failed', { error, records: done.length })
    for (const { msg } of entries) retry(msg, result)
    return
  }
  result.archived += outcome.archived.length
  const failed = new Set(outcome.failed)
  for (const { msg, record } of entries) {
    if (failed.has(record.id)) retry(msg, result)
    else msg.ack()
  }
}

// D1 caps bound parameters per statement at 100.
const CHUNK = 90

async function unarchived(db: D1Database, ids: string[]): Promise<Set<string>> {
  const out = new Set<string>()
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK)
    const { results } = await db
      .prepare(
        `SELECT id FROM decision_log WHERE archived_at IS NULL AND id IN (${chunk.map(() => '?').join(',')})`,
      )
      .bind(...chunk)
      .all<{ id: string }>()
    for (const r of results) out.add(r.id)
  }
  return out
}

async function markArchived(db: D1Database, ids: string[], now: number): Promise<void> {
  const statements: D1PreparedStatement[] = []
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK)
    statements.push(
      db
        .prepare(`UPDATE decision_log SET archived_at = ? WHERE id IN (${chunk.map(() => '?').join(',')})`)
        .bind(now, ...chunk),
    )
  }
  if (statements.length > 0) await db.batch(statements)
}

function retry(msg: Message<unknown>, result: ConsumeResult): void {
  result.retried++
  msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) })
}
