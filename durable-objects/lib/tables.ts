/**
 * Whole-object data operations that work over every table of a SQLite-backed object, whatever
 * feature created it: export (DSAR), import with conflict-ignore (absorbing an anonymous
 * visitor's state into a customer's once, on stitching), and counting for erase receipts.
 * Internal tables (`_migrations`, `sqlite_*`, `_cf_*`) are never exported or merged.
 */

export type TableDump = Record<string, Array<Record<string, SqlStorageValue>>>

const INTERNAL = /^(_|sqlite_)/i

export function dataTables(sql: SqlStorage): string[] {
  return sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .toArray()
    .map((r) => r.name)
    .filter((n) => !INTERNAL.test(n))
}

/** Every row of every data table. ArrayBuffer values are kept as they are (structured-clone safe). */
export function exportTables(sql: SqlStorage, exclude: readonly string[] = []): TableDump {
  const dump: TableDump = {}
  for (const table of dataTables(sql)) {
    if (exclude.includes(table)) continue
    dump[table] = sql.exec(`SELECT * FROM "${table}"`).toArray()
  }
  return dump
}

/** Row counts per data table (erase receipts). */
export function countRows(sql: SqlStorage): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const table of dataTables(sql)) {
    counts[table] = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM "${table}"`).one().n
  }
  return counts
}

/**
 * Inserts rows into the same tables, ignoring rows whose keys already exist. Columns the target
 * table does not have are skipped. Returns the number of rows inserted per table.
 */
export function importTables(
  sql: SqlStorage,
  dump: TableDump,
  exclude: readonly string[] = [],
): Record<string, number> {
  const known = new Set(dataTables(sql))
  const inserted: Record<string, number> = {}
  for (const [table, rows] of Object.entries(dump)) {
    if (!known.has(table) || exclude.includes(table) || rows.length === 0) continue
    const columns = new Set(
      sql
        .exec<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, table)
        .toArray()
        .map((r) => r.name),
    )
    let n = 0
    for (const row of rows) {
      const cols = Object.keys(row).filter((c) => columns.has(c))
      if (cols.length === 0) continue
      const sqlText = `INSERT OR IGNORE INTO "${table}" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols
        .map(() => '?')
        .join(', ')})`
      n += sql.exec(sqlText, ...cols.map((c) => row[c] ?? null)).rowsWritten
    }
    inserted[table] = n
  }
  return inserted
}

/**
 * Imports `dump` once per source (`fromKey`, recorded in the object's `absorbed` table), in one
 * synchronous transaction so racing calls cannot both import. Returns whether it ran and the rows.
 */
export function absorbOnce(
  storage: DurableObjectStorage,
  fromKey: string,
  dump: TableDump,
  exclude: readonly string[],
): { absorbed: boolean; rows: number } {
  const sql = storage.sql
  if (sql.exec('SELECT 1 FROM absorbed WHERE state_key = ?', fromKey).toArray().length > 0)
    return { absorbed: false, rows: 0 }
  return storage.transactionSync(() => {
    const inserted = importTables(sql, dump, exclude)
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
