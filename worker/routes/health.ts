/**
 * `GET /v1/health`: liveness, the rules version in force, and this isolate's decision-record send
 * counters (worker/log/counters.ts: aggregate numbers only).
 */
import { Hono } from 'hono'
import type { AppEnv } from '../env'
import { decisionSendCounters } from '../log/counters'
import type { RuleSet } from '../rules'

export function health({ rules }: { rules: RuleSet }): Hono<AppEnv> {
  return new Hono<AppEnv>().get('/health', (c) =>
    c.json(
      {
        status: 'ok',
        rulesVersion: rules.version,
        environment: c.env.GATEHOUSE_ENV ?? 'production',
        decisionRecords: decisionSendCounters(),
      },
      200,
      { 'cache-control': 'no-store' },
    ),
  )
}
