/**
 * Profile attributes with their source and time (rules/profile.yaml). A value from a more
 * trusted source is never replaced by a less trusted one; a source replaces its own older value.
 * The decision engine reads each attribute with `updatedAt` for its freshness guard.
 */
import type { ProfileRules } from '../../worker/rules/concerns/profile'
import type { Migration } from '../lib/migrations'
import type { ProfileAttribute } from './contract'

export const profileMigrations: Migration[] = [
  {
    id: 'profile-001',
    sql: `CREATE TABLE IF NOT EXISTS profile_attributes (
      name TEXT PRIMARY KEY,
      value TEXT NOT NULL,
      source TEXT NOT NULL,
      updated_at INTEGER NOT NULL
    );`,
  },
]

export type AttributeValue = string | number | boolean | null

export interface AttributeWrite {
  name: string
  value: AttributeValue
  source: string
  /** ms since epoch the source asserted it. */
  at: number
}

/** Rank of a source: 0 is the most trusted; unlisted sources rank after every listed one. */
export function sourceRank(rules: ProfileRules, source: string): number {
  const i = rules.precedence.indexOf(source)
  return i === -1 ? rules.precedence.length : i
}

/**
 * Whether `incoming` replaces `current` (pure): a more trusted source wins; the same rank wins
 * when it is at least as new.
 */
export function wins(
  rules: ProfileRules,
  current: { source: string; updatedAt: number } | undefined,
  incoming: { source: string; at: number },
): boolean {
  if (!current) return true
  const a = sourceRank(rules, incoming.source)
  const b = sourceRank(rules, current.source)
  return a < b || (a === b && incoming.at >= current.updatedAt)
}

/** Writes the attributes that win over what is stored. Returns the names written. */
export function writeAttributes(sql: SqlStorage, rules: ProfileRules, writes: AttributeWrite[]): string[] {
  const written: string[] = []
  for (const w of writes) {
    const row = sql
      .exec<{ source: string; updated_at: number }>(
        'SELECT source, updated_at FROM profile_attributes WHERE name = ?',
        w.name,
      )
      .toArray()[0]
    if (!wins(rules, row && { source: row.source, updatedAt: row.updated_at }, w)) continue
    sql.exec(
      `INSERT INTO profile_attributes (name, value, source, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET value = excluded.value, source = excluded.source, updated_at = excluded.updated_at`,
      w.name,
      JSON.stringify(w.value),
      w.source,
      w.at,
    )
    written.push(w.name)
  }
  return written
}

export function readAttributes(sql: SqlStorage): Record<string, ProfileAttribute> {
  const out: Record<string, ProfileAttribute> = {}
  for (const r of sql
    .exec<{ name: string; value: string; source: string; updated_at: number }>(
      'SELECT name, value, source, updated_at FROM profile_attributes',
    )
    .toArray()) {
    out[r.name] = { value: JSON.parse(r.value) as AttributeValue, source: r.source, updatedAt: r.updated_at }
  }
  return out
}
