/**
 * Schema migrations for SQLite-backed Durable Objects. Run once in the constructor under
 * `blockConcurrencyWhile`; each migration is applied exactly once, recorded in `_migrations`.
 */

export interface Migration {
  /** Stable, unique id, e.g. `caps-001`. Never renamed once shipped. */
  id: string
  sql: string
}

export function migrate(sql: SqlStorage, migrations: readonly Migration[]): void {
  sql.exec('CREATE TABLE IF NOT EXISTS _migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)')
  const applied = new Set(
    sql
      .exec<{ id: string }>('SELECT id FROM _migrations')
      .toArray()
      .map((r) => r.id),
  )
  for (const m of migrations) {
    if (applied.has(m.id)) continue
    sql.exec(m.sql)
    sql.exec('INSERT INTO _migrations (id, applied_at) VALUES (?, ?)', m.id, Date.now())
  }
}
