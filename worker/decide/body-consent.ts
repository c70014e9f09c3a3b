/**
 * Consent stated in an app-facing body (docs/api.md "POST /v1/decide" and "POST /v1/events":
 * `consent.tcString`, `gppString`, ...), resolved before the identity stage: an app's visitor who
 * granted storage in the app's CMP keeps their `X-Gatehouse-Id`, and one who did not is treated as
 * ephemeral, exactly as a cookie would do on the web. One reader for every route that takes the
 * block, so `/v1/decide` and `/v1/events` read it the same way. Runs between `consent` and
 * `identity`. The body is read here, once, by the route's bounded reader (413 over the limit, 400
 * for bad JSON, before any identity work); the route gets the same parsed value. A consent object
 * that does not validate changes nothing here: the route answers it with a 400 naming the field
 * (`consentBlockErrors`). `/v1/decide` passes a reader that validates the whole body
 * (./validate.ts), so a body at fault is a 400 before identity, rate limits or touchpoints call a
 * Durable Object, a queue or D1: its answer never depends on them.
 */
import type { MiddlewareHandler } from 'hono'
import { resolveRequestConsent } from '../consent'
import { consentBodySchema, consentInputFromBody, consentInputFromRequest } from '../consent/signals'
import type { AppEnv } from '../env'
import type { FieldError } from '../lib/problem'
import { bundledRules, type RuleSet } from '../rules'
import { nearest } from '../rules/suggest'

export interface BodyConsentOptions {
  rules?: RuleSet
  /** The route's own bounded body reader (it remembers the parsed body per Request). */
  read: (req: Request) => Promise<unknown>
}

/** The `consent` block of a parsed body, `undefined` when the body has none. */
function statedConsent(raw: unknown): unknown {
  return raw && typeof raw === 'object' && !Array.isArray(raw)
    ? (raw as { consent?: unknown }).consent
    : undefined
}

export const bodyConsent = (opts: BodyConsentOptions): MiddlewareHandler<AppEnv> =>
  async function bodyConsent(c, next) {
    if (c.req.method !== 'POST') return next()
    const stated = statedConsent(await opts.read(c.req.raw))
    const parsed = stated === undefined ? null : consentBodySchema.safeParse(stated)
    if (parsed?.success) {
      const req = c.get('request')
      const base = consentInputFromRequest(c.req.raw.headers, req.cookies, req.url)
      const rules = opts.rules ?? bundledRules
      c.set(
        'consent',
        resolveRequestConsent(consentInputFromBody(parsed.data, base), rules, req.location, new Date())
          .consent,
      )
    }
    await next()
  }

/**
 * Field errors of a body's `consent` block (`consent.gpc: expected boolean`), empty when it is
 * absent or valid: for routes that validate their body by hand rather than with a schema that
 * embeds `consentBodySchema`.
 */
export function consentBlockErrors(raw: unknown): FieldError[] {
  const stated = statedConsent(raw)
  if (stated === undefined) return []
  const parsed = consentBodySchema.safeParse(stated)
  if (parsed.success) return []
  const known = Object.keys(consentBodySchema.shape)
  return parsed.error.issues.flatMap((issue): FieldError[] => {
    const at = ['consent', ...issue.path.map(String)].join('.')
    if (issue.code !== 'unrecognized_keys') return [{ path: at, message: issue.message }]
    return issue.keys.map((key) => {
      const hint = nearest(key, known)
      return { path: `${at}.${key}`, message: `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}` }
    })
  })
}
