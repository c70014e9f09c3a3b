/**
 * Frequency caps, quiet hours and suppression inside CustomerState (rules/caps.yaml).
 *
 * `checkAndReserve` is synchronous on purpose: SQLite calls in a Durable Object are synchronous,
 * and with no `await` between the count and the insert no other request can interleave, so
 * concurrent decisions can never over-deliver (the object's input gate is the lock).
 *
 * Calendar windows (day/week/month) start at local midnight in the customer's time zone, the way
 * Braze and Iterable count, computed with Intl.DateTimeFormat so DST changes are honoured (a
 * local day may last 23 or 25 hours). The time-zone helpers are pure and run in Node too.
 */
import { isChannel } from '../../worker/lib/channels'
import type { CapCounts, CapRule, CapsRules } from '../../worker/rules/concerns/caps'
import type { Migration } from '../lib/migrations'
import type { CapState, ReserveRequest, ReserveResult } from './contract'
import { isTimeZone, wallClock, type WallClock } from '../../worker/lib/timezone'

export const capsMigrations: Migration[] = [
  {
    id: 'caps-001',
    sql: `CREATE TABLE IF NOT EXISTS cap_reservations (
      decision_id TEXT PRIMARY KEY,
      placement TEXT NOT NULL,
      campaign TEXT,
      channel TEXT NOT NULL,
      tags TEXT NOT NULL,
      at INTEGER NOT NULL,
      allowed INTEGER NOT NULL,
      reason TEXT,
      result TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS cap_reservations_at ON cap_reservations (allowed, at);
    CREATE TABLE IF NOT EXISTS suppressions (
      campaign TEXT PRIMARY KEY,
      until INTEGER NOT NULL,
      by_event TEXT NOT NULL,
      event_type TEXT NOT NULL,
      at INTEGER NOT NULL
    );`,
  },
  {
    // Pruning filters on `at` alone; without this index it scanned the whole table.
    id: 'caps-002',
    sql: `CREATE INDEX IF NOT EXISTS cap_reservations_prune ON cap_reservations (at);`,
  },
  {
    // Messages (trigger sends) and impressions (placements shown) are counted by different caps.
    // Rows written before this were fires exactly when their placement is `trigger:<id>`.
    id: 'caps-003',
    sql: `ALTER TABLE cap_reservations ADD COLUMN kind TEXT NOT NULL DEFAULT 'impressions';
    UPDATE cap_reservations SET kind = 'messages' WHERE placement LIKE 'trigger:%';`,
  },
]

// ---------- time zones (pure) ----------

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const

export { isTimeZone }
export type LocalTime = WallClock

/** The wall-clock time at `ms` in `tz`. */
export const localTime = wallClock

/** Offset of `tz` from UTC at instant `ms`, in ms (CET: +3_600_000). */
function offsetAt(ms: number, tz: string): number {
  const t = localTime(ms, tz)
  const asUtc = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second)
  return asUtc - Math.floor(ms / 1000) * 1000
}

/**
 * The instant a wall-clock time occurs in `tz`. Day overflow is allowed (day 32 = next month).
 * A wall time skipped by a DST jump resolves to the instant just after the jump.
 */
export function zonedTimeToEpoch(
  tz: string,
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute)
  const first = guess - offsetAt(guess, tz)
  const second = guess - offsetAt(first, tz)
  if (second === first) return first
  // The two candidates straddle a DST change: keep the one that maps back to the wall time, else the later.
  const t = localTime(second, tz)
  return t.hour === hour && t.minute === minute ? second : Math.max(first, second)
}

export type WeekStart = (typeof WEEKDAYS)[number]

/** Start (ms) of the calendar day/week/month containing `now` in `tz`. */
export function calendarStart(
  unit: 'day' | 'week' | 'month',
  now: number,
  tz: string,
  weekStartsOn: WeekStart = 'monday',
): number {
  const t = localTime(now, tz)
  switch (unit) {
    case 'day':
      return zonedTimeToEpoch(tz, t.year, t.month, t.day)
    case 'week': {
      const back = (t.weekday - WEEKDAYS.indexOf(weekStartsOn) + 7) % 7
      return zonedTimeToEpoch(tz, t.year, t.month, t.day - back)
    }
    case 'month':
      return zonedTimeToEpoch(tz, t.year, t.month, 1)
  }
}

export function windowStart(cap: CapRule, now: number, tz: string, weekStartsOn: WeekStart): number {
  return 'rollingHours' in cap.window
    ? now - cap.window.rollingHours * 3_600_000
    : calendarStart(cap.window.calendar, now, tz, weekStartsOn)
}

function windowLabel(cap: CapRule): string {
  return 'rollingHours' in cap.window
    ? `rolling:${cap.window.rollingHours}h`
    : `calendar:${cap.window.calendar}`
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number)
  return (h ?? 0) * 60 + (m ?? 0)
}

