/**
 * Carries out, against the customer object's storage, the plans the pure planners decide:
 * `planEvents` (./events.ts) for a batch of events, `timerActions`, `planFire` and
 * `timersToRestore` (./triggers.ts) for trigger timers, and the caps of a reserve batch. The decisions are tested in Node from JSON rows; what is
 * here is only the I/O, tested in workerd.
 */
import { attribute as attributeConversion } from '../../worker/touchpoint/attribution'
import { cancelItem, scheduleItem } from '../lib/schedule'
import type { CapsRules } from '../../worker/rules/concerns/caps'
import type { TriggerRule, TriggersRules } from '../../worker/rules/concerns/triggers'
import {
  applySuppressions,
  checkAndReserve,
  conversionTypes,
  isTimeZone,
  pruneReservations,
  quietHoursEnd,
  releaseReservation,
  suppressedCampaigns,
  validReserveRequest,
} from './caps'
import type { Channel, ReserveRequest, ReserveResult } from './contract'
import {
  currentSession,
  heldEventIds,
  insertEvent,
  lastEventAt,
  planEvents,
  readMeta,
  writeMeta,
  type RecordEventsInput,
  type RecordEventsResult,
  type SessionStats,
  type StateEvent,
} from './events'
import { readAttributes, writeAttributes } from './profile'
import type { StateRules } from './state-rules'
import { attributionTouches, recordConversionCredit } from './touchpoints'
import {
  countResend,
  fireIdOf,
  fireMessage,
  fireReservationId,
  fireRow,
  lastFireAt,
  markEnqueued,
  OUTBOX_DUE_KIND,
  outboxItemId,
  outboxWindowMs,
  planFire,
  planOutbox,
  recordFire,
  recordOutcome,
  timerActions,
  timersToRestore,
  TRIGGER_DUE_KIND,
  type FireOutcome,
  type TimerPayload,
  type TriggerFireMessage,
} from './triggers'

/**
 * Records a batch (the work of `CustomerState.recordEvents`): stores what `planEvents` says in one
 * transaction, with conversion credits, suppressions and time zones, then starts and cancels
 * timers. `knownStateKey` is the object's name as this instance last saw it in `state_meta`.
 */
export async function recordEventBatch(
  storage: DurableObjectStorage,
  input: RecordEventsInput,
  rules: StateRules,
  knownStateKey: string | null,
): Promise<RecordEventsResult> {
  const sql = storage.sql
  const receivedAt = Date.now()
  const measurement = input.purposes.measurement === true
  const keepMinimal = conversionTypes(rules.caps)
  for (const t of rules.triggers.triggers) for (const type of t.cancelOn) keepMinimal.add(type)

  const { fresh, ...counts } = storage.transactionSync(() => {
    // The name never changes for an object (it is the object's own name): checked once per
    // instance rather than read on every page view.
    if (knownStateKey !== input.stateKey && readMeta(sql, 'state_key') !== input.stateKey)
      writeMeta(sql, 'state_key', input.stateKey)
    const plan = planEvents({
      events: input.events,
      measurement,
      keepMinimal,
      conversionEvents: rules.utm.attribution.conversionEvents,
      held: heldEventIds(
        sql,
        input.events.map((e) => e.id),
      ),
      isTimeZone,
    })
    const suppressed: string[] = []
    for (const { event: e, store } of plan.fresh) {
      if (store !== 'none')
        insertEvent(sql, e, { source: input.source, minimal: store === 'minimal', receivedAt })
      suppressed.push(...applySuppressions(sql, rules.caps, { id: e.id, type: e.type, at: e.ts }))
    }
    // A conversion is credited to the touchpoints that led to it, once, by every model.
    for (const { event: e, value } of plan.conversions) {
      const credit = attributeConversion(
        attributionTouches(sql),
        { id: e.id, at: e.ts, value },
        rules.utm.attribution,
      )
      recordConversionCredit(sql, e.type, credit)
    }
    if (plan.timeZones.length) writeAttributes(sql, rules.profile, plan.timeZones)
    if (input.attributes?.length) writeAttributes(sql, rules.profile, input.attributes)
    return {
      fresh: plan.fresh.map((f) => f.event),
      duplicates: plan.duplicates,
      stored: plan.fresh.filter((f) => f.store === 'whole').length,
      minimal: plan.fresh.filter((f) => f.store === 'minimal').length,
      suppressed: [...new Set(suppressed)].sort(),
    }
  })
  const timers = await applyTimerActions(storage, rules, input, fresh, receivedAt)
  return { accepted: input.events.length, ...counts, ...timers }
}

