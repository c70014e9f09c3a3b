/**
 * The `identity` stage (docs/architecture.md "The request path"): who the visitor is, gated by consent.
 *
 * - Known visitors: a JWT (`Authorization: Bearer`, or the site's session cookie when configured)
 *   verified by ./jwt.ts; `sub` is the customer id. An invalid token is a 401 problem+json on the
 *   gateway's `/v1/` routes and an anonymous visit on proxied pages.
 * - Anonymous visitors: the signed first-party cookie (./cookie.ts), or the same signed value in
 *   `X-Gatehouse-Id` (apps). Read and set ONLY with storage consent (a missing consent is no
 *   consent); otherwise the visit gets an ephemeral id, no cookie, no state (`stateKey: null`), and
 *   a cookie set earlier is expired (consent withdrawn).
 * - Login (a valid JWT meets a valid anonymous id not yet carrying that customer): ./stitch.ts links
 *   them and the customer's state absorbs the anonymous state once. The cookie then carries the
 *   customer id, so later page views need no lookup. If stitching fails or runs out of time, the
 *   cookie does not carry the customer yet, so the next request with the token retries.
 * - Erased subjects (DSAR): a login or cookie renewal that meets a tombstoned id issues a new
 *   anonymous id; `DELETE /v1/me` expires the cookie. See docs/identity.md "Erased visitors".
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv, Env } from '../env'
import { buildSetCookie, parseCookieHeader, serializeCookieHeader } from '../lib/cookies'
import type { Logger } from '../lib/log'
import { problemResponse } from '../lib/problem'
import { bundledRules, type RuleSet } from '../rules'
import type { IdentityRules } from '../rules/concerns/identity'
import { withBudget } from '../lib/budget'
import {
  cookieKeyRing,
  signAnonymousToken,
  verifyAnonymousToken,
  type AnonymousToken,
  type CookieKeyRing,
} from './cookie'
import { jwksFromConfig, verifyJwt, type JwtError, type JwtResult } from './jwt'
import { stitch } from './stitch'
import { tombstonedKeys } from '../privacy/tombstone'
import type { Identity } from './types'

export { verifyJwt, jwksFromConfig } from './jwt'
export { stitch, resolveSubject } from './stitch'

export const ANONYMOUS_ID_HEADER = 'x-gatehouse-id'

export interface IdentityOptions {
  rules?: RuleSet
  /**
   * Path prefixes whose `Authorization` header carries another credential (admin JWTs, ingestion
   * API keys): the stage does not read it there.
   */
  foreignAuthorizationPaths?: readonly string[]
}

const DAY_S = 86_400
let reportedKeyError = false

