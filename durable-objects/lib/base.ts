/**
 * The plumbing every SQLite-backed object of Gatehouse shares, so the objects themselves read as
 * their list of RPCs: schema migrations once in the constructor (under `blockConcurrencyWhile`,
 * never per request), and the whole-object operations DSAR and stitching need — export every
 * table, count rows, erase everything (alarm included) and migrate again so the object stays
 * usable.
 *
 * Subclasses keep their own state in `#private` members (TypeScript `private` is not enforced
 * over RPC: every public method on the prototype is callable through a stub).
 */
import { DurableObject } from 'cloudflare:workers'
import type { Env } from '../../worker/env'
import { migrate, type Migration } from './migrations'
import { countRows, exportTables, type TableDump } from './tables'

export interface SqlObjectOptions {
  migrations: readonly Migration[]
  /** Tables `exportAll` leaves out (scheduled work, not the subject's data). */
  exportExclude?: readonly string[]
}

export abstract class SqlObject extends DurableObject<Env> {
  readonly #options: SqlObjectOptions

  constructor(ctx: DurableObjectState, env: Env, options: SqlObjectOptions) {
    super(ctx, env)
    this.#options = options
    void ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, options.migrations))
  }

  /** Everything this object holds, table by table (DSAR export; stitching source). */
  async exportAll(): Promise<TableDump> {
    return exportTables(this.ctx.storage.sql, this.#options.exportExclude)
  }

  /** Row counts per table (erase receipts, audits). */
  async counts(): Promise<Record<string, number>> {
    return countRows(this.ctx.storage.sql)
  }

  /** Erases everything this object holds, alarm included. Returns the row counts removed. */
  async eraseAll(): Promise<Record<string, number>> {
    const counts = countRows(this.ctx.storage.sql)
    await this.ctx.storage.deleteAlarm()
    await this.ctx.storage.deleteAll()
    // deleteAll drops the tables; recreate the schema so the object stays usable.
    migrate(this.ctx.storage.sql, this.#options.migrations)
    return counts
  }
}
