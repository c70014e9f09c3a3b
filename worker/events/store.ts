/**
 * Hands validated events to the person's CustomerState within a time budget. The object is the
 * only place events are stored; the Worker never keeps them. The answer also carries the changes
 * the events made to experiment aggregates (worker/experiments/accounting.ts sends them on).
 */
import type { RecordEventsInput, RecordEventsResult } from '../../durable-objects/customer/events'
import type { AggregateDelta } from '../experiments/unit-delta'
import type { RuleSet } from '../rules'
import type { Env } from '../env'
import { withBudget, type BudgetResult } from '../lib/budget'

/** Time budget of one recordEvents call (docs/architecture.md "State (Durable Objects, queues, D1)"). */
export const STORE_BUDGET_MS = 2_000

export function recordEvents(
  env: Pick<Env, 'CUSTOMER'>,
  input: RecordEventsInput,
  budgetMs = STORE_BUDGET_MS,
): Promise<BudgetResult<RecordEventsResult & { experiments?: AggregateDelta[] }>> {
  return withBudget(
    () => env.CUSTOMER.get(env.CUSTOMER.idFromName(input.stateKey)).recordEvents(input),
    budgetMs,
    'customer_state.recordEvents',
  )
}

/**
 * Event types kept without measurement consent: conversions that end campaigns (caps.yaml
 * suppressions) and events that cancel trigger timers (triggers.yaml cancelOn). Nothing else.
 */
export function minimumNecessaryTypes(rules: Pick<RuleSet, 'caps' | 'triggers'>): Set<string> {
  const types = new Set(rules.caps.suppressions.map((s) => s.on))
  for (const t of rules.triggers.triggers) for (const type of t.cancelOn) types.add(type)
  return types
}
