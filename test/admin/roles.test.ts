/**
 * The admin role matrix, end to end: every admin route with no token, a bad token, and each role.
 * Deny by default; every attempt, allowed or not, leaves an audit row naming who did what.
 */
import { env } from 'cloudflare:workers'
import { importJWK, SignJWT, type JWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { ADMIN_ROLES, ADMIN_ROUTES, type AdminAction } from '../../worker/admin/roles'
import { adminToken, bearer, capturingApp } from './support'

/** A request each route answers when allowed, and the status it then answers with. */
const SAMPLES: Record<AdminAction, { path: string; body?: unknown; allowedStatus: number }> = {
  'GET /admin/v1/decisions': { path: '/admin/v1/decisions?limit=5', allowedStatus: 200 },
  'GET /admin/v1/decisions/:id': { path: '/admin/v1/decisions/no-such-record', allowedStatus: 404 },
  'POST /admin/v1/subjects/export': {
    path: '/admin/v1/subjects/export',
    body: { identifier: { type: 'customer_id', value: 'matrix-nobody' } },
    allowedStatus: 200,
  },
  'POST /admin/v1/subjects/erase': {
    path: '/admin/v1/subjects/erase',
    body: { identifier: { type: 'customer_id', value: 'matrix-nobody' } },
    allowedStatus: 200,
  },
  'GET /admin/v1/subjects/receipts/:id': {
    path: '/admin/v1/subjects/receipts/rcpt_none',
    allowedStatus: 404,
  },
  'GET /admin/v1/record-of-processing': { path: '/admin/v1/record-of-processing', allowedStatus: 200 },
  'GET /admin/v1/audit': { path: '/admin/v1/audit?limit=3', allowedStatus: 200 },
  'GET /admin/v1/rules/versions': { path: '/admin/v1/rules/versions', allowedStatus: 200 },
  'GET /admin/v1/experiments': { path: '/admin/v1/experiments', allowedStatus: 200 },
  'GET /admin/v1/experiments/:id': { path: '/admin/v1/experiments/no_such_test', allowedStatus: 404 },
}

type Caller = 'no token' | 'bad token' | (typeof ADMIN_ROLES)[number]
const CALLERS: Caller[] = ['no token', 'bad token', ...ADMIN_ROLES]

const rows = (Object.keys(ADMIN_ROUTES) as AdminAction[]).flatMap((action) =>
  CALLERS.map((caller) => {
    const allowed = (ADMIN_ROUTES[action] as readonly string[]).includes(caller)
    const expected =
      caller === 'no token' || caller === 'bad token' ? 401 : allowed ? SAMPLES[action].allowedStatus : 403
    return { action, caller, expected }
  }),
)

async function headersFor(caller: Caller): Promise<Record<string, string>> {
  if (caller === 'no token') return {}
  if (caller === 'bad token') {
    // Signed by our key but tampered with: the signature no longer matches.
    const good = await adminToken({ roles: ['admin'] })
    const [h, p, s] = good.split('.')
    const payload = JSON.parse(atob(p!.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>
    payload.sub = 'mallory'
    const forged = btoa(JSON.stringify(payload)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
    return bearer(`${h}.${forged}.${s}`) as Record<string, string>
  }
  return bearer(await adminToken({ sub: `sub-${caller}`, roles: [caller] })) as Record<string, string>
}

describe('admin role matrix', () => {
  it.each(rows)('$action as $caller answers $expected', async ({ action, caller, expected }) => {
    const sample = SAMPLES[action]
    const method = action.split(' ')[0]!
    const { fetch, lines } = capturingApp()
    const res = await fetch(sample.path, {
      method,
      headers: {
        ...(await headersFor(caller)),
        ...(sample.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(sample.body ? { body: JSON.stringify(sample.body) } : {}),
    })
    expect(res.status).toBe(expected)
    if (expected === 401 || expected === 403) {
      expect(res.headers.get('content-type')).toBe('application/problem+json')
    }
    // The attempt is in the audit log (D1 and the structured log) with who, what and the outcome.
    const requestId = res.headers.get('x-request-id')!
    const row = await env.DB.prepare('SELECT * FROM admin_audit WHERE request_id = ?')
      .bind(requestId)
      .first<{ actor: string | null; action: string; outcome: string; status: number }>()
    expect(row).toMatchObject({ action, status: expected })
    expect(row!.actor).toBe(caller === 'no token' || caller === 'bad token' ? null : `sub-${caller}`)
    expect(row!.outcome).toBe(
      expected === 401
        ? 'denied_unauthenticated'
        : expected === 403
          ? 'denied_forbidden'
          : expected === 404
            ? 'not_found'
            : 'allowed',
    )
    expect(lines.some((l) => l.includes('"event":"admin_audit"') && l.includes(requestId))).toBe(true)
  })
})

describe('admin authentication', () => {
  it('accepts a Cloudflare Access token in Cf-Access-Jwt-Assertion (RS256)', async () => {
    const { fetch } = capturingApp()
    const token = await adminToken({ alg: 'RS256', roles: ['analyst'] })
    const res = await fetch('/admin/v1/decisions', { headers: { 'cf-access-jwt-assertion': token } })
    expect(res.status).toBe(200)
  })

  it('reads roles from a space-separated claim and from a configured claim name', async () => {
    const spaced = await adminToken({ roles: 'marketer privacy' })
    expect((await capturingApp().fetch('/admin/v1/audit', { headers: bearer(spaced) })).status).toBe(200)

    const custom = await adminToken({ claims: { 'https://gatehouse.dev/roles': ['privacy'] } })
    const app = capturingApp({ ADMIN_ROLES_CLAIM: 'https://gatehouse.dev/roles' })
    expect((await app.fetch('/admin/v1/audit', { headers: bearer(custom) })).status).toBe(200)
    // The default claim is then ignored.
    const other = await adminToken({ roles: ['privacy'] })
    expect((await app.fetch('/admin/v1/audit', { headers: bearer(other) })).status).toBe(403)
  })

  it.each([
    {
      name: 'a token from another issuer',
      opts: { issuer: 'https://evil.example/' },
      reason: 'claims_rejected',
    },
    { name: 'a token for another audience', opts: { audience: 'someone-else' }, reason: 'claims_rejected' },
    { name: 'an expired token', opts: { expiresIn: '-10m' }, reason: 'expired_token' },
  ])('refuses $name with 401', async ({ opts, reason }) => {
    const token = await adminToken({ roles: ['admin'], ...opts })
    const res = await capturingApp().fetch('/admin/v1/audit', { headers: bearer(token) })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ status: 401, reason })
  })

  it('refuses an HS256 token even when signed with the public key material (algorithms are pinned)', async () => {
    const jwks = JSON.parse(env.ADMIN_JWKS!) as { keys: Array<{ x?: string }> }
    const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]))
    const token = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'test-es256' })
      .setSubject('mallory')
      .setIssuer(env.ADMIN_JWT_ISSUER!)
      .setAudience(env.ADMIN_JWT_AUDIENCE!)
      .setExpirationTime('5m')
      .sign(secret)
    const res = await capturingApp().fetch('/admin/v1/audit', { headers: bearer(token) })
    expect(res.status).toBe(401)
  })

  it('refuses a token with no known role for every route (deny by default)', async () => {
    const token = await adminToken({ roles: ['superuser', 'root'] })
    const res = await capturingApp().fetch('/admin/v1/record-of-processing', { headers: bearer(token) })
    expect(res.status).toBe(403)
  })

  it('answers unknown admin paths with 401 before authentication and 404 after, never proxying', async () => {
    const app = capturingApp()
    expect((await app.fetch('/admin/v1/nothing-here')).status).toBe(401)
    const res = await app.fetch('/admin/v1/nothing-here', {
      headers: bearer(await adminToken({ roles: ['admin'] })),
    })
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
  })

  it('refuses everyone when admin keys are not configured', async () => {
    const token = await adminToken({ roles: ['admin'] })
    const res = await capturingApp({ ADMIN_JWKS: undefined, ADMIN_JWKS_URL: undefined }).fetch(
      '/admin/v1/audit',
      {
        headers: bearer(token),
      },
    )
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ reason: 'not_configured' })
  })
})

