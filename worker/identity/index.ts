/**
 * The `identity` stage (DESIGN.md request path). Filled by its own issue; until then it passes the
 * request on unchanged.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'

export const identity = (): MiddlewareHandler<AppEnv> =>
  async function identity(_c, next) {
    await next()
  }
