/**
 * Privacy inside CustomerState: the tombstone an erased object keeps (so a late RPC with an old
 * id cannot re-create the person) and retention (rows older than the window in
 * rules/privacy.yaml are deleted by a daily `retention` due item).
 *
 * Retention is generic over tables: a table's time column comes from `TIME_COLUMNS` when listed
 * there, else the first column named by convention (`ts`, `at`, `updated_at`, ..., then any `*_at`). Times may be
 * ms since epoch (INTEGER) or ISO 8601 text. Tables without a time column are left alone.
 */
import type { RetentionRules } from '../../worker/rules/concerns/privacy'
import { scheduleItem } from '../lib/schedule'
import { countRows, dataTables } from '../lib/tables'
import type { NoteConsentResult } from './consent-records'
import type { ReserveResult } from './contract'
import type { RecordEventsResult } from './events'
import type { LinkOutcome } from './identity-links'

const DAY_MS = 86_400_000

/**
 * Time column per table, for tables whose time column is not found by convention, or `null` to
 * exempt a table from retention. Features may add their tables here.
 */
export const TIME_COLUMNS: Record<string, string | null> = {
  // Scheduled work, not personal history: a due item disappears when it runs.
  due_items: null,
  absorbed: 'absorbed_at',
  // A link lives as long as the person's state: expiring it here would orphan its IdentityIndex
  // entry, which a later DSAR could then no longer reach from the customer. DSAR erase removes it.
  identity_links: null,
  // Subject keys of the decision archive must outlive the records they seal (archive-keys.ts);
  // DSAR erase destroys them.
  archive_keys: null,
}

/** Convention, in order of preference: the time the row's fact happened, then when it was written. */
const CONVENTIONAL = ['ts', 'at', 'occurred_at', 'updated_at', 'last_at', 'created_at', 'received_at']

/** The column retention reads a table's row time from, or null when the table has none. */
export function timeColumn(sql: SqlStorage, table: string): string | null {
  if (table in TIME_COLUMNS) return TIME_COLUMNS[table] ?? null
  const columns = new Set(
    sql
      .exec<{ name: string }>('SELECT name FROM pragma_table_info(?)', table)
      .toArray()
      .map((r) => r.name),
  )
  // Last resort: the first column named `*_at` (e.g. `started_at`), in table order.
  return CONVENTIONAL.find((c) => columns.has(c)) ?? [...columns].find((c) => c.endsWith('_at')) ?? null
}

/** Window in days for a table: its own, else the default. */
export function windowDays(rules: RetentionRules['customerState'], table: string): number {
  return rules.tables[table] ?? rules.default
}

/**
 * Deletes rows older than each table's window as of `now`. Idempotent. Returns rows deleted per
 * table (tables with nothing to delete are omitted).
 */
export function applyRetention(
  sql: SqlStorage,
  rules: RetentionRules['customerState'],
  now: number,
): Record<string, number> {
  const deleted: Record<string, number> = {}
  for (const table of dataTables(sql)) {
    const column = timeColumn(sql, table)
    if (!column) continue
    const cutoff = now - windowDays(rules, table) * DAY_MS
    // Integer columns hold ms since epoch; text columns ISO 8601, which compares in time order.
    const n = sql.exec(
      `DELETE FROM "${table}" WHERE (typeof("${column}") IN ('integer', 'real') AND "${column}" < ?)
         OR (typeof("${column}") = 'text' AND "${column}" < ?)`,
      cutoff,
      new Date(cutoff).toISOString(),
    ).rowsWritten
    if (n > 0) deleted[table] = n
  }
  return deleted
}

/** When the next daily retention pass runs. */
export function nextRetentionAt(now: number): number {
  return now + DAY_MS
}

// The tombstone lives in the object's key-value storage, not in a SQL table: it is then never
// exported, counted or absorbed into another object (lib/tables.ts skips internal tables), and
// `deleteAll()` removes it with everything else when it expires and the object is wiped again.
const TOMBSTONE_KEY = 'privacy:tombstone'

export interface ObjectTombstone {
  receiptId: string
  erasedAt: number
  until: number
}

/** The tombstone's expiry when this object is erased and tombstoned; null when it is not. */
export function tombstoneUntil(storage: DurableObjectStorage, now: number): number | null {
  const t = storage.kv.get<ObjectTombstone>(TOMBSTONE_KEY)
  return t && t.until > now ? t.until : null
}

