/**
 * Anonymous ids: the signed first-party cookie (and X-Gatehouse-Id for apps), set only with storage
 * consent, unforgeable, rotating keys without losing visitors, and gone when consent is withdrawn.
 */
import { describe, expect, it } from 'vitest'
import { cookieKeyRing, signAnonymousToken, verifyAnonymousToken } from '../../worker/identity/cookie'
import { createApp } from '../../worker/app'
import { DE, US_CA, appFetch, gate, idCookie, signToken, testEnv, whoami } from './support'

const DAY = 86_400
const now = () => Math.floor(Date.now() / 1000)

/** A cookie value signed with the keys the Worker uses (or a foreign key ring). */
async function mint(
  opts: {
    anonymousId?: string
    customerId?: string | null
    issuedAt?: number
    expiresAt?: number
    keys?: string
  } = {},
) {
  const ring = await cookieKeyRing(opts.keys ?? testEnv.COOKIE_KEYS)
  const t = now()
  return signAnonymousToken(ring, {
    anonymousId: opts.anonymousId ?? crypto.randomUUID(),
    customerId: opts.customerId ?? null,
    issuedAt: opts.issuedAt ?? t,
    expiresAt: opts.expiresAt ?? t + 390 * DAY,
  })
}

const OLD_KEY_ONLY = JSON.stringify([
  { kid: 'k1', secret: 'test-cookie-key-1-0123456789abcdef0123456789abcdef' },
])
const FOREIGN_KEYS = JSON.stringify([{ kid: 'k2', secret: 'somebody-elses-key-0123456789abcdef0123456789' }])

describe('anonymous id cookie with storage consent', () => {
  it('sets a signed, HttpOnly, Secure, SameSite=Lax cookie of at most 400 days on a proxied page', async () => {
    const res = await gate('/', { headers: US_CA })
    expect(res.status).toBe(200)
    const cookie = idCookie(res)!
    expect(cookie.value).toMatch(/^v1\.k2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/)
    expect(cookie.attributes.get('httponly')).toBe(true)
    expect(cookie.attributes.get('secure')).toBe(true)
    expect(cookie.attributes.get('samesite')).toBe('Lax')
    expect(cookie.attributes.get('path')).toBe('/')
    const maxAge = Number(cookie.attributes.get('max-age'))
    expect(maxAge).toBeGreaterThan(0)
    expect(maxAge).toBeLessThanOrEqual(400 * DAY)
    // A response that sets a visitor's cookie must never be cached for others.
    expect(res.headers.get('cache-control') ?? '').toMatch(/private|no-store/)
  })

  it('keeps the same id for a returning visitor without re-setting a fresh cookie', async () => {
    const first = await whoami(US_CA)
    const cookie = idCookie(first.res)!.value
    const again = await whoami({ ...US_CA, cookie: `gh_id=${cookie}` })
    expect(again.body).toMatchObject({
      basis: 'cookie',
      anonymousId: first.body.anonymousId,
      stateKey: `a:${first.body.anonymousId}`,
    })
    expect(idCookie(again.res)).toBeUndefined()
  })

  it('rolls the expiry forward once the cookie is older than refreshAfterDays', async () => {
    const anonymousId = crypto.randomUUID()
    const old = await mint({ anonymousId, issuedAt: now() - 8 * DAY, expiresAt: now() + 382 * DAY })
    const { res, body } = await whoami({ ...US_CA, cookie: `gh_id=${old}` })
    expect(body.anonymousId).toBe(anonymousId)
    expect(idCookie(res)!.value).not.toBe(old)
  })

  it('gives apps the same id through X-Gatehouse-Id', async () => {
    const first = await whoami(US_CA)
    const issued = first.res.headers.get('x-gatehouse-id')!
    expect(issued).toMatch(/^v1\.k2\./)
    const again = await whoami({ ...US_CA, 'x-gatehouse-id': issued })
    expect(again.body).toMatchObject({ basis: 'header', anonymousId: first.body.anonymousId })
  })

  it('never passes the gateway id cookie or header on to the origin', async () => {
    const value = await mint()
    const res = await gate('/echo', {
      headers: { ...US_CA, cookie: `gh_id=${value}; theme=dark`, 'x-gatehouse-id': value },
    })
    const echo = (await res.json()) as { headers: Record<string, string> }
    expect(echo.headers['cookie'] ?? '').not.toContain('gh_id')
    expect(echo.headers['x-gatehouse-id']).toBeUndefined()
  })
})

