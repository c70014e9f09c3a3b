/**
 * The `consent` stage (DESIGN.md request path). Filled by its own issue; until then it passes the
 * request on unchanged.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'

export const consent = (): MiddlewareHandler<AppEnv> =>
  async function consent(_c, next) {
    await next()
  }
