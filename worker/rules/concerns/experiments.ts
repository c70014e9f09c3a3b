/**
 * `rules/experiments.yaml`: A/B/n tests, mutually exclusive layers, holdouts and Thompson-sampling
 * bandits. See rules/README.md "## experiments".
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
  })
  .describe('An experiment.')

export const experimentsSchema = z
  .strictObject({
    experiments: z.record(name, experimentSchema).default({}).describe('Experiments by id.'),
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
      })
      .prefault({})
      .describe('Bandit statistics: read through a per-isolate cache, counts sent in batches.'),
  })
  .prefault({})
  .describe('Experiments, layers and holdouts.')

export type ExperimentsRules = z.output<typeof experimentsSchema>