describe('GET /admin/v1/audit', () => {
  it('lists who did what, when and with which outcome, newest first, filterable by actor', async () => {
    const app = capturingApp()
    const marketer = await adminToken({ sub: 'audit-marketer', roles: ['marketer'] })
    await app.fetch('/admin/v1/record-of-processing', { headers: bearer(marketer) })
    await app.fetch('/admin/v1/decisions', { headers: bearer(marketer) })
    const officer = await adminToken({ sub: 'audit-officer', roles: ['privacy'] })
    const res = await app.fetch('/admin/v1/audit?actor=audit-marketer&limit=10', { headers: bearer(officer) })
    expect(res.status).toBe(200)
    const { entries } = (await res.json()) as {
      entries: Array<{ actor: string; action: string; outcome: string; at: string; status: number }>
    }
    // Newest first (two requests may share a millisecond, so order is checked on the times).
    expect(entries.map((e) => [e.action, e.outcome, e.status])).toEqual(
      expect.arrayContaining([
        ['GET /admin/v1/decisions', 'denied_forbidden', 403],
        ['GET /admin/v1/record-of-processing', 'allowed', 200],
      ]),
    )
    expect(entries).toHaveLength(2)
    expect(Date.parse(entries[0]!.at)).toBeGreaterThanOrEqual(Date.parse(entries[1]!.at))
    expect(entries.every((e) => e.actor === 'audit-marketer' && !Number.isNaN(Date.parse(e.at)))).toBe(true)
  })

  it('answers bad parameters with 400 naming them', async () => {
    const token = await adminToken({ roles: ['admin'] })
    const res = await capturingApp().fetch('/admin/v1/audit?limit=0&since=yesterday', {
      headers: bearer(token),
    })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { errors: Array<{ path: string }> }
    expect(body.errors.map((e) => e.path).sort()).toEqual(['limit', 'since'])
  })
})

