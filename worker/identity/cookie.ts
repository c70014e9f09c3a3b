/**
 * The signed anonymous-id value, carried in the first-party cookie (sites) or the `X-Gatehouse-Id`
 * header (apps). Pure apart from Web Crypto, so it runs in Node for benchmarks.
 *
 *   v1.<kid>.<payload>.<mac>
 *
 * `payload` is base64url(JSON `{ a, c, iat, exp }`): anonymous id, customer id (null until login),
 * issued-at and expiry in seconds. `mac` is base64url(HMAC-SHA-256(key[kid], "v1.<kid>.<payload>"))
 * (RFC 2104; base64url per RFC 4648 section 5). Every character is a cookie-octet (RFC 6265
 * section 4.1.1), so the value needs no quoting. The first key in COOKIE_KEYS signs; every key
 * verifies, so keys rotate by prepending a new one and dropping the old after the cookie lifetime.
 */

export interface CookieKey {
  kid: string
  secret: string
}

export interface AnonymousToken {
  anonymousId: string
  /** The customer this browser was stitched to at login, or null. */
  customerId: string | null
  /** Seconds since epoch. */
  issuedAt: number
  expiresAt: number
  /** The key that signed it. */
  kid: string
}

export type CookieError =
  | { reason: 'malformed'; message: string }
  | { reason: 'unknown_kid'; message: string }
  | { reason: 'bad_signature'; message: string }
  | { reason: 'expired'; message: string }
  | { reason: 'not_yet_valid'; message: string }

export type CookieResult<T> = { ok: true; value: T } | { ok: false; error: CookieError }

/** A key ring: the signing key first, every key by id. */
export interface CookieKeyRing {
  signing: { kid: string; key: CryptoKey }
  byKid: Map<string, CryptoKey>
}

/** Thrown when COOKIE_KEYS is missing or malformed: a deployment error, reported once per isolate. */
export class CookieKeysError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`COOKIE_KEYS ${field}: ${message}`)
    this.name = 'CookieKeysError'
  }
}

const VERSION = 'v1'
const MAX_VALUE_LENGTH = 1024
const KID = /^[A-Za-z0-9_-]{1,32}$/
const B64URL = /^[A-Za-z0-9_-]+$/
// Anonymous ids are gateway-issued UUIDs; the looser pattern also admits ids from older issuers.
const ANON_ID = /^[A-Za-z0-9_-]{16,64}$/
const MIN_SECRET_LENGTH = 32

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const ringCache = new Map<string, Promise<CookieKeyRing>>()

/**
 * Parses COOKIE_KEYS (`[{ "kid": "k2", "secret": "..." }, ...]`, newest first) into a key ring,
 * cached per isolate by the secret's text. Rejects with CookieKeysError when it is unusable.
 */
export function cookieKeyRing(json: string | undefined): Promise<CookieKeyRing> {
  const text = json ?? ''
  let ring = ringCache.get(text)
  if (!ring) {
    ring = buildRing(text)
    ringCache.set(text, ring)
    // A bad secret stays bad until redeploy; keep the rejection cached but do not leak unhandled rejections.
    ring.catch(() => undefined)
  }
  return ring
}

async function buildRing(text: string): Promise<CookieKeyRing> {
  if (!text) throw new CookieKeysError('value', 'is not set')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new CookieKeysError('value', 'is not JSON')
  }
  if (!Array.isArray(parsed) || parsed.length === 0)
    throw new CookieKeysError('value', 'must be a non-empty array')
  const byKid = new Map<string, CryptoKey>()
  let signing: CookieKeyRing['signing'] | null = null
  for (const [i, entry] of parsed.entries()) {
    const { kid, secret } = (entry ?? {}) as Partial<CookieKey>
    if (typeof kid !== 'string' || !KID.test(kid))
      throw new CookieKeysError(`[${i}].kid`, 'must match [A-Za-z0-9_-]{1,32}')
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
      throw new CookieKeysError(`[${i}].secret`, `must be at least ${MIN_SECRET_LENGTH} characters`)
    }
    if (byKid.has(kid)) throw new CookieKeysError(`[${i}].kid`, `duplicate kid "${kid}"`)
    const key = await crypto.subtle.importKey(
      'raw',
      encoder.encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    )
    byKid.set(kid, key)
    signing ??= { kid, key }
  }
  return { signing: signing!, byKid }
}

