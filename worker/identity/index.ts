/**
 * The `identity` stage (docs/architecture.md "The request path"): who the visitor is, gated by consent.
 * The policy (what the request proves, which subject it may touch, what happens to the cookie) is
 * the pure ./plan.ts; this file gathers the facts, runs the I/O the plan asks for and carries it out.
 *
 * - Known visitors: a JWT (`Authorization: Bearer`, or the site's session cookie when configured)
 *   verified by ./jwt.ts; `sub` is the customer id. An invalid token is a 401 problem+json on the
 *   gateway's `/v1/` routes and an anonymous visit on proxied pages.
 * - Anonymous visitors: the signed first-party cookie (./cookie.ts), or the same signed value in
 *   `X-Gatehouse-Id` (apps). Read and set ONLY with storage consent (a missing consent is no
 *   consent); otherwise the visit gets an ephemeral id, no cookie, no state (`stateKey: null`), and
 *   a cookie set earlier is expired (consent withdrawn).
 * - Login (a valid JWT meets a valid anonymous id not yet carrying that customer): ./stitch.ts links
 *   them, with the identifiers the token vouches for, and the customer's state absorbs the anonymous
 *   state once. The cookie then carries the customer id for personalisation; it is never proof of
 *   the customer (docs/identity.md "Trust model"). `POST /v1/sign-out` drops it.
 * - Erased subjects (DSAR): a login or cookie renewal that meets a tombstoned id issues a new
 *   anonymous id; `DELETE /v1/me` expires the cookie. See docs/identity.md "Erased visitors".
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv, Env } from '../env'
import { buildSetCookie, parseCookieHeader, serializeCookieHeader } from '../lib/cookies'
import type { Logger } from '../lib/log'
import { firstPartyOrigin } from '../lib/origin'
import { problemResponse } from '../lib/problem'
import { bundledRules, type RuleSet } from '../rules'
import type { IdentityRules } from '../rules/concerns/identity'
import { withBudget } from '../lib/budget'
import { cookieKeyRing, signAnonymousToken, verifyAnonymousToken, type CookieKeyRing } from './cookie'
import { jwksFromConfig, verifyJwt, type JwtError, type JwtResult } from './jwt'
import { planVisitor, type LoginOutcome, type PresentedId, type VisitorFacts } from './plan'
import { stitch } from './stitch'
import { tombstonedKeys } from '../privacy/tombstone'

export { verifyJwt, jwksFromConfig } from './jwt'
export { stitch, resolveSubject } from './stitch'

export const ANONYMOUS_ID_HEADER = 'x-gatehouse-id'
/** Drops the customer binding from the caller's signed id (./route.ts). */
export const SIGN_OUT_PATH = '/v1/sign-out'

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
    const presented = ring ? await presentedId(ring, [cookieValue, headerValue], nowS, log) : null

    // --- what the request proves, and what the response does (./plan.ts) ---
    const facts: VisitorFacts = {
      nowS,
      persistent: ring !== null,
      cookieWithoutConsent: cookieValue !== undefined && !storage,
      jwtSubject: jwt?.subject ?? null,
      presented,
      signingKid: ring?.signing.kid ?? null,
      refreshAfterS: cfg.cookie.refreshAfterDays * DAY_S,
      signOut:
        api &&
        c.req.method === 'POST' &&
        path === SIGN_OUT_PATH &&
        firstPartyOrigin(c.req.header('origin'), req.url.host),
      newAnonymousId: crypto.randomUUID(),
    }
    let step = planVisitor(facts)
    while (step.kind !== 'done') {
      if (step.kind === 'check_tombstones') {
        facts.tombstones = await erasedIds(c.env, step, cfg.stitching.callBudgetMs, log)
      } else {
        const identifiers = verifiedIdentifiers(jwt?.claims ?? {})
        facts.login = await login(c.env, cfg, { ...step, identifiers }, log, (p) => waitUntil(c, p))
      }
      step = planVisitor(facts)
    }
    const { identity: resolved, cookie, rotated } = step.visit
    if (rotated) log.info('anonymous_id_rotated', { reason: rotated })
    // The visit is this request's own object; JIT: docs/performance.md "Engine notes", "Object spread on the identity path".
    if (jwt) resolved.claims = jwt.claims
    c.set('identity', resolved)

    // --- what the response carries ---
    const setCookies: string[] = []
    let issued: string | null = null
    if (ring && cookie.action === 'issue') {
      issued = await signAnonymousToken(ring, {
        anonymousId: resolved.anonymousId,
        customerId: cookie.customerId,
        issuedAt: nowS,
        expiresAt: nowS + cfg.cookie.maxAgeDays * DAY_S,
      })
      // Apps that identify by header get the renewed value in the response header instead.
      if (presented?.via !== 'header') {
        setCookies.push(buildSetCookie(cfg.cookie.name, issued, { maxAge: cfg.cookie.maxAgeDays * DAY_S }))
      }
    } else if (cookie.action === 'keep') {
      issued = presented?.via === 'header' ? headerValue! : cookieValue!
    } else if (cookie.action === 'expire') {
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
    // Operators on /admin/ are not visitors: their responses carry no visitor id. Neither does a
    // response a shared cache may keep (RFC 9111 section 5.2.2.9 `public`, 5.2.2.10 `s-maxage`):
    // the cache would hand one visitor's id to everyone.
    if (api && !path.startsWith('/admin/') && !sharedCacheable(c.res.headers.get('cache-control'))) {
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
  who: { customerId: string; anonymousId: string; identifiers: VerifiedIdentifier[] },
  log: Logger,
  keepAlive: (p: Promise<unknown>) => void,
): Promise<LoginOutcome> {
  const work = stitch(env, {
    customerId: who.customerId,
    anonymousId: who.anonymousId,
    identifiers: who.identifiers,
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

/**
 * Whether the cookie's anonymous id or the customer it carries was erased (one D1 read). On timeout
 * or error the answer is "not erased": the id's CustomerState still refuses writes, and the next
 * renewal asks again.
 */
async function erasedIds(
  env: Env,
  presented: { anonymousId: string; customerId: string | null },
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

/**
 * The signed id the request presents: the cookie first, then `X-Gatehouse-Id` (apps). Tampered,
 * expired or foreign values are ignored (a new id is issued), never an error.
 */
async function presentedId(
  ring: CookieKeyRing,
  [cookie, header]: [string | undefined, string | undefined],
  nowS: number,
  log: Logger,
): Promise<PresentedId | null> {
  for (const [via, value] of [
    ['cookie', cookie],
    ['header', header],
  ] as const) {
    if (!value) continue
    const r = await verifyAnonymousToken(ring, value, nowS)
    if (r.ok) return { ...r.value, via }
    log.info('anonymous_id_rejected', { via, reason: r.error.reason })
  }
  return null
}

type VerifiedIdentifier = { type: 'email' | 'phone'; value: string }

/**
 * Identifiers the identity provider vouches for in a verified token (OpenID Connect Core 1.0
 * section 5.1: `email` with `email_verified: true`, `phone_number` with `phone_number_verified:
 * true`): a verified source, so a login links them to the customer (docs/identity.md "Trust model").
 */
export function verifiedIdentifiers(claims: Record<string, unknown>): VerifiedIdentifier[] {
  const out: VerifiedIdentifier[] = []
  if (typeof claims.email === 'string' && claims.email_verified === true)
    out.push({ type: 'email', value: claims.email })
  if (typeof claims.phone_number === 'string' && claims.phone_number_verified === true)
    out.push({ type: 'phone', value: claims.phone_number })
  return out
}

/** A response a shared cache may store (RFC 9111 section 5.2.2.9 `public`, 5.2.2.10 `s-maxage`). */
function sharedCacheable(cacheControl: string | null): boolean {
  return cacheControl !== null && /(?:^|[,\s])(?:public|s-maxage\s*=)/i.test(cacheControl)
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
