/**
 * DSAR orchestration (GDPR Art. 15 access/portability, Art. 17 erasure): export everything held
 * about a subject as one JSON document, or erase it from every store and hand back a receipt.
 *
 * Erase is resumable. The receipt row in D1 `dsar_receipts` is written first with the keys to
 * erase (`pending`); each store is recorded in `stores` as it completes. If a store fails mid-way,
 * the receipt stays `in_progress`; the next erase request for any identifier of the same subject
 * resumes that receipt and completes the remaining stores. Order matters:
 *   1. tombstones (D1)    so nothing re-creates the subject while the rest is erased
 *   2. customerState      every CustomerState object (rows removed, object tombstoned)
 *   3. identityIndex      every identity link
 *   4. identityConflicts  D1 stitching conflicts naming any of the subject's keys
 *   5. decisionLog        D1 decision records by customer id and anonymous id
 *   6. triggerDeadLetters D1 trigger messages that exhausted their retries, by state key
 * Experiment assignments are not stored per unit (bucketing is a pure hash; ExperimentState keeps
 * per-arm totals only); the assignment a person got lives in their decision records.
 */
import type { Env } from '../env'
import type { Logger } from '../lib/log'
import { decisionsFor } from '../admin/decisions'
import type { RetentionRules } from '../rules/concerns/privacy'
import { identityConflicts, StoreUnavailableError, stores, triggerDeadLetters } from './stores'
import type { Subject } from './subject'
import { writeTombstones } from './tombstone'
import type { TableDump } from '../../durable-objects/lib/tables'

const DAY_MS = 86_400_000
export const ERASE_STORES = [
  'tombstones',
  'customerState',
  'identityIndex',
  'identityConflicts',
  'decisionLog',
  'triggerDeadLetters',
] as const
export type EraseStore = (typeof ERASE_STORES)[number]

export interface DsarOptions {
  retention: RetentionRules
  /** Who asked: the admin's JWT `sub`, or `self` for `DELETE /v1/me`. */
  requestedBy: string
  /** Time budget per store call, ms. */
  budgetMs?: number
  log?: Logger
  now?: () => number
}

export interface EraseReceipt {
  receiptId: string
  /** Pseudonymous: the subject's digest, never an identifier. */
  subject: string
  status: 'in_progress' | 'completed'
  /** Rows (or objects, for tombstones) removed per store; only stores already done appear. */
  stores: Partial<Record<EraseStore, number>>
  /** Stores still to do when in progress. */
  remaining: EraseStore[]
  tombstoneUntil: string
  requestedBy: string
  requestedAt: string
  completedAt: string | null
}

interface Progress {
  /** Rows removed so far per store, and which keys of the store are done (for per-object stores). */
  [store: string]: { rows: number; done: string[]; complete: boolean }
}

interface Pending {
  stateKeys: string[]
  identifierKeys: string[]
  customerIds: string[]
  anonymousIds: string[]
  until: number
}

interface ReceiptRow {
  receipt_id: string
  kind: string
  subject: string
  status: 'in_progress' | 'completed'
  stores: string
  pending: string | null
  requested_by: string
  requested_at: number
  completed_at: number | null
}

export class EraseIncompleteError extends Error {
  constructor(
    readonly receipt: EraseReceipt,
    readonly store: string,
  ) {
    super(`erase incomplete: ${store} unavailable; retry to complete receipt ${receipt.receiptId}`)
    this.name = 'EraseIncompleteError'
  }
}

const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])].sort()

// An in-progress erase of the same person, found by subject digest or by any shared key (after a
// partial erase, identity links may be gone, so the same person can resolve to fewer keys).
async function findInProgress(env: Env, subject: Subject): Promise<ReceiptRow | null> {
  const { results } = await env.DB.prepare(
    "SELECT * FROM dsar_receipts WHERE kind = 'erase' AND status = 'in_progress' ORDER BY requested_at",
  ).all<ReceiptRow>()
  const keys = new Set([...subject.stateKeys, ...subject.identifierKeys])
  return (
    results.find((r) => {
      if (r.subject === subject.digest) return true
      const p = r.pending ? (JSON.parse(r.pending) as Pending) : null
      return !!p && [...p.stateKeys, ...p.identifierKeys].some((k) => keys.has(k))
    }) ?? null
  )
}

function toReceipt(row: ReceiptRow, progress: Progress, until: number): EraseReceipt {
  const done: Partial<Record<EraseStore, number>> = {}
  for (const s of ERASE_STORES) if (progress[s]?.complete) done[s] = progress[s]!.rows
  return {
    receiptId: row.receipt_id,
    subject: row.subject,
    status: row.status,
    stores: done,
    remaining: ERASE_STORES.filter((s) => !progress[s]?.complete),
    tombstoneUntil: new Date(until).toISOString(),
    requestedBy: row.requested_by,
    requestedAt: new Date(row.requested_at).toISOString(),
    completedAt: row.completed_at ? new Date(row.completed_at).toISOString() : null,
  }
}

