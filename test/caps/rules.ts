/** Builds rule sets for the customer-state tests from the bundled one, overriding one concern. */
import type { StateRules } from '../../durable-objects/customer/state-rules'
import { capsSchema } from '../../worker/rules/concerns/caps'
import { profileSchema } from '../../worker/rules/concerns/profile'
import { triggersSchema } from '../../worker/rules/concerns/triggers'
import { bundledRules } from '../../worker/rules'

/** Caps rules parsed (defaults filled) from `input`; no quiet hours unless given. */
export function withCaps(input: Record<string, unknown>, base: StateRules = bundledRules): StateRules {
  return { ...base, caps: capsSchema.parse({ quietHours: null, ...input }) }
}

export function withTriggers(input: Record<string, unknown>, base: StateRules = bundledRules): StateRules {
  return { ...base, triggers: triggersSchema.parse(input) }
}

export function withProfile(input: Record<string, unknown>, base: StateRules = bundledRules): StateRules {
  return { ...base, profile: profileSchema.parse(input) }
}
