/**
 * The decision log query API for operators and auditors:
 * `GET /admin/v1/decisions?customerId=&anonymousId=&placement=&rulesVersion=&from=&to=&cursor=&limit=`
 * newest first, paged with an opaque cursor; `GET /admin/v1/decisions/:id` returns one record
 * whole, enough to replay the decision (rules version, consent, identity basis, trace).
 */
import type { FieldError } from '../lib/problem'
import type { DecisionRecord } from '../log/record'

export interface DecisionQuery {
  customerId?: string
  anonymousId?: string
  placement?: string
  rulesVersion?: string
  /** ms since epoch, inclusive. */
  from?: number
  /** ms since epoch, exclusive. */
  to?: number
  cursor?: { at: number; id: string }
  limit: number
}

export type QueryResult =
  { ok: true; value: DecisionQuery } | { ok: false; error: { reason: 'invalid'; errors: FieldError[] } }

const TEXT_FILTERS = ['customerId', 'anonymousId', 'placement', 'rulesVersion'] as const
const KNOWN = new Set<string>([...TEXT_FILTERS, 'from', 'to', 'cursor', 'limit'])
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/
export const MAX_LIMIT = 500

export function encodeCursor(at: number, id: string): string {
  return btoa(JSON.stringify([at, id]))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

function decodeCursor(text: string): { at: number; id: string } | null {
  try {
    const json = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
    const v = JSON.parse(json) as unknown
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') {
      return { at: v[0] as number, id: v[1] }
    }
  } catch {
    // falls through: not a cursor this API issued
  }
  return null
}

/** Validates the query string. Every problem names its parameter. Pure. */
export function parseDecisionQuery(params: URLSearchParams): QueryResult {
  const errors: FieldError[] = []
  const q: DecisionQuery = { limit: 50 }
  for (const key of new Set(params.keys())) {
    if (!KNOWN.has(key))
      errors.push({ path: key, message: `unknown parameter; use ${[...KNOWN].join(', ')}` })
    else if (params.getAll(key).length > 1) errors.push({ path: key, message: 'given more than once' })
  }
  for (const key of TEXT_FILTERS) {
    const v = params.get(key)
    if (v === null) continue
    if (v === '' || v.length > 256) errors.push({ path: key, message: 'must be 1 to 256 characters' })
    else q[key] = v
  }
  for (const key of ['from', 'to'] as const) {
    const v = params.get(key)
    if (v === null) continue
    const t = ISO_TIME.test(v) ? Date.parse(v) : NaN
    if (Number.isNaN(t))
      errors.push({ path: key, message: 'must be an ISO 8601 date or date-time, e.g. 2026-11-23T10:00:00Z' })
    else q[key] = t
  }
  if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
    errors.push({ path: 'to', message: 'must be after `from`' })
  }
  const limit = params.get('limit')
  if (limit !== null) {
    const n = /^\d{1,4}$/.test(limit) ? Number(limit) : NaN
    if (!(n >= 1 && n <= MAX_LIMIT))
      errors.push({ path: 'limit', message: `must be an integer from 1 to ${MAX_LIMIT}` })
    else q.limit = n
  }
  const cursor = params.get('cursor')
  if (cursor !== null) {
    const c = decodeCursor(cursor)
    if (!c) errors.push({ path: 'cursor', message: 'not a cursor returned by this API' })
    else q.cursor = c
  }
  return errors.length ? { ok: false, error: { reason: 'invalid', errors } } : { ok: true, value: q }
}

export interface DecisionRow {
  id: string
  at: number
  time: string
  request_id: string
  channel: string
  placement: string
  variant: string | null
  reason: string
  fallback: string | null
  rules_version: string
  consent_snapshot_id: string
  consent: string
  identity_basis: string
  customer_id: string | null
  anonymous_id: string | null
  experiment: string | null
  caps: string | null
  trace: string
  stored_at: number
}