// Timers: cancellations always (a purchase must stop a running abandonment timer whatever the
// consent now); new timers only as the trigger's consent allows (checked in timerActions). The
// session is read only when a trigger's thresholds ask for it (most events start no timer).
async function applyTimerActions(
  storage: DurableObjectStorage,
  rules: StateRules,
  input: RecordEventsInput,
  fresh: StateEvent[],
  receivedAt: number,
): Promise<{ timersStarted: string[]; timersCancelled: string[] }> {
  let session: SessionStats | undefined
  const sessionNow = () => (session ??= currentSession(storage.sql, rules.profile, receivedAt))
  const timersStarted: string[] = []
  const timersCancelled: string[] = []
  for (const e of fresh.sort((a, b) => a.ts - b.ts)) {
    const ctx = {
      purposes: input.purposes,
      get session() {
        return sessionNow()
      },
      consentFromVisitor: input.consentFromVisitor === true,
    }
    for (const a of timerActions(rules.triggers, e, ctx)) {
      if (a.kind === 'cancel') {
        if (await cancelItem(storage, a.id)) timersCancelled.push(a.trigger)
      } else {
        await scheduleItem(storage, { id: a.id, kind: TRIGGER_DUE_KIND, dueAt: a.dueAt, payload: a.payload })
        timersStarted.push(a.payload.trigger)
      }
    }
  }
  return { timersStarted, timersCancelled }
}

/** Where a fire is sent: the trigger's priority picks the queue; `dead` takes abandoned fires. */
export type FireQueues = { high: Queue; low: Queue; dead: Queue }

/**
 * The `trigger_fire` due item: carries out `planFire`. Idempotent: the fire id is recorded before
 * the queue send; a retried alarm re-sends a `pending` fire under the same id and never fires an
 * `enqueued` one.
 */
export async function fireDueTrigger(
  storage: DurableObjectStorage,
  queues: FireQueues,
  rules: StateRules,
  raw: Record<string, unknown>,
  item: { id: string },
  whose: { stateKey: string; timeZone: string },
): Promise<void> {
  const payload = raw as TimerPayload
  const sql = storage.sql
  const fireId = fireIdOf(payload)
  const now = Date.now()
  const suppressed = suppressedCampaigns(sql, now)
  const plan = planFire(rules, payload, {
    now,
    existing: fireRow(sql, fireId),
    attributes: readAttributes(sql),
    suppressed,
    timeZone: whose.timeZone,
    seenSince: (type, since) => lastEventAt(sql, type, since) !== null,
    lastFireAt: lastFireAt(sql, payload.trigger),
    quietHoursEnd: (at, tz) => (rules.caps.quietHours ? quietHoursEnd(rules.caps.quietHours, at, tz) : null),
  })
  const record = (
    trigger: TriggerRule,
    channel: Channel | null,
    status: 'skipped' | 'pending',
    reason: string | null,
  ) =>
    recordFire(sql, {
      fireId,
      trigger: trigger.id,
      campaign: trigger.campaign,
      channel,
      status,
      reason,
      payload,
      at: now,
    })

  switch (plan.kind) {
    case 'none':
      return
    case 'resend':
      return enqueue(
        storage,
        queues,
        rules,
        fireMessage(plan.trigger, payload, fireId, plan.channel, plan.firedAt, whose.stateKey),
      )
    case 'skip':
      return record(plan.trigger, null, 'skipped', plan.reason)
    case 'defer':
      // Rescheduling the same item id moves it; runDueItems then keeps it (its due_at changed).
      return scheduleItem(storage, { id: item.id, kind: TRIGGER_DUE_KIND, dueAt: plan.until, payload })
    case 'reserve': {
      const { trigger, channels } = plan
      // Channel fallback: the first channel whose caps allow it, reserved atomically with the fire record.
      const chosen = storage.transactionSync(() => {
        const reasons: string[] = []
        for (const channel of channels) {
          const r = checkAndReserve(
            sql,
            {
              decisionId: fireReservationId(fireId, channel),
              placement: `trigger:${trigger.id}`,
              campaign: trigger.campaign,
              channel,
              tags: trigger.tags,
              now,
            },
            {
              rules: rules.caps,
              timeZone: whose.timeZone,
              suppressed,
              quietHours: trigger.respectQuietHours,
              kind: 'messages',
            },
          )
          if (r.allowed) {
            record(trigger, channel, 'pending', null)
            return channel
          }
          reasons.push(`${channel}:${r.reason}`)
        }
        record(trigger, null, 'skipped', reasons.join(','))
        return null
      })
      if (chosen === null) return
      return enqueue(
        storage,
        queues,
        rules,
        fireMessage(trigger, payload, fireId, chosen, now, whose.stateKey),
      )
    }
  }
}