export const identity = (opts: IdentityOptions = {}): MiddlewareHandler<AppEnv> => {
  const foreign = opts.foreignAuthorizationPaths ?? ['/admin/', '/v1/ingest/']
  return async function identity(c, next) {
    const cfg = (opts.rules ?? bundledRules).identity
    const req = c.get('request')
    const log = c.get('log')
    const path = req.url.pathname
    const api = req.gatewayRoute
    const nowS = Math.floor(Date.now() / 1000)
    // Fail closed: no consent value at all means no storage consent.
    const storage = c.get('consent')?.purposes?.storage === true

    // --- known visitor (JWT) ---
    let jwt: { subject: string; claims: Record<string, unknown> } | null = null
    if (!foreign.some((p) => path.startsWith(p))) {
      const presented = tokenFrom(c.req.header('authorization'), cfg, req.cookies)
      if (presented) {
        const r = await verifyConfigured(c.env, cfg, presented.token, log)
        if (r.ok) jwt = { subject: r.value.subject, claims: r.value.claims as Record<string, unknown> }
        else {
          log.warn('jwt_rejected', { reason: r.error.reason, via: presented.via })
          if (api) return unauthorized(r.error, presented.via)
        }
      }
    }

    // --- anonymous visitor (signed cookie / header), only with storage consent ---
    const ring = storage ? await keyRing(c.env, log) : null
    const cookieValue = req.cookies.get(cfg.cookie.name)
    const headerValue = c.req.header(ANONYMOUS_ID_HEADER)
    let presented: AnonymousToken | null = null
    let presentedVia: 'cookie' | 'header' | null = null
    if (ring) {
      for (const [via, value] of [
        ['cookie', cookieValue],
        ['header', headerValue],
      ] as const) {
        if (!value) continue
        const r = await verifyAnonymousToken(ring, value, nowS)
        if (r.ok) {
          presented = r.value
          presentedVia = via
          break
        }
        // Tampered, expired or foreign: ignored (a new id is issued), never an error.
        log.info('anonymous_id_rejected', { via, reason: r.error.reason })
      }
    }

    let anonymousId = presented?.anonymousId ?? crypto.randomUUID()
    let fresh = presented === null
    let carried = presented?.customerId ?? null
    if (jwt && carried !== null && carried !== jwt.subject) {
      // Someone else logs in on a browser stitched to another customer (a shared device): start a new
      // anonymous id rather than merging two people's histories.
      anonymousId = crypto.randomUUID()
      fresh = true
      carried = null
      log.info('anonymous_id_rotated', { reason: 'different_customer' })
    }

    // DSAR tombstones, checked where an id is (re)established rather than on every page view (a D1
    // read per request would sit on the hot path): at login (stitch reads them), and here when a
    // cookie is due for renewal (once per `refreshAfterDays` per visitor). An id erased in between
    // is still harmless: its CustomerState refuses every write until the tombstone expires.
    if (ring && presented && !fresh && renewalDue(presented, ring, cfg, nowS)) {
      const erased = await erasedIds(c.env, presented, cfg.stitching.callBudgetMs, log)
      if (erased.anonymous || erased.customer) {
        anonymousId = crypto.randomUUID()
        fresh = true
        if (erased.customer) carried = null
        log.info('anonymous_id_rotated', { reason: 'erased' })
      }
    }

    let cookieCustomer = carried
    if (ring && jwt && carried !== jwt.subject) {
      if (fresh) {
        // An id issued on this very request has no history to merge: no lookup, no stitching (an app
        // that never stores X-Gatehouse-Id must not create a link per request).
        cookieCustomer = jwt.subject
      } else {
        cookieCustomer = null
        const outcome = await login(c.env, cfg, { customerId: jwt.subject, anonymousId }, log, (p) =>
          waitUntil(c, p),
        )
        if (outcome === 'linked') cookieCustomer = jwt.subject
        else if (outcome === 'anonymous_conflict' || outcome === 'erased') {
          // Erased: the old id is never used again; the customer's own state refuses writes while
          // its tombstone lasts, so carrying the customer in the cookie re-creates nothing.
          anonymousId = crypto.randomUUID()
          fresh = true
          cookieCustomer = jwt.subject
        }
      }
    }

    const customerId = jwt?.subject ?? carried
    const persistent = ring !== null
    const value: Identity = {
      basis: jwt ? 'jwt' : !persistent ? 'ephemeral' : (presentedVia ?? 'cookie'),
      anonymousId,
      customerId,
      unitId: customerId ?? anonymousId,
      stateKey: customerId ? `c:${customerId}` : persistent ? `a:${anonymousId}` : null,
      ...(jwt ? { claims: jwt.claims } : {}),
    }
    c.set('identity', value)

    // --- what the response carries ---
    const setCookies: string[] = []
    let issued: string | null = null
    if (ring) {
      const reissue =
        fresh ||
        presented === null ||
        presented.customerId !== cookieCustomer ||
        presented.kid !== ring.signing.kid ||
        nowS - presented.issuedAt >= cfg.cookie.refreshAfterDays * DAY_S
      issued = reissue
        ? await signAnonymousToken(ring, {
            anonymousId,
            customerId: cookieCustomer,
            issuedAt: nowS,
            expiresAt: nowS + cfg.cookie.maxAgeDays * DAY_S,
          })
        : presentedVia === 'cookie'
          ? cookieValue!
          : headerValue!
      // Apps that identify by header get the renewed value in the response header instead.
      if (reissue && presentedVia !== 'header') {
        setCookies.push(buildSetCookie(cfg.cookie.name, issued, { maxAge: cfg.cookie.maxAgeDays * DAY_S }))
      }
    } else if (cookieValue !== undefined && !storage) {
      // Consent withdrawn (or never given): expire the cookie set earlier (RFC 6265 section 5.3 step 11, Max-Age=0).
      setCookies.push(buildSetCookie(cfg.cookie.name, '', { maxAge: 0 }))
    }

    // The origin never sees the gateway's own identifiers.
    c.get('hooks').originHeaders.push(function stripGatewayIdentity(headers) {
      headers.delete(ANONYMOUS_ID_HEADER)
      const jar = parseCookieHeader(headers.get('cookie'))
      if (jar.delete(cfg.cookie.name)) {
        if (jar.size) headers.set('cookie', serializeCookieHeader(jar))
        else headers.delete('cookie')
      }
    })
    if (!api) {
      c.get('hooks').cookies.push(...setCookies)
      if (setCookies.length) c.get('hooks').personalised = true
    }

    await next()

    // The caller just erased themselves (`DELETE /v1/me`): their id must not come back, so the
    // cookie is expired instead of renewed; the next visit starts a new anonymous id.
    if (api && c.req.method === 'DELETE' && path === '/v1/me' && c.res.status === 200 && ring) {
      appendHeaders(c, [['set-cookie', buildSetCookie(cfg.cookie.name, '', { maxAge: 0 })]])
      return
    }
    // Operators on /admin/ are not visitors: their responses carry no visitor id.
    if (api && !path.startsWith('/admin/')) {
      const extra: Array<[string, string]> = setCookies.map((line) => ['set-cookie', line])
      if (issued !== null) extra.push([ANONYMOUS_ID_HEADER, issued])
      if (extra.length) appendHeaders(c, extra)
    }
  }
}

