/**
 * CustomerState: one person's state, one object per person (`idFromName(identity.stateKey)`):
 * caps, events, triggers, touchpoints, profile attributes. SQLite-backed; the schema is migrated
 * in the constructor; one alarm is multiplexed over the `due_items` table.
 *
 * Features add their RPC methods in their own section below and keep their SQL in their own
 * module beside this file. Internals stay in `#private` members (TypeScript `private` is not
 * enforced over RPC).
 */
import { DurableObject } from 'cloudflare:workers'
import type { Env } from '../../worker/env'
import { migrate } from '../lib/migrations'
import {
  deadItems,
  runDueItems,
  scheduleItem,
  SCHEDULE_TABLES,
  type DeadItem,
  type DueHandler,
} from '../lib/schedule'
import { countRows, exportTables, importTables, type TableDump } from '../lib/tables'
import { customerMigrations } from './schema'
// identity links and touchpoints
import { bundledRules as configuredRules } from '../../worker/rules'
import {
  attribute as attributeConversion,
  type AttributionOptions,
  type AttributionResult,
  type Conversion,
} from '../../worker/touchpoint/attribution'
import type { Touchpoint } from '../../worker/touchpoint/types'
import {
  forgetAssertedIdentifier,
  linkIdentifiers,
  listIdentityConflicts,
  listIdentityLinks,
  unlinkIdentifier,
  type IdentityConflict,
  type IdentityLink,
  type LinkOutcome,
  type LinkRequest,
} from './identity-links'
import {
  attributionTouches,
  recordConversionCredit,
  recordTouchpoint,
  touchpointHistory,
  type TouchpointHistory,
} from './touchpoints'
// events, profile, caps, triggers
import type { TriggerRule } from '../../worker/rules/concerns/triggers'
import { cancelItem, scheduleItem as scheduleDue } from '../lib/schedule'
import {
  applySuppressions,
  checkAndReserve,
  conversionTypes,
  isTimeZone,
  pruneReservations,
  quietHoursEnd,
  suppressedCampaigns,
  validReserveRequest,
} from './caps'
import {
  ALL_STATE_PARTS,
  StatePart,
  type Channel,
  type DecisionState,
  type DecisionStateApi,
  type ReserveRequest,
  type ReserveResult,
} from './contract'
import {
  eventSeen,
  eventSummary,
  insertEvent,
  lastEventAt,
  readMeta,
  currentSession,
  writeMeta,
  type RecordEventsInput,
  type RecordEventsResult,
  type SessionStats,
  type StateEvent,
} from './events'
import { readAttributes, writeAttributes, type AttributeWrite } from './profile'
import { stateRules } from './state-rules'
import {
  fireIdOf,
  fireMessage,
  fireRow,
  lastFireAt,
  markEnqueued,
  preFireCheck,
  quietChannel,
  reachableChannels,
  recordFire,
  timerActions,
  timersToRestore,
  TRIGGER_DUE_KIND,
  type TimerPayload,
  type TriggerFireMessage,
} from './triggers'
export { SubjectErasedError } from './privacy'
import {
  applyRetention,
  erasedEventsResult,
  nextRetentionAt,
  tombstoneUntil,
  writeTombstone,
} from './privacy'

