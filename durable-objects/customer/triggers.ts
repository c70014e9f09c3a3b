/**
 * Behavioural triggers inside CustomerState (rules/triggers.yaml): an event starts a timer (a
 * due item on the object's one alarm), cancelling events remove it, and when it is due the
 * conditions are checked again (exclusions, "only after", suppression, minimum interval, quiet
 * hours, caps and channel reachability) before the fire is enqueued.
 *
 * Exactly-once firing per timer: the fire id (`<trigger>:<starting event id>`) is written to
 * `trigger_fires` before the queue send. A retried alarm finds the row: `enqueued` means done,
 * `pending` means the send may not have happened, so it is sent again with the same id (the
 * receiver deduplicates on it); it is never fired under a new id.
 *
 * The object is the outbox of its fires: a queue message can be lost (a local runtime restarted
 * while a retry waited in its queue), so each sent fire also gets a due item (`trigger_outbox`).
 * Delivery and dead-lettering are reported back by the queue consumers (`outcome`); a fire with no
 * outcome when its delivery window ends is sent again under the same id, up to `OUTBOX_MAX_SENDS`
 * sends, and then dead-lettered as `unacknowledged` with its cap reservation released.
 */
import type { Purpose } from '../../worker/consent/types'
import type { CapsRules } from '../../worker/rules/concerns/caps'
import type { TriggerRule, TriggersRules } from '../../worker/rules/concerns/triggers'
import { err, ok, type Result } from '../../worker/lib/result'
import type { Migration } from '../lib/migrations'
import type { Channel, ProfileAttribute } from './contract'

export const triggersMigrations: Migration[] = [
  {
    id: 'triggers-001',
    sql: `CREATE TABLE IF NOT EXISTS trigger_fires (
      fire_id TEXT PRIMARY KEY,
      trigger TEXT NOT NULL,
      campaign TEXT NOT NULL,
      channel TEXT,
      status TEXT NOT NULL,
      reason TEXT,
      started_by TEXT NOT NULL,
      started_at INTEGER NOT NULL,
      fired_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS trigger_fires_trigger ON trigger_fires (trigger, status, fired_at);`,
  },
  {
    // The outbox: how many times a fire was handed to a queue, and what became of it
    // (`delivered` or `dead`, reported by the consumers). Fires already `enqueued` before this
    // migration get an outbox item due an hour after they fired (past any queue retry), so a
    // message lost back then is reconciled.
    id: 'triggers-002',
    sql: `ALTER TABLE trigger_fires ADD COLUMN sends INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE trigger_fires ADD COLUMN outcome TEXT;
    ALTER TABLE trigger_fires ADD COLUMN outcome_at INTEGER;
    INSERT OR IGNORE INTO due_items (id, kind, due_at, payload)
      SELECT 'outbox:' || fire_id, 'trigger_outbox', fired_at + 3600000, json_object('fireId', fire_id)
      FROM trigger_fires WHERE status = 'enqueued';`,
  },
]

export const TRIGGER_DUE_KIND = 'trigger_fire'
/** Due-item kind of a sent fire waiting for its outcome. */
export const OUTBOX_DUE_KIND = 'trigger_outbox'
/** Times a fire is handed to a queue (the first send and two re-sends) before it is abandoned. */
export const OUTBOX_MAX_SENDS = 3

export function outboxItemId(fireId: string): string {
  return `outbox:${fireId}`
}

/** What became of a sent fire, as the queue consumers report it. */
export type FireOutcome = 'delivered' | 'dead'

/**
 * How long a sent fire may stay without an outcome before the object sends it again: every
 * attempt the consumer makes (`maxAttempts` webhook calls of up to `timeoutMs`, with the
 * exponential backoff between them) plus five minutes for queue batching and the report back.
 * Re-sending earlier would only race the queue's own retries.
 */
export function outboxWindowMs(d: {
  maxAttempts: number
  timeoutMs: number
  backoffBaseSeconds: number
}): number {
  let backoff = 0
  for (let a = 1; a < d.maxAttempts; a++) backoff += Math.min(43_200, d.backoffBaseSeconds * 2 ** (a - 1))
  return backoff * 1000 + d.maxAttempts * d.timeoutMs + 5 * 60_000
}

/**
 * What an outbox item does when due (pure): `none` when the fire has an outcome (or is gone:
 * erased, or never sent), `resend` while sends remain, else `abandon` (dead-letter it as
 * `unacknowledged` and release its cap reservation).
 */
export type OutboxPlan =
  { kind: 'none' } | { kind: 'resend'; sends: number; nextDueAt: number } | { kind: 'abandon'; sends: number }

