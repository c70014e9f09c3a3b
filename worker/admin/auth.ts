/**
 * Admin authentication: a JWT verified with jose against the configured issuer, audience and key
 * set, algorithms pinned. Works out of the box behind Cloudflare Access, which forwards its token
 * in `Cf-Access-Jwt-Assertion` (RS256, JWKS at `https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`);
 * `Authorization: Bearer` works too. Pure of Hono: the middleware in ./index.ts maps the Result.
 *
 * A token must expire: `exp` is required (RFC 7519 section 4.1.4 leaves it optional; RFC 8725
 * section 3.10 asks each application to say which claims it requires), and its lifetime
 * (`exp - iat`, or `exp - now` without `iat`) may not exceed ADMIN_JWT_MAX_LIFETIME_SECONDS, so a
 * leaked token cannot be used forever.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose'
import type { Env } from '../env'
import { rolesFromClaim, type AdminRole } from './roles'

/** Pinned: an attacker cannot pick `none` or HS256 with the public key as secret (RFC 8725 3.1). */
export const ADMIN_ALGORITHMS = ['RS256', 'ES256'] as const

export interface AdminPrincipal {
  /** JWT `sub`: who acted, as written to the audit log. */
  sub: string
  roles: AdminRole[]
}

export type AuthFailure =
  | 'missing_token'
  | 'not_configured'
  | 'invalid_token'
  | 'expired_token'
  | 'claims_rejected'
  | 'keys_unavailable'
  | 'no_subject'
  | 'no_expiry'
  | 'lifetime_too_long'

export type AuthResult =
  | { ok: true; value: AdminPrincipal }
  | { ok: false; error: { reason: AuthFailure; maxLifetimeSeconds?: number } }

/** Cloudflare Access's default session duration: an Access token lives this long unless configured. */
export const DEFAULT_MAX_LIFETIME_SECONDS = 24 * 60 * 60
const MIN_MAX_LIFETIME_SECONDS = 60
const MAX_MAX_LIFETIME_SECONDS = 30 * 24 * 60 * 60

/**
 * The longest admin token lifetime accepted, from ADMIN_JWT_MAX_LIFETIME_SECONDS (whole seconds,
 * 60 to 2,592,000); unset or out of range gives the default of 24 hours.
 */
export function maxLifetimeSeconds(value: string | undefined): number {
  if (value === undefined || !/^\d{1,8}$/.test(value.trim())) return DEFAULT_MAX_LIFETIME_SECONDS
  const n = Number(value.trim())
  return n >= MIN_MAX_LIFETIME_SECONDS && n <= MAX_MAX_LIFETIME_SECONDS ? n : DEFAULT_MAX_LIFETIME_SECONDS
}

/**
 * Checks the verified payload's expiry: present, and no further from its issue time (or from now,
 * for a token without `iat`) than `maxSeconds`.
 */
export function checkLifetime(
  payload: { exp?: unknown; iat?: unknown },
  maxSeconds: number,
  nowSeconds: number,
): { ok: true } | { ok: false; reason: 'no_expiry' | 'lifetime_too_long' } {
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp))
    return { ok: false, reason: 'no_expiry' }
  const issued = typeof payload.iat === 'number' && Number.isFinite(payload.iat) ? payload.iat : nowSeconds
  // An `iat` in the future would shorten the measured lifetime; measure from now at the latest.
  const from = Math.min(issued, nowSeconds)
  return payload.exp - from > maxSeconds ? { ok: false, reason: 'lifetime_too_long' } : { ok: true }
}

/** The token from `Cf-Access-Jwt-Assertion` (preferred) or `Authorization: Bearer`. */
export function adminToken(headers: Headers): string | null {
  const access = headers.get('cf-access-jwt-assertion')?.trim()
  if (access) return access
  const auth = headers.get('authorization')
  const m = auth ? /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(auth) : null
  return m ? m[1]! : null
}

// One key set per configuration per isolate: remote sets cache keys and honour a cooldown.
const keySets = new Map<string, JWTVerifyGetKey>()

function keySetFor(env: Pick<Env, 'ADMIN_JWKS' | 'ADMIN_JWKS_URL'>): JWTVerifyGetKey | null {
  const id = env.ADMIN_JWKS
    ? `json:${env.ADMIN_JWKS}`
    : env.ADMIN_JWKS_URL
      ? `url:${env.ADMIN_JWKS_URL}`
      : null
  if (!id) return null
  let set = keySets.get(id)
  if (!set) {
    if (env.ADMIN_JWKS) {
      let jwks: JSONWebKeySet
      try {
        jwks = JSON.parse(env.ADMIN_JWKS) as JSONWebKeySet
      } catch {
        return null
      }
      set = createLocalJWKSet(jwks)
    } else {
      set = createRemoteJWKSet(new URL(env.ADMIN_JWKS_URL!), {
        timeoutDuration: 3000,
        cooldownDuration: 30_000,
      })
    }
    keySets.set(id, set)
  }
  return set
}

/** Verifies an admin token. Never throws: every failure is a tagged reason. */
export async function verifyAdminToken(
  token: string | null,
  env: Pick<
    Env,
    | 'ADMIN_JWKS'
    | 'ADMIN_JWKS_URL'
    | 'ADMIN_JWT_ISSUER'
    | 'ADMIN_JWT_AUDIENCE'
    | 'ADMIN_ROLES_CLAIM'
    | 'ADMIN_JWT_MAX_LIFETIME_SECONDS'
  >,
  now?: number,
): Promise<AuthResult> {
  if (!token) return { ok: false, error: { reason: 'missing_token' } }
  const keys = keySetFor(env)
  if (!keys || !env.ADMIN_JWT_ISSUER || !env.ADMIN_JWT_AUDIENCE) {
    return { ok: false, error: { reason: 'not_configured' } }
  }
  try {
    const { payload } = await jwtVerify(token, keys, {
      issuer: env.ADMIN_JWT_ISSUER,
      audience: env.ADMIN_JWT_AUDIENCE,
      algorithms: [...ADMIN_ALGORITHMS],
      clockTolerance: 30,
      ...(now !== undefined ? { currentDate: new Date(now) } : {}),
    })
    if (typeof payload.sub !== 'string' || payload.sub === '')
      return { ok: false, error: { reason: 'no_subject' } }
    const maxSeconds = maxLifetimeSeconds(env.ADMIN_JWT_MAX_LIFETIME_SECONDS)
    const lifetime = checkLifetime(payload, maxSeconds, Math.floor((now ?? Date.now()) / 1000))
    if (!lifetime.ok) return { ok: false, error: { reason: lifetime.reason, maxLifetimeSeconds: maxSeconds } }
    const claim = env.ADMIN_ROLES_CLAIM || 'roles'
    return { ok: true, value: { sub: payload.sub, roles: rolesFromClaim(payload[claim]) } }
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { ok: false, error: { reason: 'expired_token' } }
    // Issuer, audience, not-before: the token is genuine but not for us (or not yet).
    if (error instanceof joseErrors.JWTClaimValidationFailed)
      return { ok: false, error: { reason: 'claims_rejected' } }
    // The key set could not be fetched: not the caller's fault, and not a reason to let them in.
    if (
      error instanceof joseErrors.JWKSTimeout ||
      (error instanceof joseErrors.JOSEError && error.code === 'ERR_JOSE_GENERIC') ||
      // jose reports every token defect as a JOSEError; anything else is the key fetch failing.
      !(error instanceof joseErrors.JOSEError)
    ) {
      return { ok: false, error: { reason: 'keys_unavailable' } }
    }
    return { ok: false, error: { reason: 'invalid_token' } }
  }
}
