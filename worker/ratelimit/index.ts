/**
 * The rate-limit stage: after identity (it keys on who the caller is) and before the routes, it
 * asks the Workers Rate Limiting bindings whether this visitor and this address may make another
 * request to an identity-bearing or write route (./policy.ts says which, under which keys). Over
 * a limit the answer is 429 problem+json with `Retry-After` (RFC 6585 section 4), before any
 * store is touched.
 *
 * A limiter that is not bound, or that fails, lets the request through and is logged: rate limits
 * protect capacity, and an outage of the limiter must not become an outage of the gateway.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv, Env } from '../env'
import { ProblemError, problemResponse } from '../lib/problem'
import { planRateLimit, RATE_LIMITERS, type LimiterName } from './policy'

export interface RateLimitOptions {
  /** Limiter bindings by name; defaults to the Worker's bindings. Tests pass their own. */
  limiters?: (env: Env) => Partial<Record<LimiterName, RateLimit | undefined>>
}

const fromEnv = (env: Env) => ({
  RATE_LIMIT_VISITOR: env.RATE_LIMIT_VISITOR,
  RATE_LIMIT_IP: env.RATE_LIMIT_IP,
  RATE_LIMIT_PRIVACY: env.RATE_LIMIT_PRIVACY,
})

export const rateLimit = (opts: RateLimitOptions = {}): MiddlewareHandler<AppEnv> =>
  async function rateLimit(c, next) {
    const who = c.get('identity')
    const checks = planRateLimit(c.req.method, c.get('request').url.pathname, {
      basis: who?.basis ?? 'ephemeral',
      customerId: who?.customerId ?? null,
      anonymousId: who?.anonymousId ?? '',
      ip: c.req.header('cf-connecting-ip') ?? null,
    })
    if (checks.length === 0) return next()
    const limiters = (opts.limiters ?? fromEnv)(c.env ?? ({} as Env))
    for (const check of checks) {
      const limiter = limiters[check.limiter]
      if (!limiter) {
        c.get('log')?.warn('rate_limiter_unbound', { limiter: check.limiter })
        continue
      }
      let success = true
      try {
        ;({ success } = await limiter.limit({ key: check.key }))
      } catch (error) {
        c.get('log')?.warn('rate_limiter_failed', { limiter: check.limiter, error })
        continue
      }
      if (success) continue
      const { limit, period } = RATE_LIMITERS[check.limiter]
      c.get('log')?.info('rate_limited', { limiter: check.limiter, dimension: check.dimension })
      return problemResponse(
        new ProblemError(
          429,
          'Too many requests',
          `At most ${limit} requests in ${period} seconds per ${check.dimension === 'ip' ? 'address' : 'visitor'}; retry later.`,
          undefined,
          { limit, period },
        ).problem,
        { 'retry-after': String(period) },
      )
    }
    await next()
  }
