/**
 * Route paths with `:param` segments as anchored regular expressions (a trailing slash allowed),
 * for the tables that answer "which route is this path": the gateway's method table
 * (worker/routes/table.ts) and the admin access matrix (worker/admin/roles.ts). Pure.
 */

/**
 * The pattern matching `path`, where a `:name` segment matches one path segment.
 *
 * @example
 *   routePattern('/admin/v1/decisions/:id').test('/admin/v1/decisions/42') // true
 */
export function routePattern(path: string): RegExp {
  const segments = path
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
  return new RegExp(`^${segments.join('/')}/?$`)
}
