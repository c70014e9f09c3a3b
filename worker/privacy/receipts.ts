/**
 * DSAR receipts in D1 `dsar_receipts` (docs/storage.md): one row per export or erase. An erase
 * row is written first with the keys to erase (`pending`) and the per-store progress (`stores`),
 * updated as each store completes, and marked `completed` (keys dropped) at the end, so an erase
 * interrupted by an unavailable store can be found again and resumed.
 */
import type { Env } from '../env'
import type { DsarSubject } from './subject'

/** The keys an erase still has to reach, and the tombstone expiry (ms since epoch). */
export interface Pending {
  stateKeys: string[]
  identifierKeys: string[]
  customerIds: string[]
  anonymousIds: string[]
  until: number
}

/** Rows removed so far per store, and which keys of a per-key store are done. */
export type Progress = Record<string, { rows: number; done: string[]; complete: boolean }>

export interface ReceiptRow {
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

/** What an erase answers: done so far, still to do, and until when the subject stays tombstoned. */
export interface EraseReceipt<Store extends string = string> {
  receiptId: string
  /** Pseudonymous: the subject's digest, never an identifier. */
  subject: string
  status: 'in_progress' | 'completed'
  /** Rows (or objects, for tombstones) removed per store; only stores already done appear. */
  stores: Partial<Record<Store, number>>
  /** Stores still to do when in progress. */
  remaining: Store[]
  tombstoneUntil: string
  /**
   * Set once the decision archive's step is done: its files are not rewritten; the keys that
   * sealed the person's fields in them are destroyed, so no copy can be read again.
   */
  cryptoShredded?: { store: 'decisionArchive'; keysDestroyed: number; archivedRecords: 'unreadable' }
  requestedBy: string
  requestedAt: string
  completedAt: string | null
}

const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])].sort()

/**
 * An in-progress erase of the same person, found by subject digest or by any shared key (after a
 * partial erase, identity links may be gone, so the same person can resolve to fewer keys).
 */
export async function findInProgress(env: Env, subject: DsarSubject): Promise<ReceiptRow | null> {
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

/** The keys of a resumed erase: those it had, plus any the subject now resolves to. */
export function resumedPending(row: ReceiptRow, subject: DsarSubject): Pending {
  const before = JSON.parse(row.pending ?? '{}') as Pending
  return {
    stateKeys: union(before.stateKeys, subject.stateKeys),
    identifierKeys: union(before.identifierKeys, subject.identifierKeys),
    customerIds: union(before.customerIds, subject.customerIds),
    anonymousIds: union(before.anonymousIds, subject.anonymousIds),
    until: before.until,
  }
}

/** Writes a new in-progress erase receipt for `subject` and returns its row. */
export async function openEraseReceipt(
  env: Env,
  subject: DsarSubject,
  pending: Pending,
  requestedBy: string,
  at: number,
): Promise<ReceiptRow> {
  const row: ReceiptRow = {
    receipt_id: `rcpt_${crypto.randomUUID()}`,
    kind: 'erase',
    subject: subject.digest,
    status: 'in_progress',
    stores: '{}',
    pending: JSON.stringify(pending),
    requested_by: requestedBy,
    requested_at: at,
    completed_at: null,
  }
  await env.DB.prepare(
    `INSERT INTO dsar_receipts (receipt_id, kind, subject, status, stores, pending, requested_by, requested_at)
     VALUES (?, 'erase', ?, 'in_progress', '{}', ?, ?, ?)`,
  )
    .bind(row.receipt_id, row.subject, row.pending, row.requested_by, row.requested_at)
    .run()
  return row
}

/** Saves an in-progress erase's progress and keys. */
export async function saveProgress(
  env: Env,
  receiptId: string,
  progress: Progress,
  pending: Pending,
): Promise<void> {
  await env.DB.prepare('UPDATE dsar_receipts SET stores = ?, pending = ? WHERE receipt_id = ?')
    .bind(JSON.stringify(progress), JSON.stringify(pending), receiptId)
    .run()
}

/** Marks an erase completed; the keys are dropped (they would otherwise outlive the erasure). */
export async function closeEraseReceipt(
  env: Env,
  receiptId: string,
  progress: Progress,
  completedAt: number,
): Promise<void> {
  await env.DB.prepare(
    "UPDATE dsar_receipts SET status = 'completed', stores = ?, pending = NULL, completed_at = ? WHERE receipt_id = ?",
  )
    .bind(JSON.stringify(progress), completedAt, receiptId)
    .run()
}

/** Writes the receipt of a completed export: rows exported per store. */
export async function writeExportReceipt(
  env: Env,
  subject: DsarSubject,
  rows: Record<string, number>,
  requestedBy: string,
  at: number,
): Promise<string> {
  const receiptId = `rcpt_${crypto.randomUUID()}`
  const stores = Object.fromEntries(
    Object.entries(rows).map(([s, n]) => [s, { rows: n, done: [], complete: true }]),
  )
  await env.DB.prepare(
    `INSERT INTO dsar_receipts (receipt_id, kind, subject, status, stores, pending, requested_by, requested_at, completed_at)
     VALUES (?, 'export', ?, 'completed', ?, NULL, ?, ?, ?)`,
  )
    .bind(receiptId, subject.digest, JSON.stringify(stores), requestedBy, at, at)
    .run()
  return receiptId
}

/** The subject's erase receipts, oldest first (an export lists them). */
export async function erasuresOf(
  env: Env,
  subject: DsarSubject,
): Promise<Array<{ receiptId: string; status: string; completedAt: string | null }>> {
  const { results } = await env.DB.prepare(
    "SELECT receipt_id, status, completed_at FROM dsar_receipts WHERE kind = 'erase' AND subject = ? ORDER BY requested_at",
  )
    .bind(subject.digest)
    .all<{ receipt_id: string; status: string; completed_at: number | null }>()
  return results.map((e) => ({ receiptId: e.receipt_id, status: e.status, completedAt: iso(e.completed_at) }))
}

/** An erase receipt as answered: `stores` done in plan order, `remaining` the rest. */
export function toEraseReceipt<Store extends string>(
  row: ReceiptRow,
  progress: Progress,
  until: number,
  order: readonly Store[],
): EraseReceipt<Store> {
  const done: Partial<Record<Store, number>> = {}
  for (const s of order) if (progress[s]?.complete) done[s] = progress[s]!.rows
  return {
    receiptId: row.receipt_id,
    subject: row.subject,
    status: row.status,
    stores: done,
    remaining: order.filter((s) => !progress[s]?.complete),
    tombstoneUntil: new Date(until).toISOString(),
    ...(progress.decisionArchive?.complete
      ? {
          cryptoShredded: {
            store: 'decisionArchive' as const,
            keysDestroyed: progress.decisionArchive.rows,
            archivedRecords: 'unreadable' as const,
          },
        }
      : {}),
    requestedBy: row.requested_by,
    requestedAt: new Date(row.requested_at).toISOString(),
    completedAt: iso(row.completed_at),
  }
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
    completedAt: iso(row.completed_at),
  }
}

function iso(ms: number | null): string | null {
  return ms ? new Date(ms).toISOString() : null
}
