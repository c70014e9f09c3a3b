/**
 * Consent stated in a `/v1/decide` body (`consent.tcString`, `gppString`, ...; docs/api.md
 * "POST /v1/decide"), resolved before the identity stage: an app's visitor who granted storage in
 * the app's CMP keeps their `X-Gatehouse-Id`, and one who did not is treated as ephemeral, exactly
 * as a cookie would do on the web. Runs between `consent` and `identity`; the body stays readable
 * for the route (Hono caches it). An invalid body changes nothing here: the route answers it with
 * a 400.
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

export const decideBodyConsent = (opts: { rules?: RuleSet } = {}): MiddlewareHandler<AppEnv> =>
  async function decideBodyConsent(c, next) {
    if (
      c.req.method !== 'POST' ||
      !/^application\/([a-z.+-]*\+)?json\b/i.test(c.req.header('content-type') ?? '')
    ) {
      return next()
    }
    let raw: unknown
    try {
      raw = await c.req.json()
    } catch {
      return next()
    }
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
