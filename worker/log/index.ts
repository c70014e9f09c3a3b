/**
 * The `log` stage: one structured access line per request (no personal data).
 * (Minimal first version; issue 2 completes it.)
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import type { RuleSet } from '../rules'

export const accessLog = ({ rules }: { rules: RuleSet }): MiddlewareHandler<AppEnv> =>
  async function accessLog(c, next) {
    await next()
    c.var.log.info('request', {
      method: c.req.method,
      path: c.var.request.url.pathname,
      status: c.res.status,
      ms: Date.now() - c.var.request.receivedAt,
      rulesVersion: rules.version,
    })
  }
