/**
 * The admin API under /admin/v1: decision log queries, DSAR export/erase and receipts, the record
 * of processing, the audit log, the rules version history and experiment reports (./experiments.ts).
 * Every request passes `adminGuard` first (authenticate, look the
 * route up in the matrix of ./roles.ts, check roles: deny by default) and leaves an audit entry,
 * allowed or not (requests without a valid token are counted per reason and minute: ./audit.ts). Mount with `app.route('/admin', admin({ rules }))`.
 */
import { Hono, type MiddlewareHandler } from 'hono'
import type { AppEnv, Vars } from '../env'
import { readJsonBody, unknownKeys } from '../lib/json-body'
import { invalid, ProblemError, problemResponse } from '../lib/problem'
import { eraseSubject, EraseIncompleteError, exportSubject, getReceipt } from '../privacy/dsar'
import { recordOfProcessing, recordToMarkdown } from '../privacy/processing'
import { resolveDsarSubject } from '../privacy/resolve'
import { dumpReplacer, storeBudget, StoreUnavailableError } from '../privacy/stores'
import { parseSubjectBody } from '../privacy/subject'
import type { RuleSet } from '../rules'
import { auditRowToJson, countDenied, outcomeOf, writeAudit, type AuditEntry, type AuditRow } from './audit'
import { adminToken, verifyAdminToken, type AdminPrincipal, type AuthFailure } from './auth'
import { parseDecisionQuery, queryDecisions, rowToRecord, type DecisionRow } from './decisions'
import { getExperiment, listExperiments } from './experiments'
import { isAllowed, matchAdminRoute } from './roles'
import { rulesHistory, type RulesVersionRow } from './rules-versions'
import { methodNotAllowed } from '../routes/methods'
import { checkMethod } from '../routes/table'

export interface AdminVars extends Vars {
  admin: AdminPrincipal
  /** What the handler wants in the audit entry (never personal data). */
  auditDetail: AuditEntry['detail']
}
export type AdminEnv = { Bindings: AppEnv['Bindings']; Variables: AdminVars }

export interface AdminOptions {
  rules: RuleSet
}

const AUTH_DETAIL: Record<AuthFailure, string> = {
  missing_token: 'Send an admin JWT in Cf-Access-Jwt-Assertion or Authorization: Bearer.',
  not_configured: 'Admin access is not configured on this gateway.',
  invalid_token: 'The admin token is not valid.',
  expired_token: 'The admin token has expired.',
  claims_rejected: 'The admin token was not issued for this gateway.',
  keys_unavailable: 'The admin key set could not be fetched; try again shortly.',
  no_subject: 'The admin token names no subject.',
  no_expiry: 'The admin token has no expiry (exp); this gateway accepts only tokens that expire.',
  lifetime_too_long: 'The admin token lives longer (exp - iat) than this gateway accepts.',
}

/** Authenticates, authorises against the matrix and audits every /admin request. */
export const adminGuard = (): MiddlewareHandler<AdminEnv> =>
  async function adminGuard(c, next) {
    const started = Date.now()
    const method = c.req.method.toUpperCase()
    const route = matchAdminRoute(method, c.req.path)
    // Unknown paths are named generically in the audit: a path may carry anything a caller typed.
    const action = route.ok ? route.value.action : `${method} /admin/* (no such route)`
    c.set('auditDetail', {})
    let principal: AdminPrincipal | null = null
    let denied: Response | null = null

    const auth = await verifyAdminToken(adminToken(c.req.raw.headers), c.env)
    if (!auth.ok) {
      const reason = auth.error.reason
      c.set('auditDetail', { reason })
      if (reason === 'not_configured' || reason === 'keys_unavailable') {
        c.get('log').error('admin_auth_unavailable', { reason })
      }
      denied =
        reason === 'keys_unavailable'
          ? problem(503, 'Service unavailable', AUTH_DETAIL[reason], { reason }, { 'retry-after': '30' })
          : problem(
              401,
              'Unauthorized',
              AUTH_DETAIL[reason],
              { reason, ...lifetimeFields(auth.error) },
              { 'www-authenticate': 'Bearer' },
            )
    } else {
      principal = auth.value
      c.set('admin', principal)
      const allow = route.ok ? null : checkMethod(method, c.req.path)
      if (allow && !allow.ok) denied = methodNotAllowed(method, allow.error.allow)
      else if (!route.ok) denied = problem(404, 'Not found', 'No such admin route.')
      else if (!isAllowed(principal.roles, route.value.roles)) {
        denied = problem(
          403,
          'Forbidden',
          `This action needs one of the roles: ${route.value.roles.join(', ')}.`,
          {
            requiredRoles: route.value.roles,
          },
        )
      }
    }
    // Handler errors are turned into responses by app.onError before next() returns.
    if (!denied) await next()
    const status = denied ? denied.status : c.res.status
    const entry: AuditEntry = {
      id: crypto.randomUUID(),
      at: started,
      actor: principal?.sub ?? null,
      roles: principal?.roles ?? [],
      action,
      outcome: outcomeOf(status),
      status,
      requestId: c.get('requestId'),
      detail: c.get('auditDetail'),
    }
    // Without a valid token anyone can send these: counted per reason and minute, not one row each.
    if (!auth.ok) await countDenied(c.env, c.get('log'), entry, auth.error.reason)
    else await writeAudit(c.env, c.get('log'), entry)
    if (denied) return denied
  }