/** RFC 6750 section 2.1 `Authorization: Bearer <token>`, else the configured session cookie. */
function tokenFrom(
  authorization: string | undefined,
  cfg: IdentityRules,
  cookies: Map<string, string>,
): { token: string; via: string } | null {
  if (authorization !== undefined) {
    const m = /^Bearer(?:\s+(.*))?$/i.exec(authorization.trim())
    if (m) return { token: (m[1] ?? '').trim(), via: 'header:authorization' }
  }
  if (cfg.jwt.cookie) {
    const token = cookies.get(cfg.jwt.cookie)
    if (token !== undefined) return { token, via: `cookie:${cfg.jwt.cookie}` }
  }
  return null
}

async function verifyConfigured(
  env: Env,
  cfg: IdentityRules,
  token: string,
  log: Logger,
): Promise<JwtResult> {
  if (!env.JWT_ISSUER || !env.JWT_AUDIENCE) {
    log.error('jwt_not_configured', { missing: !env.JWT_ISSUER ? 'JWT_ISSUER' : 'JWT_AUDIENCE' })
    return { ok: false, error: { reason: 'not_configured', message: 'token verification is not configured' } }
  }
  let jwks
  try {
    jwks = jwksFromConfig({
      url: env.JWT_JWKS_URL,
      json: env.JWT_JWKS,
      cooldownSeconds: cfg.jwt.jwksCooldownSeconds,
      cacheMaxAgeSeconds: cfg.jwt.jwksCacheMaxAgeSeconds,
      timeoutMs: cfg.jwt.jwksTimeoutMs,
    })
  } catch (err) {
    log.error('jwt_not_configured', { error: err as Error })
    return { ok: false, error: { reason: 'not_configured', message: 'token verification is not configured' } }
  }
  return verifyJwt(token, {
    jwks,
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
    algorithms: cfg.jwt.algorithms,
    clockSkewSeconds: cfg.jwt.clockSkewSeconds,
    maxTokenBytes: cfg.jwt.maxTokenBytes,
  })
}

/** 401 per RFC 6750 section 3 (`WWW-Authenticate: Bearer error="invalid_token"`, section 3.1), as problem+json. */
function unauthorized(error: JwtError, via: string): Response {
  return problemResponse(
    {
      type: 'https://gatehouse.dev/problems/invalid-token',
      title: 'Invalid token',
      status: 401,
      detail: `The bearer token was rejected: ${error.message}.`,
      reason: error.reason,
      errors: [{ path: via, message: error.message }],
    },
    {
      'www-authenticate': `Bearer realm="gatehouse", error="invalid_token", error_description="${error.message}"`,
    },
  )
}

