/**
 * `rules/audiences.yaml`: named conditions over what Gatehouse knows about a visitor. See
 * rules/README.md "## audiences". The condition language is shared with placements.yaml.
 */
import { z } from 'zod'
import { DURATION } from '../../decide/duration'
import { checkRegex } from '../../decide/regex'
import { isTimeZone, WEEKDAYS } from '../../decide/schedule'

const scalar = z.union([z.string(), z.number(), z.boolean()])

const LOCAL_STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/

export const durationSchema = z
  .string()
  .regex(DURATION, 'a duration such as "90d", "12h", "30m" or "45s"')
  .describe('A duration: a number and a unit (ms, s, m, h, d, w), e.g. "90d".')

const timeZoneSchema = z
  .string()
  .refine(isTimeZone, 'not an IANA time zone (e.g. "Europe/Berlin", "America/New_York", "UTC")')
  // The JSON Schema lists the zones, so editors complete them and strict validators check them.
  .meta({ enum: [...new Set([...Intl.supportedValuesOf('timeZone'), 'UTC'])] })
  .describe('An IANA time zone, e.g. "Europe/Berlin".')

export const scheduleSchema = z
  .strictObject({
    timeZone: timeZoneSchema,
    start: z
      .string()
      .regex(LOCAL_STAMP, 'a local time "YYYY-MM-DDTHH:mm"')
      .optional()
      .describe('First moment it applies, local wall time "YYYY-MM-DDTHH:mm" in timeZone (inclusive).'),
    end: z
      .string()
      .regex(LOCAL_STAMP, 'a local time "YYYY-MM-DDTHH:mm"')
      .optional()
      .describe('Moment it stops applying, local wall time "YYYY-MM-DDTHH:mm" in timeZone (exclusive).'),
    days: z
      .array(z.enum(WEEKDAYS))
      .optional()
      .describe('Days of the week it applies on (mon..sun); all when absent.'),
    hours: z
      .strictObject({
        from: z.string().regex(HHMM, 'a local time "HH:mm"'),
        to: z.string().regex(HHMM, 'a local time "HH:mm"'),
      })
      .optional()
      .describe('Daily window in local time; "22:00" to "06:00" wraps past midnight.'),
  })
  .superRefine((s, ctx) => {
    // Both are "YYYY-MM-DDTHH:mm" in one zone, so text order is time order.
    if (s.start !== undefined && s.end !== undefined && s.end <= s.start)
      ctx.addIssue({
        code: 'custom',
        path: ['end'],
        message: `the schedule ends (${s.end}) before it starts (${s.start}), so it never applies: swap start and end, or fix the year`,
      })
  })
  .describe('When something applies, in wall-clock time of an IANA time zone (daylight saving handled).')

/** A condition as written in YAML. Exactly one of: all, any, not, audience, trait, schedule, field. */
export interface ConditionInput {
  description?: string
  all?: ConditionInput[]
  any?: ConditionInput[]
  not?: ConditionInput
  audience?: string
  trait?: string
  schedule?: z.input<typeof scheduleSchema>
  field?: string
  eq?: string | number | boolean
  ne?: string | number | boolean
  in?: Array<string | number | boolean>
  nin?: Array<string | number | boolean>
  gt?: number
  gte?: number
  lt?: number
  lte?: number
  between?: [number, number]
  regex?: string
  exists?: boolean
  maxAge?: string
  timeZone?: string
}

const KINDS = ['all', 'any', 'not', 'audience', 'trait', 'schedule', 'field'] as const
const OPERATORS = ['eq', 'ne', 'in', 'nin', 'gt', 'gte', 'lt', 'lte', 'between', 'regex', 'exists'] as const

/** JSON Schema for "`key` is present" that strict validators accept (the key is declared beside `required`). */
export const present = (key: string) => ({ properties: { [key]: true }, required: [key] })

