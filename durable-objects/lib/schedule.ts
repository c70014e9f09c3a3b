/**
 * One alarm multiplexed over a table of due items (abandonment timers, quiet-hour releases,
 * retention expiry). Handlers must be idempotent: an item is deleted only after its handler
 * succeeds, so a retried alarm may run a handler again and must not act twice.
 *
 * A handler that throws is logged with the item's kind and id and retried with backoff; after
 * `MAX_ATTEMPTS` failures the item moves to `dead_items`, where an operator can see it
 * (`deadItems()`), and is never run again.
 */
import { createLogger, type Logger } from '../../worker/lib/log'
import type { Migration } from './migrations'

/** Failed runs after which an item is dead: backoff 1 s, 2 s, ... capped at 1 h, about 5 h in all. */
export const MAX_ATTEMPTS = 16
// Long enough to say what failed, short enough that a row stays small.
const MAX_ERROR_LENGTH = 500

export const scheduleMigrations: Migration[] = [
  {
    id: 'schedule-001',
    sql: `CREATE TABLE IF NOT EXISTS due_items (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      due_at INTEGER NOT NULL,
      payload TEXT NOT NULL DEFAULT '{}',
      attempts INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS due_items_due ON due_items (due_at);`,
  },
  {
    id: 'schedule-002',
    // Keyed by id and time of death: a timer id reused later (a trigger's next timer) that dies
    // again adds a row instead of hiding the first one.
    sql: `CREATE TABLE IF NOT EXISTS dead_items (
      id TEXT NOT NULL,
      kind TEXT NOT NULL,
      payload TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      last_error TEXT NOT NULL,
      dead_at INTEGER NOT NULL,
      PRIMARY KEY (id, dead_at)
    );`,
  },
]

/**
 * Tables of scheduled work: never absorbed into another object (timers are re-armed there from
 * its events). `due_items` is not exported either; `dead_items` is, since a dead timer's payload
 * names the person's events and an operator keeps it.
 */
export const SCHEDULE_TABLES = ['due_items', 'dead_items'] as const

/** A due item that failed `MAX_ATTEMPTS` times and is no longer run (operator listing). */
export interface DeadItem {
  id: string
  kind: string
  payload: Record<string, unknown> | string
  attempts: number
  lastError: string
  deadAt: number
}

export type DueHandler = (
  payload: Record<string, unknown>,
  item: { id: string; dueAt: number },
) => Promise<void> | void

interface DueRow extends Record<string, SqlStorageValue> {
  id: string
  kind: string
  due_at: number
  payload: string
  attempts: number
}

/** Adds or replaces a due item and makes sure the alarm fires no later than it. */
export async function scheduleItem(
  storage: DurableObjectStorage,
  item: { id: string; kind: string; dueAt: number; payload?: Record<string, unknown> },
): Promise<void> {
  storage.sql.exec(
    `INSERT INTO due_items (id, kind, due_at, payload) VALUES (?, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, due_at = excluded.due_at, payload = excluded.payload, attempts = 0`,
    item.id,
    item.kind,
    item.dueAt,
    JSON.stringify(item.payload ?? {}),
  )
  await armAlarm(storage)
}

/** Removes a due item (e.g. a purchase cancels an abandonment timer). Returns true if it existed. */
export async function cancelItem(storage: DurableObjectStorage, id: string): Promise<boolean> {
  const removed = storage.sql.exec('DELETE FROM due_items WHERE id = ?', id).rowsWritten > 0
  await armAlarm(storage)
  return removed
}

/** Sets the alarm to the earliest due item, or clears it when there is none. */
export async function armAlarm(storage: DurableObjectStorage): Promise<void> {
  const next = storage.sql.exec<{ due: number | null }>('SELECT MIN(due_at) AS due FROM due_items').one().due
  if (next === null) await storage.deleteAlarm()
  else {
    const current = await storage.getAlarm()
    if (current === null || current > next) await storage.setAlarm(next)
  }
}

