/**
 * Reports what became of a fired trigger back to the customer's object, which keeps the fire in
 * its outbox until it hears (durable-objects/customer/triggers.ts): `delivered` when the webhook
 * accepted it, `dead` when it was dead-lettered. A report that fails is logged and not retried
 * here: the object re-sends the fire when its window ends, and the consumer then finds the
 * delivery already recorded in D1 (`deliveredBefore`) and reports again without posting.
 */
import type { FireOutcome, TriggerFireMessage } from '../../durable-objects/customer/triggers'
import type { Env } from '../env'
import { withBudget } from '../lib/budget'
import type { Logger } from '../lib/log'

/** Time budget of one report (an RPC to one object). */
const REPORT_BUDGET_MS = 2_000

// `id:<hex>` is the name an object gives itself before it knows its state key (index.ts `#stateKey`).
function customerStub(env: Env, stateKey: string) {
  const id = stateKey.startsWith('id:')
    ? env.CUSTOMER.idFromString(stateKey.slice(3))
    : env.CUSTOMER.idFromName(stateKey)
  return env.CUSTOMER.get(id)
}

export async function reportOutcome(
  env: Env,
  fire: Pick<TriggerFireMessage, 'fireId' | 'stateKey'>,
  outcome: FireOutcome,
  log: Logger,
): Promise<boolean> {
  const r = await withBudget(
    () => customerStub(env, fire.stateKey).fireOutcome(fire.fireId, outcome),
    REPORT_BUDGET_MS,
    'customer_state.fire_outcome',
  )
  if (!r.ok) log.warn('trigger_outcome_not_reported', { fireId: fire.fireId, outcome, ...r.error })
  return r.ok
}

/**
 * Whether this fire was delivered before (a re-send from the outbox, or a queue redelivery).
 * An unreadable D1 answers false: the fire is posted and the receiver deduplicates on its id.
 */
export async function deliveredBefore(db: D1Database, fireId: string, log: Logger): Promise<boolean> {
  const r = await withBudget(
    () => db.prepare('SELECT 1 AS one FROM trigger_deliveries WHERE fire_id = ?').bind(fireId).first(),
    REPORT_BUDGET_MS,
    'd1.trigger_deliveries',
  )
  if (!r.ok) log.warn('trigger_delivery_lookup_failed', { fireId, ...r.error })
  return r.ok && r.value !== null
}
