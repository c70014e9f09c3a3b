/**
 * Attack catalogue, row 6: admin and ingest JWTs must expire, within a maximum lifetime. A token
 * that leaked (a log, a laptop, a CI variable) stops working by itself; a token without `exp`, or
 * one minted to live for a year, is refused with 401 problem+json that says why. Runs through the
 * public routes: `/admin/v1/*` and the ingest credential of `POST /v1/ingest/events`.
 */
import { env } from 'cloudflare:workers'
import { importJWK, SignJWT, type JWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_LIFETIME_SECONDS } from '../../worker/admin/auth'
import type { Env } from '../../worker/env'
import { bearer, capturingApp } from '../admin/support'

const signing = JSON.parse(
  (env as unknown as { TEST_ADMIN_SIGNING_KEYS: string }).TEST_ADMIN_SIGNING_KEYS,
) as Record<'ES256', JWK>

const HOUR = 3600

/** A genuine admin token (right key, issuer, audience) with exactly the time claims given. */
async function token(times: { iat?: number; exp?: number }, roles = ['admin', 'ingest']): Promise<string> {
  const jwt = new SignJWT({ roles, ...times })
    .setProtectedHeader({ alg: 'ES256', kid: signing.ES256.kid! })
    .setSubject('officer-lifetime')
    .setIssuer(env.ADMIN_JWT_ISSUER!)
    .setAudience(env.ADMIN_JWT_AUDIENCE!)
  return jwt.sign(await importJWK(signing.ES256, 'ES256'))
}

const now = () => Math.floor(Date.now() / 1000)

interface Problem {
  status: number
  reason?: string
  detail?: string
  maxLifetimeSeconds?: number
  errors?: Array<{ path: string; message: string }>
}

async function admin(jwt: string, overrides: Partial<Env> = {}) {
  const res = await capturingApp(overrides).fetch('/admin/v1/audit', { headers: bearer(jwt) })
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Problem }
}

async function ingest(jwt: string) {
  const res = await capturingApp().fetch('/v1/ingest/events', {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json', ...bearer(jwt) },
  })
  return { status: res.status, body: (await res.json()) as Problem }
}

const refused = [
  { name: 'a token without exp', times: () => ({ iat: now() }), reason: 'no_expiry' },
  { name: 'a token with neither iat nor exp', times: () => ({}), reason: 'no_expiry' },
  {
    name: 'a token minted to live a year',
    times: () => ({ iat: now(), exp: now() + 365 * 24 * HOUR }),
    reason: 'lifetime_too_long',
  },
  {
    name: 'a token one minute over the 24-hour limit',
    times: () => ({ iat: now(), exp: now() + 24 * HOUR + 60 }),
    reason: 'lifetime_too_long',
  },
  {
    name: 'a long-lived token without iat (measured from now)',
    times: () => ({ exp: now() + 48 * HOUR }),
    reason: 'lifetime_too_long',
  },
  {
    name: 'a long-lived token with only two hours left (the lifetime counts, not what remains)',
    times: () => ({ iat: now() - 23 * HOUR, exp: now() + 2 * HOUR }),
    reason: 'lifetime_too_long',
  },
  {
    name: 'a token whose iat lies in the future, to shrink exp - iat',
    times: () => ({ iat: now() + 47 * HOUR, exp: now() + 48 * HOUR }),
    reason: 'lifetime_too_long',
  },
  {
    name: 'an expired token',
    times: () => ({ iat: now() - 2 * HOUR, exp: now() - HOUR }),
    reason: 'expired_token',
  },
]

describe('row 6: admin and ingest tokens must expire, within a maximum lifetime', () => {
  it.each(refused)('refuses $name on the admin API with 401 saying why', async ({ times, reason }) => {
    const res = await admin(await token(times()))
    expect(res.status).toBe(401)
    expect(res.type).toBe('application/problem+json')
    expect(res.body.reason).toBe(reason)
    if (reason !== 'expired_token') expect(res.body.errors?.[0]?.path).toBe('exp')
    if (reason === 'lifetime_too_long') expect(res.body.maxLifetimeSeconds).toBe(DEFAULT_MAX_LIFETIME_SECONDS)
  })

  it.each(refused)('refuses $name as an ingest credential with 401', async ({ times, reason }) => {
    const res = await ingest(await token(times()))
    expect(res.status).toBe(401)
    expect(res.body.errors).toEqual([{ path: 'Authorization', message: `jwt_${reason}` }])
  })

  it.each([
    { name: 'a five-minute token', times: () => ({ iat: now(), exp: now() + 300 }) },
    {
      name: 'a token for a whole 24-hour Access session',
      times: () => ({ iat: now(), exp: now() + 24 * HOUR }),
    },
    { name: 'a short token without iat', times: () => ({ exp: now() + HOUR }) },
  ])('accepts $name', async ({ times }) => {
    const jwt = await token(times())
    expect((await admin(jwt)).status).toBe(200)
    // Past authentication, the ingest route judges the (empty) body instead.
    const res = await ingest(jwt)
    expect(res.status).toBe(400)
  })

  it('honours a shorter configured maximum (ADMIN_JWT_MAX_LIFETIME_SECONDS)', async () => {
    const strict = { ADMIN_JWT_MAX_LIFETIME_SECONDS: '600' }
    const quarter = await admin(await token({ iat: now(), exp: now() + 900 }), strict)
    expect(quarter.status).toBe(401)
    expect(quarter.body).toMatchObject({ reason: 'lifetime_too_long', maxLifetimeSeconds: 600 })
    expect((await admin(await token({ iat: now(), exp: now() + 300 }), strict)).status).toBe(200)
  })

  it('falls back to the 24-hour default when the configured maximum is not a sane number', async () => {
    for (const value of ['0', '-5', 'forever', '99999999', '']) {
      const day = await admin(await token({ iat: now(), exp: now() + 24 * HOUR }), {
        ADMIN_JWT_MAX_LIFETIME_SECONDS: value,
      })
      expect(day.status, value).toBe(200)
      const longer = await admin(await token({ iat: now(), exp: now() + 25 * HOUR }), {
        ADMIN_JWT_MAX_LIFETIME_SECONDS: value,
      })
      expect(longer.status, value).toBe(401)
    }
  })

  it('checks lifetime only on genuine tokens: a forged long-lived token is invalid, not "too long"', async () => {
    const genuine = await token({ iat: now(), exp: now() + 365 * 24 * HOUR })
    const [head, payload] = genuine.split('.')
    const forged = `${head}.${payload}.${'A'.repeat(86)}`
    const res = await admin(forged)
    expect(res.status).toBe(401)
    expect(res.body.reason).toBe('invalid_token')
  })
})