export function planOutbox(
  row: Pick<FireRow, 'status' | 'outcome' | 'sends'> | undefined,
  now: number,
  windowMs: number,
): OutboxPlan {
  if (!row || row.status !== 'enqueued' || row.outcome !== null) return { kind: 'none' }
  if (row.sends >= OUTBOX_MAX_SENDS) return { kind: 'abandon', sends: row.sends }
  return { kind: 'resend', sends: row.sends + 1, nextDueAt: now + windowMs }
}

/** What a fired trigger puts on the queue (worker/delivery posts it to the channel's webhook). */
export interface TriggerFireMessage {
  /** Stable id of this fire: receivers deduplicate on it. */
  fireId: string
  trigger: string
  campaign: string
  channel: Channel
  priority: 'high' | 'low'
  /** `c:<customerId>` or `a:<anonymousId>`: whose message it is. */
  stateKey: string
  customerId: string | null
  /** ms since epoch when the trigger fired (the delivery delay is measured from here). */
  firedAt: number
  startedBy: { eventId: string; type: string; at: number }
}

/** Payload of a `trigger_fire` due item. */
export interface TimerPayload {
  trigger: string
  eventId: string
  eventType: string
  startedAt: number
  [key: string]: unknown
}

export function timerId(triggerId: string): string {
  return `trigger:${triggerId}`
}

export type TimerAction =
  | { kind: 'schedule'; id: string; dueAt: number; payload: TimerPayload }
  | { kind: 'cancel'; id: string; trigger: string }

/**
 * What an incoming event does to timers (pure): cancels the timers it stops (and, when the
 * visitor's consent no longer covers a trigger, that trigger's timer), starts the timers it
 * begins when consent and thresholds allow. A new starting event restarts a running timer
 * (abandonment counts from the last add_to_cart).
 */
export function timerActions(
  rules: TriggersRules,
  event: { id: string; type: string; ts: number },
  ctx: {
    purposes: Record<Purpose, boolean>
    session: { dwellMs: number; score: number }
    /** The purposes are the visitor's own current choice (web/app), so a withdrawal stops timers. */
    consentFromVisitor?: boolean
  },
): TimerAction[] {
  const actions: TimerAction[] = []
  for (const t of rules.triggers) {
    const consented = t.consent.every((p) => ctx.purposes[p])
    if (t.cancelOn.includes(event.type) || (ctx.consentFromVisitor && !consented)) {
      actions.push({ kind: 'cancel', id: timerId(t.id), trigger: t.id })
    }
  }
  for (const t of rules.triggers) {
    if (t.on !== event.type) continue
    if (!t.consent.every((p) => ctx.purposes[p])) continue
    if (!thresholdsMet(t, ctx.session)) continue
    actions.push({
      kind: 'schedule',
      id: timerId(t.id),
      dueAt: event.ts + t.delayMinutes * 60_000,
      payload: { trigger: t.id, eventId: event.id, eventType: event.type, startedAt: event.ts },
    })
  }
  return actions
}

export function thresholdsMet(t: TriggerRule, session: { dwellMs: number; score: number }): boolean {
  const w = t.when
  if (w.sessionDwellAtLeastMs !== undefined && session.dwellMs < w.sessionDwellAtLeastMs) return false
  if (w.intentAtLeast !== undefined && session.score < w.intentAtLeast) return false
  if (w.intentBelow !== undefined && session.score >= w.intentBelow) return false
  return true
}

export function fireIdOf(payload: TimerPayload): string {
  return `${payload.trigger}:${payload.eventId}`
}

export interface FireRow {
  status: 'pending' | 'enqueued' | 'skipped'
  channel: Channel | null
  fired_at: number
  /** Times handed to a queue. */
  sends: number
  /** Reported by the queue consumers; null while the fire is in flight. */
  outcome: FireOutcome | null
}

export function fireRow(sql: SqlStorage, fireId: string): FireRow | undefined {
  return sql
    .exec<FireRow & Record<string, SqlStorageValue>>(
      'SELECT status, channel, fired_at, sends, outcome FROM trigger_fires WHERE fire_id = ?',
      fireId,
    )
    .toArray()[0]
}

export function recordFire(
  sql: SqlStorage,
  row: {
    fireId: string
    trigger: string
    campaign: string
    channel: Channel | null
    status: FireRow['status']
    reason: string | null
    payload: TimerPayload
    at: number
  },
): void {
  sql.exec(
    `INSERT INTO trigger_fires (fire_id, trigger, campaign, channel, status, reason, started_by, started_at, fired_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(fire_id) DO UPDATE SET status = excluded.status, channel = excluded.channel, reason = excluded.reason`,
    row.fireId,
    row.trigger,
    row.campaign,
    row.channel,
    row.status,
    row.reason,
    row.payload.eventId,
    row.payload.startedAt,
    row.at,
  )
}

