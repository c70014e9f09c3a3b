/**
 * The method check: a gateway path called with a method it does not have is answered here, before
 * consent, identity or any store is touched, with 405 problem+json and `Allow` (RFC 9110 section
 * 15.5.6) instead of a 404. Admin paths are left to the admin guard, which authenticates first
 * (an unauthenticated caller learns nothing about admin routes) and then answers the same way.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import { ProblemError, problemResponse } from '../lib/problem'
import { checkMethod } from './table'

/** The 405 answer for a path that answers only `allow`. */
export function methodNotAllowed(method: string, allow: readonly string[]): Response {
  return problemResponse(
    new ProblemError(405, 'Method not allowed', `This route does not answer ${method}.`, [
      { path: 'method', message: `expected ${allow.join(' or ')}` },
    ]).problem,
    { allow: allow.join(', ') },
  )
}

export const methodCheck = (): MiddlewareHandler<AppEnv> =>
  async function methodCheck(c, next) {
    const req = c.get('request')
    if (!req.gatewayRoute || req.url.pathname.startsWith('/admin/')) return next()
    const r = checkMethod(c.req.method, req.url.pathname)
    if (!r.ok) return methodNotAllowed(c.req.method.toUpperCase(), r.error.allow)
    await next()
  }
