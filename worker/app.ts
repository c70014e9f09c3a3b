/**
 * The Gatehouse Hono app: the request path (docs/architecture.md "The request path") as middleware
 * stages, the gateway's own routes, and the reverse proxy for every other path.
 *
 *   context -> log -> admission -> method check -> consent -> identity -> rate limits
 *           -> consent records -> touchpoint -> [gateway routes] -> decide -> page views -> response -> origin
 *
 * `log`, `response` and `page views` wrap what follows them (they act after `next()`), so the order
 * above is the order in which a request is handled; the response then flows back through them.
 * `admission` refuses page requests for a host that is not configured or a path the origin keeps
 * to itself before any stage acts on them.
 * `/v1/decide` and `/v1/events` read consent from their body, so it is resolved before identity
 * (which needs the storage purpose).
 */
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { consent } from './consent'
import { consentRoutes } from './consent/routes'
import { consentRecords } from './consent/records'
import { context, type ContextOptions } from './context'
import { decide } from './decide'
import { decideRoutes } from './decide/routes'
import { bodyConsent } from './decide/body-consent'
import { decisionService } from './decide/service'
import { validDecideBody } from './decide/validate'
import type { AppEnv } from './env'
import { identity } from './identity'
import { identityRoutes } from './identity/route'
import { ProblemError, problemResponse } from './lib/problem'
import { accessLog } from './log'
import { admission } from './proxy/admission-stage'
import { origin } from './proxy/origin'
import { response } from './proxy/response'
import { bundledRules, type RuleSet } from './rules'
import { rateLimit, type RateLimitOptions } from './ratelimit'
import { touchpoint } from './touchpoint'
import { health } from './routes/health'
import { methodCheck } from './routes/methods'
import { eventRoutes, readEventsBody } from './events/routes'
import { pageViews } from './events/pageviews'
import { triggerMetricsRoutes } from './delivery/metrics'
import { admin } from './admin'
import { rulesVersionLog } from './admin/rules-versions'
import { me } from './privacy/me'
import { openApiRoutes } from './openapi/route'

export interface AppOptions extends ContextOptions {
  /** The compiled rule set; defaults to the one bundled at build time. Tests pass their own. */
  rules?: RuleSet
  /** Rate-limit options (the limiter bindings); defaults to the Worker's `[[ratelimits]]`. */
  rateLimit?: RateLimitOptions
}

export function createApp(opts: AppOptions = {}): Hono<AppEnv> {
  const rules = opts.rules ?? bundledRules
  const app = new Hono<AppEnv>()

  app.use('*', context(opts))
  app.use('*', accessLog({ rules }))
  // Which rules version went live when: one write per version per isolate (worker/admin/rules-versions.ts).
  app.use('*', rulesVersionLog({ rules }))
  app.use('*', admission({ rules }))
  app.use('*', methodCheck())
  app.use('*', consent({ rules }))
  // App-facing bodies state consent in a `consent` block, read the same way on every such route.
  // The whole decide body is validated here, before identity, rate limits or touchpoints call a store.
  const decideBody = (req: Request) => validDecideBody(req, decisionService(rules).engine.placements)
  app.use('/v1/decide', bodyConsent({ rules, read: decideBody }))
  app.use('/v1/events', bodyConsent({ rules, read: readEventsBody }))
  // `POST /v1/decide/conversions` takes the ingest credential in `Authorization`, not a visitor JWT.
  app.use(
    '*',
    identity({ rules, foreignAuthorizationPaths: ['/admin/', '/v1/ingest/', '/v1/decide/conversions'] }),
  )
  app.use('*', rateLimit(opts.rateLimit))
  app.use('*', consentRecords({ rules }))
  app.use('*', touchpoint({ rules }))

  // The gateway's own routes (docs/api.md); they answer without reaching the origin.
  app.route('/v1', health({ rules }))
  app.route('/v1', eventRoutes({ rules }))
  app.route('/v1', triggerMetricsRoutes())
  app.route('/v1', me({ rules }))
  app.route('/admin', admin({ rules }))
  app.route('/', consentRoutes({ rules }))
  app.route('/v1', identityRoutes())
  app.route('/v1', decideRoutes({ rules }))
  app.route('/v1', openApiRoutes({ rules }))

  // Everything under /v1/ and /admin/ belongs to the gateway: never proxied (docs/api.md).
  app.all('/v1/*', () => {
    throw new ProblemError(404, 'Not found', 'No such gateway route.')
  })
  app.all('/admin/*', () => {
    throw new ProblemError(404, 'Not found', 'No such gateway route.')
  })

  app.use('*', decide({ rules }))
  app.use('*', pageViews())
  app.use('*', response({ rules }))
  app.all('*', origin({ rules }))

  app.onError((err, c) => {
    if (err instanceof ProblemError) return problemResponse(err.problem, err.headers)
    if (err instanceof HTTPException) {
      return problemResponse({ type: 'about:blank', title: err.message || 'Error', status: err.status })
    }
    // Anything unexpected: log the detail, give the client a clean problem, never a stack trace.
    c.get('log')?.error('unhandled_error', { error: err instanceof Error ? err : String(err) })
    return problemResponse({
      type: 'about:blank',
      title: 'Internal error',
      status: 500,
      detail: 'The gateway could not complete this request.',
    })
  })

  app.notFound(() => problemResponse({ type: 'about:blank', title: 'Not found', status: 404 }))
  return app
}