describe('verifying a returning visitor once per isolate', () => {
  it('still checks the times of a value it has verified before, and only for the key ring that signed it', async () => {
    const ring = await cookieKeyRing(testEnv.COOKIE_KEYS)
    const t = now()
    const value = await signAnonymousToken(ring, {
      anonymousId: crypto.randomUUID(),
      customerId: null,
      issuedAt: t,
      expiresAt: t + 60,
    })
    expect((await verifyAnonymousToken(ring, value, t)).ok).toBe(true)
    // The same value, later: remembered as verified, but past its expiry all the same.
    expect(await verifyAnonymousToken(ring, value, t + 61)).toMatchObject({
      ok: false,
      error: { reason: 'expired' },
    })
    // A rotated-away key ring does not inherit what the old one verified.
    const foreign = await cookieKeyRing(FOREIGN_KEYS)
    expect((await verifyAnonymousToken(foreign, value, t)).ok).toBe(false)
  })
})

describe('tampered, expired and foreign ids are ignored, never an error', () => {
  const variants: Array<[string, () => Promise<string>]> = [
    [
      'a payload edited to another id',
      async () => {
        const [v, kid, , mac] = (await mint()).split('.')
        const forged = btoa(
          JSON.stringify({ a: crypto.randomUUID(), c: 'victim', iat: now(), exp: now() + DAY }),
        )
          .replace(/\+/g, '-')
          .replace(/\//g, '_')
          .replace(/=+$/, '')
        return `${v}.${kid}.${forged}.${mac}`
      },
    ],
    [
      'a flipped signature byte',
      async () => {
        const value = await mint()
        return value.slice(0, -2) + (value.at(-2) === 'A' ? 'B' : 'A') + value.at(-1)
      },
    ],
    ['an expired token', () => mint({ issuedAt: now() - 400 * DAY, expiresAt: now() - 10 })],
    ['a token issued in the future', () => mint({ issuedAt: now() + 3600 })],
    ["a token signed by someone else's key", () => mint({ keys: FOREIGN_KEYS })],
    ['a key id the gateway does not have', async () => (await mint()).replace('v1.k2.', 'v1.k9.')],
    ['garbage', async () => 'not-a-cookie'],
    ['an oversized value', async () => 'v1.k2.' + 'A'.repeat(5000) + '.AAAA'],
  ]

  it.each(variants)('%s gets a new id and a new cookie', async (_name, make) => {
    const value = await make()
    const { res, body } = await whoami({ ...US_CA, cookie: `gh_id=${value}` })
    expect(res.status).toBe(200)
    expect(body.basis).toBe('cookie')
    expect(body.customerId).toBeNull()
    expect(value).not.toContain(body.anonymousId)
    const fresh = idCookie(res)!
    expect(fresh.value).not.toBe(value)
    expect(fresh.value).toMatch(/^v1\.k2\./)
  })
})

describe('cookie key rotation', () => {
  it('accepts a cookie signed with the previous key and re-signs it with the current key', async () => {
    const anonymousId = crypto.randomUUID()
    const old = await mint({ anonymousId, keys: OLD_KEY_ONLY })
    expect(old.startsWith('v1.k1.')).toBe(true)
    const { res, body } = await whoami({ ...US_CA, cookie: `gh_id=${old}` })
    expect(body).toMatchObject({ basis: 'cookie', anonymousId })
    expect(idCookie(res)!.value.startsWith('v1.k2.')).toBe(true)
  })
})

describe('without storage consent', () => {
  it('gives an ephemeral id, sets no cookie and keeps no state', async () => {
    const a = await whoami(DE)
    const b = await whoami(DE)
    expect(a.body).toMatchObject({ basis: 'ephemeral', customerId: null, stateKey: null })
    expect(a.body.anonymousId).not.toBe(b.body.anonymousId)
    expect(a.res.headers.getSetCookie()).toEqual([])
    expect(a.res.headers.get('x-gatehouse-id')).toBeNull()
    const page = await gate('/', { headers: DE })
    expect(idCookie(page)).toBeUndefined()
  })

  it('sets no cookie for a visitor from an opt-in country who sent no consent signal', async () => {
    const { res, body } = await whoami({ 'x-gatehouse-country': 'FR' })
    expect(body.stateKey).toBeNull()
    expect(idCookie(res)).toBeUndefined()
  })

  it('ignores an X-Gatehouse-Id header from an app without storage consent', async () => {
    const value = await mint()
    const { body } = await whoami({ ...DE, 'x-gatehouse-id': value })
    expect(body.basis).toBe('ephemeral')
    expect(value).not.toContain(body.anonymousId)
  })
})

describe('without usable cookie keys (a deployment error)', () => {
  it.each([
    ['missing', undefined],
    ['not JSON', 'k1:secret'],
    ['a secret that is too short', JSON.stringify([{ kid: 'k1', secret: 'short' }])],
  ])('treats every visitor as ephemeral when COOKIE_KEYS is %s, never a 5xx', async (_name, keys) => {
    const app = createApp()
    const res = await appFetch(app, '/v1/identity', { headers: US_CA }, { COOKIE_KEYS: keys })
    expect(res.status).toBe(200)
    expect((await res.json()) as { basis: string; stateKey: string | null }).toMatchObject({
      basis: 'ephemeral',
      stateKey: null,
    })
    expect(idCookie(res)).toBeUndefined()
  })
})

describe('consent withdrawal', () => {
  it('expires the cookie and makes the visitor ephemeral once storage consent is gone', async () => {
    const before = await gate('/', { headers: US_CA })
    const cookie = idCookie(before)!.value
    const signedId = JSON.parse(atob(cookie.split('.')[2]!.replace(/-/g, '+').replace(/_/g, '/'))).a as string

    const after = await gate('/', { headers: { ...DE, cookie: `gh_id=${cookie}` } })
    expect(after.status).toBe(200)
    const expired = idCookie(after)!
    expect(expired.value).toBe('')
    expect(expired.attributes.get('max-age')).toBe('0')

    const { res, body } = await whoami({ ...DE, cookie: `gh_id=${cookie}` })
    expect(body).toMatchObject({ basis: 'ephemeral', stateKey: null })
    expect(body.anonymousId).not.toBe(signedId)
    expect(idCookie(res)!.attributes.get('max-age')).toBe('0')
  })
})

describe('the cookie carries the customer after login', () => {
  it('identifies later page views without a token or a lookup', async () => {
    const first = await whoami(US_CA)
    const anon = idCookie(first.res)!.value
    const login = await whoami({
      ...US_CA,
      cookie: `gh_id=${anon}`,
      authorization: `Bearer ${await signToken('carried-1')}`,
    })
    expect(login.body).toMatchObject({
      basis: 'jwt',
      customerId: 'carried-1',
      anonymousId: first.body.anonymousId,
    })
    const stitched = idCookie(login.res)!.value
    const later = await whoami({ ...US_CA, cookie: `gh_id=${stitched}` })
    expect(later.body).toMatchObject({
      basis: 'cookie',
      customerId: 'carried-1',
      unitId: 'carried-1',
      stateKey: 'c:carried-1',
    })
    expect(idCookie(later.res)).toBeUndefined()
  })

  it('starts a new anonymous id when a different customer signs in on the same browser', async () => {
    const shared = await mint({ customerId: 'first-person' })
    const { res, body } = await whoami({
      ...US_CA,
      cookie: `gh_id=${shared}`,
      authorization: `Bearer ${await signToken('second-person')}`,
    })
    expect(body.customerId).toBe('second-person')
    expect(shared).not.toContain(body.anonymousId)
    expect(idCookie(res)!.value).not.toBe(shared)
  })
})
