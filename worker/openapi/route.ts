/**
 * `GET /v1/openapi.json`: the OpenAPI 3.1 document of the app-facing routes (./document.ts), with
 * the origin it was fetched from as its `servers` entry. The same for every caller, so shared
 * caches may keep it for five minutes.
 */
import { Hono } from 'hono'
import type { AppEnv } from '../env'
import type { RuleSet } from '../rules'
import { openApiDocument } from './document'

export function openApiRoutes({ rules }: { rules: RuleSet }): Hono<AppEnv> {
  return new Hono<AppEnv>().get('/openapi.json', (c) =>
    c.json(openApiDocument({ rulesVersion: rules.version, serverUrl: new URL(c.req.url).origin }), 200, {
      'cache-control': 'public, max-age=300',
    }),
  )
}
