/**
 * The identity routes:
 * - `GET /v1/identity`: who the gateway takes the caller to be, and where this request came from.
 *   Lets apps and sites check their integration (JWT accepted? id persistent? UTMs normalised?).
 *   Never returns verified claims beyond `sub`, never the signed value itself in the body.
 * - `POST /v1/sign-out`: the site calls it when its user signs out. The identity stage has already
 *   replaced the caller's signed id with a new anonymous one that carries no customer (./plan.ts),
 *   so the next person on a shared device starts from nothing; this route only answers.
 */
import { Hono } from 'hono'
import type { AppEnv } from '../env'
import { firstPartyOrigin } from '../lib/origin'
import { ProblemError } from '../lib/problem'

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
  routes.post('/sign-out', (c) => {
    if (!firstPartyOrigin(c.req.header('origin'), c.get('request').url.host)) {
      throw new ProblemError(403, 'Forbidden', 'Sign-out is accepted from this site only.', [
        { path: 'Origin', message: 'must be this site' },
      ])
    }
    const id = c.get('identity')
    c.header('cache-control', 'no-store')
    return c.json({ signedOut: true, anonymousId: id.basis === 'ephemeral' ? null : id.anonymousId })
  })
  return routes
}
