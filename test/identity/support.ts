/**
 * Helpers for the identity and touchpoint tests: requests through the real Worker, tokens signed
 * with the keys of the local JWKS server (test/support/jwks-server.mjs), and a small cookie jar.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import type { Hono } from 'hono'
import { importJWK, SignJWT, type JWK, type JWTPayload } from 'jose'
import type { AppEnv } from '../../worker/env'
import { parseSetCookie } from '../../worker/lib/cookies'
import { bundledRules, type RuleSet } from '../../worker/rules'

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

/** Private keys of a key set on the JWKS server (`tenant` for an independent set: `/t/<tenant>`). */
export async function jwksKeys(tenant?: string): Promise<JWK[]> {
  const res = await fetch(`${jwksBase(tenant)}/keys`)
  return ((await res.json()) as { keys: JWK[] }).keys
}

export function jwksBase(tenant?: string): string {
  return tenant ? `${testEnv.TEST_JWKS_BASE}/t/${tenant}` : testEnv.TEST_JWKS_BASE
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
  tenant?: string
}

/** A token as the identity provider would issue it (valid unless options say otherwise). */
export async function signToken(sub: string, opts: TokenOptions = {}): Promise<string> {
  const alg = opts.alg ?? 'RS256'
  // The keys generated at start (rsa-1, ec-1) unless a kid is named: rotation elsewhere never changes them.
  const kid = opts.kid ?? (alg === 'RS256' ? 'rsa-1' : 'ec-1')
  const jwk = opts.key ?? (await jwksKeys(opts.tenant)).find((k) => k.kid === kid)
  if (!jwk) throw new Error(`no test key ${kid}`)
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

/** A rule set with the identity/utm concerns overridden (the rest as bundled). */
export function rulesWith(overrides: {
  identity?: DeepPartial<RuleSet['identity']>
  utm?: DeepPartial<RuleSet['utm']>
}): RuleSet {
  return {
    ...bundledRules,
    identity: merge(bundledRules.identity, overrides.identity ?? {}),
    utm: merge(bundledRules.utm, overrides.utm ?? {}),
  }
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends Record<string, unknown> ? DeepPartial<T[K]> : T[K] }

function merge<T>(base: T, over: DeepPartial<T>): T {
  const out = { ...base } as Record<string, unknown>
  for (const [k, v] of Object.entries(over)) {
    const b = (base as Record<string, unknown>)[k]
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object'
        ? merge(b, v as DeepPartial<typeof b>)
        : v
  }
  return out as T
}

/** Runs a request through an app built with `createApp` (custom rules, optional binding overrides), waiting for its background work. */
export async function appFetch(
  app: Hono<AppEnv>,
  path: string,
  init: RequestInit & { headers?: Record<string, string> } = {},
  bindings: Partial<Record<keyof typeof env, unknown>> = {},
): Promise<Response> {
  const ctx = createExecutionContext()
  const res = await app.fetch(
    new Request(`https://gate.test${path}`, { redirect: 'manual', ...init }),
    { ...env, ...bindings },
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return res
}

/** The claims inside a signed anonymous-id value (`{ a, c, iat, exp }`). */
export function cookieClaims(value: string): { a: string; c: string | null; iat: number; exp: number } {
  const payload = value.split('.')[2]!
  return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')))
}
