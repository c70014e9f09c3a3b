/**
 * JWT verification for known visitors (and, reused by the admin API, for admin tokens), with jose.
 * Pure apart from fetching a remote JWKS: no Workers imports, so it runs in Node for benchmarks.
 *
 * What is enforced (RFC 8725 "JWT Best Current Practices"):
 * - section 3.1: an explicit algorithm allow-list; asymmetric algorithms only, so `none` and an HS256
 *   token "signed" with the RSA public key are rejected before any key is used;
 * - section 3.8/3.9: issuer and audience must match;
 * - RFC 7519 section 4.1.4/4.1.5: `exp` and `nbf` with a small clock tolerance; `exp` and `sub` are required;
 * - a size limit before parsing, so a huge token costs nothing.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose'
import { JWT_ALGORITHMS, type JwtAlgorithm } from '../rules/concerns/identity'

export type JwtErrorReason =
  | 'too_large'
  | 'malformed'
  | 'alg_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'missing_claim'
  | 'keys_unavailable'
  | 'not_configured'

export interface JwtError {
  reason: JwtErrorReason
  /** Safe to show to the client (no token content). */
  message: string
}

export type JwtResult =
  { ok: true; value: { subject: string; claims: JWTPayload } } | { ok: false; error: JwtError }

export interface VerifyJwtOptions {
  /** A key getter from `jwksFromConfig` (remote or static key set). */
  jwks: JWTVerifyGetKey
  issuer: string
  audience: string
  algorithms?: readonly JwtAlgorithm[]
  clockSkewSeconds?: number
  maxTokenBytes?: number
  /** For tests and benchmarks; defaults to the current time. */
  currentDate?: Date
}

const ASYMMETRIC = new Set<string>(JWT_ALGORITHMS)
// Three base64url segments (RFC 7515 section 7.1 compact serialization).
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

/**
 * Verifies a compact JWT. Never throws: every failure is a tagged reason.
 *
 * @example
 *   const jwks = jwksFromConfig({ url: env.JWT_JWKS_URL })
 *   const r = await verifyJwt(token, { jwks, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE })
 *   if (r.ok) r.value.subject
 */
export async function verifyJwt(token: string, opts: VerifyJwtOptions): Promise<JwtResult> {
  const maxBytes = opts.maxTokenBytes ?? 8192
  if (token.length > maxBytes) return fail('too_large', `token longer than ${maxBytes} bytes`)
  if (!COMPACT.test(token)) return fail('malformed', 'not a compact JWS (three base64url segments)')
  // Never trust a configuration to exclude symmetric algorithms: intersect with the asymmetric set.
  const algorithms = (opts.algorithms ?? ['RS256', 'ES256']).filter((a) => ASYMMETRIC.has(a))
  if (algorithms.length === 0) return fail('not_configured', 'no asymmetric algorithm allowed')
  try {
    const { payload } = await jwtVerify(token, opts.jwks, {
      issuer: opts.issuer,
      audience: opts.audience,
      algorithms,
      clockTolerance: opts.clockSkewSeconds ?? 30,
      requiredClaims: ['exp', 'sub'],
      ...(opts.currentDate ? { currentDate: opts.currentDate } : {}),
    })
    const subject = payload.sub
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 256) {
      return fail('missing_claim', 'sub must be a non-empty string of at most 256 characters')
    }
    return { ok: true, value: { subject, claims: payload } }
  } catch (err) {
    return { ok: false, error: classify(err) }
  }
}

