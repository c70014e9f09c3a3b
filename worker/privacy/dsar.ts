/**
 * DSAR orchestration (GDPR Art. 15 access/portability, Art. 17 erasure): export everything held
 * about a subject as one JSON document, or erase it from every store and hand back a receipt.
 *
 * Erase runs the steps of `ERASE_PLAN` (./erase-plan.ts: which stores, in which order, and why)
 * and is resumable: the receipt (./receipts.ts) is written first with the keys to erase; each
 * store is recorded on it as it completes. If a store fails mid-way, the receipt stays
 * `in_progress`; the next erase request for any identifier of the same subject resumes that
 * receipt and completes the remaining stores.
 */
import { pendingTriggers, type PendingTimerRow, type PendingTrigger } from './pending-triggers'
import type { Env } from '../env'
import type { Logger } from '../lib/log'
import { decisionsFor } from '../admin/decisions'
import type { RetentionRules } from '../rules/concerns/privacy'
import { ERASE_PLAN, ERASE_STORES, type EraseContext, type EraseStep, type EraseStore } from './erase-plan'
import {
  closeEraseReceipt,
  erasuresOf,
  findInProgress,
  openEraseReceipt,
  resumedPending,
  saveProgress,
  toEraseReceipt,
  writeExportReceipt,
  type EraseReceipt as StoredEraseReceipt,
  type Pending,
  type Progress,
} from './receipts'
import { d1Store, identityConflicts, StoreUnavailableError, stores, triggerDeadLetters } from './stores'
import type { DsarSubject } from './subject'
import { readSubjectArchive, type SubjectArchive } from '../archive/read'
import { deriveKeys, type SealKeys } from '../archive/seal'
import type { TableDump } from '../../durable-objects/lib/tables'

export { ERASE_STORES, type EraseStore } from './erase-plan'
export { getReceipt } from './receipts'

const DAY_MS = 86_400_000

export interface DsarOptions {
  retention: RetentionRules
  /** Who asked: the admin's JWT `sub`, or `self` for `DELETE /v1/me`. */
  requestedBy: string
  /** Time budget per store call, ms. */
  budgetMs?: number
  /** Most decision archive objects one export reads (default 500; worker/archive/read.ts). */
  archiveObjects?: number
  log?: Logger
  now?: () => number
}

export type EraseReceipt = StoredEraseReceipt<EraseStore>

export class EraseIncompleteError extends Error {
  constructor(
    readonly receipt: EraseReceipt,
    readonly store: string,
  ) {
    super(`erase incomplete: ${store} unavailable; retry to complete receipt ${receipt.receiptId}`)
    this.name = 'EraseIncompleteError'
  }
}

/**
 * Erases the subject from every store. Returns the completed receipt, or throws
 * `EraseIncompleteError` (receipt in progress, safe to retry) when a store is unavailable.
 */
export async function eraseSubject(env: Env, subject: DsarSubject, opts: DsarOptions): Promise<EraseReceipt> {
  const now = opts.now ?? Date.now
  let row = await findInProgress(env, subject)
  let pending: Pending
  let progress: Progress
  if (row) {
    pending = resumedPending(row, subject)
    progress = JSON.parse(row.stores) as Progress
    opts.log?.info('dsar_erase_resumed', { receiptId: row.receipt_id, subject: row.subject })
  } else {
    const at = now()
    pending = {
      stateKeys: subject.stateKeys,
      identifierKeys: subject.identifierKeys,
      customerIds: subject.customerIds,
      anonymousIds: subject.anonymousIds,
      until: at + opts.retention.tombstones * DAY_MS,
    }
    progress = {}
    row = await openEraseReceipt(env, subject, pending, opts.requestedBy, at)
    opts.log?.info('dsar_erase_started', { receiptId: row.receipt_id, subject: row.subject })
  }
  const receiptId = row.receipt_id
  const save = () => saveProgress(env, receiptId, progress, pending)
  const ctx: EraseContext = {
    env,
    pending,
    receiptId,
    retention: opts.retention,
    budgetMs: opts.budgetMs ?? 5_000,
    now,
  }

  // One step: a store already complete is skipped; a per-key store skips the keys already done,
  // so a retry never double-counts.
  const run = async (step: EraseStep) => {
    const p = (progress[step.store] ??= { rows: 0, done: [], complete: false })
    if (p.complete) return
    if (step.each) {
      for (const key of step.each(pending)) {
        if (p.done.includes(key)) continue
        p.rows += await step.erase(ctx, key)
        p.done.push(key)
        await save()
      }
      p.done = []
    } else {
      p.rows = await step.erase(ctx)
    }
    p.complete = true
    await save()
  }

  try {
    for (const step of ERASE_PLAN) await run(step)
  } catch (error) {
    const store = error instanceof StoreUnavailableError ? error.store : 'unknown'
    opts.log?.warn('dsar_erase_incomplete', { receiptId, store, error })
    try {
      await save()
    } catch {
      // The progress saved after the last completed step stands; the retry redoes at most one step.
    }
    throw new EraseIncompleteError(toEraseReceipt(row, progress, pending.until, ERASE_STORES), store)
  }

  const completedAt = now()
  const counts: Progress = Object.fromEntries(
    ERASE_STORES.map((s) => [s, { rows: progress[s]!.rows, done: [], complete: true }]),
  )
  await closeEraseReceipt(env, receiptId, counts, completedAt)
  const done = { ...row, status: 'completed' as const, completed_at: completedAt }
  const receipt = toEraseReceipt(done, counts, pending.until, ERASE_STORES)
  opts.log?.info('dsar_erase_completed', { receiptId, subject: row.subject, stores: receipt.stores })
  return receipt
}

