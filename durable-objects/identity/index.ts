/**
 * IdentityIndex: one object per identifier key (`idFromName("email:<hmac>")`, `customer_id:42`,
 * `anonymous_id:<uuid>`, ...), holding which person that identifier belongs to. It is the
 * serialisation point for stitching: two customers claiming the same email race here, and the
 * first one wins; the other is refused and recorded in `conflicts` (never moved silently).
 *
 * A link points at a state key: `c:<customerId>` for a customer, or `a:<anonymousId>` while only
 * an anonymous visitor holds it (an `identify` before any login). A customer may take over an
 * anonymous link once (the anonymous state is then absorbed); a link to one customer is never
 * moved to another. Only verified sources claim (`VerifiedSource`).
 *
 * Beside the link, `mentions` lists the states where a visitor only asserted this identifier (an
 * `identify` event: worker/identity/stitch.ts `attachAsserted`). It is never read to link or
 * decide anything: it exists so that a DSAR for this identifier can remove it from those states.
 * Tables: docs/storage.md "IdentityIndex".
 */
import type { Env } from '../../worker/env'
import { SqlObject } from '../lib/base'
import type { Migration } from '../lib/migrations'

/**
 * Sources that may claim an identifier: a verified login (`jwt`) and a server-side or admin
 * assertion (`admin`). A visitor's own unverified assertion never claims (docs/identity.md
 * "Trust model").
 */
export type VerifiedSource = 'jwt' | 'admin'
/** As stored: rows written before the trust model may say `event` (an `identify` event's claim). */
export type AssertedBy = VerifiedSource | 'event'

export interface ClaimRequest {
  identifierKey: string
  identifierType: string
  /** The customer claiming it, or null for an anonymous subject. */
  customerId: string | null
  /** `c:<customerId>` or `a:<anonymousId>`. */
  stateKey: string
  assertedBy: VerifiedSource
  now?: number
}

export type ClaimResult =
  /** Newly linked to the claimant. */
  | { status: 'linked'; customerId: string | null; stateKey: string }
  /** Already linked to the claimant. */
  | { status: 'already'; customerId: string | null; stateKey: string }
  /** Was held by an anonymous subject; now the claimant customer's (absorb `previousStateKey`). */
  | { status: 'upgraded'; customerId: string; stateKey: string; previousStateKey: string }
  /** Held by someone else: nothing changed. `conflict` when two customers collide (recorded). */
  | { status: 'held' | 'conflict'; customerId: string | null; stateKey: string }

export interface LinkRow {
  identifierKey: string
  identifierType: string
  customerId: string | null
  stateKey: string
  assertedBy: AssertedBy
  linkedAt: number
  updatedAt: number
  previousStateKey: string | null
}

interface LinkSqlRow extends Record<string, SqlStorageValue> {
  identifier_key: string
  identifier_type: string
  customer_id: string | null
  state_key: string
  asserted_by: string
  linked_at: number
  updated_at: number
  previous_state_key: string | null
}

export const identityIndexMigrations: Migration[] = [
  {
    id: 'identity-index-001',
    sql: `CREATE TABLE IF NOT EXISTS link (
      identifier_key TEXT PRIMARY KEY,
      identifier_type TEXT NOT NULL,
      customer_id TEXT,
      state_key TEXT NOT NULL,
      asserted_by TEXT NOT NULL,
      linked_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      previous_state_key TEXT
    );
    CREATE TABLE IF NOT EXISTS conflicts (
      id TEXT PRIMARY KEY,
      identifier_key TEXT NOT NULL,
      held_by TEXT NOT NULL,
      claimed_by TEXT NOT NULL,
      asserted_by TEXT NOT NULL,
      at INTEGER NOT NULL
    );`,
  },
  {
    id: 'identity-index-002',
    sql: `CREATE TABLE IF NOT EXISTS mentions (
      state_key TEXT PRIMARY KEY,
      at INTEGER NOT NULL
    );`,
  },
]

/** States remembered per identifier; past it the oldest mention is dropped (a flood cannot grow it). */
export const MAX_MENTIONS = 50

export class IdentityIndex extends SqlObject {
  constructor(ctx: DurableObjectState, env: Env) {
    // `mentions` name other people's states (where a visitor typed this identifier): never exported.
    super(ctx, env, { migrations: identityIndexMigrations, exportExclude: ['mentions'] })
  }