// Sends a recorded fire and puts it in the outbox: its outcome is due within the delivery window.
async function enqueue(
  storage: DurableObjectStorage,
  queues: FireQueues,
  rules: StateRules,
  message: TriggerFireMessage,
): Promise<void> {
  await (message.priority === 'high' ? queues.high : queues.low).send(message, { contentType: 'json' })
  markEnqueued(storage.sql, message.fireId)
  await scheduleItem(storage, {
    id: outboxItemId(message.fireId),
    kind: OUTBOX_DUE_KIND,
    dueAt: Date.now() + outboxWindowMs(rules.triggers.delivery),
    payload: { fireId: message.fireId, message },
  })
}

/**
 * The `trigger_outbox` due item (`planOutbox` decides): a sent fire with no outcome by the end of
 * its delivery window is sent again under the same id (its message was lost, or is still being
 * retried: the consumer and the receiver deduplicate on the id), and after `OUTBOX_MAX_SENDS` it is
 * dead-lettered as `unacknowledged` and its cap reservation released. Idempotent: the outcome is
 * recorded once, a re-send is counted only while no outcome arrived.
 */
export async function runOutboxItem(
  storage: DurableObjectStorage,
  queues: FireQueues,
  rules: StateRules,
  raw: Record<string, unknown>,
  item: { id: string },
): Promise<void> {
  const fireId = typeof raw.fireId === 'string' ? raw.fireId : null
  const message = raw.message as TriggerFireMessage | undefined
  if (fireId === null) return
  const sql = storage.sql
  const now = Date.now()
  const plan = planOutbox(fireRow(sql, fireId), now, outboxWindowMs(rules.triggers.delivery))
  switch (plan.kind) {
    case 'none':
      return
    case 'resend':
      // Rows migrated from before the outbox carry no message: nothing to re-send, so abandon them.
      if (!message) return abandon(storage, queues, fireId, null, plan.sends - 1, now)
      await (message.priority === 'high' ? queues.high : queues.low).send(message, { contentType: 'json' })
      if (countResend(sql, fireId, plan.sends))
        await scheduleItem(storage, {
          id: item.id,
          kind: OUTBOX_DUE_KIND,
          dueAt: plan.nextDueAt,
          payload: { fireId, message },
        })
      return
    case 'abandon':
      return abandon(storage, queues, fireId, message ?? null, plan.sends, now)
  }
}