/**
 * When quiet hours are on at `now` in `tz`, the instant they end; otherwise null.
 * `21:00-08:00` spans midnight; `start == end` means no quiet hours.
 */
export function quietHoursEnd(quiet: { start: string; end: string }, now: number, tz: string): number | null {
  const start = minutesOf(quiet.start)
  const end = minutesOf(quiet.end)
  if (start === end) return null
  const t = localTime(now, tz)
  const minute = t.hour * 60 + t.minute
  const inside = start < end ? minute >= start && minute < end : minute >= start || minute < end
  if (!inside) return null
  // Ends today when we are before the end time, else tomorrow (overnight quiet hours before midnight).
  const dayOffset = minute < end ? 0 : 1
  return zonedTimeToEpoch(tz, t.year, t.month, t.day + dayOffset, Math.floor(end / 60), end % 60)
}

// ---------- caps (synchronous SQL) ----------

export interface ReserveOptions {
  rules: CapsRules
  timeZone: string
  /** Campaigns suppressed right now (suppression is checked before any cap). */
  suppressed: ReadonlySet<string>
  /** Quiet hours apply (false for a trigger that opted out). */
  quietHours?: boolean
  /** A trigger's send (`messages`) or a placement shown (`impressions`): only caps counting it apply. */
  kind: CapCounts
}

/** Max age of a reservation any cap can still count (the longest window, plus a day of slack). */
export function retentionMs(rules: CapsRules): number {
  let max = 32 * 86_400_000
  for (const cap of rules.caps) {
    if ('rollingHours' in cap.window) max = Math.max(max, cap.window.rollingHours * 3_600_000)
  }
  return max + 86_400_000
}

function matches(sel: string | undefined, value: string | null): boolean {
  return sel === undefined || sel === '*' ? sel === undefined || value !== null : sel === value
}

/** The caps that count this request (also used by the rules:explain simulation), with the value each `*` selector binds to (one entry per tag for `tag: "*"`). */
export function applicableCaps(
  rules: CapsRules,
  req: ReserveRequest,
  kind: CapCounts,
): Array<{ cap: CapRule; tag: string | null }> {
  const out: Array<{ cap: CapRule; tag: string | null }> = []
  for (const cap of rules.caps) {
    // A message cap never counts page views, an impression cap never counts sends.
    if (cap.counts !== kind) continue
    if (!matches(cap.placement, req.placement)) continue
    if (!matches(cap.campaign, req.campaign)) continue
    if (Array.isArray(cap.channel) && !cap.channel.includes(req.channel)) continue
    if (cap.tag === undefined) out.push({ cap, tag: null })
    else if (cap.tag === '*') for (const t of req.tags) out.push({ cap, tag: t })
    else if (req.tags.includes(cap.tag)) out.push({ cap, tag: cap.tag })
  }
  return out
}

export function limitFor(rules: CapsRules, cap: CapRule, campaign: string | null): number | null {
  const override = campaign === null ? undefined : rules.campaignOverrides[campaign]?.[cap.id]
  return override === undefined ? cap.limit : override
}

function countUsed(
  sql: SqlStorage,
  cap: CapRule,
  tag: string | null,
  req: ReserveRequest,
  since: number,
  now: number,
): number {
  const where = ['allowed = 1', 'kind = ?', 'at >= ?', 'at <= ?']
  const args: SqlStorageValue[] = [cap.counts, since, now]
  if (cap.placement !== undefined) {
    where.push('placement = ?')
    args.push(req.placement)
  }
  if (cap.campaign !== undefined) {
    where.push('campaign = ?')
    args.push(req.campaign)
  }
  if (cap.channel === '*') {
    where.push('channel = ?')
    args.push(req.channel)
  } else if (cap.channel !== undefined) {
    // Channel names come from the closed CHANNELS list, so they are bound, never spliced.
    where.push(`channel IN (${cap.channel.map(() => '?').join(', ')})`)
    args.push(...cap.channel)
  }
  if (tag !== null) {
    // Tags are stored as ",a,b," so one LIKE finds a whole tag (tags never contain commas or wildcards).
    where.push("tags LIKE ? ESCAPE '\\'")
    args.push(`%,${tag.replace(/[\\%_]/g, (ch) => '\\' + ch)},%`)
  }
  return sql
    .exec<{ n: number }>(`SELECT COUNT(*) AS n FROM cap_reservations WHERE ${where.join(' AND ')}`, ...args)
    .one().n
}

/**
 * One check-and-reserve. Synchronous: call it inside `transactionSync` and never put an await
 * between it and the decision. Idempotent by `decisionId` (a retry returns the first answer).
 */