/** The token claim at fault and the accepted limit, for the two lifetime refusals. */
function lifetimeFields(error: {
  reason: AuthFailure
  maxLifetimeSeconds?: number
}): Record<string, unknown> {
  if (error.reason === 'no_expiry') return { errors: [{ path: 'exp', message: 'required' }] }
  if (error.reason !== 'lifetime_too_long') return {}
  const max = error.maxLifetimeSeconds
  return {
    maxLifetimeSeconds: max,
    errors: [{ path: 'exp', message: `more than ${max} seconds after iat` }],
  }
}

function problem(
  status: 401 | 403 | 404 | 503,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  return problemResponse(new ProblemError(status, title, detail, undefined, extra).problem, headers)
}

/** Bytes of an admin request body (a subject identifier is a few hundred). */
export const ADMIN_BODY_LIMIT = 16 * 1024
/** Top-level keys of a DSAR body (strict object). */
const SUBJECT_BODY_KEYS = ['identifier'] as const

/** A DSAR body through the bounded reader: 413, 415, 400 for bad JSON or an unknown key. */
async function subjectBodyJson(c: { req: { raw: Request } }): Promise<unknown> {
  const body = await readJsonBody(c.req.raw, { limit: ADMIN_BODY_LIMIT })
  const unknown = unknownKeys(body, SUBJECT_BODY_KEYS)
  if (unknown.length) throw invalid(unknown, 'The body has fields this route does not know.')
  return body
}

