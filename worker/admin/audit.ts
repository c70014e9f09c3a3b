/**
 * The admin audit trail: every request to /admin/ (allowed or denied) leaves one structured log
 * line: who (JWT `sub`), what (the matrix action), when, outcome and status. Every request with a
 * valid token also leaves its own row in D1 `admin_audit`; requests without one (anyone on the
 * internet can send them) are counted instead, one row per refusal reason per minute, so a flood
 * of unauthenticated requests cannot grow the table without bound. Details never carry personal
 * data: subjects appear as their pseudonymous digest, query filters by name only.
 */
import type { Env } from '../env'
import type { Logger } from '../lib/log'

export type AuditOutcome = 'allowed' | 'denied_unauthenticated' | 'denied_forbidden' | 'not_found' | 'failed'

export interface AuditEntry {
  id: string
  at: number
  actor: string | null
  roles: string[]
  action: string
  outcome: AuditOutcome
  status: number
  requestId: string
  detail: Record<string, string | number | boolean | string[]>
}

/** The outcome an HTTP status stands for. */
export function outcomeOf(status: number): AuditOutcome {
  if (status === 401) return 'denied_unauthenticated'
  if (status === 403) return 'denied_forbidden'
  if (status === 404) return 'not_found'
  if (status >= 500) return 'failed'
  // 4xx validation errors were still an allowed action that the gateway answered.
  return 'allowed'
}

/**
 * Writes the entry to D1 and the log. A D1 failure is logged as an error (the log line is then
 * the only trace) and does not change the answer the operator already earned.
 */
export function writeAudit(env: Pick<Env, 'DB'>, log: Logger, entry: AuditEntry): Promise<void> {
  return record(env, log, entry, 'ON CONFLICT (id) DO NOTHING')
}

/** Length of the window over which requests without a valid token share one audit row. */
export const DENIED_WINDOW_MS = 60_000

/** The id of the shared row for a refusal reason in the window holding `at`. */
export function deniedRowId(reason: string, at: number): string {
  return `denied:${at - (at % DENIED_WINDOW_MS)}:${reason}`
}

/**
 * Records a request refused before authentication: the log line as for any entry, and in D1 one
 * row per `reason` per minute whose `detail.count` counts the requests. The row keeps the time of
 * the first of them (`at`) and the action, status and request id of the latest, which the log line
 * of that request details.
 */
export function countDenied(
  env: Pick<Env, 'DB'>,
  log: Logger,
  entry: AuditEntry,
  reason: string,
): Promise<void> {
  const shared = { ...entry, id: deniedRowId(reason, entry.at), actor: null, roles: [] }
  return record(
    env,
    log,
    { ...shared, detail: { ...entry.detail, reason, count: 1 } },
    `ON CONFLICT (id) DO UPDATE SET
       action = excluded.action,
       status = excluded.status,
       request_id = excluded.request_id,
       detail = json_set(admin_audit.detail, '$.count', json_extract(admin_audit.detail, '$.count') + 1)`,
  )
}

/** The log line and the D1 row of one entry; `onConflict` says what a row with the same id does. */
async function record(
  env: Pick<Env, 'DB'>,
  log: Logger,
  entry: AuditEntry,
  onConflict: string,
): Promise<void> {
  log.info('admin_audit', {
    auditId: entry.id,
    actor: entry.actor,
    roles: entry.roles,
    action: entry.action,
    outcome: entry.outcome,
    status: entry.status,
    detail: entry.detail,
  })
  try {
    await env.DB.prepare(
      `INSERT INTO admin_audit (id, at, actor, roles, action, outcome, status, request_id, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ${onConflict}`,
    )
      .bind(
        entry.id,
        entry.at,
        entry.actor,
        JSON.stringify(entry.roles),
        entry.action,
        entry.outcome,
        entry.status,
        entry.requestId,
        JSON.stringify(entry.detail),
      )
      .run()
  } catch (error) {
    log.error('admin_audit_write_failed', { auditId: entry.id, error })
  }
}

interface AuditRow {
  id: string
  at: number
  actor: string | null
  roles: string
  action: string
  outcome: string
  status: number
  request_id: string
  detail: string
}

export function auditRowToJson(r: AuditRow): Record<string, unknown> {
  return {
    id: r.id,
    at: new Date(r.at).toISOString(),
    actor: r.actor,
    roles: JSON.parse(r.roles) as string[],
    action: r.action,
    outcome: r.outcome,
    status: r.status,
    requestId: r.request_id,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
  }
}

export type { AuditRow }
