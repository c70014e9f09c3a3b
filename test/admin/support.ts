/**
 * Helpers for admin and privacy tests: sign admin JWTs with the test keys that vitest.config.ts
 * generates (the Worker verifies them against the static ADMIN_JWKS binding), call the Worker,
 * and capture its log lines.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { importJWK, SignJWT, type JWK } from 'jose'
import { createApp, type AppOptions } from '../../worker/app'
import type { Env } from '../../worker/env'

const signing = JSON.parse(
  (env as unknown as { TEST_ADMIN_SIGNING_KEYS: string }).TEST_ADMIN_SIGNING_KEYS,
) as Record<'ES256' | 'RS256', JWK>

export interface TokenOptions {
  sub?: string
  roles?: string[] | string
  alg?: 'ES256' | 'RS256'
  issuer?: string
  audience?: string
  expiresIn?: string
  claims?: Record<string, unknown>
}

/** A token the gateway accepts (unless options say otherwise). */
export async function adminToken(opts: TokenOptions = {}): Promise<string> {
  const alg = opts.alg ?? 'ES256'
  const key = await importJWK(signing[alg], alg)
  return new SignJWT({ ...(opts.roles !== undefined ? { roles: opts.roles } : {}), ...opts.claims })
    .setProtectedHeader({ alg, kid: signing[alg].kid! })
    .setSubject(opts.sub ?? 'officer-1')
    .setIssuer(opts.issuer ?? env.ADMIN_JWT_ISSUER!)
    .setAudience(opts.audience ?? env.ADMIN_JWT_AUDIENCE!)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '5m')
    .sign(key)
}

export interface Captured {
  lines: string[]
  fetch: (input: string, init?: RequestInit) => Promise<Response>
}

/** A fresh app whose log lines are captured, run against the real bindings (optionally overridden). */
export function capturingApp(overrides: Partial<Env> = {}, opts: AppOptions = {}): Captured {
  const lines: string[] = []
  const app = createApp({ ...opts, logSink: (_level, line) => lines.push(line) })
  const testEnv = { ...env, ...overrides } as Env
  return {
    lines,
    fetch: async (input, init) => {
      const ctx = createExecutionContext()
      const res = await app.fetch(new Request(new URL(input, 'http://gate.test'), init), testEnv, ctx)
      await waitOnExecutionContext(ctx)
      return res
    },
  }
}

export function bearer(token: string): HeadersInit {
  return { authorization: `Bearer ${token}` }
}

let seq = 0
/** A decision record as the decide stage produces it (worker/log/record.ts). */
export function decisionRecord(overrides: Partial<import('../../worker/log/record').DecisionRecord> = {}) {
  seq++
  return {
    id: `dec-${crypto.randomUUID()}`,
    time: new Date(Date.UTC(2026, 10, 23, 10, 0, seq % 60)).toISOString(),
    requestId: `req-${seq}-0000`,
    channel: 'api' as const,
    placement: 'home_hero',
    variant: 'spring_sale',
    reason: 'rule:spring_returning',
    fallback: null,
    rulesVersion: 'sha256:test-rules-v1',
    consentSnapshotId: 'cs-1',
    consent: {
      jurisdiction: 'EU',
      purposes: { storage: true, personalization: true },
      saleShareOptOut: false,
    },
    identityBasis: 'jwt',
    customerId: 'cust-1',
    anonymousId: 'anon-1',
    experiment: { id: 'hero_test', arm: 'b', holdout: false },
    caps: { hero_daily: { used: 1, limit: 3 } },
    trace: ['rule:spring_returning matched audience returning'],
    ...overrides,
  }
}
