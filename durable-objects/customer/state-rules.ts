/**
 * The one seam through which CustomerState reads its rules (caps, triggers, profile, touchpoint
 * attribution, retention, experiment metrics): the rule set bundled at build time. Tests replace them for the isolate
 * with `overrideStateRules` (the object cannot receive a rule set per call: the decision
 * contract's `reserve()` takes none).
 */
import { bundledRules, type RuleSet } from '../../worker/rules'

export type StateRules = Pick<RuleSet, 'caps' | 'triggers' | 'profile' | 'utm' | 'privacy' | 'experiments'>

let override: StateRules | null = null

export function stateRules(): StateRules {
  return override ?? bundledRules
}

/** Tests only: use these rules in every CustomerState of this isolate (null restores the bundled set). */
export function overrideStateRules(rules: StateRules | null): void {
  override = rules
}