/**
 * Erases the subject from every store. Returns the completed receipt, or throws
 * `EraseIncompleteError` (receipt in progress, safe to retry) when a store is unavailable.
 */
export async function eraseSubject(env: Env, subject: Subject, opts: DsarOptions): Promise<EraseReceipt> {
  const now = opts.now ?? Date.now
  const budget = opts.budgetMs ?? 5_000
  let row = await findInProgress(env, subject)
  let pending: Pending
  let progress: Progress
  if (row) {
    const before = JSON.parse(row.pending ?? '{}') as Pending
    pending = {
      stateKeys: union(before.stateKeys, subject.stateKeys),
      identifierKeys: union(before.identifierKeys, subject.identifierKeys),
      customerIds: union(before.customerIds, subject.customerIds),
      anonymousIds: union(before.anonymousIds, subject.anonymousIds),
      until: before.until,
    }
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
    row = {
      receipt_id: `rcpt_${crypto.randomUUID()}`,
      kind: 'erase',
      subject: subject.digest,
      status: 'in_progress',
      stores: '{}',
      pending: JSON.stringify(pending),
      requested_by: opts.requestedBy,
      requested_at: at,
      completed_at: null,
    }
    await env.DB.prepare(
      `INSERT INTO dsar_receipts (receipt_id, kind, subject, status, stores, pending, requested_by, requested_at)
       VALUES (?, 'erase', ?, 'in_progress', '{}', ?, ?, ?)`,
    )
      .bind(row.receipt_id, row.subject, row.pending, row.requested_by, row.requested_at)
      .run()
    opts.log?.info('dsar_erase_started', { receiptId: row.receipt_id, subject: row.subject })
  }
  const receiptId = row.receipt_id

  const save = () =>
    env.DB.prepare('UPDATE dsar_receipts SET stores = ?, pending = ? WHERE receipt_id = ?')
      .bind(JSON.stringify(progress), JSON.stringify(pending), receiptId)
      .run()

  // Runs one per-key step: keys already done are skipped, so a retry never double-counts.
  const perKey = async (store: EraseStore, keys: string[], erase: (key: string) => Promise<number>) => {
    const p = (progress[store] ??= { rows: 0, done: [], complete: false })
    if (p.complete) return
    for (const key of keys) {
      if (p.done.includes(key)) continue
      p.rows += await erase(key)
      p.done.push(key)
      await save()
    }
    p.complete = true
    p.done = []
    await save()
  }

  const whole = async (store: EraseStore, erase: () => Promise<number>) => {
    const p = (progress[store] ??= { rows: 0, done: [], complete: false })
    if (p.complete) return
    p.rows = await erase()
    p.complete = true
    await save()
  }

  try {
    await whole('tombstones', () =>
      d1('tombstones', () =>
        writeTombstones(
          env,
          [...pending.stateKeys, ...pending.identifierKeys],
          receiptId,
          opts.retention.tombstones,
          now(),
        ),
      ),
    )
    await perKey('customerState', pending.stateKeys, (key) =>
      stores.customerState.erase(env, key, receiptId, pending.until, budget),
    )
    await perKey('identityIndex', pending.identifierKeys, (key) =>
      stores.identityIndex.erase(env, key, budget),
    )
    await whole('identityConflicts', () =>
      d1('identityConflicts', () =>
        identityConflicts.erase(env.DB, pending.identifierKeys, pending.stateKeys),
      ),
    )
    await whole('decisionLog', () => d1('decisionLog', () => deleteDecisions(env.DB, pending)))
    await whole('triggerDeadLetters', () =>
      d1('triggerDeadLetters', () => triggerDeadLetters.erase(env.DB, pending.stateKeys)),
    )
  } catch (error) {
    const store = error instanceof StoreUnavailableError ? error.store : 'unknown'
    opts.log?.warn('dsar_erase_incomplete', { receiptId, store, error: error as Error })
    try {
      await save()
    } catch {
      // The progress saved after the last completed step stands; the retry redoes at most one step.
    }
    throw new EraseIncompleteError(toReceipt(row, progress, pending.until), store)
  }

  const completedAt = now()
  const counts = Object.fromEntries(
    ERASE_STORES.map((s) => [s, { rows: progress[s]!.rows, done: [], complete: true }]),
  ) as Progress
  // Completed: the keys are no longer needed (and would otherwise outlive the erasure).
  await env.DB.prepare(
    "UPDATE dsar_receipts SET status = 'completed', stores = ?, pending = NULL, completed_at = ? WHERE receipt_id = ?",
  )
    .bind(JSON.stringify(counts), completedAt, receiptId)
    .run()
  const done = { ...row, status: 'completed' as const, completed_at: completedAt }
  const receipt = toReceipt(done, counts, pending.until)
  opts.log?.info('dsar_erase_completed', { receiptId, subject: row.subject, stores: receipt.stores })
  return receipt
}

async function d1<T>(store: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw new StoreUnavailableError(store, error instanceof Error ? error.message : String(error))
  }
}