/** A stored row back in the shape it was recorded in (worker/log/record.ts). */
export function rowToRecord(r: DecisionRow): DecisionRecord & { storedAt: string } {
  return {
    id: r.id,
    time: r.time,
    requestId: r.request_id,
    channel: r.channel as DecisionRecord['channel'],
    placement: r.placement,
    variant: r.variant,
    reason: r.reason,
    fallback: r.fallback,
    rulesVersion: r.rules_version,
    consentSnapshotId: r.consent_snapshot_id,
    consent: JSON.parse(r.consent) as DecisionRecord['consent'],
    identityBasis: r.identity_basis,
    customerId: r.customer_id,
    anonymousId: r.anonymous_id,
    experiment: r.experiment ? (JSON.parse(r.experiment) as DecisionRecord['experiment']) : null,
    caps: r.caps ? (JSON.parse(r.caps) as DecisionRecord['caps']) : null,
    trace: JSON.parse(r.trace) as string[],
    storedAt: new Date(r.stored_at).toISOString(),
  }
}

/** Runs a validated query: one page, newest first, and the cursor for the next page (or null). */
export async function queryDecisions(
  db: D1Database,
  q: DecisionQuery,
): Promise<{ decisions: Array<DecisionRecord & { storedAt: string }>; nextCursor: string | null }> {
  const where: string[] = []
  const args: Array<string | number> = []
  const columns = {
    customerId: 'customer_id',
    anonymousId: 'anonymous_id',
    placement: 'placement',
    rulesVersion: 'rules_version',
  }
  for (const key of TEXT_FILTERS) {
    const v = q[key]
    if (v !== undefined) {
      where.push(`${columns[key]} = ?`)
      args.push(v)
    }
  }
  if (q.from !== undefined) {
    where.push('at >= ?')
    args.push(q.from)
  }
  if (q.to !== undefined) {
    where.push('at < ?')
    args.push(q.to)
  }
  if (q.cursor) {
    where.push('(at < ? OR (at = ? AND id < ?))')
    args.push(q.cursor.at, q.cursor.at, q.cursor.id)
  }
  const sql = `SELECT * FROM decision_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
    ORDER BY at DESC, id DESC LIMIT ?`
  const { results } = await db
    .prepare(sql)
    .bind(...args, q.limit + 1)
    .all<DecisionRow>()
  const page = results.slice(0, q.limit)
  const last = page[page.length - 1]
  return {
    decisions: page.map(rowToRecord),
    nextCursor: results.length > q.limit && last ? encodeCursor(last.at, last.id) : null,
  }
}

/** Every decision record held about any of the given customer or anonymous ids (DSAR export, /v1/me). */
export async function decisionsFor(
  db: D1Database,
  ids: { customerIds: readonly string[]; anonymousIds: readonly string[] },
  limit = 10_000,
): Promise<Array<DecisionRecord & { storedAt: string }>> {
  const out: DecisionRow[] = []
  // A record under an anonymous id that names a customer is that customer's (a signed-in visit on
  // that device): it is found by the customer id, never by the device's anonymous id alone.
  const run = async (column: 'customer_id' | 'anonymous_id', values: readonly string[]) => {
    const own = column === 'anonymous_id' ? ' AND customer_id IS NULL' : ''
    for (let i = 0; i < values.length; i += 90) {
      const chunk = values.slice(i, i + 90)
      const { results } = await db
        .prepare(
          `SELECT * FROM decision_log WHERE ${column} IN (${chunk.map(() => '?').join(',')})${own} ORDER BY at DESC LIMIT ?`,
        )
        .bind(...chunk, limit)
        .all<DecisionRow>()
      out.push(...results)
    }
  }
  await run('customer_id', ids.customerIds)
  await run('anonymous_id', ids.anonymousIds)
  const unique = new Map(out.map((r) => [r.id, r]))
  return [...unique.values()]
    .sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))
    .slice(0, limit)
    .map(rowToRecord)
}
