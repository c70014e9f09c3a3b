/**
 * A gateway app for the event tests with the consent and identity the test chooses, so event
 * handling is tested on its own (the full pipeline is exercised in pipeline.test.ts).
 */
import { Hono } from 'hono'
import { env } from 'cloudflare:workers'
import type { Consent, Purpose } from '../../worker/consent/types'
import { context } from '../../worker/context'
import type { AppEnv } from '../../worker/env'
import { eventRoutes } from '../../worker/events/routes'
import { pageViews } from '../../worker/events/pageviews'
import type { Identity } from '../../worker/identity/types'
import { ProblemError, problemResponse } from '../../worker/lib/problem'
import { bundledRules, type RuleSet } from '../../worker/rules'

export interface Visitor {
  purposes?: Partial<Record<Purpose, boolean>>
  stateKey?: string | null
}

export function consentOf(purposes: Partial<Record<Purpose, boolean>>): Consent {
  return {
    purposes: { storage: false, measurement: false, personalization: false, advertising: false, ...purposes },
    saleShareOptOut: false,
    gpc: false,
    jurisdiction: 'EU',
    regime: 'opt-in',
    sources: [],
    reasons: [],
    snapshotId: 'test',
  }
}

export function eventsApp(
  visitor: Visitor,
  opts: { rules?: RuleSet; storeBudgetMs?: number; origin?: string; env?: Record<string, unknown> } = {},
) {
  const app = new Hono<AppEnv>()
  app.use('*', context())
  app.use('*', async function testVisitor(c, next) {
    c.set('consent', consentOf(visitor.purposes ?? {}))
    const stateKey = visitor.stateKey === undefined ? 'a:test-visitor' : visitor.stateKey
    const identity: Identity = {
      basis: stateKey ? 'cookie' : 'ephemeral',
      anonymousId: stateKey?.startsWith('a:') ? stateKey.slice(2) : 'anon',
      customerId: stateKey?.startsWith('c:') ? stateKey.slice(2) : null,
      unitId: 'anon',
      stateKey,
    }
    c.set('identity', identity)
    await next()
  })
  app.route('/v1', eventRoutes({ rules: opts.rules ?? bundledRules, storeBudgetMs: opts.storeBudgetMs }))
  app.use('*', pageViews())
  if (opts.origin) {
    const html = opts.origin
    app.get('*', (c) => {
      const res = c.html(html)
      // Apply the HTML hooks the way the response stage does.
      let rw = new HTMLRewriter()
      for (const h of c.var.hooks.html) rw = rw.on(h.selector, h.handler)
      return rw.transform(res)
    })
  }
  app.onError((err) =>
    err instanceof ProblemError
      ? problemResponse(err.problem)
      : problemResponse({ type: 'about:blank', title: 'Internal error', status: 500 }),
  )
  const bindings = { ...env, ...opts.env }
  return {
    post: (body: unknown, init: RequestInit = {}) =>
      app.request(
        'http://gate.test/v1/events',
        {
          method: 'POST',
          body: typeof body === 'string' ? body : JSON.stringify(body),
          ...init,
          headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
        },
        bindings,
      ),
    request: (path: string, init: RequestInit = {}) => app.request(`http://gate.test${path}`, init, bindings),
  }
}

export function customer(stateKey: string) {
  return env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey))
}

let n = 0
export function event(over: Record<string, unknown> = {}) {
  n++
  return {
    id: crypto.randomUUID(),
    type: 'product_view',
    ts: new Date(Date.now() - 1000).toISOString(),
    props: { sku: `sku-${n}` },
    ...over,
  }
}