export function markEnqueued(sql: SqlStorage, fireId: string): void {
  sql.exec("UPDATE trigger_fires SET status = 'enqueued' WHERE fire_id = ?", fireId)
}

/** Counts one more send of an in-flight fire; false when an outcome arrived meanwhile. */
export function countResend(sql: SqlStorage, fireId: string, sends: number): boolean {
  return (
    sql.exec(
      "UPDATE trigger_fires SET sends = ? WHERE fire_id = ? AND status = 'enqueued' AND outcome IS NULL",
      sends,
      fireId,
    ).rowsWritten > 0
  )
}

/**
 * Records a fire's outcome once (the first report wins; a repeated report changes nothing).
 * Returns the fire's channel when this call recorded it, else null.
 */
export function recordOutcome(
  sql: SqlStorage,
  fireId: string,
  outcome: FireOutcome,
  at: number,
): { channel: Channel | null } | null {
  const row = sql
    .exec<{ channel: Channel | null }>(
      `UPDATE trigger_fires SET outcome = ?, outcome_at = ?
       WHERE fire_id = ? AND status IN ('pending', 'enqueued') AND outcome IS NULL RETURNING channel`,
      outcome,
      at,
      fireId,
    )
    .toArray()[0]
  return row ?? null
}

/** The cap reservation a fire made on `channel` (caps.ts `checkAndReserve` decision id). */
export function fireReservationId(fireId: string, channel: Channel): string {
  return `${fireId}:${channel}`
}

/** Time of the last fire of `trigger` that was sent and not dead (it may have reached the person), or null. */
export function lastFireAt(sql: SqlStorage, trigger: string): number | null {
  return sql
    .exec<{ at: number | null }>(
      `SELECT MAX(fired_at) AS at FROM trigger_fires
       WHERE trigger = ? AND status IN ('pending', 'enqueued') AND outcome IS NOT 'dead'`,
      trigger,
    )
    .one().at
}

/** Why a due timer must not fire: `suppressed:<campaign>`, `min_interval`, ... (recorded as its skip reason). */
export type FireCheck = Result<null, { reason: string }>

/**
 * The conditions checked when a timer is due, before any channel is tried (pure over its inputs).
 */
export function preFireCheck(
  t: TriggerRule,
  ctx: {
    now: number
    attributes: Record<string, ProfileAttribute>
    suppressed: ReadonlySet<string>
    /** Latest time of each event type at or after the lookback for exclusions. */
    seenSince: (type: string, since: number) => boolean
    lastFireAt: number | null
  },
): FireCheck {
  if (ctx.suppressed.has(t.campaign)) return err({ reason: `suppressed:${t.campaign}` })
  for (const [name, value] of Object.entries(t.excludeIfAttributes)) {
    if (ctx.attributes[name]?.value === value) return err({ reason: `excluded:attribute:${name}` })
  }
  const lookback = ctx.now - t.excludeLookbackDays * 86_400_000
  for (const type of t.excludeIfSeen) {
    if (ctx.seenSince(type, lookback)) return err({ reason: `excluded:event:${type}` })
  }
  for (const type of t.onlyAfter) {
    if (!ctx.seenSince(type, 0)) return err({ reason: `only_after:${type}` })
  }
  if (ctx.lastFireAt !== null && ctx.now - ctx.lastFireAt < t.minIntervalHours * 3_600_000) {
    return err({ reason: 'min_interval' })
  }
  return ok(null)
}

/** Channels in fallback order that the person can be reached on (reachability attributes true). */
export function reachableChannels(
  rules: TriggersRules,
  t: TriggerRule,
  attributes: Record<string, ProfileAttribute>,
): Channel[] {
  return t.channels.filter((ch) => {
    const attr = rules.reachability[ch]
    return attr === undefined || attributes[attr]?.value === true
  })
}

/** When quiet hours (rules/caps.yaml) silence `channel`, the instant to defer to; else null. */
export function quietChannel(caps: CapsRules, channel: Channel): boolean {
  return caps.quietHours?.channels.includes(channel) ?? false
}

/** The queue message of a fire. */
export function fireMessage(
  t: TriggerRule,
  payload: TimerPayload,
  fireId: string,
  channel: Channel,
  firedAt: number,
  stateKey: string,
): TriggerFireMessage {
  return {
    fireId,
    trigger: t.id,
    campaign: t.campaign,
    channel,
    priority: t.priority,
    stateKey,
    customerId: stateKey.startsWith('c:') ? stateKey.slice(2) : null,
    firedAt,
    startedBy: { eventId: payload.eventId, type: payload.eventType, at: payload.startedAt },
  }
}

