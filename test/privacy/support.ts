/**
 * Helpers for privacy tests: put a row in every table of a Durable Object (whatever features
 * created them), and enumerate every store directly (object tables, D1 tables) afterwards.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'

type Stub = DurableObjectStub<Rpc.DurableObjectBranded | undefined>

interface Column {
  name: string
  type: string
  notnull: number
  pk: number
}

const INTERNAL = /^(_|sqlite_)/

/**
 * Inserts one row into every data table of the object (values typed by column affinity, times
 * recent so retention keeps them). Returns the tables that took a row; a table whose own checks
 * refuse a generic row keeps whatever real writes put there.
 */
export async function fillEveryTable(
  stub: Stub,
  marker: string,
  timeMs = Date.now() - 1000,
): Promise<string[]> {
  return runInDurableObject(stub, (_instance, state) => {
    const sql = state.storage.sql
    const tables = sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .map((r) => r.name)
      .filter((n) => !INTERNAL.test(n))
    const filled: string[] = []
    for (const table of tables) {
      const columns = sql
        .exec<Column & Record<string, SqlStorageValue>>(`SELECT * FROM pragma_table_info(?)`, table)
        .toArray()
      const values = columns.map((c) => {
        const t = c.type.toUpperCase()
        if (t.includes('INT')) return timeMs
        if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 0.5
        if (t.includes('BLOB')) return new Uint8Array([1, 2, 3]).buffer
        return `${marker}-${table}-${c.name}`
      })
      try {
        sql.exec(
          `INSERT INTO "${table}" (${columns.map((c) => `"${c.name}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
          ...values,
        )
        filled.push(table)
      } catch {
        // A table with a CHECK or typed payload a generic row cannot satisfy.
      }
    }
    return filled
  })
}

/** Rows per table of an object, internal tables included except the schema bookkeeping. */
export async function objectRows(
  stub: Stub,
): Promise<Record<string, Array<Record<string, SqlStorageValue>>>> {
  return runInDurableObject(stub, (_instance, state) => {
    const sql = state.storage.sql
    const out: Record<string, Array<Record<string, SqlStorageValue>>> = {}
    const tables = sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .map((r) => r.name)
    for (const t of tables) {
      if (t === '_migrations' || t.startsWith('sqlite_')) continue
      try {
        out[t] = sql.exec(`SELECT * FROM "${t}"`).toArray()
      } catch {
        // Internal tables the runtime does not let user code read.
      }
    }
    return out
  })
}

/** Every row of every D1 table, as JSON text per table (for scanning for ids and PII). */
export async function d1Dump(): Promise<Record<string, string>> {
  const { results } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations'",
  ).all<{ name: string }>()
  const out: Record<string, string> = {}
  for (const { name } of results) {
    const rows = await env.DB.prepare(`SELECT * FROM "${name}"`).all()
    out[name] = JSON.stringify(rows.results)
  }
  return out
}

export function customerStub(stateKey: string) {
  return env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey))
}

export function identityStub(key: string) {
  return env.IDENTITY.get(env.IDENTITY.idFromName(key))
}
