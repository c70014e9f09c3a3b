/**
 * CustomerState: one person's state, one object per person (`idFromName(identity.stateKey)`):
 * caps, events, triggers, touchpoints, profile attributes. SQLite-backed; the schema is migrated
 * in the constructor (lib/base.ts); one alarm is multiplexed over the `due_items` table.
 *
 * This class is the list of RPCs. Feature policy lives in modules beside it (caps, events,
 * triggers, touchpoints, identity links, profile, privacy), pure planners return plans that
 * ./apply.ts carries out, and rules are read through one seam (./state-rules.ts). Every write RPC
 * passes the one erased-subject guard (`#unlessErased`, answers in ./privacy.ts). Internals stay
 * in `#private` members (TypeScript `private` is not enforced over RPC).
 */
import type { Env } from '../../worker/env'
import {
  attribute as attributeConversion,
  type AttributionOptions,
  type AttributionResult,
  type Conversion,
} from '../../worker/touchpoint/attribution'
import type { Touchpoint } from '../../worker/touchpoint/types'
import { SqlObject } from '../lib/base'
import { deadItems, runDueItems, SCHEDULE_TABLES, type DeadItem } from '../lib/schedule'
import { absorbOnce, type TableDump } from '../lib/tables'
import type { ConsentRecordInput } from '../../worker/consent/record'
import {
  consentHistory,
  isConsentRecordInput,
  noteConsent,
  type ConsentRecordRow,
  type NoteConsentResult,
} from './consent-records'
import {
  fireDueTrigger,
  recordEventBatch,
  reserveBatch,
  restoreTimerItems,
  runOutboxItem,
  settleFire,
  type FireQueues,
} from './apply'
import { allSubjectKeys, currentSubjectKey, shredSubjectKeys, type SubjectKey } from './archive-keys'
import { isTimeZone, suppressedCampaigns } from './caps'
import {
  ALL_STATE_PARTS,
  StatePart,
  type DecisionState,
  type DecisionStateApi,
  type ReserveRequest,
  type ReserveResult,
} from './contract'
import {
  currentSession,
  eventSummary,
  readMeta,
  type RecordEventsInput,
  type RecordEventsResult,
} from './events'
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
  applyRetention,
  armRetention,
  ERASED_ANSWERS,
  retentionDue,
  tombstoneUntil,
  writeTombstone,
} from './privacy'
import {
  attributeEvents,
  listExposures,
  recordExposures,
  type AggregateDelta,
  type ExposureInput,
} from './exposures'
import { readAttributes, writeAttributes, type AttributeWrite } from './profile'
import { customerMigrations } from './schema'
import { stateRules } from './state-rules'
import {
  attributionTouches,
  recordTouchpoint,
  touchpointHistory,
  type TouchpointHistory,
} from './touchpoints'
import { OUTBOX_DUE_KIND, TRIGGER_DUE_KIND, type FireOutcome } from './triggers'
export { SubjectErasedError } from './privacy'

