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
import { runDueItems, type DueHandler } from '../lib/schedule'
import { countRows, exportTables, importTables, type TableDump } from '../lib/tables'
import { customerMigrations } from './schema'

export class CustomerState extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    void ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, customerMigrations))
  }

  /** Handlers for due items, by kind. Each must be idempotent (see lib/schedule.ts). */
  #dueHandlers(): Record<string, DueHandler> {
    return {
      // --- due-item handlers are registered here by the features that schedule them ---
    }
  }

  override async alarm(): Promise<void> {
    await runDueItems(this.ctx.storage, this.#dueHandlers())
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
  async absorb(fromKey: string, dump: TableDump): Promise<{ absorbed: boolean; rows: number }> {
    const sql = this.ctx.storage.sql
    const seen = sql.exec('SELECT 1 FROM absorbed WHERE state_key = ?', fromKey).toArray().length > 0
    if (seen) return { absorbed: false, rows: 0 }
    return this.ctx.storage.transactionSync(() => {
      const inserted = importTables(sql, dump, ['absorbed'])
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
    // deleteAll drops the tables; recreate the schema so the object stays usable.
    migrate(this.ctx.storage.sql, customerMigrations)
    return counts
  }

  // --- touchpoints (issue 4) ---

  // --- events, profile, caps, triggers (issue 6) ---

  // --- privacy (issue 7) ---
}
