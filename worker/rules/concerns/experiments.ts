/**
 * `rules/experiments.yaml`: A/B/n tests, mutually exclusive layers, holdouts and Thompson-sampling
 * bandits, the metrics they are measured by and how each decides. See rules/README.md
 * "## experiments" and docs/experiments.md.
 */
import { z } from 'zod'
import { durationSchema } from './audiences'
import { PURPOSE_NAMES } from './placements'

const name = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'names are lower_snake_case (a-z, 0-9 and _, starting with a letter)')
const percent = z.number().min(0).max(100)

const armSchema = z.strictObject({
  variant: name.describe("A variant of the experiment's placement."),
  weight: z.number().min(0).default(1).describe('Relative share of traffic (A/B/n); ignored by bandits.'),
})

const metricSchema = z
  .strictObject({
    kind: z
      .enum(['binary', 'count', 'revenue', 'ratio'])
      .describe(
        'binary: converted at least once; count: how many events; revenue: sum of a prop; ratio: numerator over denominator.',
      ),
    event: name.describe('The event type that counts (the numerator of a ratio).'),
    prop: name.optional().describe('revenue (and ratio): the event prop summed, e.g. `value`.'),
    denominator: z
      .strictObject({ event: name, prop: name.optional() })
      .optional()
      .describe('ratio: the denominator event (and prop, when summed rather than counted).'),
    windowDays: z
      .number()
      .int()
      .min(1)
      .max(365)
      .default(14)
      .describe('Attribution window: events within this many days of first exposure count.'),
    higherIsBetter: z.boolean().default(true).describe('false for metrics where a rise is harm (refunds).'),
  })
  .describe('A metric an experiment is measured by.')

const measureSchema = z
  .strictObject({
    primary: name
      .optional()
      .describe("The metric that decides; defaults to the bandit's conversion, else the first metric."),
    guardrails: z.array(name).default([]).describe('Metrics that must not be harmed.'),
    alpha: z.number().gt(0).lt(0.5).default(0.05).describe('Two-sided significance level.'),
    power: z.number().gt(0.5).lt(1).default(0.8).describe('Planned power.'),
    minimumEffect: z
      .number()
      .gt(0)
      .max(10)
      .default(0.05)
      .describe('Smallest relative effect worth shipping (0.05 = 5%).'),
  })
  .prefault({})
  .describe('How the experiment is decided.')

const experimentSchema = z
  .strictObject({
    description: z.string().default(''),
    placement: name.describe('The placement this experiment picks a variant for.'),
    status: z
      .enum(['running', 'paused', 'ended'])
      .default('running')
      .describe('Only running experiments bucket visitors; paused/ended ones show the control.'),
    audience: z
      .string()
      .optional()
      .describe(
        'Only visitors in this audience (rules/audiences.yaml) take part; for anyone else the rule naming the ' +
          'experiment does not apply, so they see what the rules below (or the fallback) show them.',
      ),
    control: name.describe('The variant everyone outside the experiment sees (and the baseline arm).'),
    arms: z.array(armSchema).min(1).describe('The arms: variants and their weights.'),
    seed: z
      .string()
      .optional()
      .describe('Bucketing seed; defaults to the experiment id. Changing it reshuffles everyone.'),
    hashVersion: z.literal(1).default(1).describe('Bucketing hash version; a shipped version never changes.'),
    traffic: percent.default(100).describe('Percent of eligible visitors (or of the layer) enrolled.'),
    layer: name
      .optional()
      .describe('Mutually exclusive layer: a visitor is in at most one experiment of a layer.'),
    requires: z
      .array(z.enum(PURPOSE_NAMES))
      .default(['measurement'])
      .describe('Consent needed to bucket a visitor; without it they see the control (reason `consent`).'),
    bandit: z
      .strictObject({
        algorithm: z.literal('thompson').default('thompson'),
        conversion: z.string().describe('The event type that counts as a conversion.'),
        rebalance: durationSchema
          .default('1h')
          .describe('A visitor keeps their arm for this long; then arms are redrawn from fresh statistics.'),
      })
      .optional()
      .describe('Thompson-sampling bandit: shifts traffic to the arm that converts best.'),
    measure: measureSchema,
  })
  .describe('An experiment.')