export interface SubjectExport {
  receiptId: string
  subject: string
  generatedAt: string
  identifiers: { customerIds: string[]; anonymousIds: string[]; identifierKeys: string[] }
  customerState: Record<string, TableDump>
  /** Trigger timers still waiting to send a message to the subject (./pending-triggers.ts). */
  pendingTriggers: PendingTrigger[]
  identityIndex: Record<string, TableDump>
  identityConflicts: Array<Record<string, unknown>>
  /** Trigger messages to the subject that could not be delivered (D1 `trigger_dead_letters`). */
  triggerDeadLetters: Array<Record<string, unknown>>
  decisions: Awaited<ReturnType<typeof decisionsFor>>
  /**
   * The person's records in the R2 decision archive, opened with their keys, newest first; the
   * scan is bounded (`complete` false when it stopped before the oldest day).
   */
  decisionArchive: SubjectArchive
  consentHistory: Array<{
    time: string
    consentSnapshotId: string
    jurisdiction: string
    purposes: Record<string, boolean>
    saleShareOptOut: boolean
  }>
  experimentAssignments: Array<{ experiment: string; arm: string; holdout: boolean; firstSeen: string }>
  erasures: Array<{ receiptId: string; status: string; completedAt: string | null }>
}

/**
 * Everything held about the subject, as one document. Fails (StoreUnavailableError) rather than
 * return a partial export; a completed export leaves a receipt row (`kind = 'export'`).
 */
export async function exportSubject(
  env: Env,
  subject: DsarSubject,
  opts: DsarOptions,
): Promise<SubjectExport> {
  const budget = opts.budgetMs ?? 5_000
  const customerState: Record<string, TableDump> = {}
  const timers: PendingTimerRow[] = []
  for (const key of subject.stateKeys) {
    customerState[key] = await stores.customerState.export(env, key, budget)
    timers.push(...(await stores.customerState.pendingTimers(env, key, budget)))
  }
  const identityIndex: Record<string, TableDump> = {}
  for (const key of subject.identifierKeys)
    identityIndex[key] = await stores.identityIndex.export(env, key, budget)
  const conflicts = await d1Store('identityConflicts', () =>
    identityConflicts.export(env.DB, subject.identifierKeys, subject.stateKeys),
  )
  const deadLetters = await d1Store('triggerDeadLetters', () =>
    triggerDeadLetters.export(env.DB, subject.stateKeys),
  )
  const decisions = await d1Store('decisionLog', () =>
    decisionsFor(env.DB, { customerIds: subject.customerIds, anonymousIds: subject.anonymousIds }),
  )

  // Consent as it stood at each decision (oldest first), one entry per distinct snapshot.
  const consentHistory: SubjectExport['consentHistory'] = []
  const seenSnapshots = new Set<string>()
  const experiments = new Map<string, SubjectExport['experimentAssignments'][number]>()
  for (const d of [...decisions].reverse()) {
    if (!seenSnapshots.has(d.consentSnapshotId)) {
      seenSnapshots.add(d.consentSnapshotId)
      consentHistory.push({ time: d.time, consentSnapshotId: d.consentSnapshotId, ...d.consent })
    }
    if (d.experiment && !experiments.has(d.experiment.id)) {
      experiments.set(d.experiment.id, { experiment: d.experiment.id, ...d.experiment, firstSeen: d.time })
    }
  }
  const archiveKeys: SealKeys[] = []
  for (const key of subject.stateKeys)
    for (const k of await stores.decisionArchive.keys(env, key, budget))
      archiveKeys.push(await deriveKeys(k.secret))
  const decisionArchive = await d1Store('decisionArchive', () =>
    readSubjectArchive(env.ARCHIVE, archiveKeys, opts.archiveObjects ?? 500),
  )
  const erasures = await d1Store('dsarReceipts', () => erasuresOf(env, subject))

  const now = (opts.now ?? Date.now)()
  const receiptId = await d1Store('dsarReceipts', () =>
    writeExportReceipt(
      env,
      subject,
      {
        customerState: countDumps(customerState),
        identityIndex: countDumps(identityIndex),
        decisionLog: decisions.length,
        decisionArchive: decisionArchive.records.length,
        triggerDeadLetters: deadLetters.length,
      },
      opts.requestedBy,
      now,
    ),
  )
  opts.log?.info('dsar_export_completed', { receiptId, subject: subject.digest })
  return {
    receiptId,
    subject: subject.digest,
    generatedAt: new Date(now).toISOString(),
    identifiers: {
      customerIds: subject.customerIds,
      anonymousIds: subject.anonymousIds,
      identifierKeys: subject.identifierKeys,
    },
    customerState,
    pendingTriggers: pendingTriggers(timers),
    identityIndex,
    identityConflicts: conflicts,
    triggerDeadLetters: deadLetters,
    decisions,
    decisionArchive,
    consentHistory,
    experimentAssignments: [...experiments.values()],
    erasures,
  }
}

function countDumps(dumps: Record<string, TableDump>): number {
  let n = 0
  for (const dump of Object.values(dumps)) for (const rows of Object.values(dump)) n += rows.length
  return n
}