export const conditionSchema: z.ZodType<ConditionInput> = z.lazy(() =>
  z
    .strictObject({
      description: z.string().optional().describe('A note for people; ignored by the engine.'),
      all: z
        .array(conditionSchema)
        .min(1)
        .optional()
        .describe('True when every condition in the list is true.'),
      any: z.array(conditionSchema).min(1).optional().describe('True when at least one condition is true.'),
      not: conditionSchema.optional().describe('True when the condition is false.'),
      audience: z.string().optional().describe('True when the visitor is in the named audience.'),
      trait: z.string().optional().describe('True when the named standard trait holds (see `traits`).'),
      schedule: scheduleSchema.optional().describe('True while the schedule applies.'),
      field: z
        .string()
        .optional()
        .describe(
          'What to test: geo.country, geo.region, geo.jurisdiction, device.type, locale, locale.language, ' +
            'consent.<purpose>, identity.known, touchpoint.<source|medium|campaign|...>, page.path, ' +
            'time.hour, time.weekday, time.date, intent, customer.<attribute>, events.<type>.count, ' +
            'events.<type>.daysSince, context.<attribute>.',
        ),
      eq: scalar.optional().describe('Equal to this value.'),
      ne: scalar.optional().describe('Present and not equal to this value.'),
      in: z.array(scalar).min(1).optional().describe('One of these values.'),
      nin: z.array(scalar).min(1).optional().describe('Present and none of these values.'),
      gt: z.number().optional().describe('A number greater than this.'),
      gte: z.number().optional().describe('A number greater than or equal to this.'),
      lt: z.number().optional().describe('A number less than this.'),
      lte: z.number().optional().describe('A number less than or equal to this.'),
      between: z.tuple([z.number(), z.number()]).optional().describe('A number in [low, high], inclusive.'),
      regex: z
        .string()
        .optional()
        .describe('A text matching this regular expression (at most 200 characters; no nested repetition).'),
      exists: z.boolean().optional().describe('true: the field has a value; false: it has none.'),
      maxAge: durationSchema
        .optional()
        .describe('For customer.* fields: ignore a value older than this (overrides the freshness limit).'),
      timeZone: timeZoneSchema
        .optional()
        .describe('For time.* fields: the time zone to read the clock in (default UTC).'),
    })
    // What the checks below enforce, said in the JSON Schema too: one kind, and one operator per field test.
    .meta({
      oneOf: KINDS.map(present),
      if: present('field'),
      then: { oneOf: OPERATORS.map(present) },
    })
    .superRefine((c, ctx) => {
      const kinds = KINDS.filter((k) => c[k] !== undefined)
      const ops = OPERATORS.filter((k) => c[k] !== undefined)
      if (kinds.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          message:
            kinds.length === 0
              ? `a condition needs one of: ${KINDS.join(', ')}`
              : `a condition has exactly one of ${KINDS.join(', ')}; found ${kinds.join(' and ')}`,
        })
        return
      }
      if (kinds[0] === 'field' && ops.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['field'],
          message:
            ops.length === 0
              ? `a field test needs one operator: ${OPERATORS.join(', ')}`
              : `a field test has exactly one operator; found ${ops.join(' and ')}`,
        })
      }
      if (kinds[0] !== 'field' && ops.length > 0) {
        ctx.addIssue({ code: 'custom', path: [ops[0]!], message: `"${ops[0]}" only applies to a field test` })
      }
      if (c.between && c.between[0] > c.between[1]) {
        ctx.addIssue({
          code: 'custom',
          path: ['between'],
          message: 'between needs [low, high] with low <= high',
        })
      }
      if (c.regex !== undefined) {
        const r = checkRegex(c.regex)
        if (!r.ok) ctx.addIssue({ code: 'custom', path: ['regex'], message: r.error.message })
      }
    }),
)

const namedCondition = z
  .strictObject({
    description: z.string().default('').describe('What this means, in words a colleague understands.'),
    when: conditionSchema.describe('The condition.'),
  })
  .describe('A named condition.')

export const audiencesSchema = z
  .strictObject({
    traits: z
      .record(
        z
          .string()
          .regex(/^[a-z][a-z0-9_]*$/, 'names are lower_snake_case (a-z, 0-9 and _, starting with a letter)'),
        namedCondition,
      )
      .default({})
      .describe(
        'Standard trait definitions ("active customer", "churn risk"), defined once and reused by audiences ' +
          'and placements with `trait: <name>`.',
      ),
    audiences: z
      .record(
        z
          .string()
          .regex(/^[a-z][a-z0-9_]*$/, 'names are lower_snake_case (a-z, 0-9 and _, starting with a letter)'),
        namedCondition,
      )
      .default({})
      .describe(
        'Named audiences, used by placements with `audience: <name>`. Audiences may use other audiences.',
      ),
  })
  .prefault({})
  .describe('Audiences and standard traits: who a rule is for.')
