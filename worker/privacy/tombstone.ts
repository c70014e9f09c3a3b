/**
 * Tombstones: an erased subject must not be re-created by a late event or decision carrying an
 * old id, for the tombstone retention period (rules/privacy.yaml `retention.tombstones`).
 *
 * D1 `tombstones` holds only digests (HMAC-SHA-256 with the pepper) of the erased keys, so the
 * table itself names nobody. Callers that create state ask `isTombstoned(env, key)` first:
 *
 *   if (await isTombstoned(env, identity.stateKey)) return  // erased: do not re-create
 *
 * Keys are state keys (`c:<customerId>`, `a:<anonymousId>`) or identifier keys
 * (`customer_id:<id>`, `email:<hmac>`, ... from worker/identity/keys.ts).
 */
import type { Env } from '../env'
import { pepperedHash } from '../identity/keys'

const DAY_MS = 86_400_000

// The pepper is a deployment secret; without it a digest would be a plain hash of a guessable id.
function pepperOf(env: Pick<Env, 'ID_PEPPER'>): string {
  if (!env.ID_PEPPER) throw new Error('ID_PEPPER is not configured: cannot compute pseudonymous digests')
  return env.ID_PEPPER
}

/** The tombstone digest of one key (hex). */
export function tombstoneDigest(env: Pick<Env, 'ID_PEPPER'>, key: string): Promise<string> {
  return pepperedHash(`tombstone:${key}`, pepperOf(env))
}

/** The pseudonymous subject id shown on receipts and in the audit log: `sub_<32 hex>`. */
export async function subjectDigest(env: Pick<Env, 'ID_PEPPER'>, primaryKey: string): Promise<string> {
  return `sub_${(await pepperedHash(`subject:${primaryKey}`, pepperOf(env))).slice(0, 32)}`
}

/**
 * True when `key` (a state key or identifier key) belongs to an erased subject whose tombstone
 * has not expired. Null/empty keys are never tombstoned.
 */
export async function isTombstoned(
  env: Pick<Env, 'DB' | 'ID_PEPPER'>,
  key: string | null | undefined,
  now = Date.now(),
): Promise<boolean> {
  if (!key) return false
  const found = await tombstonedKeys(env, [key], now)
  return found.size > 0
}

/** Which of `keys` are tombstoned (one D1 query for many keys, e.g. a batch of decision records). */
export async function tombstonedKeys(
  env: Pick<Env, 'DB' | 'ID_PEPPER'>,
  keys: readonly string[],
  now = Date.now(),
): Promise<Set<string>> {
  const unique = [...new Set(keys.filter(Boolean))]
  if (unique.length === 0) return new Set()
  const digests = await Promise.all(unique.map((k) => tombstoneDigest(env, k)))
  const byDigest = new Map(digests.map((d, i) => [d, unique[i]!]))
  const found = new Set<string>()
  // D1 caps bound parameters per statement at 100.
  for (let i = 0; i < digests.length; i += 90) {
    const chunk = digests.slice(i, i + 90)
    const { results } = await env.DB.prepare(
      `SELECT digest FROM tombstones WHERE expires_at > ? AND digest IN (${chunk.map(() => '?').join(',')})`,
    )
      .bind(now, ...chunk)
      .all<{ digest: string }>()
    for (const r of results) found.add(byDigest.get(r.digest)!)
  }
  return found
}

/** Writes (or extends) tombstones for `keys`. Idempotent. Returns how many keys were tombstoned. */
export async function writeTombstones(
  env: Pick<Env, 'DB' | 'ID_PEPPER'>,
  keys: readonly string[],
  receiptId: string,
  days: number,
  now = Date.now(),
): Promise<number> {
  const unique = [...new Set(keys.filter(Boolean))]
  if (unique.length === 0) return 0
  const expires = now + days * DAY_MS
  const statements = await Promise.all(
    unique.map(async (k) =>
      env.DB.prepare(
        `INSERT INTO tombstones (digest, receipt_id, erased_at, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(digest) DO UPDATE SET receipt_id = excluded.receipt_id, erased_at = excluded.erased_at,
           expires_at = MAX(tombstones.expires_at, excluded.expires_at)`,
      ).bind(await tombstoneDigest(env, k), receiptId, now, expires),
    ),
  )
  await env.DB.batch(statements)
  return unique.length
}

/** The receipt that tombstoned `key` (while the tombstone lasts), or null. */
export async function tombstoneReceipt(
  env: Pick<Env, 'DB' | 'ID_PEPPER'>,
  key: string,
  now = Date.now(),
): Promise<string | null> {
  const row = await env.DB.prepare('SELECT receipt_id FROM tombstones WHERE digest = ? AND expires_at > ?')
    .bind(await tombstoneDigest(env, key), now)
    .first<{ receipt_id: string }>()
  return row?.receipt_id ?? null
}
