/**
 * Subject keys for the decision archive (crypto-shredding, docs/privacy.md "Decision archive"):
 * the secrets that seal this person's fields in archived decision records (worker/archive/seal.ts).
 * A key is created on first need and lives in this object only, in its own table, so
 *
 * - absorbing an anonymous visitor's state on login carries its keys along (the records it sealed
 *   stay readable for the customer's DSAR export);
 * - DSAR erase deletes every key with the rest of the object, and every archived copy sealed under
 *   them becomes unreadable without rewriting a file.
 *
 * The table is left out of the DSAR export document (worker/privacy/stores.ts): a key handed out
 * would survive the erase that is meant to destroy it.
 */
import type { Migration } from '../lib/migrations'

export const archiveKeyMigrations: Migration[] = [
  {
    id: 'archive-keys-001',
    sql: `CREATE TABLE IF NOT EXISTS archive_keys (
      kid TEXT PRIMARY KEY,
      secret BLOB NOT NULL,
      created_at INTEGER NOT NULL
    );`,
  },
]

/** A subject key: its id and 32 random bytes (the HKDF input of worker/archive/seal.ts). */
export interface SubjectKey {
  kid: string
  secret: ArrayBuffer
}

const SECRET_BYTES = 32

/**
 * The key new records are sealed under: the newest key this object holds, else a new one. (After a
 * login that may be a key absorbed from the visitor's anonymous state: it is this person's now and
 * is destroyed with the rest of the object.)
 */
export function currentSubjectKey(sql: SqlStorage, now: number): SubjectKey {
  const own = sql
    .exec<{ kid: string; secret: ArrayBuffer }>(
      'SELECT kid, secret FROM archive_keys ORDER BY created_at DESC LIMIT 1',
    )
    .toArray()[0]
  if (own) return { kid: own.kid, secret: own.secret }
  const secret = crypto.getRandomValues(new Uint8Array(SECRET_BYTES)).buffer as ArrayBuffer
  const kid = crypto.randomUUID()
  sql.exec('INSERT INTO archive_keys (kid, secret, created_at) VALUES (?, ?, ?)', kid, secret, now)
  return { kid, secret }
}

/** Every key this object holds (its own and absorbed ones), to open archived records. */
export function allSubjectKeys(sql: SqlStorage): SubjectKey[] {
  return sql
    .exec<{ kid: string; secret: ArrayBuffer }>('SELECT kid, secret FROM archive_keys ORDER BY created_at')
    .toArray()
    .map((r) => ({ kid: r.kid, secret: r.secret }))
}

/** Deletes every key (the shredding step of DSAR erase). Returns how many were destroyed. */
export function shredSubjectKeys(sql: SqlStorage): number {
  return sql.exec('DELETE FROM archive_keys').rowsWritten
}
