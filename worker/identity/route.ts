/**
 * `GET /v1/identity`: who the gateway takes the caller to be, and where this request came from.
 * Lets apps and sites check their integration (JWT accepted? id persistent? UTMs normalised?).
 * Never returns verified claims beyond `sub`, never the signed value itself in the body.
 */
import { Hono } from 'hono'
import type { AppEnv } from '../env'

export const identityRoutes = (): Hono<AppEnv> => {
  const routes = new Hono<AppEnv>()
  routes.get('/identity', (c) => {
    const id = c.get('identity')
    c.header('cache-control', 'no-store')
    return c.json({
      basis: id.basis,
      customerId: id.customerId,
      anonymousId: id.anonymousId,
      unitId: id.unitId,
      // null: nothing is kept for this visitor (no storage consent, no verified customer).
      stateKey: id.stateKey,
      touchpoint: c.get('touchpoint') ?? null,
    })
  })
  return routes
}