/**
 * Timers that should be running given the stored events (pure over its inputs): for each trigger,
 * its latest starting event stored whole (so measurement consent was given) that no cancelling
 * event followed, that has not fired, and whose due time is still worth keeping (not older than
 * a day). Used after an anonymous state is absorbed on login: timers do not travel with the
 * absorbed rows, the events do. Triggers needing consent beyond storage and measurement are not
 * restored (that consent cannot be read back from the events).
 */
export function timersToRestore(
  rules: TriggersRules,
  ctx: {
    now: number
    latestStart: (type: string) => { id: string; ts: number } | null
    cancelledAfter: (types: string[], ts: number) => boolean
    fired: (fireId: string) => boolean
    running: (timerId: string) => boolean
  },
): Array<{ id: string; dueAt: number; payload: TimerPayload }> {
  const out: Array<{ id: string; dueAt: number; payload: TimerPayload }> = []
  for (const t of rules.triggers) {
    if (!t.consent.every((p) => p === 'measurement' || p === 'storage')) continue
    if (ctx.running(timerId(t.id))) continue
    const start = ctx.latestStart(t.on)
    if (!start) continue
    const dueAt = start.ts + t.delayMinutes * 60_000
    if (dueAt < ctx.now - 86_400_000) continue
    if (ctx.cancelledAfter(t.cancelOn, start.ts)) continue
    const payload: TimerPayload = { trigger: t.id, eventId: start.id, eventType: t.on, startedAt: start.ts }
    if (ctx.fired(fireIdOf(payload))) continue
    out.push({ id: timerId(t.id), dueAt, payload })
  }
  return out
}

/**
 * What a due trigger timer does (pure over its inputs), in the order the checks apply:
 * - `none`: the trigger left the rules, or this fire already went out or was skipped;
 * - `resend`: recorded `pending` but maybe not sent (a retried alarm): send again, same id;
 * - `skip`: a pre-fire check failed or no channel reaches the person (recorded with the reason);
 * - `defer`: every reachable channel is in quiet hours: move the timer to their end;
 * - `reserve`: try these channels in order against the caps; the first allowed one fires.
 */
export type FirePlan =
  | { kind: 'none' }
  | { kind: 'resend'; trigger: TriggerRule; channel: Channel; firedAt: number }
  | { kind: 'skip'; trigger: TriggerRule; reason: string }
  | { kind: 'defer'; until: number }
  | { kind: 'reserve'; trigger: TriggerRule; channels: Channel[] }

/** What the object knows when a timer comes due. */
export interface FireFacts {
  now: number
  /** This fire's row, if it was recorded before. */
  existing: Pick<FireRow, 'status' | 'channel' | 'fired_at'> | undefined
  attributes: Record<string, ProfileAttribute>
  suppressed: ReadonlySet<string>
  timeZone: string
  seenSince: (type: string, since: number) => boolean
  lastFireAt: number | null
  /** End of quiet hours in `timeZone` as of `now`, or null when they are not on now. */
  quietHoursEnd: (now: number, timeZone: string) => number | null
}

export function planFire(
  rules: { triggers: TriggersRules; caps: CapsRules },
  payload: TimerPayload,
  facts: FireFacts,
): FirePlan {
  const trigger = rules.triggers.triggers.find((t) => t.id === payload.trigger)
  // A trigger removed from the rules since the timer started is not fired.
  if (!trigger) return { kind: 'none' }
  const existing = facts.existing
  if (existing?.status === 'enqueued' || existing?.status === 'skipped') return { kind: 'none' }
  if (existing?.status === 'pending' && existing.channel)
    return { kind: 'resend', trigger, channel: existing.channel, firedAt: existing.fired_at }

  const check = preFireCheck(trigger, facts)
  if (!check.ok) return { kind: 'skip', trigger, reason: check.error.reason }
  const channels = reachableChannels(rules.triggers, trigger, facts.attributes)
  if (channels.length === 0) return { kind: 'skip', trigger, reason: 'unreachable' }

  // Quiet hours defer (never drop) when every reachable channel is silent now.
  if (
    trigger.respectQuietHours &&
    rules.caps.quietHours &&
    channels.every((ch) => quietChannel(rules.caps, ch))
  ) {
    const end = facts.quietHoursEnd(facts.now, facts.timeZone)
    if (end !== null) return { kind: 'defer', until: end }
  }
  return { kind: 'reserve', trigger, channels }
}
