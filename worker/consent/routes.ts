/**
 * The consent routes: `GET /v1/consent` (what the gateway resolved for this request and why,
 * docs/api.md), `GET /v1/consent-bridge.js` (the consent bridge script, ./bridge/script.ts) and
 * `GET /.well-known/gpc.json` (the GPC support resource, from rules/consent.yaml).
 */
import { Hono } from 'hono'
import type { AppEnv } from '../env'
import { ProblemError } from '../lib/problem'
import type { RuleSet } from '../rules'
import { BRIDGE_SOURCE, BRIDGE_VERSION } from './bridge/script'
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

  app.get('/v1/consent-bridge.js', function consentBridge(c) {
    // As the beacon: a versioned URL is immutable; the bare URL is revalidated every five minutes.
    const versioned = c.req.query('v') === BRIDGE_VERSION
    return c.body(BRIDGE_SOURCE, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': versioned ? 'public, max-age=31536000, immutable' : 'public, max-age=300',
      etag: `"${BRIDGE_VERSION}"`,
      'x-content-type-options': 'nosniff',
    })
  })

  app.get('/.well-known/gpc.json', (c) => {
    const resource = gpcSupportResource(rules.consent)
    if (!resource)
      throw new ProblemError(404, 'Not found', 'This site does not publish a GPC support resource.')
    return c.json(resource, 200, { 'cache-control': 'public, max-age=86400' })
  })

  return app
}
