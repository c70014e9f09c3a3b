/**
 * The consent routes: `GET /v1/consent` (what the gateway resolved for this request and why,
 * docs/api.md) and `GET /.well-known/gpc.json` (the GPC support resource, from rules/consent.yaml).
 */
import { Hono } from 'hono'
import type { AppEnv } from '../env'
import { ProblemError } from '../lib/problem'
import type { RuleSet } from '../rules'
import { gpcSupportResource } from './gpc'
import { consentSignals } from './index'

export function consentRoutes({ rules }: { rules: RuleSet }): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  app.get('/v1/consent', (c) => {
    const consent = c.get('consent')
    const body = {
      jurisdiction: consent.jurisdiction,
      regime: consent.regime,
      purposes: consent.purposes,
      saleShareOptOut: consent.saleShareOptOut,
      gpc: consent.gpc,
      signals: consentSignals(consent),
      reasons: consent.reasons,
      sources: consent.sources,
      snapshotId: consent.snapshotId,
    }
    // Per-visitor and derived from cookies: never stored by any cache.
    return c.json(body, 200, { 'cache-control': 'no-store' })
  })

  app.get('/.well-known/gpc.json', (c) => {
    const resource = gpcSupportResource(rules.consent)
    if (!resource)
      throw new ProblemError(404, 'Not found', 'This site does not publish a GPC support resource.')
    return c.json(resource, 200, { 'cache-control': 'public, max-age=86400' })
  })

  return app
}
