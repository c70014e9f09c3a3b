/** `GET /v1/health`: liveness and the rules version in force. */
import { Hono } from 'hono'
import type { AppEnv } from '../env'
import type { RuleSet } from '../rules'

export function health({ rules }: { rules: RuleSet }): Hono<AppEnv> {
  return new Hono<AppEnv>().get('/health', (c) =>
    c.json(
      { status: 'ok', rulesVersion: rules.version, environment: c.env.GATEHOUSE_ENV ?? 'production' },
      200,
      { 'cache-control': 'no-store' },
    ),
  )
}