async function abandon(
  storage: DurableObjectStorage,
  queues: FireQueues,
  fireId: string,
  message: TriggerFireMessage | null,
  sends: number,
  now: number,
): Promise<void> {
  // The dead letter first: if the send fails the alarm retries and finds the fire still open.
  await queues.dead.send(
    { fire: message ?? { fireId }, reason: 'unacknowledged', attempts: sends },
    { contentType: 'json' },
  )
  settleFire(storage, fireId, 'dead', now)
}

/**
 * Records what became of a fire (reported by the queue consumers, or the outbox giving up) and
 * takes it out of the outbox; a dead fire's cap reservation is released, since no message reached
 * the person. Idempotent: returns false when the outcome was already known (or the fire is unknown).
 */
export function settleFire(
  storage: DurableObjectStorage,
  fireId: string,
  outcome: FireOutcome,
  now: number,
): boolean {
  const sql = storage.sql
  return storage.transactionSync(() => {
    const settled = recordOutcome(sql, fireId, outcome, now)
    sql.exec('DELETE FROM due_items WHERE id = ?', outboxItemId(fireId))
    if (settled === null) return false
    if (outcome === 'dead' && settled.channel)
      releaseReservation(sql, fireReservationId(fireId, settled.channel), 'released:dead_fire')
    return true
  })
}

/**
 * Check-and-reserve for a batch (the work of `CustomerState.reserve`), synchronously in one
 * transaction: no other request can interleave, so concurrent calls never over-deliver.
 * `prunedAt` is when this instance last pruned old reservations; the new value is returned.
 */
export function reserveBatch(
  storage: DurableObjectStorage,
  requests: ReserveRequest[],
  opts: { caps: CapsRules; timeZone: string; prunedAt: number },
): { results: ReserveResult[]; prunedAt: number } {
  const sql = storage.sql
  return storage.transactionSync(() => {
    const clock = Date.now()
    let prunedAt = opts.prunedAt
    // Prune relative to the earliest clock in the batch, so a caller-supplied `now` still sees its window.
    const earliest = Math.min(clock, ...requests.map((r) => (typeof r?.now === 'number' ? r.now : clock)))
    // Pruning is housekeeping: once a minute per object is plenty, and keeps reserve cheap.
    if (earliest < prunedAt || earliest - prunedAt > 60_000) {
      pruneReservations(sql, opts.caps, earliest)
      prunedAt = earliest
    }
    const suppressed = suppressedCampaigns(sql, clock)
    const results = requests.map((r): ReserveResult => {
      if (!validReserveRequest(r)) return { allowed: false, reason: 'invalid_request', caps: [] }
      // The Worker reserves for placements only: what it asks to count is always an impression.
      return checkAndReserve(sql, r, {
        rules: opts.caps,
        timeZone: opts.timeZone,
        suppressed,
        kind: 'impressions',
      })
    })
    return { results, prunedAt }
  })
}

/**
 * Re-arms trigger timers from the stored events (`timersToRestore` decides which): the work of
 * `CustomerState.restoreTimers`. Returns the triggers whose timers it started.
 */
export async function restoreTimerItems(
  storage: DurableObjectStorage,
  triggers: TriggersRules,
  now: number,
): Promise<{ restored: string[] }> {
  const sql = storage.sql
  const plans = timersToRestore(triggers, {
    now,
    latestStart: (type) =>
      sql
        .exec<{ id: string; ts: number }>(
          'SELECT id, ts FROM events WHERE type = ? AND minimal = 0 ORDER BY ts DESC LIMIT 1',
          type,
        )
        .toArray()[0] ?? null,
    cancelledAfter: (types, ts) => types.some((type) => (lastEventAt(sql, type, ts) ?? -Infinity) >= ts),
    fired: (fireId) => fireRow(sql, fireId) !== undefined,
    running: (id) => sql.exec('SELECT 1 FROM due_items WHERE id = ?', id).toArray().length > 0,
  })
  for (const p of plans) {
    await scheduleItem(storage, { id: p.id, kind: TRIGGER_DUE_KIND, dueAt: p.dueAt, payload: p.payload })
  }
  return { restored: plans.map((p) => p.payload.trigger) }
}
