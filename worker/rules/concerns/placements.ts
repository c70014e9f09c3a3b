/**
 * `rules/placements.yaml`: the places where Gatehouse shows something, their variants, and the
 * ordered rules that pick a variant. See rules/README.md "## placements".
 */
import { z } from 'zod'
import { conditionSchema, durationSchema, present, scheduleSchema } from './audiences'

const name = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'names are lower_snake_case (a-z, 0-9 and _, starting with a letter)')

export const PURPOSE_NAMES = ['storage', 'measurement', 'personalization', 'advertising'] as const
const APPROVAL = ['draft', 'review', 'approved', 'retired'] as const
const COMPLIANCE = ['regulated', 'age_restricted'] as const

const contentValue = z.record(z.string(), z.unknown())

const variantSchema = z
  .strictObject({
    description: z.string().default(''),
    status: z
      .enum(APPROVAL)
      .default('draft')
      .describe('Approval status. Only `approved` variants deploy; others are compiled out with a warning.'),
    content: z
      .record(z.string(), contentValue)
      .default({})
      .describe(
        'Content per locale: `default`, `de`, `de-AT`, ... A visitor in de-AT gets de-AT, else de, else default. ' +
          'On web pages, `html` (or `text`) fills the slot.',
      ),
    contentKey: z
      .string()
      .optional()
      .describe('A key into your CMS/app strings, sent along with the content.'),
    requires: z
      .array(z.enum(PURPOSE_NAMES))
      .optional()
      .describe(
        'Consent purposes the visitor must have granted to see this variant. Default: [personalization] ' +
          'for every variant except the placement fallback. Write [] for a variant anyone may see.',
      ),
    compliance: z
      .array(z.enum(COMPLIANCE))
      .default([])
      .describe(
        'regulated / age_restricted: shown only when the matching guard in `guards` holds, else falls back.',
      ),
    schedule: scheduleSchema.optional().describe('When this variant may be shown.'),
    maxAttributeAge: durationSchema
      .optional()
      .describe('Customer attributes older than this are not used when deciding for this variant.'),
    campaign: z
      .string()
      .optional()
      .describe('Campaign id: counted against frequency caps (rules/caps.yaml) and conversion suppression.'),
    tags: z.array(z.string()).default([]).describe('Cap tags: counted against tag caps in rules/caps.yaml.'),
  })
  .describe('One thing a placement can show.')

const ruleSchema = z
  .strictObject({
    id: name.describe('Stable rule id; decisions say `rule:<id>`.'),
    description: z.string().default(''),
    when: conditionSchema.optional().describe('Who the rule is for; always applies when absent.'),
    variant: name.optional().describe('The variant this rule shows.'),
    experiment: name
      .optional()
      .describe('Or: the experiment (rules/experiments.yaml) that picks the variant.'),
  })
  .superRefine((r, ctx) => {
    if ((r.variant === undefined) === (r.experiment === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['variant'],
        message: 'a rule names exactly one of `variant` or `experiment`',
      })
    }
  })
  .meta({ oneOf: [present('variant'), present('experiment')] })
  .describe('Tried in order; the first rule that applies and whose variant passes its guards wins.')

const placementSchema = z
  .strictObject({
    description: z.string().default(''),
    fallback: name.describe(
      'The variant shown when no rule applies, consent is missing, or state is unavailable.',
    ),
    variants: z.record(name, variantSchema).describe('The variants, by id.'),
    rules: z.array(ruleSchema).default([]).describe('Ordered rules.'),
    maxAttributeAge: durationSchema
      .optional()
      .describe('Freshness limit for this placement (default: freshness.maxAttributeAge).'),
  })
  .describe('A placement: a slot on a page or a screen in an app.')

export const placementsSchema = z
  .strictObject({
    placements: z
      .record(name, placementSchema)
      .default({})
      .describe('Placements by name (the slot name on pages).'),
    pages: z
      .record(z.string().startsWith('/', 'a path starting with "/"'), z.array(name))
      .default({})
      .describe(
        'Page path -> placements decided for it. `*` at the end matches any rest of the path (`/products/*`). ' +
          'Slots on pages not listed here show their fallback, so shared caches stay safe.',
      ),
    freshness: z
      .strictObject({
        maxAttributeAge: durationSchema
          .default('90d')
          .describe('Customer attributes older than this are ignored.'),
      })
      .prefault({})
      .describe('Data freshness guard: messaging is never built on stale data.'),
    guards: z
      .strictObject({
        regulated: conditionSchema
          .default({ field: 'customer.regulated_eligible', eq: true })
          .describe('Must hold for a variant marked `compliance: [regulated]`.'),
        age_restricted: conditionSchema
          .default({ field: 'customer.age_verified', eq: true })
          .describe('Must hold for a variant marked `compliance: [age_restricted]`.'),
      })
      .prefault({})
      .describe('Compliance guards: explicit attributes a regulated or age-restricted variant needs.'),
    locales: z
      .strictObject({
        fallbacks: z
          .record(z.string(), z.array(z.string()))
          .default({})
          .describe("Extra fallbacks after a locale's own chain, e.g. `de-CH: [fr-CH]`."),
        default: z.string().default('en').describe('Locale assumed when the visitor states none.'),
      })
      .prefault({})
      .describe('Locale fallback chains (de-AT -> de -> default are automatic).'),
    state: z
      .strictObject({
        budgetMs: z
          .number()
          .int()
          .min(0)
          .max(2000)
          .default(50)
          .describe(
            'Time budget for reading customer state; past it the decision falls back (state_unavailable).',
          ),
      })
      .prefault({})
      .describe('Customer state access.'),
  })
  .prefault({})
  .describe('Placements, their variants and rules.')
