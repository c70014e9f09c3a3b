/**
 * CustomerState's consent records (GDPR Art. 7(1)): each time this person presents a consent
 * state different from the last one recorded, one row says when, which signals and sources
 * decided (with SHA-256s of the raw strings, never the strings), the resolved purposes and the
 * jurisdiction. And withdrawal acts at once (Art. 7(3)): the same call cancels every pending
 * trigger timer whose trigger needs a purpose the visitor no longer grants, so a cart reminder
 * never goes out after a "reject" just because no later event reached the object.
 * Functions over the object's storage; RPC in index.ts. Table: docs/storage.md "consent_records".
 */
import type { ConsentRecordInput } from '../../worker/consent/record'
import { PURPOSES } from '../../worker/consent/types'
import type { Migration } from '../lib/migrations'
import { cancelItem } from '../lib/schedule'
import { armRetention } from './privacy'
import type { StateRules } from './state-rules'
import { timerId } from './triggers'

export const consentRecordMigrations: Migration[] = [
  {
    id: 'consent-records-001',
    sql: `CREATE TABLE IF NOT EXISTS consent_records (
      id TEXT PRIMARY KEY,
      at INTEGER NOT NULL,
      fingerprint TEXT NOT NULL,
      snapshot_id TEXT NOT NULL,
      jurisdiction TEXT NOT NULL,
      regime TEXT NOT NULL,
      purposes TEXT NOT NULL,
      sale_share_opt_out INTEGER NOT NULL,
      gpc INTEGER NOT NULL,
      evidence TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS consent_records_at ON consent_records (at);`,
  },
]

export interface NoteConsentResult {
  /** A new row was written (the consent differs from the last one recorded). */
  recorded: boolean
  /** Triggers whose pending timer was cancelled because a purpose they need is not granted. */
  timersCancelled: string[]
  erased?: true
}

/** One stored record as `GET /v1/me` and the DSAR export show it (columns as stored). */
export interface ConsentRecordRow {
  id: string
  at: number
  fingerprint: string
  snapshot_id: string
  jurisdiction: string
  regime: string
  purposes: string
  sale_share_opt_out: number
  gpc: number
  evidence: string
}

/** Whether a record input has the shape the Worker sends (RPC callers are ours, but check anyway). */
export function isConsentRecordInput(x: unknown): x is ConsentRecordInput {
  if (!x || typeof x !== 'object') return false
  const r = x as Partial<ConsentRecordInput>
  return (
    typeof r.fingerprint === 'string' &&
    r.fingerprint.length <= 64 &&
    typeof r.snapshotId === 'string' &&
    typeof r.jurisdiction === 'string' &&
    (r.regime === 'opt-in' || r.regime === 'opt-out') &&
    !!r.purposes &&
    PURPOSES.every((p) => typeof r.purposes![p] === 'boolean') &&
    typeof r.saleShareOptOut === 'boolean' &&
    typeof r.gpc === 'boolean' &&
    Array.isArray(r.evidence) &&
    r.evidence.length <= 32
  )
}

/**
 * Records `input` unless it is the last one recorded (one row per change, not per request), then
 * cancels the pending timers its purposes no longer cover. Idempotent: a repeated call writes
 * nothing and finds no timer left to cancel.
 */
export async function noteConsent(
  storage: DurableObjectStorage,
  rules: Pick<StateRules, 'triggers'>,
  input: ConsentRecordInput,
  now: number,
): Promise<NoteConsentResult> {
  const sql = storage.sql
  const last = sql
    .exec<{ fingerprint: string }>(
      'SELECT fingerprint FROM consent_records ORDER BY at DESC, rowid DESC LIMIT 1',
    )
    .toArray()[0]
  const recorded = last?.fingerprint !== input.fingerprint
  if (recorded) {
    sql.exec(
      `INSERT INTO consent_records (id, at, fingerprint, snapshot_id, jurisdiction, regime, purposes,
         sale_share_opt_out, gpc, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      crypto.randomUUID(),
      now,
      input.fingerprint,
      input.snapshotId,
      input.jurisdiction,
      input.regime,
      JSON.stringify(input.purposes),
      input.saleShareOptOut ? 1 : 0,
      input.gpc ? 1 : 0,
      JSON.stringify(input.evidence),
    )
  }
  const timersCancelled: string[] = []
  for (const t of rules.triggers.triggers) {
    if (t.consent.every((p) => input.purposes[p])) continue
    if (await cancelItem(storage, timerId(t.id))) timersCancelled.push(t.id)
  }
  // The record is personal data like any other row: the daily retention pass must run for it.
  if (recorded) await armRetention(storage)
  return { recorded, timersCancelled }
}

/** The recorded consent history, newest first. */
export function consentHistory(sql: SqlStorage, limit = 100): ConsentRecordRow[] {
  return sql
    .exec<ConsentRecordRow & Record<string, SqlStorageValue>>(
      'SELECT * FROM consent_records ORDER BY at DESC, rowid DESC LIMIT ?',
      limit,
    )
    .toArray()
}
