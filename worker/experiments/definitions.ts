/**
 * What the rules say each experiment is measured by, compiled once per rule set: its metrics
 * (`MetricDefinition`, primary first, then guardrails), its decision policy (`DecisionPolicy`),
 * its arms and planned split. The global holdout is measured as one more experiment, `holdout`,
 * with arms `holdout` and `exposed` (every eligible visitor outside it), by every metric. Pure:
 * no Workers imports.
 */
import type { ExperimentsRules } from '../rules/concerns/experiments'
import type { DecisionPolicy, MetricDefinition } from './types'

/** The id the global holdout is measured under (rules forbid an experiment of that name). */
export const HOLDOUT_ID = 'holdout'
export const HOLDOUT_ARMS = { held: 'holdout', exposed: 'exposed' } as const

export interface MeasuredExperiment {
  id: string
  kind: 'ab' | 'bandit' | 'holdout'
  control: string
  arms: string[]
  /** arm -> weight, summing to 100 (a bandit's is its uniform starting split). */
  weights: Record<string, number>
  metrics: MetricDefinition[]
  policy: DecisionPolicy
}

/**
 * Every measured experiment by id: the running, paused and ended experiments of the rules, and
 * the global holdout when its percent is above 0.
 *
 * @example
 *   measuredExperiments(rules.experiments).get('hero_test')?.policy.primary // 'converted'
 */
export function measuredExperiments(rules: ExperimentsRules): Map<string, MeasuredExperiment> {
  const metricOf = (id: string): MetricDefinition | null => {
    if (!Object.hasOwn(rules.metrics, id)) return null
    const m = rules.metrics[id]!
    return {
      id,
      kind: m.kind,
      event: m.event,
      ...(m.prop ? { prop: m.prop } : {}),
      ...(m.denominator ? { denominator: { ...m.denominator } } : {}),
      windowDays: m.windowDays,
      higherIsBetter: m.higherIsBetter,
    }
  }
  const allIds = Object.keys(rules.metrics)
  const out = new Map<string, MeasuredExperiment>()
  for (const [id, e] of Object.entries(rules.experiments)) {
    const banditMetric = e.bandit
      ? allIds.find(
          (m) => rules.metrics[m]!.kind === 'binary' && rules.metrics[m]!.event === e.bandit!.conversion,
        )
      : undefined
    const primary = e.measure.primary ?? banditMetric ?? allIds[0]
    if (primary === undefined) continue
    const ids = [primary, ...e.measure.guardrails.filter((g) => g !== primary)]
    const metrics = ids.map(metricOf).filter((m): m is MetricDefinition => m !== null)
    const arms = e.arms.map((a) => a.variant)
    const total = e.bandit ? arms.length : e.arms.reduce((s, a) => s + a.weight, 0)
    const weights = Object.fromEntries(
      e.arms.map((a) => [a.variant, total > 0 ? ((e.bandit ? 1 : a.weight) / total) * 100 : 0]),
    )
    out.set(id, {
      id,
      kind: e.bandit ? 'bandit' : 'ab',
      control: e.control,
      arms,
      weights,
      metrics,
      policy: {
        primary,
        guardrails: metrics.slice(1).map((m) => m.id),
        alpha: e.measure.alpha,
        power: e.measure.power,
        minimumEffect: e.measure.minimumEffect,
      },
    })
  }
  const held = rules.holdout.percent
  if (held > 0 && allIds.length > 0) {
    out.set(HOLDOUT_ID, {
      id: HOLDOUT_ID,
      kind: 'holdout',
      control: HOLDOUT_ARMS.held,
      arms: [HOLDOUT_ARMS.held, HOLDOUT_ARMS.exposed],
      weights: { [HOLDOUT_ARMS.held]: held, [HOLDOUT_ARMS.exposed]: 100 - held },
      metrics: allIds.map(metricOf).filter((m): m is MetricDefinition => m !== null),
      policy: {
        primary: allIds[0]!,
        guardrails: allIds.slice(1),
        alpha: 0.05,
        power: 0.8,
        minimumEffect: 0.05,
      },
    })
  }
  return out
}
