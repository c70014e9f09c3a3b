/**
 * CustomerState tables for identity stitching: every identifier key linked to this person (so a
 * DSAR can find everything from any one of them) and the links that were refused (conflicts and
 * caps, kept for review). Functions over the object's SQL; the RPC methods live in index.ts.
 * Tables: docs/storage.md "identity_links", "identity_conflicts".
 */
import type { Migration } from '../lib/migrations'

export const identityLinkMigrations: Migration[] = [
  {
    id: 'identity-001',
    sql: `CREATE TABLE IF NOT EXISTS identity_links (
      identifier_key TEXT PRIMARY KEY,
      identifier_type TEXT NOT NULL,
      asserted_by TEXT NOT NULL,
      linked_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS identity_conflicts (
      id TEXT PRIMARY KEY,
      identifier_key TEXT NOT NULL,
      held_by TEXT,
      asserted_by TEXT NOT NULL,
      reason TEXT NOT NULL,
      at INTEGER NOT NULL
    );`,
  },
]

export interface LinkCandidate {
  identifierKey: string
  identifierType: string
}

export interface LinkRequest {
  candidates: LinkCandidate[]
  /**
   * `jwt`/`admin`: verified, claimed in the IdentityIndex too. `browser`: asserted by the visitor
   * without proof, kept in this state only and never claimed (docs/identity.md "Trust model").
   */
  assertedBy: 'jwt' | 'admin' | 'browser'
  /** Cap on crm ids, emails and phones (rules/identity.yaml stitching.maxIdentifiersPerCustomer). */
  maxIdentifiers: number
  /** Cap on anonymous ids (stitching.maxAnonymousIdsPerCustomer). */
  maxAnonymousIds: number
  now?: number
}

export interface LinkOutcome {
  /** Newly linked. */
  accepted: string[]
  /** Linked before. */
  already: string[]
  /** Refused because the cap was reached (recorded in identity_conflicts). */
  refused: string[]
}

export interface IdentityLink {
  identifierKey: string
  identifierType: string
  assertedBy: string
  linkedAt: number
}

export interface IdentityConflict {
  id: string
  identifierKey: string
  heldBy: string | null
  assertedBy: string
  reason: 'conflict' | 'cap'
  at: number
}

function capClass(type: string): 'anonymous' | 'identifier' | 'uncapped' {
  if (type === 'anonymous_id') return 'anonymous'
  // The customer's own id is one per object; it never counts against the cap.
  if (type === 'customer_id') return 'uncapped'
  return 'identifier'
}

/** Links candidates up to the caps. Synchronous SQL: concurrent calls cannot overshoot a cap. */
export function linkIdentifiers(sql: SqlStorage, req: LinkRequest): LinkOutcome {
  const now = req.now ?? Date.now()
  const out: LinkOutcome = { accepted: [], already: [], refused: [] }
  const counts = { anonymous: 0, identifier: 0, uncapped: 0 }
  for (const row of sql.exec<{ identifier_type: string }>('SELECT identifier_type FROM identity_links')) {
    counts[capClass(row.identifier_type)]++
  }
  for (const c of req.candidates) {
    const existing = sql
      .exec<{ asserted_by: string }>(
        'SELECT asserted_by FROM identity_links WHERE identifier_key = ?',
        c.identifierKey,
      )
      .toArray()[0]
    if (existing) {
      // A verified source confirms what the visitor only asserted: the link is verified from now on.
      if (existing.asserted_by === 'browser' && req.assertedBy !== 'browser') {
        sql.exec(
          'UPDATE identity_links SET asserted_by = ? WHERE identifier_key = ?',
          req.assertedBy,
          c.identifierKey,
        )
      }
      out.already.push(c.identifierKey)
      continue
    }
    const cls = capClass(c.identifierType)
    const limit =
      cls === 'anonymous' ? req.maxAnonymousIds : cls === 'identifier' ? req.maxIdentifiers : Infinity
    if (counts[cls] >= limit) {
      recordConflict(sql, {
        identifierKey: c.identifierKey,
        heldBy: null,
        assertedBy: req.assertedBy,
        reason: 'cap',
        at: now,
      })
      out.refused.push(c.identifierKey)
      continue
    }
    sql.exec(
      'INSERT INTO identity_links (identifier_key, identifier_type, asserted_by, linked_at) VALUES (?, ?, ?, ?)',
      c.identifierKey,
      c.identifierType,
      req.assertedBy,
      now,
    )
    counts[cls]++
    out.accepted.push(c.identifierKey)
  }
  return out
}

/**
 * Removes an identifier the visitor only asserted (`browser`), when a DSAR for that identifier
 * reaches this state. Verified links are left alone: they belong to this person. Returns rows removed.
 */
export function forgetAssertedIdentifier(sql: SqlStorage, identifierKey: string): number {
  return sql.exec(
    "DELETE FROM identity_links WHERE identifier_key = ? AND asserted_by = 'browser'",
    identifierKey,
  ).rowsWritten
}

/** Removes a link the IdentityIndex refused (held by someone else) and records the conflict. */
export function unlinkIdentifier(
  sql: SqlStorage,
  conflict: { identifierKey: string; heldBy: string; assertedBy: string; at?: number },
): void {
  sql.exec('DELETE FROM identity_links WHERE identifier_key = ?', conflict.identifierKey)
  recordConflict(sql, { ...conflict, reason: 'conflict', at: conflict.at ?? Date.now() })
}

function recordConflict(sql: SqlStorage, c: Omit<IdentityConflict, 'id'>): void {
  sql.exec(
    'INSERT INTO identity_conflicts (id, identifier_key, held_by, asserted_by, reason, at) VALUES (?, ?, ?, ?, ?, ?)',
    crypto.randomUUID(),
    c.identifierKey,
    c.heldBy,
    c.assertedBy,
    c.reason,
    c.at,
  )
}

export function listIdentityLinks(sql: SqlStorage): IdentityLink[] {
  return sql
    .exec<{ identifier_key: string; identifier_type: string; asserted_by: string; linked_at: number }>(
      'SELECT * FROM identity_links ORDER BY linked_at, identifier_key',
    )
    .toArray()
    .map((r) => ({
      identifierKey: r.identifier_key,
      identifierType: r.identifier_type,
      assertedBy: r.asserted_by,
      linkedAt: r.linked_at,
    }))
}

export function listIdentityConflicts(sql: SqlStorage): IdentityConflict[] {
  return sql
    .exec<{
      id: string
      identifier_key: string
      held_by: string | null
      asserted_by: string
      reason: string
      at: number
    }>('SELECT * FROM identity_conflicts ORDER BY at, id')
    .toArray()
    .map((r) => ({
      id: r.id,
      identifierKey: r.identifier_key,
      heldBy: r.held_by,
      assertedBy: r.asserted_by,
      reason: r.reason as IdentityConflict['reason'],
      at: r.at,
    }))
}
