/**
 * Known visitors: JWTs verified with jose against the local JWKS server. Every token in the attack
 * catalogue is a 401 problem+json on /v1/ routes; valid tokens identify the customer; key rotation
 * at the identity provider is picked up without a redeploy.
 */
import { describe, expect, it } from 'vitest'
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose'
import { createApp } from '../../worker/app'
import { DE, US_CA, appFetch, gate, jwksBase, jwksKeys, rulesWith, signToken, whoami } from './support'

const enc = new TextEncoder()
const b64url = (data: string | Uint8Array) =>
  btoa(typeof data === 'string' ? data : String.fromCharCode(...data))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')

function claims(sub = 'attacker') {
  const now = Math.floor(Date.now() / 1000)
  return { sub, iss: 'https://auth.gatehouse.test/', aud: 'gatehouse', iat: now, exp: now + 600 }
}

/** The classic key-confusion attack: HS256 with the RSA public key (as PEM text) as the HMAC secret. */
async function hs256WithRsaPublicKey(): Promise<string> {
  const rsa = (await jwksKeys()).find((k) => k.kid === 'rsa-1')!
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = rsa
  const pem = await exportSPKI((await importJWK({ ...publicJwk, alg: 'RS256' }, 'RS256')) as CryptoKey)
  const signingInput = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'rsa-1' }))}.${b64url(JSON.stringify(claims()))}`
  const key = await crypto.subtle.importKey(
    'raw',
    enc.encode(pem),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(signingInput)))
  return `${signingInput}.${b64url(mac)}`
}

async function unknownKid(): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = (await exportJWK(privateKey)) as JWK
  return signToken('attacker', { key: { ...jwk, alg: 'RS256' }, kid: 'rsa-not-in-the-set' })
}

async function tamperedPayload(): Promise<string> {
  const [h, , s] = (await signToken('ann')).split('.')
  return `${h}.${b64url(JSON.stringify(claims('admin')))}.${s}`
}

const attacks: Array<[string, () => Promise<string>, string]> = [
  [
    'alg none without signature',
    async () => `${b64url('{"alg":"none","typ":"JWT"}')}.${b64url(JSON.stringify(claims()))}.`,
    'malformed',
  ],
  [
    'alg none with a signature',
    async () => `${b64url('{"alg":"none","typ":"JWT"}')}.${b64url(JSON.stringify(claims()))}.AAAA`,
    'alg_not_allowed',
  ],
  ['HS256 signed with the RSA public key', hs256WithRsaPublicKey, 'alg_not_allowed'],
  ['expired', () => signToken('ann', { expiresIn: -3600 }), 'expired'],
  ['not yet valid', () => signToken('ann', { notBefore: 3600 }), 'not_yet_valid'],
  ['wrong issuer', () => signToken('ann', { issuer: 'https://evil.example/' }), 'wrong_issuer'],
  ['wrong audience', () => signToken('ann', { audience: 'someone-else' }), 'wrong_audience'],
  ['unknown kid', unknownKid, 'unknown_key'],
  ['tampered payload', tamperedPayload, 'bad_signature'],
  ['two segments', async () => 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0', 'malformed'],
  ['four segments', async () => `${await signToken('ann')}.AAAA`, 'malformed'],
  [
    'header not JSON',
    async () => `${b64url('not json')}.${b64url(JSON.stringify(claims()))}.AAAA`,
    'malformed',
  ],
  ['not base64url', async () => 'ey$$.ey$$.sig', 'malformed'],
  ['empty bearer', async () => '', 'malformed'],
  ['oversized token', () => signToken('ann', { claims: { pad: 'x'.repeat(9000) } }), 'too_large'],
  [
    'missing sub',
    async () => {
      const key = await importJWK(
        (await jwksKeys()).find((k) => k.kid === 'rsa-1')!,
        'RS256',
      )
      const { sub: _sub, ...rest } = claims()
      return new SignJWT(rest).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(key)
    },
    'missing_claim',
  ],
]

describe('JWT attack catalogue on /v1/ routes', () => {
  it.each(attacks)('rejects a token that is %s with 401 problem+json', async (_name, make, reason) => {
    const token = await make()
    const res = await gate('/v1/identity', { headers: { ...US_CA, authorization: `Bearer ${token}` } })
    expect(res.status).toBe(401)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="gatehouse", error="invalid_token"/)
    const body = (await res.json()) as { status: number; reason: string; errors: Array<{ path: string }> }
    expect(body.status).toBe(401)
    expect(body.reason).toBe(reason)
    expect(body.errors[0]!.path).toBe('header:authorization')
    // A rejected request never receives an identity cookie.
    expect(res.headers.getSetCookie()).toEqual([])
  })

  it('rejects an invalid token on any /v1/ route, not only /v1/identity', async () => {
    const res = await gate('/v1/health', {
      headers: { authorization: `Bearer ${await signToken('ann', { expiresIn: -3600 })}` },
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
  })
})

describe('valid tokens', () => {
  it.each(['RS256', 'ES256'] as const)(
    'accepts an %s token and takes sub as the customer id',
    async (alg) => {
      const { res, body } = await whoami({
        ...US_CA,
        authorization: `Bearer ${await signToken('cust-' + alg, { alg })}`,
      })
      expect(res.status).toBe(200)
      expect(body).toMatchObject({
        basis: 'jwt',
        customerId: `cust-${alg}`,
        unitId: `cust-${alg}`,
        stateKey: `c:cust-${alg}`,
      })
    },
  )

  it('accepts a token that expired within the configured clock skew', async () => {
    const { res, body } = await whoami({
      ...US_CA,
      authorization: `Bearer ${await signToken('skew', { expiresIn: -10 })}`,
    })
    expect(res.status).toBe(200)
    expect(body.customerId).toBe('skew')
  })

  it('identifies a signed-in app user without storage consent, but keeps no anonymous id', async () => {
    const { res, body } = await whoami({ ...DE, authorization: `Bearer ${await signToken('app-user')}` })
    expect(res.status).toBe(200)
    expect(body).toMatchObject({ basis: 'jwt', customerId: 'app-user', stateKey: 'c:app-user' })
    expect(res.headers.getSetCookie()).toEqual([])
    expect(res.headers.get('x-gatehouse-id')).toBeNull()
  })

  it('treats an invalid token on a proxied page as an anonymous visit, not an error', async () => {
    const res = await gate('/', { headers: { ...US_CA, authorization: 'Bearer not.a.token' } })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Demo store')
  })

  it('reads the token from the site session cookie when rules/identity.yaml names one', async () => {
    const app = createApp({ rules: rulesWith({ identity: { jwt: { cookie: 'session_token' } } }) })
    const ok = await appFetch(app, '/v1/identity', {
      headers: { ...US_CA, cookie: `session_token=${await signToken('site-user')}` },
    })
    expect(((await ok.json()) as { customerId: string }).customerId).toBe('site-user')
    const bad = await appFetch(app, '/v1/identity', {
      headers: { ...US_CA, cookie: 'session_token=forged.token.value' },
    })
    expect(bad.status).toBe(401)
    expect(((await bad.json()) as { errors: Array<{ path: string }> }).errors[0]!.path).toBe(
      'cookie:session_token',
    )
  })

  it('verifies against a static key set (JWT_JWKS) when no JWKS URL is configured', async () => {
    const keys = await jwksKeys()
    const publicOnly = keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...k }) => k)
    const app = createApp()
    const bindings = { JWT_JWKS_URL: undefined, JWT_JWKS: JSON.stringify({ keys: publicOnly }) }
    const ok = await appFetch(
      app,
      '/v1/identity',
      { headers: { authorization: `Bearer ${await signToken('static', { alg: 'ES256' })}` } },
      bindings,
    )
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as { customerId: string }).customerId).toBe('static')
    const forged = await appFetch(
      app,
      '/v1/identity',
      { headers: { authorization: `Bearer ${await unknownKid()}` } },
      bindings,
    )
    expect(forged.status).toBe(401)
  })

  it('leaves the admin API its own Authorization header', async () => {
    const res = await gate('/admin/v1/decisions', {
      headers: { authorization: `Bearer ${await signToken('ann')}` },
    })
    // Whatever the admin API answers, it is not the identity stage's invalid_token.
    expect(res.headers.get('www-authenticate') ?? '').not.toContain('realm="gatehouse"')
  })
})

describe('when the identity provider cannot be reached', () => {
  it('refuses tokens on /v1/ with 401 keys_unavailable and serves pages anonymously, never a 5xx', async () => {
    const app = createApp()
    // A loopback port nothing listens on: the key set fetch fails at once.
    const bindings = { JWT_JWKS_URL: 'http://127.0.0.1:9/jwks.json' }
    const token = await signToken('ann')
    const api = await appFetch(
      app,
      '/v1/identity',
      { headers: { authorization: `Bearer ${token}` } },
      bindings,
    )
    expect(api.status).toBe(401)
    expect(((await api.json()) as { reason: string }).reason).toBe('keys_unavailable')
    const page = await appFetch(app, '/', { headers: { authorization: `Bearer ${token}` } }, bindings)
    expect(page.status).toBe(200)
  })
})

describe('JWKS rotation', () => {
  it('picks up a new signing key from the JWKS URL and keeps using the cached set', async () => {
    const tenant = `rotation-${crypto.randomUUID().slice(0, 8)}`
    const app = createApp({ rules: rulesWith({ identity: { jwt: { jwksCooldownSeconds: 0 } } }) })
    const bindings = { JWT_JWKS_URL: `${jwksBase(tenant)}/jwks.json` }
    const stats = async () =>
      ((await (await fetch(`${jwksBase(tenant)}/stats`)).json()) as { fetches: number }).fetches
    const call = async (token: string) =>
      appFetch(app, '/v1/identity', { headers: { authorization: `Bearer ${token}` } }, bindings)

    expect((await call(await signToken('before', { tenant }))).status).toBe(200)
    expect((await call(await signToken('before-again', { tenant }))).status).toBe(200)
    // Two verifications, one fetch: the set is cached per isolate.
    expect(await stats()).toBe(1)

    const rotated = (await (await fetch(`${jwksBase(tenant)}/rotate`, { method: 'POST' })).json()) as {
      kid: string
    }
    expect(rotated.kid).toBe('rsa-2')
    const res = await call(await signToken('after', { tenant, kid: 'rsa-2' }))
    expect(res.status).toBe(200)
    expect(((await res.json()) as { customerId: string }).customerId).toBe('after')
    // The unknown kid made jose refetch the set once.
    expect(await stats()).toBe(2)
    // Tokens from the key still in the set keep working.
    expect((await call(await signToken('old-key', { tenant, kid: 'rsa-1' }))).status).toBe(200)
  })

  it('rejects tokens from a key the identity provider removed, once the cached set expires', async () => {
    const tenant = `drop-${crypto.randomUUID().slice(0, 8)}`
    const app = createApp({
      rules: rulesWith({ identity: { jwt: { jwksCooldownSeconds: 0, jwksCacheMaxAgeSeconds: 0 } } }),
    })
    const bindings = { JWT_JWKS_URL: `${jwksBase(tenant)}/jwks.json` }
    const oldToken = await signToken('old', { tenant, kid: 'rsa-1' })
    const call = (token: string) =>
      appFetch(app, '/v1/identity', { headers: { authorization: `Bearer ${token}` } }, bindings)
    expect((await call(oldToken)).status).toBe(200)
    await fetch(`${jwksBase(tenant)}/rotate?drop=1`, { method: 'POST' })
    const res = await call(oldToken)
    expect(res.status).toBe(401)
    expect(((await res.json()) as { reason: string }).reason).toBe('unknown_key')
    expect((await call(await signToken('new', { tenant, kid: 'rsa-2' }))).status).toBe(200)
  })
})
