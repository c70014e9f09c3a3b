/**
 * Events inside CustomerState: what a person did (page views, dwell, scroll, add_to_cart,
 * purchases from any channel), deduplicated by event id, summarised for decisions, and turned
 * into the session intent score.
 *
 * Storage follows consent (see docs/events.md): with measurement consent the whole event is
 * kept; without it only the minimum needed to honour suppression and stop timers is kept
 * (`minimal = 1`: id, type and time of a conversion or cancelling event, no properties).
 */
import type { Purpose } from '../../worker/consent/types'
import type { ProfileRules } from '../../worker/rules/concerns/profile'
import type { Migration } from '../lib/migrations'
import type { AttributeWrite } from './profile'

export const eventsMigrations: Migration[] = [
  {
    id: 'events-001',
    sql: `CREATE TABLE IF NOT EXISTS events (
      id TEXT PRIMARY KEY,
      type TEXT NOT NULL,
      ts INTEGER NOT NULL,
      received_at INTEGER NOT NULL,
      source TEXT NOT NULL,
      props TEXT,
      minimal INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
    CREATE INDEX IF NOT EXISTS events_type_ts ON events (type, ts);
    CREATE TABLE IF NOT EXISTS event_counts (
      type TEXT PRIMARY KEY,
      count INTEGER NOT NULL,
      last_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS state_meta (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );`,
  },
]

/** A validated event as the Worker hands it to the object. */
export interface StateEvent {
  id: string
  type: string
  /** ms since epoch. */
  ts: number
  props: Record<string, unknown>
}

/**
 * Inserts an event unless its id was seen. Returns false for a duplicate (counted once).
 * `minimal` drops the properties (no measurement consent).
 */