export class CustomerState extends SqlObject implements DecisionStateApi {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, { migrations: customerMigrations, exportExclude: ['due_items'] })
    void ctx.blockConcurrencyWhile(() => armRetention(ctx.storage))
  }

  override async alarm(): Promise<void> {
    await runDueItems(this.ctx.storage, {
      // Due-item handlers by kind; each must be idempotent (lib/schedule.ts).
      [TRIGGER_DUE_KIND]: (payload, item) =>
        fireDueTrigger(this.ctx.storage, this.#queues(), stateRules(), payload, item, {
          stateKey: this.#stateKey(),
          timeZone: this.#timeZone(),
        }),
      [OUTBOX_DUE_KIND]: (payload, item) =>
        runOutboxItem(this.ctx.storage, this.#queues(), stateRules(), payload, item),
      retention: () => retentionDue(this.ctx.storage, stateRules().privacy.retention.customerState),
    })
  }

  /** Due items that failed too often and are no longer run, most recent first (operators). */
  async deadItems(limit = 100): Promise<DeadItem[]> {
    const n = Number.isSafeInteger(limit) && limit > 0 ? Math.min(limit, 1000) : 100
    return deadItems(this.ctx.storage.sql, n)
  }

  // --- whole-object operations (stitching, DSAR); exportAll and counts come from SqlObject ---

  /**
   * Absorbs another object's state (an anonymous visitor's, on login) exactly once per source:
   * a second call for the same `fromKey` changes nothing, even when calls race (the whole
   * merge runs synchronously, so no other request interleaves).
   */
  async absorb(
    fromKey: string,
    dump: TableDump,
  ): Promise<{ absorbed: boolean; rows: number; erased?: true }> {
    return this.#unlessErased(ERASED_ANSWERS.absorb, () =>
      // state_meta holds this object's own name: the source's must not take its place.
      absorbOnce(this.ctx.storage, fromKey, dump, ['absorbed', 'state_meta', ...SCHEDULE_TABLES]),
    )
  }

  /** Erases everything this object holds, alarm included. Returns the row counts removed. */
  override async eraseAll(): Promise<Record<string, number>> {
    const counts = await super.eraseAll()
    this.#knownStateKey = null
    return counts
  }

  // --- touchpoints and identity links ---

  /**
   * Stores a visit's touchpoint: the first touch is always kept, plus the most recent ones up to
   * `historyLimit` (rules/utm.yaml). A reload of the same campaign within 30 minutes is not stored twice.
   */
  async recordTouchpoint(
    tp: Touchpoint,
    opts: { historyLimit?: number } = {},
  ): Promise<{ recorded: boolean; id: string | null }> {
    return this.#unlessErased(ERASED_ANSWERS.recordTouchpoint, () => {
      if (!Number.isFinite(tp?.at) || typeof tp.landingPath !== 'string') {
        throw new TypeError('recordTouchpoint: touchpoint.at and touchpoint.landingPath are required')
      }
      const historyLimit = opts.historyLimit ?? stateRules().utm.historyLimit
      return recordTouchpoint(this.ctx.storage.sql, tp, { historyLimit })
    })
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
    const options: AttributionOptions = { ...stateRules().utm.attribution, ...opts }
    return attributeConversion(attributionTouches(this.ctx.storage.sql), conversion, options)
  }

  /** Links identifier keys to this person up to the caps (stitching); refusals are recorded. */
  async linkIdentifiers(req: LinkRequest): Promise<LinkOutcome & { erased?: true }> {
    return this.#unlessErased(ERASED_ANSWERS.linkIdentifiers, () =>
      linkIdentifiers(this.ctx.storage.sql, req),
    )
  }

  /** Drops a link that the IdentityIndex refused (held by `heldBy`) and records the conflict. */
  async unlinkIdentifier(conflict: {
    identifierKey: string
    heldBy: string
    assertedBy: string
  }): Promise<void> {
    return this.#unlessErased(ERASED_ANSWERS.unlinkIdentifier, () =>
      unlinkIdentifier(this.ctx.storage.sql, conflict),
    )
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

  // --- decisions, events, profile, caps, triggers ---

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
    return this.#unlessErased(
      () => ERASED_ANSWERS.reserve(requests),
      () => {
        const { results, prunedAt } = reserveBatch(this.ctx.storage, requests, {
          caps: stateRules().caps,
          timeZone: this.#timeZone(),
          prunedAt: this.#prunedAt,
        })
        this.#prunedAt = prunedAt
        return results
      },
    )
  }

  /**
   * Records a batch of validated events (POST /v1/events, the gateway's page views, ingestion).
   * Idempotent by event id. With measurement consent the events are stored whole; without it only
   * conversions and timer-cancelling events are kept, minimally (docs/events.md). Conversions
   * apply suppressions; events start and cancel trigger timers (events.ts `planEvents`).
   */
  async recordEvents(
    input: RecordEventsInput,
  ): Promise<RecordEventsResult & { experiments?: AggregateDelta[] }> {
    return this.#unlessErased(
      () => ERASED_ANSWERS.recordEvents(input),
      async () => {
        const rules = stateRules()
        const result = await recordEventBatch(this.ctx.storage, input, rules, this.#knownStateKey)
        // Only after the transaction committed: a rolled-back write must be checked again.
        this.#knownStateKey = input.stateKey
        // An outcome is measurement: attributed to experiment exposures only with that consent.
        if (input.purposes.measurement !== true) return result
        const storage = this.ctx.storage
        const experiments = storage.transactionSync(() =>
          attributeEvents(storage.sql, rules.experiments, input.events, Date.now()),
        )
        return experiments.length ? { ...result, experiments } : result
      },
    )
  }

  /**
   * Records this unit's first exposure to experiments (later exposures change nothing) and
   * returns the changes to the experiments' aggregates, which the caller sends to the sharded
   * counters (worker/experiments/accounting.ts). Unknown experiments and arms are ignored.
   */
  async recordExposures(list: ExposureInput[]): Promise<AggregateDelta[]> {
    return this.#unlessErased(
      () => [],
      () => {
        const storage = this.ctx.storage
        return storage.transactionSync(() =>
          recordExposures(storage.sql, stateRules().experiments, list, Date.now()),
        )
      },
    )
  }

  /** The experiments this unit was exposed to, first exposure first. */
  async exposures(): Promise<Array<{ experiment: string; arm: string; at: number; day: string }>> {
    return listExposures(this.ctx.storage.sql)
  }

  /**
   * Re-arms trigger timers from the stored events (after `absorb` on login: the anonymous visitor's
   * events arrive, its timers do not). Idempotent: running, fired or cancelled timers are left
   * alone. Returns the triggers whose timers it started.
   */
  async restoreTimers(now: number = Date.now()): Promise<{ restored: string[] }> {
    return this.#unlessErased(ERASED_ANSWERS.restoreTimers, () =>
      restoreTimerItems(this.ctx.storage, stateRules().triggers, now),
    )
  }

  /** Writes profile attributes, each winning or losing by source precedence (rules/profile.yaml). */
  async setAttributes(writes: AttributeWrite[]): Promise<{ written: string[] }> {
    return this.#unlessErased(ERASED_ANSWERS.setAttributes, () => {
      const profile = stateRules().profile
      const sql = this.ctx.storage.sql
      return this.ctx.storage.transactionSync(() => ({ written: writeAttributes(sql, profile, writes) }))
    })
  }

  // --- consent records ---

  /**
   * The visitor's current consent (./consent-records.ts): recorded when it differs from the last
   * record, and pending timers it no longer covers are cancelled at once.
   */
  async noteConsent(input: ConsentRecordInput): Promise<NoteConsentResult> {
    return this.#unlessErased(ERASED_ANSWERS.noteConsent, () => {
      if (!isConsentRecordInput(input)) throw new TypeError('noteConsent: not a consent record')
      return noteConsent(this.ctx.storage, stateRules(), input, Date.now())
    })
  }

  /** The recorded consent history, newest first (operators, tests; `GET /v1/me` shows the table). */
  async consentRecords(limit = 100): Promise<ConsentRecordRow[]> {
    const n = Number.isSafeInteger(limit) && limit > 0 ? Math.min(limit, 1000) : 100
    return consentHistory(this.ctx.storage.sql, n)
  }

  /**
   * What became of a fired trigger, reported by the queue consumers (worker/delivery): the fire
   * leaves the outbox; a dead one gives its cap reservation back. Idempotent (the first report
   * wins). Returns whether this call recorded it.
   */
  async fireOutcome(fireId: string, outcome: FireOutcome): Promise<{ recorded: boolean }> {
    if (typeof fireId !== 'string' || (outcome !== 'delivered' && outcome !== 'dead'))
      return { recorded: false }
    return { recorded: settleFire(this.ctx.storage, fireId, outcome, Date.now()) }
  }

  /** The trigger timers still waiting (`due_items` of kind trigger_fire), soonest first. */
  async pendingTimers(): Promise<Array<{ due_at: number; payload: string }>> {
    return this.ctx.storage.sql
      .exec<{ due_at: number; payload: string }>(
        'SELECT due_at, payload FROM due_items WHERE kind = ? ORDER BY due_at LIMIT 100',
        TRIGGER_DUE_KIND,
      )
      .toArray()
  }

  // --- privacy ---

  /**
   * The key this person's fields in archived decision records are sealed under, created on first
   * need (archive-keys.ts); null while the object is an erased subject's tombstone (nothing of an
   * erased person is archived again).
   */
  async archiveKey(): Promise<SubjectKey | null> {
    return this.#unlessErased(
      () => null,
      () => currentSubjectKey(this.ctx.storage.sql, Date.now()),
    )
  }

  /** Every archive key this object holds, to open the person's archived records (DSAR export). */
  async archiveKeys(): Promise<SubjectKey[]> {
    return allSubjectKeys(this.ctx.storage.sql)
  }

  /** Destroys every archive key (DSAR erase: crypto-shredding). Returns how many were destroyed. */
  async shredArchiveKeys(): Promise<number> {
    return shredSubjectKeys(this.ctx.storage.sql)
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
    return applyRetention(this.ctx.storage.sql, stateRules().privacy.retention.customerState, now)
  }

  // --- internals ---

  #prunedAt = 0
  /** The `state_key` meta row as last read or written by this instance (null: not checked yet). */
  #knownStateKey: string | null = null

  /**
   * The one erased-subject guard: while this object is an erased subject's tombstone, a write RPC
   * answers its refusal (privacy.ts `ERASED_ANSWERS`) and writes nothing.
   */
  #unlessErased<T>(refusal: () => T, write: () => T | Promise<T>): T | Promise<T> {
    return tombstoneUntil(this.ctx.storage, Date.now()) !== null ? refusal() : write()
  }

  #queues(): FireQueues {
    return { high: this.env.TRIGGERS_HIGH, low: this.env.TRIGGERS_LOW, dead: this.env.TRIGGERS_DLQ }
  }

  #stateKey(): string {
    return readMeta(this.ctx.storage.sql, 'state_key') ?? `id:${this.ctx.id.toString()}`
  }

  #timeZone(): string {
    const tz = readAttributes(this.ctx.storage.sql).time_zone?.value
    return isTimeZone(tz) ? tz : stateRules().caps.defaultTimeZone
  }
}
