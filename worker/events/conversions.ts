/**
 * Bandit feedback from events: an event that carries `props.experiment` and `props.arm` (the
 * `experiment.id` and `experiment.arm` of the decision the visitor was shown, as
 * `POST /v1/decide/conversions` takes them) and whose type is that bandit's conversion event
 * (rules/experiments.yaml `bandit.conversion`) counts one conversion for the arm. So a bandit
 * learns from `POST /v1/events` as well as from the conversions route.
 *
 * Only bandits count: an A/B experiment names no conversion event, and counting every event that
 * happens to carry an arm (page views, clicks) would not be a conversion rate. Pure: no Workers
 * imports.
 */
import type { ExperimentsRules } from '../rules/concerns/experiments'

export interface ArmConversion {
  experiment: string
  arm: string
}

/**
 * The conversions a batch of events reports, one per qualifying event (unknown experiments, arms
 * that are not the experiment's, and events of another type are ignored).
 *
 * @example
 *   banditConversions(rules.experiments, [{ type: 'purchase', props: { experiment: 'upsell_bandit', arm: 'bundle_offer' } }])
 *   // -> [{ experiment: 'upsell_bandit', arm: 'bundle_offer' }]
 */
export function banditConversions(
  rules: Pick<ExperimentsRules, 'experiments'>,
  events: ReadonlyArray<{ type: string; props: Record<string, unknown> }>,
): ArmConversion[] {
  const out: ArmConversion[] = []
  for (const e of events) {
    const { experiment, arm } = e.props
    if (typeof experiment !== 'string' || typeof arm !== 'string') continue
    // Own properties only: an experiment id such as "constructor" must not reach Object.prototype.
    if (!Object.hasOwn(rules.experiments, experiment)) continue
    const x = rules.experiments[experiment]!
    if (!x.bandit || x.bandit.conversion !== e.type) continue
    if (!x.arms.some((a) => a.variant === arm)) continue
    out.push({ experiment, arm })
  }
  return out
}
