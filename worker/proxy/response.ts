/**
 * The `response` stage: applies the response hooks to what the origin sent.
 * (Minimal first version; issue 2 completes it.)
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import type { RuleSet } from '../rules'

export const response = (_opts: { rules: RuleSet }): MiddlewareHandler<AppEnv> =>
  async function response(c, next) {
    await next()
    const hooks = c.var.hooks
    const type = c.res.headers.get('content-type') ?? ''
    if (!type.includes('text/html') || (hooks.html.length === 0 && hooks.htmlDocument.length === 0)) return
    let rewriter = new HTMLRewriter()
    for (const h of hooks.html) rewriter = rewriter.on(h.selector, h.handler)
    for (const d of hooks.htmlDocument) rewriter = rewriter.onDocument(d)
    c.res = rewriter.transform(c.res)
  }
