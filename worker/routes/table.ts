/**
 * The gateway's own routes and the methods each answers: the one table the method check reads
 * (405 with `Allow` for a gateway path called with a method it does not have, RFC 9110 section
 * 15.5.6), kept equal to the routes the app mounts by test/security/methods.test.ts. Admin routes
 * come from the admin access matrix (worker/admin/roles.ts), which the admin guard checks. Pure.
 */
import { ADMIN_ROUTES } from '../admin/roles'
import { routePattern } from '../lib/route-pattern'

/** `path` (with `:param` segments) -> the methods its handlers answer (HEAD comes with GET). */
export const GATEWAY_ROUTES: Readonly<Record<string, readonly string[]>> = {
  '/v1/health': ['GET'],
  '/v1/health/triggers': ['GET'],
  '/v1/consent': ['GET'],
  '/v1/consent-bridge.js': ['GET'],
  '/.well-known/gpc.json': ['GET'],
  '/v1/identity': ['GET'],
  '/v1/sign-out': ['POST'],
  '/v1/decide': ['POST'],
  '/v1/decide/conversions': ['POST'],
  '/v1/openapi.json': ['GET'],
  '/v1/events': ['POST'],
  '/v1/ingest/events': ['POST'],
  '/v1/beacon.js': ['GET'],
  '/v1/me': ['GET', 'DELETE'],
  ...adminRoutes(),
}

function adminRoutes(): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const action of Object.keys(ADMIN_ROUTES)) {
    const [method, path] = action.split(' ') as [string, string]
    ;(out[path] ??= []).push(method)
  }
  return out
}

const compiled = Object.entries(GATEWAY_ROUTES).map(([path, methods]) => ({
  pattern: routePattern(path),
  methods,
}))

export type MethodCheck =
  | { ok: true; value: 'allowed' | 'unknown_path' }
  | { ok: false; error: { reason: 'method_not_allowed'; allow: string[] } }

/**
 * Whether `method` is one `pathname` answers. A path outside the table is `unknown_path` (a 404
 * or the origin decides); a known path with another method is `method_not_allowed` with the
 * `Allow` list (GET brings HEAD).
 *
 * @example
 *   checkMethod('GET', '/v1/events') // -> { ok: false, error: { reason: 'method_not_allowed', allow: ['POST'] } }
 */
export function checkMethod(method: string, pathname: string): MethodCheck {
  const m = method.toUpperCase()
  for (const r of compiled) {
    if (!r.pattern.test(pathname)) continue
    const allow = r.methods.includes('GET') ? [...r.methods, 'HEAD'] : [...r.methods]
    if (allow.includes(m)) return { ok: true, value: 'allowed' }
    return { ok: false, error: { reason: 'method_not_allowed', allow } }
  }
  return { ok: true, value: 'unknown_path' }
}