describe('admin keys from a JWKS URL (as Cloudflare Access publishes them)', () => {
  const base = (env as unknown as { TEST_JWKS_BASE: string }).TEST_JWKS_BASE
  const tenant = `${base}/t/admin-access`

  async function accessToken(roles: string[]): Promise<string> {
    const { keys } = (await (await fetch(`${tenant}/keys`)).json()) as { keys: Array<JWK & { kid: string }> }
    const rsa = keys.find((k) => k.kid === 'rsa-1')!
    return new SignJWT({ roles })
      .setProtectedHeader({ alg: 'RS256', kid: rsa.kid })
      .setSubject('access-user-1')
      .setIssuer(env.ADMIN_JWT_ISSUER!)
      .setAudience(env.ADMIN_JWT_AUDIENCE!)
      .setExpirationTime('5m')
      .sign(await importJWK(rsa, 'RS256'))
  }

  it('verifies a Cf-Access-Jwt-Assertion against keys fetched from ADMIN_JWKS_URL', async () => {
    const app = capturingApp({ ADMIN_JWKS: undefined, ADMIN_JWKS_URL: `${tenant}/jwks.json` })
    const res = await app.fetch('/admin/v1/decisions', {
      headers: { 'cf-access-jwt-assertion': await accessToken(['analyst']) },
    })
    expect(res.status).toBe(200)
  })

  it('answers 503 with Retry-After, never letting anyone in, when the key set cannot be fetched', async () => {
    const app = capturingApp({ ADMIN_JWKS: undefined, ADMIN_JWKS_URL: `${tenant}/missing.json` })
    const res = await app.fetch('/admin/v1/decisions', {
      headers: { 'cf-access-jwt-assertion': await accessToken(['admin']) },
    })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('30')
    expect(await res.json()).toMatchObject({ reason: 'keys_unavailable' })
  })
})