/** The admin sub-app; mount at `/admin`. */
export function admin(opts: AdminOptions): Hono<AdminEnv> {
  const { rules } = opts
  const app = new Hono<AdminEnv>()
  app.use('*', adminGuard())

  app.get('/v1/decisions', async (c) => {
    const q = parseDecisionQuery(new URL(c.req.url).searchParams)
    if (!q.ok) throw invalid(q.error.errors, 'The decision log query did not validate.')
    // Which filters were used, never their values (they are pseudonymous ids).
    c.set('auditDetail', { filters: Object.keys(q.value).filter((k) => k !== 'limit') })
    const page = await queryDecisions(c.env.DB, q.value)
    return c.json(page, 200, { 'cache-control': 'no-store' })
  })

  app.get('/v1/decisions/:id', async (c) => {
    const row = await c.env.DB.prepare('SELECT * FROM decision_log WHERE id = ?')
      .bind(c.req.param('id'))
      .first<DecisionRow>()
    if (!row) throw new ProblemError(404, 'Not found', 'No decision record with this id.')
    c.set('auditDetail', { recordId: row.id })
    return c.json(rowToRecord(row), 200, { 'cache-control': 'no-store' })
  })

  app.post('/v1/subjects/export', async (c) => {
    const { subject } = await subjectFromBody(c, await subjectBodyJson(c))
    try {
      const doc = await exportSubject(c.env, subject, {
        retention: rules.privacy.retention,
        requestedBy: c.get('admin').sub,
        log: c.get('log'),
        budgetMs: storeBudget(c.env),
      })
      c.set('auditDetail', { subject: subject.digest, receiptId: doc.receiptId })
      return new Response(JSON.stringify(doc, dumpReplacer), {
        status: 200,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-store',
          'content-disposition': `attachment; filename="${doc.subject}-export.json"`,
        },
      })
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        c.get('log').warn('dsar_export_incomplete', { subject: subject.digest, store: error.store })
        throw new ProblemError(
          503,
          'Store unavailable',
          `The ${error.store} store did not answer; no partial export is given. Retry shortly.`,
          undefined,
          {
            store: error.store,
          },
        )
      }
      throw error
    }
  })

  app.post('/v1/subjects/erase', async (c) => {
    const { subject } = await subjectFromBody(c, await subjectBodyJson(c))
    try {
      const receipt = await eraseSubject(c.env, subject, {
        retention: rules.privacy.retention,
        requestedBy: c.get('admin').sub,
        log: c.get('log'),
        budgetMs: storeBudget(c.env),
      })
      c.set('auditDetail', { subject: subject.digest, receiptId: receipt.receiptId, status: receipt.status })
      return c.json(receipt, 200, { 'cache-control': 'no-store' })
    } catch (error) {
      if (error instanceof EraseIncompleteError) {
        c.set('auditDetail', {
          subject: subject.digest,
          receiptId: error.receipt.receiptId,
          status: 'in_progress',
        })
        // Honest: the erase is not complete. The receipt says what is done; the same request completes it.
        return problemResponse(
          new ProblemError(
            503,
            'Erase incomplete',
            `The ${error.store} store did not answer. Send the same request again to complete this receipt.`,
            undefined,
            {
              store: error.store,
              receipt: error.receipt,
            },
          ).problem,
          { 'retry-after': '10' },
        )
      }
      throw error
    }
  })

  app.get('/v1/subjects/receipts/:id', async (c) => {
    const receipt = await getReceipt(c.env, c.req.param('id'))
    if (!receipt) throw new ProblemError(404, 'Not found', 'No receipt with this id.')
    c.set('auditDetail', { receiptId: String(receipt.receiptId) })
    return c.json(receipt, 200, { 'cache-control': 'no-store' })
  })

  app.get('/v1/record-of-processing', (c) => {
    const record = recordOfProcessing(rules)
    const format = c.req.query('format')
    if (format !== undefined && format !== 'json' && format !== 'md') {
      throw invalid([{ path: 'format', message: 'must be json or md' }])
    }
    const wantsMarkdown =
      format === 'md' || (format === undefined && /\btext\/markdown\b/.test(c.req.header('accept') ?? ''))
    c.set('auditDetail', { format: wantsMarkdown ? 'md' : 'json' })
    if (wantsMarkdown) {
      return c.body(recordToMarkdown(record), 200, {
        'content-type': 'text/markdown; charset=utf-8',
        'cache-control': 'no-store',
      })
    }
    return c.json(record, 200, { 'cache-control': 'no-store' })
  })

  app.get('/v1/audit', async (c) => {
    const params = new URL(c.req.url).searchParams
    const errors = []
    const limitText = params.get('limit') ?? '100'
    const limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : NaN
    if (!(limit >= 1 && limit <= 500))
      errors.push({ path: 'limit', message: 'must be an integer from 1 to 500' })
    const before = params.get('before')
    const beforeMs = before === null ? Number.MAX_SAFE_INTEGER : Date.parse(before)
    if (Number.isNaN(beforeMs)) errors.push({ path: 'before', message: 'must be an ISO 8601 date-time' })
    const actor = params.get('actor')
    for (const key of params.keys()) {
      if (!['limit', 'before', 'actor'].includes(key))
        errors.push({ path: key, message: 'unknown parameter; use limit, before, actor' })
    }
    if (errors.length) throw invalid(errors)
    const { results } = await c.env.DB.prepare(
      `SELECT * FROM admin_audit WHERE at < ? ${actor ? 'AND actor = ?' : ''} ORDER BY at DESC, id DESC LIMIT ?`,
    )
      .bind(...(actor ? [beforeMs, actor, limit] : [beforeMs, limit]))
      .all<AuditRow>()
    return c.json({ entries: results.map(auditRowToJson) }, 200, { 'cache-control': 'no-store' })
  })

  // Which rules version went live when (./rules-versions.ts); `?at=` says which was live then.
  app.get('/v1/rules/versions', async (c) => {
    const params = new URL(c.req.url).searchParams
    const errors = []
    const atText = params.get('at')
    const at = atText === null ? null : Date.parse(atText)
    if (at !== null && Number.isNaN(at))
      errors.push({ path: 'at', message: 'must be an ISO 8601 date or date-time, e.g. 2026-03-03T12:00:00Z' })
    for (const key of params.keys()) {
      if (key !== 'at') errors.push({ path: key, message: 'unknown parameter; use at' })
    }
    if (errors.length) throw invalid(errors)
    const { results } = await c.env.DB.prepare(
      'SELECT version, first_served_at FROM rules_versions ORDER BY first_served_at DESC LIMIT 500',
    ).all<RulesVersionRow>()
    const history = rulesHistory(results, at)
    return c.json(
      { current: rules.version, ...history, ...(at === null ? {} : { at: new Date(at).toISOString() }) },
      200,
      { 'cache-control': 'no-store' },
    )
  })
  app.get('/v1/experiments', (c) => listExperiments(c, rules))
  app.get('/v1/experiments/:id', (c) => getExperiment(c, rules))

  return app
}

async function subjectFromBody(c: { env: AdminEnv['Bindings']; var: AdminVars }, body: unknown) {
  const parsed = parseSubjectBody(body)
  if (!parsed.ok) throw invalid(parsed.error.errors)
  try {
    return { subject: await resolveDsarSubject(c.env, parsed.value, c.var.log) }
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error
    throw new ProblemError(
      503,
      'Store unavailable',
      'Identity links could not be read; retry shortly.',
      undefined,
      {
        store: error.store,
      },
    )
  }
}
