/**
 * The `consent` stage (docs/architecture.md "The request path"): reads every consent signal of the
 * request once, resolves them into one `Consent` (`c.get('consent')`, set on every request, gateway
 * routes included) and, for proxied requests, registers the enforcement hooks: consent header and
 * cookie filtering towards the origin, Set-Cookie filtering, tag blocking and Consent Mode on the
 * way back.
 *
 * `/v1/decide` resolves the consent its body states with `resolveConsent(consentInputFromBody(...))`.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import { bundledRules, type RuleSet } from '../rules'
import { enforceConsent } from './enforce'
import type { Location } from '../context/location'
import type { ReportedSignals, Resolution } from './resolve'
import { snapshotId } from './snapshot'
import { consentInputFromRequest, resolveConsent, type ConsentInput } from './signals'
import type { Consent } from './types'

export { consentBodySchema, consentInputFromBody, consentInputFromRequest, resolveConsent } from './signals'
export type { ConsentBody, ConsentInput } from './signals'
export type { ReportedSignals, Resolution } from './resolve'

export interface ConsentStageOptions {
  /** The compiled rule set (defaults to the bundled one). */
  rules?: RuleSet
}

// The `signals` report of each request's consent, for GET /v1/consent, and the raw input it was
// resolved from, for consent records: kept beside the Consent object (weakly, so they go with the
// request) rather than widening the shared Consent type.
const reports = new WeakMap<Consent, ReportedSignals>()
const inputs = new WeakMap<Consent, ConsentInput>()

/** The decoded signals behind a consent resolved by the stage (empty when none were sent). */
export function consentSignals(consent: Consent): ReportedSignals {
  return reports.get(consent) ?? {}
}

/** The signals and raw input behind a consent resolved on this request (./record.ts). */
export function consentEvidence(consent: Consent): { input?: ConsentInput; signals: ReportedSignals } {
  return { input: inputs.get(consent), signals: consentSignals(consent) }
}

/**
 * `resolveConsent`, remembering the report and the input beside the result (`consentSignals`,
 * `consentEvidence`): for stages that resolve a request's consent (this one, a body's block).
 */
export function resolveRequestConsent(
  input: ConsentInput,
  rules: { consent: RuleSet['consent'] },
  location: Location,
  now: Date,
): Resolution {
  const r = resolveConsent(input, rules, location, now)
  reports.set(r.consent, r.signals)
  inputs.set(r.consent, input)
  return r
}

export const consent = (opts: ConsentStageOptions = {}): MiddlewareHandler<AppEnv> =>
  async function consent(c, next) {
    const rules = opts.rules ?? bundledRules
    const req = c.get('request')
    let resolved: Consent
    try {
      const input = consentInputFromRequest(c.req.raw.headers, req.cookies, req.url)
      const { consent, signals } = resolveRequestConsent(input, rules, req.location, new Date(req.receivedAt))
      resolved = consent
      // Bad input is ignored and logged (never a 4xx on a page view): which signal, where, why.
      for (const source of consent.sources) {
        if (source.valid) continue
        const reported =
          source.signal === 'tcf' || source.signal === 'gpp' || source.signal === 'usp'
            ? signals[source.signal]
            : source.signal === 'cmp'
              ? Object.values(signals.cmp ?? {}).find((r) => r.from === source.from)
              : undefined
        c.get('log').info('consent_signal_ignored', {
          signal: source.signal,
          from: source.from,
          errors: reported && !reported.valid ? reported.errors : [],
        })
      }
    } catch (err) {
      // Resolution never throws by design; if a bug makes it, the visitor gets nothing granted.
      c.get('log').error('consent_resolution_failed', { error: err instanceof Error ? err : String(err) })
      resolved = failClosed()
    }
    c.set('consent', resolved)
    if (!req.gatewayRoute) {
      enforceConsent(c.get('hooks'), resolved, rules, { url: req.url, headers: c.req.raw.headers })
    }
    await next()
  }

function failClosed(): Consent {
  const state = {
    purposes: { storage: false, measurement: false, personalization: false, advertising: false },
    saleShareOptOut: true,
    gpc: false,
    jurisdiction: 'OTHER',
    regime: 'opt-in' as const,
    reasons: ['consent could not be resolved -> nothing granted, sale/share opted out'],
  }
  return { ...state, sources: [], snapshotId: snapshotId(state) }
}