  /**
   * Links this identifier to the claimant unless someone else holds it. Synchronous inside the
   * object, so concurrent claims are decided one after the other (first wins).
   */
  async claim(req: ClaimRequest): Promise<ClaimResult> {
    const sql = this.ctx.storage.sql
    const now = req.now ?? Date.now()
    const row = this.#row(req.identifierKey)
    if (!row) {
      sql.exec(
        `INSERT INTO link (identifier_key, identifier_type, customer_id, state_key, asserted_by, linked_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        req.identifierKey,
        req.identifierType,
        req.customerId,
        req.stateKey,
        req.assertedBy,
        now,
        now,
      )
      return { status: 'linked', customerId: req.customerId, stateKey: req.stateKey }
    }
    if (row.state_key === req.stateKey) {
      sql.exec('UPDATE link SET updated_at = ? WHERE identifier_key = ?', now, req.identifierKey)
      return { status: 'already', customerId: row.customer_id, stateKey: row.state_key }
    }
    if (row.customer_id === null && req.customerId !== null) {
      // An anonymous subject's identifier passes to the customer who logs in with it, once.
      sql.exec(
        `UPDATE link SET customer_id = ?, state_key = ?, asserted_by = ?, updated_at = ?, previous_state_key = ?
         WHERE identifier_key = ?`,
        req.customerId,
        req.stateKey,
        req.assertedBy,
        now,
        row.state_key,
        req.identifierKey,
      )
      return {
        status: 'upgraded',
        customerId: req.customerId,
        stateKey: req.stateKey,
        previousStateKey: row.state_key,
      }
    }
    if (row.customer_id !== null && req.customerId !== null) {
      sql.exec(
        'INSERT INTO conflicts (id, identifier_key, held_by, claimed_by, asserted_by, at) VALUES (?, ?, ?, ?, ?, ?)',
        crypto.randomUUID(),
        req.identifierKey,
        row.state_key,
        req.stateKey,
        req.assertedBy,
        now,
      )
      return { status: 'conflict', customerId: row.customer_id, stateKey: row.state_key }
    }
    // An anonymous claimant never takes an identifier from anyone: it learns who holds it.
    return { status: 'held', customerId: row.customer_id, stateKey: row.state_key }
  }

  /** Removes the link when (and only when) it still points at `stateKey` (a claim the customer's cap refused). */
  async release(identifierKey: string, stateKey: string): Promise<boolean> {
    return (
      this.ctx.storage.sql.exec(
        'DELETE FROM link WHERE identifier_key = ? AND state_key = ?',
        identifierKey,
        stateKey,
      ).rowsWritten > 0
    )
  }

  /** Who this identifier belongs to, or null. */
  async lookup(identifierKey: string): Promise<LinkRow | null> {
    const row = this.#row(identifierKey)
    if (!row) return null
    return {
      identifierKey: row.identifier_key,
      identifierType: row.identifier_type,
      customerId: row.customer_id,
      stateKey: row.state_key,
      assertedBy: row.asserted_by as AssertedBy,
      linkedAt: row.linked_at,
      updatedAt: row.updated_at,
      previousStateKey: row.previous_state_key,
    }
  }

  /**
   * Records that `stateKey` asserted this identifier without proof (idempotent). `replaces`: the
   * state it moved from (an absorbed anonymous state), whose mention goes.
   */
  async mention(stateKey: string, opts: { replaces?: string; now?: number } = {}): Promise<void> {
    const sql = this.ctx.storage.sql
    if (opts.replaces) sql.exec('DELETE FROM mentions WHERE state_key = ?', opts.replaces)
    sql.exec(
      'INSERT INTO mentions (state_key, at) VALUES (?, ?) ON CONFLICT (state_key) DO UPDATE SET at = excluded.at',
      stateKey,
      opts.now ?? Date.now(),
    )
    sql.exec(
      'DELETE FROM mentions WHERE state_key NOT IN (SELECT state_key FROM mentions ORDER BY at DESC, state_key LIMIT ?)',
      MAX_MENTIONS,
    )
  }

  /** The states where a visitor asserted this identifier (DSAR), newest first. */
  async mentions(): Promise<string[]> {
    return this.ctx.storage.sql
      .exec<{ state_key: string }>('SELECT state_key FROM mentions ORDER BY at DESC, state_key')
      .toArray()
      .map((r) => r.state_key)
  }

  /** Erases the link and its conflict records (DSAR erase). Returns the row counts removed. */
  async eraseIdentifier(): Promise<Record<string, number>> {
    return this.eraseAll()
  }

  #row(identifierKey: string): LinkSqlRow | null {
    return (
      this.ctx.storage.sql
        .exec<LinkSqlRow>('SELECT * FROM link WHERE identifier_key = ?', identifierKey)
        .toArray()[0] ?? null
    )
  }
}
