/**
 * The admin access matrix: which roles may call which admin route. This table is the one place
 * admin authorisation is decided; a route that is not listed here is unreachable (deny by
 * default), whatever handler exists for it. Pure: no Workers imports.
 *
 * | route | marketer | analyst | privacy | admin | ingest |
 * | --- | --- | --- | --- | --- | --- |
 * | see ADMIN_ROUTES below; docs/privacy.md renders the same table |
 */
import { routePattern } from '../lib/route-pattern'

// `ingest`: a server (POS, CRM export job) that may only call `POST /v1/ingest/events`; it is
// listed on no admin route below, so it opens nothing else (worker/events/routes.ts checks it).
export const ADMIN_ROLES = ['marketer', 'analyst', 'privacy', 'admin', 'ingest'] as const
export type AdminRole = (typeof ADMIN_ROLES)[number]

/** `METHOD /path` (with `:param` segments) -> the roles allowed to call it. */
export const ADMIN_ROUTES = {
  'GET /admin/v1/decisions': ['analyst', 'privacy', 'admin'],
  'GET /admin/v1/decisions/:id': ['analyst', 'privacy', 'admin'],
  'POST /admin/v1/subjects/export': ['privacy', 'admin'],
  'POST /admin/v1/subjects/erase': ['privacy', 'admin'],
  'GET /admin/v1/subjects/receipts/:id': ['privacy', 'admin'],
  'GET /admin/v1/record-of-processing': ['marketer', 'analyst', 'privacy', 'admin'],
  'GET /admin/v1/audit': ['privacy', 'admin'],
  'GET /admin/v1/rules/versions': ['marketer', 'analyst', 'privacy', 'admin'],
  'GET /admin/v1/experiments': ['marketer', 'analyst', 'admin'],
  'GET /admin/v1/experiments/:id': ['marketer', 'analyst', 'admin'],
} as const satisfies Record<string, readonly AdminRole[]>

export type AdminAction = keyof typeof ADMIN_ROUTES

interface CompiledRoute {
  action: AdminAction
  method: string
  pattern: RegExp
  roles: readonly AdminRole[]
}

const compiled: CompiledRoute[] = Object.entries(ADMIN_ROUTES).map(([action, roles]) => {
  const [method, path] = action.split(' ') as [string, string]
  return { action: action as AdminAction, method, pattern: routePattern(path), roles }
})

export type RouteMatch =
  | { ok: true; value: { action: AdminAction; roles: readonly AdminRole[] } }
  | { ok: false; error: { reason: 'no_such_route' } }

/** The matrix entry for a request (HEAD is treated as GET, as Hono routes it). */
export function matchAdminRoute(method: string, pathname: string): RouteMatch {
  const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase()
  for (const r of compiled) {
    if (r.method === m && r.pattern.test(pathname))
      return { ok: true, value: { action: r.action, roles: r.roles } }
  }
  return { ok: false, error: { reason: 'no_such_route' } }
}

/**
 * Roles from a JWT claim: an array of strings or one space/comma-separated string (both are
 * common: Access groups, OAuth `scope`-style claims). Unknown role names are ignored.
 */
export function rolesFromClaim(value: unknown): AdminRole[] {
  const names = Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string')
    : typeof value === 'string'
      ? value.split(/[\s,]+/)
      : []
  const known = new Set<string>(ADMIN_ROLES)
  return [...new Set(names.map((n) => n.trim().toLowerCase()).filter((n) => known.has(n)))] as AdminRole[]
}

export function isAllowed(held: readonly AdminRole[], allowed: readonly AdminRole[]): boolean {
  return held.some((r) => allowed.includes(r))
}