/** Writes or extends the tombstone (idempotent: the later expiry wins). */
export function writeTombstone(storage: DurableObjectStorage, t: ObjectTombstone): void {
  const current = storage.kv.get<ObjectTombstone>(TOMBSTONE_KEY)
  storage.kv.put(TOMBSTONE_KEY, { ...t, until: Math.max(t.until, current?.until ?? 0) })
}

/**
 * What each write RPC answers on an erased object, in one place: nothing is written and the
 * caller gets a refusal it handles. A refusal rather than a thrown `SubjectErasedError`, because
 * an error's class and name do not survive RPC (the caller sees a plain `Error`) and a thrown
 * error would read as "object unavailable" (503) to callers. Timers need no entry: erasure
 * deleted them.
 */
export const ERASED_ANSWERS = {
  /** Every event accepted (so clients do not retry), none stored, no timer started. */
  recordEvents: (input: { events: readonly unknown[] }): RecordEventsResult => ({
    accepted: input.events.length,
    duplicates: 0,
    stored: 0,
    minimal: 0,
    suppressed: [],
    timersStarted: [],
    timersCancelled: [],
    erased: true,
  }),
  /** The fallback for every placement: nothing reserved, so no row written. */
  reserve: (requests: readonly unknown[]): ReserveResult[] =>
    requests.map(() => ({ allowed: false, reason: 'erased', caps: [] })),
  setAttributes: (): { written: string[] } => ({ written: [] }),
  recordTouchpoint: (): { recorded: boolean; id: string | null } => ({ recorded: false, id: null }),
  /** `erased`: stitching stops before any IdentityIndex claim points at an erased person. */
  linkIdentifiers: (): LinkOutcome & { erased?: true } => ({
    accepted: [],
    already: [],
    refused: [],
    erased: true,
  }),
  unlinkIdentifier: (): void => undefined,
  /** `erased` tells the stitcher to keep the source state rather than erase it after a merge that did not happen. */
  absorb: (): { absorbed: boolean; rows: number; erased?: true } => ({
    absorbed: false,
    rows: 0,
    erased: true,
  }),
  restoreTimers: (): { restored: string[] } => ({ restored: [] }),
  /** No consent record for an erased person; their timers were erased with them. */
  noteConsent: (): NoteConsentResult => ({ recorded: false, timersCancelled: [], erased: true }),
}

/** The write RPCs an erased object refuses. */
export type ErasedWrite = keyof typeof ERASED_ANSWERS

/** Thrown by writes to an erased object: the caller must not re-create the person. */
export class SubjectErasedError extends Error {
  constructor(readonly until: number) {
    super(`this customer state was erased; writes are refused until ${new Date(until).toISOString()}`)
    this.name = 'SubjectErasedError'
  }
}

const RETENTION_ITEM = 'privacy:retention'

/**
 * Arms the daily retention pass once the object holds data (an empty or erased object is left
 * alone, so retention never wakes objects that keep nothing).
 */
export async function armRetention(storage: DurableObjectStorage): Promise<void> {
  const sql = storage.sql
  if (tombstoneUntil(storage, Date.now()) !== null) return
  if (sql.exec('SELECT 1 FROM due_items WHERE id = ?', RETENTION_ITEM).toArray().length > 0) return
  const rows = Object.entries(countRows(sql)).reduce((n, [t, c]) => (t === 'due_items' ? n : n + c), 0)
  if (rows === 0) return
  await scheduleItem(storage, { id: RETENTION_ITEM, kind: 'retention', dueAt: nextRetentionAt(Date.now()) })
}

/**
 * The `retention` due item: delete expired rows, then schedule the next pass while data remains.
 * Re-running it deletes nothing more (idempotent, as lib/schedule.ts requires).
 */
export async function retentionDue(
  storage: DurableObjectStorage,
  rules: RetentionRules['customerState'],
): Promise<void> {
  applyRetention(storage.sql, rules, Date.now())
  // The item itself is deleted by runDueItems after this returns; the next pass gets a new due time.
  storage.sql.exec('DELETE FROM due_items WHERE id = ?', RETENTION_ITEM)
  await armRetention(storage)
}