export function insertEvent(
  sql: SqlStorage,
  e: StateEvent,
  opts: { source: string; minimal: boolean; receivedAt: number },
): boolean {
  const inserted =
    sql.exec(
      `INSERT OR IGNORE INTO events (id, type, ts, received_at, source, props, minimal) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      e.id,
      e.type,
      e.ts,
      opts.receivedAt,
      opts.source,
      opts.minimal ? null : JSON.stringify(e.props),
      opts.minimal ? 1 : 0,
    ).rowsWritten > 0
  if (inserted) {
    sql.exec(
      `INSERT INTO event_counts (type, count, last_at) VALUES (?, 1, ?)
       ON CONFLICT(type) DO UPDATE SET count = count + 1, last_at = MAX(last_at, excluded.last_at)`,
      e.type,
      e.ts,
    )
  }
  return inserted
}

export function eventSeen(sql: SqlStorage, id: string): boolean {
  return sql.exec('SELECT 1 FROM events WHERE id = ?', id).toArray().length > 0
}

export function eventSummary(sql: SqlStorage): Record<string, { count: number; lastAt: number }> {
  const out: Record<string, { count: number; lastAt: number }> = {}
  for (const r of sql
    .exec<{ type: string; count: number; last_at: number }>('SELECT type, count, last_at FROM event_counts')
    .toArray()) {
    out[r.type] = { count: r.count, lastAt: r.last_at }
  }
  return out
}

/** Time of the latest event of `type` at or after `since`, or null. */
export function lastEventAt(sql: SqlStorage, type: string, since = 0): number | null {
  return sql
    .exec<{ at: number | null }>('SELECT MAX(ts) AS at FROM events WHERE type = ? AND ts >= ?', type, since)
    .one().at
}

export function readMeta(sql: SqlStorage, key: string): string | null {
  return (
    sql.exec<{ value: string }>('SELECT value FROM state_meta WHERE key = ?', key).toArray()[0]?.value ?? null
  )
}

export function writeMeta(sql: SqlStorage, key: string, value: string): void {
  sql.exec(
    'INSERT INTO state_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    key,
    value,
  )
}

export interface SessionEvent {
  type: string
  ts: number
  props: Record<string, unknown>
}

export interface SessionStats {
  dwellMs: number
  /** Average of the scroll depths reported (percent), 0 when none. */
  scrollDepth: number
  score: number
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null
}

/**
 * The current session (events since the last gap of `sessionMinutes`, ending no earlier than
 * `sessionMinutes` before `now`) and its intent score, 0..1. Pure.
 *
 * Dwell comes from `props.dwellMs` (the beacon's `dwell` events, or page views that carry it),
 * scroll from `props.depth` (percent), and high-intent events from `eventPoints`.
 */
export function sessionStats(rules: ProfileRules, newestFirst: SessionEvent[], now: number): SessionStats {
  const gap = rules.intent.sessionMinutes * 60_000
  const session: SessionEvent[] = []
  let previous = now
  for (const e of newestFirst) {
    if (previous - e.ts > gap) break
    session.push(e)
    previous = e.ts
  }
  let dwellMs = 0
  let depthSum = 0
  let depthN = 0
  let points = 0
  for (const e of session) {
    const dwell = num(e.props.dwellMs)
    if (dwell !== null) dwellMs += Math.min(dwell, gap)
    const depth = num(e.props.depth)
    if (depth !== null) {
      depthSum += Math.min(depth, 100)
      depthN++
    }
    points += rules.intent.eventPoints[e.type] ?? 0
  }
  const scrollDepth = depthN ? depthSum / depthN : 0
  const w = rules.intent.weights
  const score =
    w.dwell * Math.min(1, dwellMs / 1000 / rules.intent.dwellSecondsForFull) +
    w.scroll * Math.min(1, scrollDepth / rules.intent.scrollDepthForFull) +
    w.events * Math.min(1, points)
  return { dwellMs, scrollDepth, score: Math.min(1, Math.round(score * 1000) / 1000) }
}

/** Recent full events (newest first), enough to cover a session. */
export function recentEvents(sql: SqlStorage, now: number, limit = 500): SessionEvent[] {
  return sql
    .exec<{ type: string; ts: number; props: string | null }>(
      'SELECT type, ts, props FROM events WHERE minimal = 0 AND ts <= ? AND ts >= ? ORDER BY ts DESC LIMIT ?',
      now + 60_000,
      now - 24 * 3_600_000,
      limit,
    )
    .toArray()
    .map((r) => ({
      type: r.type,
      ts: r.ts,
      props: r.props ? (JSON.parse(r.props) as Record<string, unknown>) : {},
    }))
}

/**
 * `sessionStats` over the stored events, reading rows newest first only until the session's gap:
 * the rows of earlier sessions are never fetched or parsed (a busy visitor can have hundreds of
 * events in the last day; each page decision and page view needs only the current session).
 */
export function currentSession(sql: SqlStorage, rules: ProfileRules, now: number): SessionStats {
  const gap = rules.intent.sessionMinutes * 60_000
  const session: SessionEvent[] = []
  let previous = now
  const cursor = sql.exec<{ type: string; ts: number; props: string | null }>(
    'SELECT type, ts, props FROM events WHERE minimal = 0 AND ts <= ? AND ts >= ? ORDER BY ts DESC LIMIT ?',
    now + 60_000,
    now - 24 * 3_600_000,
    500,
  )
  for (const r of cursor) {
    if (previous - r.ts > gap) break
    session.push({
      type: r.type,
      ts: r.ts,
      props: r.props ? (JSON.parse(r.props) as Record<string, unknown>) : {},
    })
    previous = r.ts
  }
  return sessionStats(rules, session, now)
}

/** Input of `CustomerState.recordEvents`. */
export interface RecordEventsInput {
  /** This object's name (`identity.stateKey`), kept so fired triggers say whose they are. */
  stateKey: string
  /** `web` (POST /v1/events), `gateway` (page views it saw), `ingest` (offline), ... */
  source: string
  /** Consent of the request that carried the events. */
  purposes: Record<Purpose, boolean>
  events: StateEvent[]
  /**
   * true when `purposes` are the visitor's own current choice (POST /v1/events, page views): a
   * withdrawn consent then stops the timers of triggers that required it. Ingestion leaves it unset.
   */
  consentFromVisitor?: boolean
  /** Profile attributes asserted with the events (ingestion). */
  attributes?: AttributeWrite[]
}

export interface RecordEventsResult {
  /** Events received (valid ones; duplicates included, counted once in storage). */
  accepted: number
  duplicates: number
  /** Stored whole (measurement consent). */
  stored: number
  /** Kept minimally without measurement consent (conversions, timer cancellations). */
  minimal: number
  /** Campaigns suppressed by conversions in this batch. */
  suppressed: string[]
  timersStarted: string[]
  timersCancelled: string[]
  /** Set when the person was erased (DSAR): nothing was stored and nothing will be until the tombstone expires. */
  erased?: true
}

/** What `recordEvents` does with a batch, decided before anything is written (pure). */
export interface EventsPlan {
  /** New events in batch order, with how each is stored: whole, minimally, or not at all. */
  fresh: Array<{ event: StateEvent; store: 'whole' | 'minimal' | 'none' }>
  /** Events already held (or repeated in the batch after being stored): counted, not acted on. */
  duplicates: number
  /** Stored whole events that are conversions: credited to touchpoints with their value. */
  conversions: Array<{ event: StateEvent; value: number }>
  /** `time_zone` attributes the events carried (measurement consent only). */
  timeZones: AttributeWrite[]
}

/**
 * Plans a batch: with measurement consent every new event is stored whole; without it only the
 * types in `keepMinimal` (conversions, timer cancellations) are kept, minimally. `held` says
 * which ids this object already holds. An id repeated in the batch is a duplicate once stored.
 *
 * @example
 *   planEvents({ events, measurement: false, keepMinimal: new Set(['purchase']),
 *     conversionEvents: ['purchase'], held: new Set() })
 */
export function planEvents(opts: {
  events: readonly StateEvent[]
  measurement: boolean
  keepMinimal: ReadonlySet<string>
  conversionEvents: readonly string[]
  held: ReadonlySet<string>
  isTimeZone: (v: unknown) => v is string
}): EventsPlan {
  const plan: EventsPlan = { fresh: [], duplicates: 0, conversions: [], timeZones: [] }
  const stored = new Set<string>()
  for (const e of opts.events) {
    if (opts.held.has(e.id) || stored.has(e.id)) {
      plan.duplicates++
      continue
    }
    const store = opts.measurement ? 'whole' : opts.keepMinimal.has(e.type) ? 'minimal' : 'none'
    if (store !== 'none') stored.add(e.id)
    plan.fresh.push({ event: e, store })
    if (store === 'whole' && opts.conversionEvents.includes(e.type)) {
      const value = typeof e.props.value === 'number' && Number.isFinite(e.props.value) ? e.props.value : 0
      plan.conversions.push({ event: e, value })
    }
    const tz = e.props.timeZone
    if (opts.measurement && opts.isTimeZone(tz)) {
      plan.timeZones.push({ name: 'time_zone', value: tz, source: 'event', at: e.ts })
    }
  }
  return plan
}

/** Which of `ids` this object holds (one query per 90 ids: SQLite's bound parameter limit is 100). */
export function heldEventIds(sql: SqlStorage, ids: readonly string[]): Set<string> {
  const held = new Set<string>()
  for (let i = 0; i < ids.length; i += 90) {
    const chunk = ids.slice(i, i + 90)
    for (const r of sql.exec<{ id: string }>(
      `SELECT id FROM events WHERE id IN (${chunk.map(() => '?').join(',')})`,
      ...chunk,
    ))
      held.add(r.id)
  }
  return held
}
