/**
 * CustomerState's touchpoint history: where this person came from, visit by visit. The first
 * touch is always kept; besides it, the most recent `historyLimit - 1`. A touchpoint repeating the
 * previous one (same source, medium, campaign, term and content) within 30 minutes is the same
 * visit reloaded and is not stored again; so is a campaign-less visit from the same referrer host
 * within those 30 minutes (the next page of that visit, or the clean-URL redirect). Functions over the object's SQL; RPC in index.ts.
 * Table: docs/storage.md "touchpoints".
 */
import type { Touchpoint } from '../../worker/touchpoint/types'
import type { AttributionResult, AttributionTouch } from '../../worker/touchpoint/attribution'
import type { Migration } from '../lib/migrations'

export const touchpointMigrations: Migration[] = [
  {
    id: 'touchpoints-001',
    sql: `CREATE TABLE IF NOT EXISTS touchpoints (
      id TEXT PRIMARY KEY,
      at INTEGER NOT NULL,
      source TEXT,
      medium TEXT,
      campaign TEXT,
      term TEXT,
      content TEXT,
      click_ids TEXT NOT NULL DEFAULT '{}',
      referrer_host TEXT,
      landing_path TEXT NOT NULL,
      unmapped TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX IF NOT EXISTS touchpoints_at ON touchpoints (at);`,
  },
  {
    // Credit per conversion event, by model, computed once when the conversion is recorded.
    id: 'touchpoints-002',
    sql: `CREATE TABLE IF NOT EXISTS conversion_credits (
      event_id TEXT PRIMARY KEY,
      type TEXT NOT NULL,
      at INTEGER NOT NULL,
      value REAL NOT NULL DEFAULT 0,
      touchpoints INTEGER NOT NULL,
      models TEXT NOT NULL
    );`,
  },
]

/** Stores the credit of one conversion (first write wins: a conversion is credited once). */
export function recordConversionCredit(sql: SqlStorage, type: string, result: AttributionResult): void {
  if (!result.conversionId) return
  sql.exec(
    `INSERT OR IGNORE INTO conversion_credits (event_id, type, at, value, touchpoints, models)
     VALUES (?, ?, ?, ?, ?, ?)`,
    result.conversionId,
    type,
    result.conversionAt,
    result.value,
    result.touchpoints,
    JSON.stringify(result.models),
  )
}

/** Stored conversion credits, newest first. */
export function conversionCredits(sql: SqlStorage, limit = 100): Array<AttributionResult & { type: string }> {
  return sql
    .exec<{ event_id: string; type: string; at: number; value: number; touchpoints: number; models: string }>(
      'SELECT * FROM conversion_credits ORDER BY at DESC LIMIT ?',
      limit,
    )
    .toArray()
    .map((r) => ({
      conversionId: r.event_id,
      conversionAt: r.at,
      type: r.type,
      value: r.value,
      touchpoints: r.touchpoints,
      models: JSON.parse(r.models) as AttributionResult['models'],
    }))
}

/** A stored touchpoint. */
export interface StoredTouchpoint extends Touchpoint {
  id: string
}

export interface TouchpointHistory {
  first: StoredTouchpoint | null
  last: StoredTouchpoint | null
  /** Oldest first. */
  history: StoredTouchpoint[]
}

interface Row extends Record<string, SqlStorageValue> {
  id: string
  at: number
  source: string | null
  medium: string | null
  campaign: string | null
  term: string | null
  content: string | null
  click_ids: string
  referrer_host: string | null
  landing_path: string
  unmapped: string
}

const SAME_VISIT_MS = 30 * 60_000

/** Stores a touchpoint and trims the history. Returns whether it was stored (false: a reload). */
export function recordTouchpoint(
  sql: SqlStorage,
  tp: Touchpoint,
  opts: { historyLimit: number; id?: string },
): { recorded: boolean; id: string | null } {
  const last = sql.exec<Row>('SELECT * FROM touchpoints ORDER BY at DESC, id DESC LIMIT 1').toArray()[0]
  if (last && tp.at - last.at >= 0 && tp.at - last.at < SAME_VISIT_MS) {
    const sameCampaign =
      last.source === tp.source &&
      last.medium === tp.medium &&
      last.campaign === tp.campaign &&
      last.term === tp.term &&
      last.content === tp.content
    // The next page of the same visit (or the clean-URL redirect) still carries the referrer that
    // brought the visitor: without campaign data of its own it is not a new touchpoint.
    const sameReferral =
      tp.referrerHost !== null && tp.referrerHost === last.referrer_host && tp.campaign === null
    if (sameCampaign || sameReferral) return { recorded: false, id: null }
  }
  const id = opts.id ?? crypto.randomUUID()
  sql.exec(
    `INSERT OR IGNORE INTO touchpoints (id, at, source, medium, campaign, term, content, click_ids, referrer_host, landing_path, unmapped)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    id,
    tp.at,
    tp.source,
    tp.medium,
    tp.campaign,
    tp.term,
    tp.content,
    JSON.stringify(tp.clickIds),
    tp.referrerHost,
    tp.landingPath,
    JSON.stringify(tp.unmapped),
  )
  trimTouchpoints(sql, opts.historyLimit)
  return { recorded: true, id }
}

/** Keeps the earliest touchpoint and the `limit - 1` most recent others. */
export function trimTouchpoints(sql: SqlStorage, limit: number): void {
  sql.exec(
    `DELETE FROM touchpoints
     WHERE id NOT IN (SELECT id FROM touchpoints ORDER BY at ASC, id ASC LIMIT 1)
       AND id NOT IN (SELECT id FROM touchpoints ORDER BY at DESC, id DESC LIMIT ?)`,
    Math.max(1, limit - 1),
  )
}

export function touchpointHistory(sql: SqlStorage): TouchpointHistory {
  const history = sql.exec<Row>('SELECT * FROM touchpoints ORDER BY at ASC, id ASC').toArray().map(fromRow)
  return { first: history[0] ?? null, last: history[history.length - 1] ?? null, history }
}

export function attributionTouches(sql: SqlStorage): AttributionTouch[] {
  return sql
    .exec<Row>('SELECT id, at, source, medium, campaign FROM touchpoints ORDER BY at ASC, id ASC')
    .toArray()
    .map((r) => ({ id: r.id, at: r.at, source: r.source, medium: r.medium, campaign: r.campaign }))
}

function fromRow(r: Row): StoredTouchpoint {
  return {
    id: r.id,
    at: r.at,
    source: r.source,
    medium: r.medium,
    campaign: r.campaign,
    term: r.term,
    content: r.content,
    clickIds: safeJson<Record<string, string>>(r.click_ids, {}),
    referrerHost: r.referrer_host,
    landingPath: r.landing_path,
    unmapped: safeJson<Array<'source' | 'medium'>>(r.unmapped, []),
  }
}

function safeJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T
  } catch {
    return fallback
  }
}