export class CustomerState extends DurableObject<Env> implements DecisionStateApi {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    void ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, customerMigrations)
      await this.#armRetention()
    })
  }

  /** Handlers for due items, by kind. Each must be idempotent (see lib/schedule.ts). */
  #dueHandlers(): Record<string, DueHandler> {
    return {
      // --- due-item handlers are registered here by the features that schedule them ---
      [TRIGGER_DUE_KIND]: (payload, item) => this.#fireTrigger(payload, item), // triggers
      retention: () => this.#retentionDue(),
    }
  }

  override async alarm(): Promise<void> {
    await runDueItems(this.ctx.storage, this.#dueHandlers())
  }

  /** Due items that failed too often and are no longer run, most recent first (operators). */
  async deadItems(limit = 100): Promise<DeadItem[]> {
    const n = Number.isSafeInteger(limit) && limit > 0 ? Math.min(limit, 1000) : 100
    return deadItems(this.ctx.storage.sql, n)
  }

  // --- whole-object operations (stitching, DSAR) ---

  /** Everything this object holds, table by table (DSAR export; stitching source). */
  async exportAll(): Promise<TableDump> {
    return exportTables(this.ctx.storage.sql, ['due_items'])
  }

  /** Row counts per table (erase receipts, audits). */
  async counts(): Promise<Record<string, number>> {
    return countRows(this.ctx.storage.sql)
  }

  /**
   * Absorbs another object's state (an anonymous visitor's, on login) exactly once per source:
   * a second call for the same `fromKey` changes nothing, even when calls race (the whole
   * merge runs synchronously, so no other request interleaves).
   */
  async absorb(
    fromKey: string,
    dump: TableDump,
  ): Promise<{ absorbed: boolean; rows: number; erased?: true }> {
    // `erased` tells the stitcher to keep the source state rather than erase it after a merge that did not happen.
    if (this.#tombstoned()) return { absorbed: false, rows: 0, erased: true }
    const sql = this.ctx.storage.sql
    const seen = sql.exec('SELECT 1 FROM absorbed WHERE state_key = ?', fromKey).toArray().length > 0
    if (seen) return { absorbed: false, rows: 0 }
    return this.ctx.storage.transactionSync(() => {
      // state_meta holds this object's own name: the source's must not take its place.
      const inserted = importTables(sql, dump, ['absorbed', 'state_meta', ...SCHEDULE_TABLES])
      const rows = Object.values(inserted).reduce((a, b) => a + b, 0)
      sql.exec(
        'INSERT INTO absorbed (state_key, absorbed_at, rows) VALUES (?, ?, ?)',
        fromKey,
        Date.now(),
        rows,
      )
      return { absorbed: true, rows }
    })
  }

  /** Erases everything this object holds, alarm included. Returns the row counts removed. */
  async eraseAll(): Promise<Record<string, number>> {
    const counts = countRows(this.ctx.storage.sql)
    await this.ctx.storage.deleteAlarm()
    await this.ctx.storage.deleteAll()
    this.#knownStateKey = null
    // deleteAll drops the tables; recreate the schema so the object stays usable.
    migrate(this.ctx.storage.sql, customerMigrations)
    return counts
  }

  // --- touchpoints ---

  /**
   * Stores a visit's touchpoint: the first touch is always kept, plus the most recent ones up to
   * `historyLimit` (rules/utm.yaml). A reload of the same campaign within 30 minutes is not stored twice.
   */
  async recordTouchpoint(
    tp: Touchpoint,
    opts: { historyLimit?: number } = {},
  ): Promise<{ recorded: boolean; id: string | null }> {
    if (this.#tombstoned()) return { recorded: false, id: null }
    if (!Number.isFinite(tp?.at) || typeof tp.landingPath !== 'string') {
      throw new TypeError('recordTouchpoint: touchpoint.at and touchpoint.landingPath are required')
    }
    const historyLimit = opts.historyLimit ?? configuredRules.utm.historyLimit
    return recordTouchpoint(this.ctx.storage.sql, tp, { historyLimit })
  }

  /** First touch, last touch and the stored history (oldest first). */
  async touchpoints(): Promise<TouchpointHistory> {
    return touchpointHistory(this.ctx.storage.sql)
  }

  /**
   * Credits a conversion to this person's touchpoints by each configured model (rules/utm.yaml
   * `attribution`, overridable per call). Pure computation over the stored history; stores nothing.
   */
  async attribute(
    conversion: Conversion,
    opts: Partial<AttributionOptions> = {},
  ): Promise<AttributionResult> {
    if (!Number.isFinite(conversion?.at))
      throw new TypeError('attribute: conversion.at must be ms since epoch')
    const options: AttributionOptions = { ...configuredRules.utm.attribution, ...opts }
    return attributeConversion(attributionTouches(this.ctx.storage.sql), conversion, options)
  }

  /** Links identifier keys to this person up to the caps (stitching); refusals are recorded. */
  async linkIdentifiers(req: LinkRequest): Promise<LinkOutcome & { erased?: true }> {
    // `erased`: stitching stops before any IdentityIndex claim points at an erased person.
    if (this.#tombstoned()) return { accepted: [], already: [], refused: [], erased: true }
    return linkIdentifiers(this.ctx.storage.sql, req)
  }

  /** Drops a link that the IdentityIndex refused (held by `heldBy`) and records the conflict. */
  async unlinkIdentifier(conflict: {
    identifierKey: string
    heldBy: string
    assertedBy: string
  }): Promise<void> {
    if (this.#tombstoned()) return
    unlinkIdentifier(this.ctx.storage.sql, conflict)
  }

  /** Drops an identifier the visitor only asserted (a DSAR for that identifier). Rows removed. */
  async forgetAssertedIdentifier(identifierKey: string): Promise<number> {
    return forgetAssertedIdentifier(this.ctx.storage.sql, identifierKey)
  }

  /** Every identifier key linked to this person, and the refused links (DSAR, review). */
  async identityLinks(): Promise<{ links: IdentityLink[]; conflicts: IdentityConflict[] }> {
    const sql = this.ctx.storage.sql
    return { links: listIdentityLinks(sql), conflicts: listIdentityConflicts(sql) }
  }

  // --- events, profile, caps, triggers ---

  /** What the decision engine needs in one read, only the parts asked for (contract.ts). */
  async getDecisionState(now: number = Date.now(), parts: number = ALL_STATE_PARTS): Promise<DecisionState> {
    const sql = this.ctx.storage.sql
    // Anything but a valid set of flags reads everything (never less than the caller needs).
    const want = Number.isInteger(parts) && parts >= 0 && parts <= ALL_STATE_PARTS ? parts : ALL_STATE_PARTS
    const attributes = want & StatePart.attributes ? readAttributes(sql) : {}
    const tz = attributes.time_zone?.value
    return {
      attributes,
      events: want & StatePart.events ? eventSummary(sql) : {},
      intentScore: want & StatePart.intent ? currentSession(sql, stateRules().profile, now).score : 0,
      timeZone: isTimeZone(tz) ? tz : null,
      suppressedCampaigns: want & StatePart.suppressions ? [...suppressedCampaigns(sql, now)].sort() : [],
    }
  }

  /**
   * Check-and-reserve for several placements (contract.ts). The whole batch runs synchronously in
   * one transaction: no other request can interleave, so concurrent calls never over-deliver.
   */
  async reserve(requests: ReserveRequest[]): Promise<ReserveResult[]> {
    // An erased person gets the fallback (nothing reserved, so no row written).
    if (this.#tombstoned()) return requests.map(() => ({ allowed: false, reason: 'erased', caps: [] }))
    const sql = this.ctx.storage.sql
    const caps = stateRules().caps
    const timeZone = this.#timeZone()
    return this.ctx.storage.transactionSync(() => {
      const clock = Date.now()
      // Prune relative to the earliest clock in the batch, so a caller-supplied `now` still sees its window.
      const earliest = Math.min(clock, ...requests.map((r) => (typeof r?.now === 'number' ? r.now : clock)))
      // Pruning is housekeeping: once a minute per object is plenty, and keeps reserve cheap.
      if (earliest < this.#prunedAt || earliest - this.#prunedAt > 60_000) {
        pruneReservations(sql, caps, earliest)
        this.#prunedAt = earliest
      }
      const suppressed = suppressedCampaigns(sql, clock)
      return requests.map((r): ReserveResult => {
        if (!validReserveRequest(r)) return { allowed: false, reason: 'invalid_request', caps: [] }
        return checkAndReserve(sql, r, { rules: caps, timeZone, suppressed })
      })
    })
  }

  /**
   * Records a batch of validated events (POST /v1/events, the gateway's page views, ingestion).
   * Idempotent by event id. With measurement consent the events are stored whole; without it only
   * conversions and timer-cancelling events are kept, minimally (docs/events.md). Conversions
   * apply suppressions; events start and cancel trigger timers.
   */
  async recordEvents(input: RecordEventsInput): Promise<RecordEventsResult> {
    if (this.#tombstoned()) return erasedEventsResult(input)
    const sql = this.ctx.storage.sql
    const rules = stateRules()
    const receivedAt = Date.now()
    const measurement = input.purposes.measurement === true
    const keepMinimal = conversionTypes(rules.caps)
    for (const t of rules.triggers.triggers) for (const type of t.cancelOn) keepMinimal.add(type)

    const fresh: StateEvent[] = []
    const result = this.ctx.storage.transactionSync(() => {
      // The name never changes for an object (it is the object's own name): checked once per
      // instance rather than read on every page view.
      if (this.#knownStateKey !== input.stateKey && readMeta(sql, 'state_key') !== input.stateKey)
        writeMeta(sql, 'state_key', input.stateKey)
      let duplicates = 0
      let stored = 0
      let minimal = 0
      const suppressed: string[] = []
      for (const e of input.events) {
        if (measurement) {
          // INSERT OR IGNORE: an id seen before is not written again, and counts as a duplicate.
          if (!insertEvent(sql, e, { source: input.source, minimal: false, receivedAt })) {
            duplicates++
            continue
          }
          stored++
          // A conversion is credited to the touchpoints that led to it, once, by every model.
          const attribution = configuredRules.utm.attribution
          if (attribution.conversionEvents.includes(e.type)) {
            const value =
              typeof e.props.value === 'number' && Number.isFinite(e.props.value) ? e.props.value : 0
            const credit = attributeConversion(
              attributionTouches(sql),
              { id: e.id, at: e.ts, value },
              attribution,
            )
            recordConversionCredit(sql, e.type, credit)
          }
        } else if (keepMinimal.has(e.type)) {
          if (!insertEvent(sql, e, { source: input.source, minimal: true, receivedAt })) {
            duplicates++
            continue
          }
          minimal++
        } else if (eventSeen(sql, e.id)) {
          // Not stored now, but stored earlier (with consent then): still a duplicate.
          duplicates++
          continue
        }
        fresh.push(e)
        suppressed.push(...applySuppressions(sql, rules.caps, { id: e.id, type: e.type, at: e.ts }))
        const tz = e.props.timeZone
        if (measurement && isTimeZone(tz)) {
          writeAttributes(sql, rules.profile, [{ name: 'time_zone', value: tz, source: 'event', at: e.ts }])
        }
      }
      if (input.attributes?.length) writeAttributes(sql, rules.profile, input.attributes)
      return { duplicates, stored, minimal, suppressed: [...new Set(suppressed)].sort() }
    })
    // Only after the transaction committed: a rolled-back write must be checked again.
    this.#knownStateKey = input.stateKey

    // Timers: cancellations always (a purchase must stop a running abandonment timer whatever the
    // consent now); new timers only as the trigger's consent allows (checked in timerActions).
    // The session is read only when a trigger's thresholds ask for it (most events start no timer).
    let session: SessionStats | undefined
    const sessionNow = () => (session ??= currentSession(sql, rules.profile, receivedAt))
    const started: string[] = []
    const cancelled: string[] = []
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
          if (await cancelItem(this.ctx.storage, a.id)) cancelled.push(a.trigger)
        } else {
          await scheduleDue(this.ctx.storage, {
            id: a.id,
            kind: TRIGGER_DUE_KIND,
            dueAt: a.dueAt,
            payload: a.payload,
          })
          started.push(a.payload.trigger)
        }
      }
    }
    return { accepted: input.events.length, ...result, timersStarted: started, timersCancelled: cancelled }
  }

  /**
   * Re-arms trigger timers from the stored events (after `absorb` on login: the anonymous visitor's
   * events arrive, its timers do not). Idempotent: running, fired or cancelled timers are left
   * alone. Returns the triggers whose timers it started.
   */
  async restoreTimers(now: number = Date.now()): Promise<{ restored: string[] }> {
    if (this.#tombstoned()) return { restored: [] }
    const sql = this.ctx.storage.sql
    const plans = timersToRestore(stateRules().triggers, {
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
      await scheduleDue(this.ctx.storage, {
        id: p.id,
        kind: TRIGGER_DUE_KIND,
        dueAt: p.dueAt,
        payload: p.payload,
      })
    }
    return { restored: plans.map((p) => p.payload.trigger) }
  }

  /** Writes profile attributes, each winning or losing by source precedence (rules/profile.yaml). */
  async setAttributes(writes: AttributeWrite[]): Promise<{ written: string[] }> {
    if (this.#tombstoned()) return { written: [] }
    const sql = this.ctx.storage.sql
    const profile = stateRules().profile
    return this.ctx.storage.transactionSync(() => ({ written: writeAttributes(sql, profile, writes) }))
  }

  #prunedAt = 0
  /** The `state_key` meta row as last read or written by this instance (null: not checked yet). */
  #knownStateKey: string | null = null

  #stateKey(): string {
    return readMeta(this.ctx.storage.sql, 'state_key') ?? `id:${this.ctx.id.toString()}`
  }

  #timeZone(): string {
    const tz = readAttributes(this.ctx.storage.sql).time_zone?.value
    return isTimeZone(tz) ? tz : stateRules().caps.defaultTimeZone
  }

  /**
   * Due-item handler for trigger timers. Idempotent: the fire id is recorded before the queue send;
   * a retried alarm re-sends a `pending` fire under the same id and never fires an `enqueued` one.
   */
  async #fireTrigger(raw: Record<string, unknown>, item: { id: string; dueAt: number }): Promise<void> {
    const payload = raw as TimerPayload
    const rules = stateRules()
    const trigger = rules.triggers.triggers.find((t) => t.id === payload.trigger)
    // A trigger removed from the rules since the timer started is not fired.
    if (!trigger) return
    const sql = this.ctx.storage.sql
    const fireId = fireIdOf(payload)
    const existing = fireRow(sql, fireId)
    if (existing?.status === 'enqueued' || existing?.status === 'skipped') return
    if (existing?.status === 'pending' && existing.channel) {
      await this.#enqueue(
        trigger,
        fireMessage(trigger, payload, fireId, existing.channel, existing.fired_at, this.#stateKey()),
      )
      return
    }

    const now = Date.now()
    const attributes = readAttributes(sql)
    const suppressed = suppressedCampaigns(sql, now)
    const timeZone = this.#timeZone()
    const check = preFireCheck(trigger, {
      now,
      attributes,
      suppressed,
      seenSince: (type, since) => lastEventAt(sql, type, since) !== null,
      lastFireAt: lastFireAt(sql, trigger.id),
    })
    const skip = (reason: string, channel: Channel | null = null) =>
      recordFire(sql, {
        fireId,
        trigger: trigger.id,
        campaign: trigger.campaign,
        channel,
        status: 'skipped',
        reason,
        payload,
        at: now,
      })
    if (!check.ok) return skip(check.error.reason)
    const channels = reachableChannels(rules.triggers, trigger, attributes)
    if (channels.length === 0) return skip('unreachable')

    // Quiet hours defer (never drop) when every reachable channel is silent now.
    const quiet = rules.caps.quietHours
    if (trigger.respectQuietHours && quiet && channels.every((ch) => quietChannel(rules.caps, ch))) {
      const end = quietHoursEnd(quiet, now, timeZone)
      if (end !== null) {
        // Rescheduling the same item id moves it; runDueItems then keeps it (its due_at changed).
        await scheduleDue(this.ctx.storage, { id: item.id, kind: TRIGGER_DUE_KIND, dueAt: end, payload })
        return
      }
    }

    // Channel fallback: the first channel whose caps allow it, reserved atomically with the fire record.
    const chosen = this.ctx.storage.transactionSync(() => {
      const reasons: string[] = []
      for (const channel of channels) {
        const r = checkAndReserve(
          sql,
          {
            decisionId: `${fireId}:${channel}`,
            placement: `trigger:${trigger.id}`,
            campaign: trigger.campaign,
            channel,
            tags: ['trigger'],
            now,
          },
          { rules: rules.caps, timeZone, suppressed, quietHours: trigger.respectQuietHours },
        )
        if (r.allowed) {
          recordFire(sql, {
            fireId,
            trigger: trigger.id,
            campaign: trigger.campaign,
            channel,
            status: 'pending',
            reason: null,
            payload,
            at: now,
          })
          return channel
        }
        reasons.push(`${channel}:${r.reason}`)
      }
      skip(reasons.join(','))
      return null
    })
    if (chosen === null) return
    await this.#enqueue(trigger, fireMessage(trigger, payload, fireId, chosen, now, this.#stateKey()))
  }

  async #enqueue(trigger: TriggerRule, message: TriggerFireMessage): Promise<void> {
    const queue = trigger.priority === 'high' ? this.env.TRIGGERS_HIGH : this.env.TRIGGERS_LOW
    await queue.send(message, { contentType: 'json' })
    markEnqueued(this.ctx.storage.sql, message.fireId)
  }

  // --- privacy ---

  /**
   * True while this object is an erased subject's tombstone. Every write RPC checks it first and
   * returns a refusal its caller handles (`erased: true`, nothing written): a refusal rather than a
   * thrown `SubjectErasedError`, because an error's class and name do not survive RPC (the caller
   * sees a plain `Error`) and a thrown error would read as "object unavailable" (503) to callers.
   * Write RPCs: recordEvents, setAttributes, reserve, recordTouchpoint, linkIdentifiers,
   * unlinkIdentifier, absorb, restoreTimers. Timers need no check: erasure deleted them.
   */
  #tombstoned(now = Date.now()): boolean {
    return tombstoneUntil(this.ctx.storage, now) !== null
  }

  /**
   * DSAR erase: removes everything this object holds (`eraseAll`), then leaves a tombstone until
   * `until` (ms since epoch). Idempotent: a retried erase removes nothing more and keeps the
   * tombstone. Returns the rows removed per table.
   */
  async privacyErase(receiptId: string, until: number): Promise<Record<string, number>> {
    const removed = await this.eraseAll()
    writeTombstone(this.ctx.storage, { receiptId, erasedAt: Date.now(), until })
    return removed
  }

  /** Whether this object is tombstoned, and until when (ms since epoch). */
  async privacyStatus(): Promise<{ tombstoned: boolean; until: number | null }> {
    const until = tombstoneUntil(this.ctx.storage, Date.now())
    return { tombstoned: until !== null, until }
  }

  /** Runs retention now (rules/privacy.yaml windows); returns rows deleted per table. */
  async runRetention(now = Date.now()): Promise<Record<string, number>> {
    return applyRetention(this.ctx.storage.sql, configuredRules.privacy.retention.customerState, now)
  }

  // Arms the daily retention pass once the object holds data (an empty or erased object is left
  // alone, so retention never wakes objects that keep nothing).
  async #armRetention(): Promise<void> {
    const sql = this.ctx.storage.sql
    if (this.#tombstoned()) return
    const armed = sql.exec("SELECT 1 FROM due_items WHERE id = 'privacy:retention'").toArray().length > 0
    if (armed) return
    const counts = countRows(sql)
    const rows = Object.entries(counts).reduce((n, [t, c]) => (t === 'due_items' ? n : n + c), 0)
    if (rows === 0) return
    await scheduleItem(this.ctx.storage, {
      id: 'privacy:retention',
      kind: 'retention',
      dueAt: nextRetentionAt(Date.now()),
    })
  }

  // The `retention` due item: delete expired rows, then schedule the next pass while data remains.
  // Re-running it deletes nothing more (idempotent, as lib/schedule.ts requires).
  async #retentionDue(): Promise<void> {
    const now = Date.now()
    applyRetention(this.ctx.storage.sql, configuredRules.privacy.retention.customerState, now)
    // The item itself is deleted by runDueItems after this returns; the next pass gets a new due time.
    this.ctx.storage.sql.exec("DELETE FROM due_items WHERE id = 'privacy:retention'")
    await this.#armRetention()
  }
}