/** Signs a token with the ring's signing key. */
export async function signAnonymousToken(
  ring: CookieKeyRing,
  token: { anonymousId: string; customerId: string | null; issuedAt: number; expiresAt: number },
): Promise<string> {
  const payload = base64url(
    encoder.encode(
      JSON.stringify({
        a: token.anonymousId,
        c: token.customerId,
        iat: token.issuedAt,
        exp: token.expiresAt,
      }),
    ),
  )
  const signed = `${VERSION}.${ring.signing.kid}.${payload}`
  const mac = await crypto.subtle.sign('HMAC', ring.signing.key, encoder.encode(signed))
  return `${signed}.${base64url(new Uint8Array(mac))}`
}

/**
 * Verifies a signed value. Never throws: anything that is not a valid, current token signed by a
 * known key is an error with a reason (the caller then issues a new id).
 */
export async function verifyAnonymousToken(
  ring: CookieKeyRing,
  value: string,
  nowSeconds: number,
): Promise<CookieResult<AnonymousToken>> {
  // A returning visitor presents the same value on every page view: once its signature has been
  // checked against this key ring, only its times need checking again.
  const known = verifiedTokens.get(ring)?.get(value)
  if (known) return checkTimes(known, nowSeconds)
  if (value.length > MAX_VALUE_LENGTH) return fail('malformed', 'value too long')
  const parts = value.split('.')
  if (parts.length !== 4 || parts[0] !== VERSION) return fail('malformed', 'not a v1 token')
  const [, kid, payload, mac] = parts as [string, string, string, string]
  if (!KID.test(kid) || !B64URL.test(payload) || !B64URL.test(mac)) return fail('malformed', 'bad characters')
  const key = ring.byKid.get(kid)
  if (!key) return fail('unknown_kid', `no key "${kid}"`)
  const macBytes = unbase64url(mac)
  const payloadBytes = unbase64url(payload)
  if (!macBytes || !payloadBytes) return fail('malformed', 'bad base64url')
  // crypto.subtle.verify compares in constant time.
  const good = await crypto.subtle.verify(
    'HMAC',
    key,
    macBytes,
    encoder.encode(`${VERSION}.${kid}.${payload}`),
  )
  if (!good) return fail('bad_signature', 'signature does not match')
  let claims: unknown
  try {
    claims = JSON.parse(decoder.decode(payloadBytes))
  } catch {
    return fail('malformed', 'payload is not JSON')
  }
  const { a, c, iat, exp } = (claims ?? {}) as Record<string, unknown>
  if (typeof a !== 'string' || !ANON_ID.test(a)) return fail('malformed', 'bad anonymous id')
  if (c !== null && (typeof c !== 'string' || c.length === 0 || c.length > 256))
    return fail('malformed', 'bad customer id')
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) return fail('malformed', 'bad times')
  const token: AnonymousToken = Object.freeze({
    anonymousId: a,
    customerId: (c as string | null) ?? null,
    issuedAt: iat as number,
    expiresAt: exp as number,
    kid,
  })
  const result = checkTimes(token, nowSeconds)
  if (result.ok) remember(ring, value, token)
  return result
}

function checkTimes(token: AnonymousToken, nowSeconds: number): CookieResult<AnonymousToken> {
  if (token.expiresAt <= nowSeconds) return fail('expired', 'token expired')
  // A token issued in the future (beyond a minute of clock drift) was not issued by this gateway's clock.
  if (token.issuedAt > nowSeconds + 60) return fail('not_yet_valid', 'issued in the future')
  return { ok: true, value: token }
}

// Values whose signature this isolate has verified, per key ring (a new ring, i.e. a key
// rotation, starts empty), oldest first; bounded so a flood of distinct values cannot grow it.
const verifiedTokens = new WeakMap<CookieKeyRing, Map<string, AnonymousToken>>()
const MAX_VERIFIED = 5_000

function remember(ring: CookieKeyRing, value: string, token: AnonymousToken): void {
  let seen = verifiedTokens.get(ring)
  if (!seen) verifiedTokens.set(ring, (seen = new Map()))
  seen.set(value, token)
  if (seen.size > MAX_VERIFIED) seen.delete(seen.keys().next().value!)
}

function fail(reason: CookieError['reason'], message: string): { ok: false; error: CookieError } {
  return { ok: false, error: { reason, message } as CookieError }
}

export function base64url(bytes: Uint8Array): string {
  let bin = ''
  for (const b of bytes) bin += String.fromCharCode(b)
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function unbase64url(text: string): Uint8Array | null {
  try {
    const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4))
    const out = new Uint8Array(bin.length)
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
    return out
  } catch {
    return null
  }
}
