/**
 * Consent stated in a `/v1/decide` body (docs/api.md "POST /v1/decide":
 * `consent.tcString`, `gppString`, ...), resolved
 * before the identity stage: an app's visitor who granted storage in the app's CMP keeps their
 * `X-Gatehouse-Id`, and one who did not is treated as ephemeral, exactly as a cookie would do on
 * the web. Runs between `consent` and `identity`. The body is read here, once, by the bounded
 * reader (413 over the limit, 400 for bad JSON, before any identity work); the route gets the same
 * parsed value. A consent object that does not validate changes nothing here: the route answers
 * it with a 400 naming the field.
 */
import type { MiddlewareHandler } from 'hono'
import {
  consentBodySchema,
  consentInputFromBody,
  consentInputFromRequest,
  resolveConsent,
} from '../consent/signals'
import type { AppEnv } from '../env'
import { bundledRules, type RuleSet } from '../rules'
import { readDecideBody } from './body'

export const decideBodyConsent = (opts: { rules?: RuleSet } = {}): MiddlewareHandler<AppEnv> =>
  async function decideBodyConsent(c, next) {
    if (c.req.method !== 'POST') return next()
    const raw = await readDecideBody(c.req.raw)
    const stated = raw && typeof raw === 'object' ? (raw as { consent?: unknown }).consent : undefined
    const parsed = stated === undefined ? null : consentBodySchema.safeParse(stated)
    if (parsed?.success) {
      const req = c.get('request')
      const base = consentInputFromRequest(c.req.raw.headers, req.cookies, req.url)
      const rules = opts.rules ?? bundledRules
      c.set(
        'consent',
        resolveConsent(consentInputFromBody(parsed.data, base), rules, req.location, new Date()).consent,
      )
    }
    await next()
  }
