/**
 * Consent stated in a `/v1/decide` body (docs/api.md "POST /v1/decide":
 * `consent.tcString`, `gppString`, ...), resolved
 * before the identity stage: an app's visitor who granted storage in the app's CMP keeps their
 * `X-Gatehouse-Id`, and one who did not is treated as ephemeral, exactly as a cookie would do on
 * the web. Runs between `consent` and `identity`. The body is read and validated here, once
 * (./validate.ts: 413 over the limit, 400 for bad JSON or any field at fault, unknown placements
 * included), before identity, rate limits or touchpoints call any store: a request that fails
 * validation never depends on a Durable Object, a queue or D1. The route gets the same value.
 */
import type { MiddlewareHandler } from 'hono'
import { consentInputFromBody, consentInputFromRequest, resolveConsent } from '../consent/signals'
import type { AppEnv } from '../env'
import { bundledRules, type RuleSet } from '../rules'
import { decisionService } from './service'
import { validDecideBody } from './validate'

export const decideBodyConsent = (opts: { rules?: RuleSet } = {}): MiddlewareHandler<AppEnv> =>
  async function decideBodyConsent(c, next) {
    if (c.req.method !== 'POST') return next()
    const rules = opts.rules ?? bundledRules
    const body = await validDecideBody(c.req.raw, decisionService(rules).engine.placements)
    if (body.consent !== undefined) {
      const req = c.get('request')
      const base = consentInputFromRequest(c.req.raw.headers, req.cookies, req.url)
      c.set(
        'consent',
        resolveConsent(consentInputFromBody(body.consent, base), rules, req.location, new Date()).consent,
      )
    }
    await next()
  }