export function checkAndReserve(sql: SqlStorage, req: ReserveRequest, opts: ReserveOptions): ReserveResult {
  const previous = sql
    .exec<{ result: string }>('SELECT result FROM cap_reservations WHERE decision_id = ?', req.decisionId)
    .toArray()[0]
  if (previous) return JSON.parse(previous.result) as ReserveResult

  const now = req.now ?? Date.now()
  const { rules, timeZone } = opts
  const states: CapState[] = []
  let reason: string | null = null

  if (req.campaign !== null && opts.suppressed.has(req.campaign)) reason = `suppressed:${req.campaign}`
  if (reason === null && opts.quietHours !== false && rules.quietHours?.channels.includes(req.channel)) {
    if (quietHoursEnd(rules.quietHours, now, timeZone) !== null) reason = 'quiet_hours'
  }
  for (const { cap, tag } of applicableCaps(rules, req, opts.kind)) {
    const limit = limitFor(rules, cap, req.campaign)
    if (limit === null) continue
    const used = countUsed(sql, cap, tag, req, windowStart(cap, now, timeZone, rules.weekStartsOn), now)
    const name = tag !== null && cap.tag === '*' ? `${cap.id}:${tag}` : cap.id
    states.push({ cap: name, used, limit, window: windowLabel(cap) })
    if (reason === null && used >= limit) reason = `cap:${name}`
  }

  const allowed = reason === null
  const result: ReserveResult = allowed
    ? {
        allowed: true,
        reservationId: req.decisionId,
        caps: states.map((s) => ({ ...s, used: s.used + 1 })),
      }
    : { allowed: false, reason: reason!, caps: states }
  sql.exec(
    `INSERT INTO cap_reservations (decision_id, placement, campaign, channel, tags, at, allowed, reason, result, kind)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    req.decisionId,
    req.placement,
    req.campaign,
    req.channel,
    `,${req.tags.join(',')},`,
    now,
    allowed ? 1 : 0,
    allowed ? null : reason,
    JSON.stringify(result),
    opts.kind,
  )
  return result
}

/**
 * Gives back an allowed reservation whose message was never delivered (an abandoned or
 * dead-lettered trigger fire): it stops counting against every cap. Idempotent.
 */
export function releaseReservation(sql: SqlStorage, decisionId: string, reason: string): boolean {
  return (
    sql.exec(
      'UPDATE cap_reservations SET allowed = 0, reason = ? WHERE decision_id = ? AND allowed = 1',
      reason,
      decisionId,
    ).rowsWritten > 0
  )
}

/** Removes reservations no cap can count any more (keeps the table bounded). */
export function pruneReservations(sql: SqlStorage, rules: CapsRules, now: number): void {
  sql.exec('DELETE FROM cap_reservations WHERE at < ?', now - retentionMs(rules))
}

// ---------- suppression ----------

/** Applies the suppressions a conversion event triggers. Returns the campaigns it suppressed. */
export function applySuppressions(
  sql: SqlStorage,
  rules: CapsRules,
  event: { id: string; type: string; at: number },
): string[] {
  const ended: string[] = []
  for (const s of rules.suppressions) {
    if (s.on !== event.type) continue
    const until = event.at + s.forHours * 3_600_000
    for (const campaign of s.ends) {
      sql.exec(
        `INSERT INTO suppressions (campaign, until, by_event, event_type, at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(campaign) DO UPDATE SET until = MAX(until, excluded.until),
           by_event = excluded.by_event, event_type = excluded.event_type, at = excluded.at`,
        campaign,
        until,
        event.id,
        event.type,
        event.at,
      )
      ended.push(campaign)
    }
  }
  return ended
}

export function suppressedCampaigns(sql: SqlStorage, now: number): Set<string> {
  return new Set(
    sql
      .exec<{ campaign: string }>('SELECT campaign FROM suppressions WHERE until > ?', now)
      .toArray()
      .map((r) => r.campaign),
  )
}

/** Event types that suppress something: kept even without measurement consent (minimum necessary). */
export function conversionTypes(rules: CapsRules): Set<string> {
  return new Set(rules.suppressions.map((s) => s.on))
}

/** Guards the RPC boundary: a malformed request is answered `invalid_request`, never thrown. */
export function validReserveRequest(r: unknown): r is ReserveRequest {
  if (!r || typeof r !== 'object') return false
  const q = r as Partial<ReserveRequest>
  return (
    typeof q.decisionId === 'string' &&
    q.decisionId.length > 0 &&
    q.decisionId.length <= 200 &&
    typeof q.placement === 'string' &&
    (q.campaign === null || typeof q.campaign === 'string') &&
    isChannel(q.channel) &&
    Array.isArray(q.tags) &&
    q.tags.every((t) => typeof t === 'string' && !t.includes(',')) &&
    (q.now === undefined || (typeof q.now === 'number' && Number.isFinite(q.now)))
  )
}