/**
 * Runs every item due by `now` through its handler. An item whose handler succeeds is deleted;
 * one whose handler throws is logged (`due_item_failed`, with kind, id and attempt) and retried
 * with backoff, and after `MAX_ATTEMPTS` failures moved to `dead_items` (`due_item_dead`). The
 * alarm is re-armed either way.
 */
export async function runDueItems(
  storage: DurableObjectStorage,
  handlers: Record<string, DueHandler>,
  now = Date.now(),
  log: Logger = createLogger({ component: 'schedule' }),
): Promise<{ ran: number; failed: number; dead: number }> {
  const due = storage.sql
    .exec<DueRow>('SELECT * FROM due_items WHERE due_at <= ? ORDER BY due_at LIMIT 500', now)
    .toArray()
  let ran = 0
  let failed = 0
  let dead = 0
  for (const row of due) {
    const handler = handlers[row.kind]
    try {
      if (handler)
        await handler(JSON.parse(row.payload) as Record<string, unknown>, { id: row.id, dueAt: row.due_at })
      // An item whose kind no longer has a handler is dropped rather than retried forever.
      storage.sql.exec('DELETE FROM due_items WHERE id = ? AND due_at = ?', row.id, row.due_at)
      ran++
    } catch (error) {
      failed++
      const attempts = row.attempts + 1
      const fields = { kind: row.kind, id: row.id, attempts, error }
      if (attempts >= MAX_ATTEMPTS) {
        dead++
        log.error('due_item_dead', fields)
        buryItem(storage, row, attempts, error, now)
        continue
      }
      log.warn('due_item_failed', fields)
      // Back off: retry in 2^attempts seconds (capped at one hour). Matching on due_at too leaves
      // an item the handler rescheduled before failing where the handler put it.
      const delay = Math.min(3_600_000, 1000 * 2 ** Math.min(row.attempts, 12))
      storage.sql.exec(
        'UPDATE due_items SET attempts = ?, due_at = ? WHERE id = ? AND due_at = ?',
        attempts,
        now + delay,
        row.id,
        row.due_at,
      )
    }
  }
  // Deleting the alarm first makes armAlarm set it afresh to the true next due time.
  await storage.deleteAlarm()
  await armAlarm(storage)
  return { ran, failed, dead }
}

// Moves an item to dead_items in one transaction, so a retried alarm finds it either still due
// or dead, never both and never lost.
function buryItem(
  storage: DurableObjectStorage,
  row: DueRow,
  attempts: number,
  error: unknown,
  now: number,
): void {
  storage.transactionSync(() => {
    storage.sql.exec(
      `INSERT OR IGNORE INTO dead_items (id, kind, payload, attempts, last_error, dead_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
      row.id,
      row.kind,
      row.payload,
      attempts,
      errorText(error),
      now,
    )
    storage.sql.exec('DELETE FROM due_items WHERE id = ? AND due_at = ?', row.id, row.due_at)
  })
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return text.slice(0, MAX_ERROR_LENGTH)
}

/** Dead items, most recent first (operator listing; at most `limit`). */
export function deadItems(sql: SqlStorage, limit = 100): DeadItem[] {
  return sql
    .exec<{
      id: string
      kind: string
      payload: string
      attempts: number
      last_error: string
      dead_at: number
    }>('SELECT * FROM dead_items ORDER BY dead_at DESC, id LIMIT ?', limit)
    .toArray()
    .map((r) => ({
      id: r.id,
      kind: r.kind,
      payload: parsePayload(r.payload),
      attempts: r.attempts,
      lastError: r.last_error,
      deadAt: r.dead_at,
    }))
}

// A payload that does not parse (one reason an item can die) is shown as the stored text.
function parsePayload(text: string): Record<string, unknown> | string {
  try {
    const value: unknown = JSON.parse(text)
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : text
  } catch {
    return text
  }
}
