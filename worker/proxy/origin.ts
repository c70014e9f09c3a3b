/**
 * The `origin` stage: forwards the request to the configured origin.
 * (Minimal first version; issue 2 completes it: header hygiene, time budget, fallbacks.)
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import type { RuleSet } from '../rules'

export const origin = ({ rules }: { rules: RuleSet }): MiddlewareHandler<AppEnv> =>
  async function origin(c) {
    const base = new URL(c.env.ORIGIN_URL || rules.site.origin)
    const target = new URL(c.var.request.url.pathname + c.var.request.url.search, base)
    const headers = new Headers(c.req.raw.headers)
    for (const hook of c.var.hooks.originHeaders) hook(headers)
    return fetch(target, { method: c.req.method, headers, body: c.req.raw.body, redirect: 'manual' })
  }
