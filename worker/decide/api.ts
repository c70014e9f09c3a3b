/**
 * The wire contract of the decision API (docs/api.md "POST /v1/decide"), as zod validators. The same
 * definitions validate requests and generate the decision API's part of the OpenAPI 3.1 document
 * served at `GET /v1/openapi.json` (worker/openapi/document.ts).
 */
import { z } from 'zod'
import { consentBodySchema } from '../consent/signals'

const attributeValue = z.union([z.string().max(1000), z.number(), z.boolean(), z.null()])

// Strict objects: a misspelt key (`contxt`) is a 400 naming it, not silently ignored.
export const decideRequestSchema = z
  .strictObject({
    placements: z
      .array(z.string().min(1).max(64))
      .min(1)
      .max(50)
      .describe('Placement names from rules/placements.yaml, decided in this order.'),
    context: z
      .strictObject({
        url: z.string().url().max(2048).optional().describe('The screen or page the decision is for.'),
        locale: z
          .string()
          .max(35)
          .optional()
          .describe('BCP 47 locale, e.g. de-AT; falls back de-AT -> de -> default.'),
        attributes: z
          .record(z.string().regex(/^[A-Za-z0-9_:-]{1,64}$/), attributeValue)
          .refine((r) => Object.keys(r).length <= 50, 'at most 50 attributes')
          .default({})
          .describe('App-side attributes, tested by conditions as context.<name>.'),
      })
      .prefault({})
      .describe('Where and for what the decision is made.'),
    consent: consentBodySchema
      .optional()
      .describe("Consent signals of the visitor (the app's CMP); they take precedence over cookies."),
  })
  .describe('A request for decisions.')

export type DecideRequest = z.input<typeof decideRequestSchema>

const purposesSchema = z.object({
  storage: z.boolean(),
  measurement: z.boolean(),
  personalization: z.boolean(),
  advertising: z.boolean(),
})

export const decisionSchema = z.object({
  placement: z.string(),
  variant: z.string().nullable().describe('The variant shown; null never happens for a known placement.'),
  content: z
    .record(z.string(), z.unknown())
    .describe("The variant's content in the best locale (plus contentKey)."),
  reason: z
    .string()
    .describe(
      'rule:<id>, holdout, cap, consent, freshness, compliance, schedule, or fallback (see `fallback`).',
    ),
  fallback: z
    .string()
    .nullable()
    .describe(
      'Why the fallback variant was shown: no_match, state_unavailable, consent, cap, ...; null when a rule chose.',
    ),
  experiment: z
    .object({ id: z.string(), arm: z.string(), holdout: z.boolean() })
    .nullable()
    .describe('Experiment or holdout assignment, if any.'),
})

export const decideResponseSchema = z.object({
  rulesVersion: z.string().describe('Content hash of the rule set that decided (sha256:...).'),
  requestId: z.string(),
  consent: z.object({ jurisdiction: z.string(), purposes: purposesSchema, saleShareOptOut: z.boolean() }),
  identity: z.object({
    basis: z.enum(['jwt', 'cookie', 'header', 'ephemeral']),
    customerId: z.string().nullable(),
  }),
  decisions: z.array(decisionSchema),
})

export type DecideResponse = z.output<typeof decideResponseSchema>
export type Decision = z.output<typeof decisionSchema>

/** Conversions in one request; each counts once, by its id. */
export const MAX_CONVERSIONS = 100

export const conversionsRequestSchema = z
  .strictObject({
    conversions: z
      .array(
        z.strictObject({
          id: z
            .string()
            .regex(
              /^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/,
              'expected 8-128 letters, digits, ".", "_", ":" or "-"',
            )
            .describe(
              'Idempotency key of the conversion (an order number): a repeat of an id counts nothing.',
            ),
          experiment: z.string().min(1).max(64),
          arm: z.string().min(1).max(64).describe('The `experiment.arm` of the decision that was shown.'),
        }),
      )
      .min(1)
      .max(MAX_CONVERSIONS),
  })
  .describe(
    'Conversions attributed to experiment arms (bandit feedback), from a server holding the ingest credential.',
  )

export const conversionsResponseSchema = z.object({
  accepted: z.number().int().describe('Conversions in the request.'),
  counted: z.number().int().describe('Conversions counted now (ids not seen before).'),
  duplicates: z.number().int().describe('Conversions whose id was already counted.'),
})