async function keyRing(env: Env, log: Logger): Promise<CookieKeyRing | null> {
  try {
    return await cookieKeyRing(env.COOKIE_KEYS)
  } catch (err) {
    // Without keys nothing can be signed: every visitor is ephemeral until the secret is fixed.
    if (!reportedKeyError) log.error('cookie_keys_unusable', { error: err as Error })
    reportedKeyError = true
    return null
  }
}

/**
 * Stitches a login within the budget. `linked`: the cookie may carry the customer from now on;
 * `anonymous_conflict`: this anonymous id belongs to another customer (start a new one);
 * `erased`: the customer or this anonymous id was erased (DSAR tombstone; start a new anonymous id);
 * `retry`: incomplete (timeout, an object failed), the next request with the token tries again.
 */
async function login(
  env: Env,
  cfg: IdentityRules,
  who: { customerId: string; anonymousId: string },
  log: Logger,
  keepAlive: (p: Promise<unknown>) => void,
): Promise<'linked' | 'anonymous_conflict' | 'erased' | 'retry'> {
  const work = stitch(env, {
    customerId: who.customerId,
    anonymousId: who.anonymousId,
    identifiers: [],
    assertedBy: 'jwt',
    limits: cfg.stitching,
  })
  // Let an over-budget stitch finish in the background; the next login finds it done (idempotent).
  keepAlive(work)
  const r = await withBudget(work, cfg.stitching.budgetMs, 'stitch')
  if (!r.ok) {
    log.warn('stitch_fallback', { ...r.error })
    return 'retry'
  }
  const result = r.value
  if (result.erased.length > 0) {
    log.info('stitch_refused', { reason: 'erased', keys: result.erased.length })
    return 'erased'
  }
  const anonKey = `anonymous_id:${who.anonymousId}`
  if (result.conflicts.some((x) => x.identifierKey === anonKey)) {
    log.warn('stitch_conflict', { identifierType: 'anonymous_id', reason: 'held_by_other_customer' })
    return 'anonymous_conflict'
  }
  if (result.fallback) {
    log.warn('stitch_fallback', { ...result.fallback })
    return 'retry'
  }
  log.info('stitched', {
    linked: result.linked.length,
    absorbed: result.absorbed.length,
    conflicts: result.conflicts.length,
  })
  return 'linked'
}

/** The cookie is renewed on this request: old enough, or signed with a retired key. */
function renewalDue(
  presented: AnonymousToken,
  ring: CookieKeyRing,
  cfg: IdentityRules,
  nowS: number,
): boolean {
  return (
    presented.kid !== ring.signing.kid || nowS - presented.issuedAt >= cfg.cookie.refreshAfterDays * DAY_S
  )
}

/**
 * Whether the cookie's anonymous id or the customer it carries was erased (one D1 read). On timeout
 * or error the answer is "not erased": the id's CustomerState still refuses writes, and the next
 * renewal asks again.
 */
async function erasedIds(
  env: Env,
  presented: AnonymousToken,
  budgetMs: number,
  log: Logger,
): Promise<{ anonymous: boolean; customer: boolean }> {
  // Tombstones are peppered digests: without a pepper none can have been written.
  if (!env.ID_PEPPER) return { anonymous: false, customer: false }
  const anonymousKey = `a:${presented.anonymousId}`
  const customerKey = presented.customerId ? `c:${presented.customerId}` : null
  const r = await withBudget(
    () => tombstonedKeys(env, customerKey ? [anonymousKey, customerKey] : [anonymousKey]),
    budgetMs,
    'd1.tombstones',
  )
  if (!r.ok) {
    log.warn('tombstone_check_failed', { ...r.error })
    return { anonymous: false, customer: false }
  }
  return { anonymous: r.value.has(anonymousKey), customer: customerKey !== null && r.value.has(customerKey) }
}

function waitUntil(c: { executionCtx: ExecutionContext }, p: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(p.catch(() => undefined))
  } catch {
    // No execution context (a bare app.fetch in a script): the promise simply runs on.
  }
}

function appendHeaders(c: { res: Response }, headers: Array<[string, string]>): void {
  try {
    for (const [k, v] of headers) c.res.headers.append(k, v)
  } catch {
    // Immutable headers (a response straight from fetch): copy it, the body still streams.
    c.res = new Response(c.res.body, c.res)
    for (const [k, v] of headers) c.res.headers.append(k, v)
  }
}
