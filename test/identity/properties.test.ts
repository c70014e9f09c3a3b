/**
 * Properties of the pure identity decoders: whatever a client sends as a cookie, header or token,
 * verification answers with a reason and never throws, and never accepts what it did not sign.
 */
import fc from 'fast-check'
import { createLocalJWKSet } from 'jose'
import { describe, expect, it } from 'vitest'
import { cookieKeyRing, signAnonymousToken, verifyAnonymousToken } from '../../worker/identity/cookie'
import { verifyJwt } from '../../worker/identity/jwt'
import { jwksKeys, testEnv } from './support'

const now = () => Math.floor(Date.now() / 1000)
const b64urlChars = fc.constantFrom(
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'.split(''),
)

describe('anonymous id verification', () => {
  it('never throws and never accepts an arbitrary string', async () => {
    const ring = await cookieKeyRing(testEnv.COOKIE_KEYS)
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: b64urlChars, maxLength: 300 })),
        async (value) => {
          const r = await verifyAnonymousToken(ring, value, now())
          expect(r.ok).toBe(false)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('rejects every single-character change of a signed value', async () => {
    const ring = await cookieKeyRing(testEnv.COOKIE_KEYS)
    const value = await signAnonymousToken(ring, {
      anonymousId: crypto.randomUUID(),
      customerId: 'cust-1',
      issuedAt: now(),
      expiresAt: now() + 3600,
    })
    expect((await verifyAnonymousToken(ring, value, now())).ok).toBe(true)
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: value.length - 1 }), b64urlChars, async (i, ch) => {
        fc.pre(value[i] !== ch)
        const changed = value.slice(0, i) + ch + value.slice(i + 1)
        const r = await verifyAnonymousToken(ring, changed, now())
        // The last base64url character of a 32-byte MAC carries 2 padding bits that do not change the bytes.
        if (r.ok) expect(i).toBe(value.length - 1)
      }),
      { numRuns: 300 },
    )
  })
})

describe('JWT verification', () => {
  it('never throws and never accepts arbitrary three-segment strings', async () => {
    const keys = await jwksKeys()
    const jwks = createLocalJWKSet({
      keys: keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...k }) => k),
    })
    const seg = fc.string({ unit: b64urlChars.filter((c) => c !== '.'), minLength: 1, maxLength: 80 })
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.tuple(seg, seg, seg).map((s) => s.join('.')),
        ),
        async (token) => {
          const r = await verifyJwt(token, {
            jwks,
            issuer: 'https://auth.gatehouse.test/',
            audience: 'gatehouse',
          })
          expect(r.ok).toBe(false)
        },
      ),
      { numRuns: 300 },
    )
  })
})
