/**
 * Helpers for the identity and touchpoint tests: requests through the real Worker, tokens signed
 * with the keys of the local JWKS server (test/support/jwks-server.mjs), and a small cookie jar.
 */
import { env, exports } from 'cloudflare:workers'
import { importJWK, SignJWT, type JWK, type JWTPayload } from 'jose'
import { parseSetCookie } from '../../worker/lib/cookies'

export const testEnv = env as typeof env & { TEST_JWKS_BASE: string }

/** Opt-out jurisdiction (storage, measurement, advertising allowed) and opt-in without a signal (nothing allowed). */
export const US_CA = { 'x-gatehouse-country': 'US', 'x-gatehouse-region': 'CA' }
export const DE = { 'x-gatehouse-country': 'DE' }

export function gate(
  path: string,
  init: RequestInit & { headers?: Record<string, string> } = {},
): Promise<Response> {
  return exports.default.fetch(new Request(`https://gate.test${path}`, { redirect: 'manual', ...init }))
}

export async function jwksKeys(): Promise<JWK[]> {
  const res = await fetch(`${testEnv.TEST_JWKS_BASE}/keys`)
  return ((await res.json()) as { keys: JWK[] }).keys
}

export interface TokenOptions {
  kid?: string
  alg?: 'RS256' | 'ES256'
  claims?: JWTPayload
  /** Seconds from now. */
  expiresIn?: number
  notBefore?: number
  issuer?: string
  audience?: string
  key?: JWK
}

/** A token as the identity provider would issue it (valid unless options say otherwise). */
export async function signToken(sub: string, opts: TokenOptions = {}): Promise<string> {
  const alg = opts.alg ?? 'RS256'
  const jwk = opts.key ?? (await jwksKeys()).find((k) => (opts.kid ? k.kid === opts.kid : k.alg === alg))
  if (!jwk) throw new Error(`no test key for ${opts.kid ?? alg}`)
  const key = await importJWK(jwk, alg)
  const now = Math.floor(Date.now() / 1000)
  let jwt = new SignJWT({ ...opts.claims })
    .setProtectedHeader({ alg, kid: opts.kid ?? jwk.kid!, typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(opts.issuer ?? testEnv.JWT_ISSUER!)
    .setAudience(opts.audience ?? testEnv.JWT_AUDIENCE!)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expiresIn ?? 600))
  if (opts.notBefore !== undefined) jwt = jwt.setNotBefore(now + opts.notBefore)
  return jwt.sign(key)
}

export interface CookieLine {
  name: string
  value: string
  attributes: Map<string, string | true>
}

/** The Set-Cookie lines of a response, attributes by lower-case name. */
export function setCookies(res: Response): CookieLine[] {
  return res.headers.getSetCookie().map((line) => {
    const c = parseSetCookie(line)!
    return {
      name: c.name,
      value: c.value,
      attributes: new Map(c.attributes.map(([k, v]) => [k.toLowerCase(), v])),
    }
  })
}

export function idCookie(res: Response, name = 'gh_id'): CookieLine | undefined {
  return setCookies(res).find((c) => c.name === name)
}

export interface IdentityBody {
  basis: string
  customerId: string | null
  anonymousId: string
  unitId: string
  stateKey: string | null
  touchpoint: Record<string, unknown> | null
}

export async function whoami(
  headers: Record<string, string>,
): Promise<{ res: Response; body: IdentityBody }> {
  const res = await gate('/v1/identity', { headers })
  return { res, body: (await res.json()) as IdentityBody }
}