/** Maps jose's error codes to reasons (jose `errors` module). */
function classify(err: unknown): JwtError {
  const code = (err as { code?: string } | null)?.code
  const claim = (err as { claim?: string } | null)?.claim
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return { reason: 'expired', message: 'the token has expired' }
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'nbf' || claim === 'iat')
        return { reason: 'not_yet_valid', message: 'the token is not yet valid' }
      if (claim === 'iss') return { reason: 'wrong_issuer', message: 'unexpected issuer' }
      if (claim === 'aud') return { reason: 'wrong_audience', message: 'unexpected audience' }
      return { reason: 'missing_claim', message: `claim ${claim ?? '?'} is missing or invalid` }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return { reason: 'alg_not_allowed', message: 'algorithm not allowed' }
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return { reason: 'unknown_key', message: 'no key matches the token' }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return { reason: 'bad_signature', message: 'signature verification failed' }
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return { reason: 'keys_unavailable', message: 'signing keys are unavailable' }
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return { reason: 'malformed', message: 'malformed token' }
    case 'ERR_JOSE_GENERIC':
      // jose's remote key set reports a non-200 answer or an unparsable body this way.
      return { reason: 'keys_unavailable', message: 'signing keys are unavailable' }
    case undefined:
      // Every token-shape problem is a JOSE error with a code; an error without one comes from
      // fetching the key set (workerd: "Network connection lost.", a TypeError in Node).
      return { reason: 'keys_unavailable', message: 'signing keys are unavailable' }
    default:
      return { reason: 'malformed', message: 'malformed token' }
  }
}

function fail(reason: JwtErrorReason, message: string): { ok: false; error: JwtError } {
  return { ok: false, error: { reason, message } }
}

export interface JwksConfig {
  /** A JWKS URL (fetched, cached per isolate, refetched on an unknown kid after the cooldown). */
  url?: string | undefined
  /** A static JWKS as JSON text. Used when no URL is set. */
  json?: string | undefined
  cooldownSeconds?: number
  cacheMaxAgeSeconds?: number
  timeoutMs?: number
}

export class JwksConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`)
    this.name = 'JwksConfigError'
  }
}

// One key getter per configuration per isolate: jose keeps the fetched set, its age and the cooldown inside it.
const getters = new Map<string, JWTVerifyGetKey>()

/**
 * The key getter for a configuration, cached per isolate. A URL wins over static JSON. Throws
 * JwksConfigError when neither is usable (the caller treats that as "not configured").
 */
export function jwksFromConfig(cfg: JwksConfig): JWTVerifyGetKey {
  const cacheKey = JSON.stringify([
    cfg.url ?? null,
    cfg.url ? null : (cfg.json ?? null),
    cfg.cooldownSeconds,
    cfg.cacheMaxAgeSeconds,
    cfg.timeoutMs,
  ])
  const cached = getters.get(cacheKey)
  if (cached) return cached
  let getter: JWTVerifyGetKey
  if (cfg.url) {
    let url: URL
    try {
      url = new URL(cfg.url)
    } catch {
      throw new JwksConfigError('JWT_JWKS_URL', 'is not a URL')
    }
    getter = createRemoteJWKSet(url, {
      cooldownDuration: (cfg.cooldownSeconds ?? 30) * 1000,
      cacheMaxAge: (cfg.cacheMaxAgeSeconds ?? 600) * 1000,
      timeoutDuration: cfg.timeoutMs ?? 1500,
    })
  } else if (cfg.json) {
    let set: JSONWebKeySet
    try {
      set = JSON.parse(cfg.json) as JSONWebKeySet
    } catch {
      throw new JwksConfigError('JWT_JWKS', 'is not JSON')
    }
    if (!set || !Array.isArray(set.keys))
      throw new JwksConfigError('JWT_JWKS', 'must be a JWK Set ({ "keys": [...] })')
    // Symmetric keys have no place in a verification key set for public clients.
    if (set.keys.some((k) => k.kty === 'oct'))
      throw new JwksConfigError('JWT_JWKS', 'must not contain symmetric (oct) keys')
    getter = createLocalJWKSet(set)
  } else {
    throw new JwksConfigError('JWT_JWKS_URL', 'neither JWT_JWKS_URL nor JWT_JWKS is set')
  }
  getters.set(cacheKey, getter)
  return getter
}
