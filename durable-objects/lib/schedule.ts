/**
 * One alarm multiplexed over a table of due items (abandonment timers, quiet-hour releases,
 * retention expiry). Handlers must be idempotent: an item is deleted only after its handler
 * succeeds, so a retried alarm may run a handler again and must not act twice.
 */
import type { Migration } from './migrations'

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
]

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
 * Runs every item due by `now` through its handler. A handler that throws keeps its item (attempts
 * counted) and the error is reported after the others ran; the alarm is re-armed either way.
 */
export async function runDueItems(
  storage: DurableObjectStorage,
  handlers: Record<string, DueHandler>,
  now = Date.now(),
): Promise<{ ran: number; failed: number }> {
  const due = storage.sql
    .exec<DueRow>('SELECT * FROM due_items WHERE due_at <= ? ORDER BY due_at LIMIT 500', now)
    .toArray()
  let ran = 0
  let failed = 0
  for (const row of due) {
    const handler = handlers[row.kind]
    try {
      if (handler)
        await handler(JSON.parse(row.payload) as Record<string, unknown>, { id: row.id, dueAt: row.due_at })
      // An item whose kind no longer has a handler is dropped rather than retried forever.
      storage.sql.exec('DELETE FROM due_items WHERE id = ? AND due_at = ?', row.id, row.due_at)
      ran++
    } catch {
      failed++
      // Back off: retry in 2^attempts seconds (capped at one hour).
      const delay = Math.min(3_600_000, 1000 * 2 ** Math.min(row.attempts, 12))
      storage.sql.exec(
        'UPDATE due_items SET attempts = attempts + 1, due_at = ? WHERE id = ?',
        now + delay,
        row.id,
      )
    }
  }
  // Deleting the alarm first makes armAlarm set it afresh to the true next due time.
  await storage.deleteAlarm()
  await armAlarm(storage)
  return { ran, failed }
}