export const experimentsSchema = z
  .strictObject({
    experiments: z.record(name, experimentSchema).default({}).describe('Experiments by id.'),
    metrics: z
      .record(name, metricSchema)
      .default({ converted: { kind: 'binary', event: 'purchase', windowDays: 14, higherIsBetter: true } })
      .describe('Metrics by id. Default: `converted`, any purchase within 14 days of first exposure.'),
    layers: z
      .record(name, z.strictObject({ description: z.string().default(''), seed: z.string().optional() }))
      .default({})
      .describe('Mutually exclusive layers; each experiment in a layer takes its `traffic` percent of it.'),
    holdout: z
      .strictObject({
        percent: percent
          .default(0)
          .describe("Global holdout: these visitors see every placement's fallback."),
        seed: z.string().default('global-holdout'),
        requires: z.array(z.enum(PURPOSE_NAMES)).default(['measurement']),
      })
      .prefault({})
      .describe('The global holdout: a control group that sees no personalisation at all.'),
    placementHoldouts: z
      .record(name, percent)
      .default({})
      .describe('Per-placement holdouts: placement -> percent of visitors who see its fallback.'),
    stats: z
      .strictObject({
        cacheTtlSeconds: z
          .number()
          .min(0)
          .default(30)
          .describe('How long an isolate reuses bandit statistics before reading them again.'),
        flushSeconds: z
          .number()
          .min(0)
          .default(10)
          .describe('How long an isolate batches exposure/conversion counts before sending them.'),
        shards: z
          .number()
          .int()
          .min(1)
          .max(64)
          .default(4)
          .describe(
            'Measurement counters per experiment, merged on read: more shards take more write traffic. Changing it loses nothing already counted only if shards are never removed.',
          ),
      })
      .prefault({})
      .describe('Bandit statistics: read through a per-isolate cache, counts sent in batches.'),
  })
  .prefault({})
  .describe('Experiments, layers and holdouts.')

export type ExperimentsRules = z.output<typeof experimentsSchema>

/** The ExperimentsRules shape as far as metric checks need it (the compiler passes the whole set). */
interface MetricIssue {
  path: Array<string | number>
  message: string
  candidates?: string[]
}

/**
 * Metrics are complete for their kind and every experiment's primary metric and guardrails name
 * defined metrics (rules:check suggests the nearest name).
 */
export function metricIssues(rules: ExperimentsRules): MetricIssue[] {
  const issues: MetricIssue[] = []
  const ids = Object.keys(rules.metrics)
  for (const [id, m] of Object.entries(rules.metrics)) {
    if (m.kind === 'revenue' && !m.prop)
      issues.push({ path: ['metrics', id, 'prop'], message: 'a revenue metric needs the prop it sums' })
    if (m.kind === 'ratio' && !m.denominator)
      issues.push({ path: ['metrics', id, 'denominator'], message: 'a ratio metric needs a denominator' })
    if (m.kind !== 'ratio' && m.denominator)
      issues.push({ path: ['metrics', id, 'denominator'], message: `only a ratio metric has a denominator` })
  }
  for (const [id, e] of Object.entries(rules.experiments)) {
    if (id === 'holdout')
      issues.push({ path: ['experiments', id], message: '"holdout" names the global holdout\'s report' })
    if (e.measure.primary !== undefined && !Object.hasOwn(rules.metrics, e.measure.primary))
      issues.push({
        path: ['experiments', id, 'measure', 'primary'],
        message: `unknown metric "${e.measure.primary}"`,
        candidates: ids,
      })
    if (e.measure.primary === undefined && ids.length === 0)
      issues.push({ path: ['metrics'], message: `experiment ${id} has no metric to be measured by` })
    e.measure.guardrails.forEach((g, i) => {
      if (!Object.hasOwn(rules.metrics, g))
        issues.push({
          path: ['experiments', id, 'measure', 'guardrails', i],
          message: `unknown metric "${g}"`,
          candidates: ids,
        })
    })
  }
  return issues
}