async function deleteDecisions(db: D1Database, p: Pending): Promise<number> {
  let n = 0
  // Records under an anonymous id that name a customer are that customer's (as in decisionsFor).
  const run = async (column: 'customer_id' | 'anonymous_id', values: string[]) => {
    const own = column === 'anonymous_id' ? ' AND customer_id IS NULL' : ''
    for (let i = 0; i < values.length; i += 90) {
      const chunk = values.slice(i, i + 90)
      const r = await db
        .prepare(`DELETE FROM decision_log WHERE ${column} IN (${chunk.map(() => '?').join(',')})${own}`)
        .bind(...chunk)
        .run()
      n += r.meta.changes
    }
  }
  await run('customer_id', p.customerIds)
  await run('anonymous_id', p.anonymousIds)
  return n
}

/** A stored receipt by id (erase or export), or null. */
export async function getReceipt(env: Env, receiptId: string): Promise<Record<string, unknown> | null> {
  const row = await env.DB.prepare('SELECT * FROM dsar_receipts WHERE receipt_id = ?')
    .bind(receiptId)
    .first<ReceiptRow>()
  if (!row) return null
  const progress = JSON.parse(row.stores) as Progress
  const stores = Object.fromEntries(
    Object.entries(progress)
      .filter(([, p]) => p.complete)
      .map(([s, p]) => [s, p.rows]),
  )
  return {
    receiptId: row.receipt_id,
    kind: row.kind,
    subject: row.subject,
    status: row.status,
    stores,
    requestedBy: row.requested_by,
    requestedAt: new Date(row.requested_at).toISOString(),
    completedAt: row.completed_at ? new Date(row.completed_at).toISOString() : null,
  }
}

export interface SubjectExport {
  receiptId: string
  subject: string
  generatedAt: string
  identifiers: { customerIds: string[]; anonymousIds: string[]; identifierKeys: string[] }
  customerState: Record<string, TableDump>
  identityIndex: Record<string, TableDump>
  identityConflicts: Array<Record<string, unknown>>
  /** Trigger messages to the subject that could not be delivered (D1 `trigger_dead_letters`). */
  triggerDeadLetters: Array<Record<string, unknown>>
  decisions: Awaited<ReturnType<typeof decisionsFor>>
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
export async function exportSubject(env: Env, subject: Subject, opts: DsarOptions): Promise<SubjectExport> {
  const budget = opts.budgetMs ?? 5_000
  const customerState: Record<string, TableDump> = {}
  for (const key of subject.stateKeys)
    customerState[key] = await stores.customerState.export(env, key, budget)
  const identityIndex: Record<string, TableDump> = {}
  for (const key of subject.identifierKeys)
    identityIndex[key] = await stores.identityIndex.export(env, key, budget)
  const conflicts = await d1('identityConflicts', () =>
    identityConflicts.export(env.DB, subject.identifierKeys, subject.stateKeys),
  )
  const deadLetters = await d1('triggerDeadLetters', () =>
    triggerDeadLetters.export(env.DB, subject.stateKeys),
  )
  const decisions = await d1('decisionLog', () =>
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
  const { results: erasures } = await d1('dsarReceipts', () =>
    env.DB.prepare(
      "SELECT receipt_id, status, completed_at FROM dsar_receipts WHERE kind = 'erase' AND subject = ? ORDER BY requested_at",
    )
      .bind(subject.digest)
      .all<{ receipt_id: string; status: string; completed_at: number | null }>(),
  )

  const now = (opts.now ?? Date.now)()
  const receiptId = `rcpt_${crypto.randomUUID()}`
  await d1('dsarReceipts', () =>
    env.DB.prepare(
      `INSERT INTO dsar_receipts (receipt_id, kind, subject, status, stores, pending, requested_by, requested_at, completed_at)
       VALUES (?, 'export', ?, 'completed', ?, NULL, ?, ?, ?)`,
    )
      .bind(
        receiptId,
        subject.digest,
        JSON.stringify({
          customerState: { rows: countDumps(customerState), done: [], complete: true },
          identityIndex: { rows: countDumps(identityIndex), done: [], complete: true },
          decisionLog: { rows: decisions.length, done: [], complete: true },
          triggerDeadLetters: { rows: deadLetters.length, done: [], complete: true },
        }),
        opts.requestedBy,
        now,
        now,
      )
      .run(),
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
    identityIndex,
    identityConflicts: conflicts,
    triggerDeadLetters: deadLetters,
    decisions,
    consentHistory,
    experimentAssignments: [...experiments.values()],
    erasures: erasures.map((e) => ({
      receiptId: e.receipt_id,
      status: e.status,
      completedAt: e.completed_at ? new Date(e.completed_at).toISOString() : null,
    })),
  }
}

function countDumps(dumps: Record<string, TableDump>): number {
  let n = 0
  for (const dump of Object.values(dumps)) for (const rows of Object.values(dump)) n += rows.length
  return n
}
