/**
 * The wire shapes of the app-facing routes that are not validated by zod at run time, as zod
 * schemas for the OpenAPI document (./document.ts). Request shapes are built from the constants the
 * hand-written validators use (worker/events/validate.ts `LIMITS`, `EVENT_ID`, `EVENT_TYPE`,
 * `EVENT_KEYS`; worker/events/ingest-body.ts `INGEST_KEYS`, kept equal by test/contract), so a
 * limit changes in one place.
 * Events are validated one by one there because a bad event costs only itself, which a schema
 * cannot say; the schema below is what a client should send. Response shapes list the fields a
 * client may rely on; responses may gain fields (docs/api.md), so they are open objects. Pure.
 */
import { z } from 'zod'
import { EVENT_ID, EVENT_TYPE, LIMITS } from '../events/validate'

const fieldErrorSchema = z.object({
  path: z
    .string()
    .describe('The field at fault, dot-separated (`placements.0`, `events.3.ts`); "" for the body.'),
  message: z.string(),
})

/** RFC 9457 problem details, as every error of the gateway is answered. */
export const problemSchema = z
  .object({
    type: z.string().describe('`https://gatehouse.dev/problems/<slug>` or `about:blank`.'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(fieldErrorSchema).optional().describe('One entry per field at fault.'),
  })
  .describe('Problem details (RFC 9457).')

const purposesSchema = z.object({
  storage: z.boolean(),
  measurement: z.boolean(),
  personalization: z.boolean(),
  advertising: z.boolean(),
})
const basisSchema = z
  .enum(['jwt', 'cookie', 'header', 'ephemeral'])
  .describe(
    'How the caller was identified: visitor JWT, signed cookie, X-Gatehouse-Id header, or not at all.',
  )

export const healthResponseSchema = z.object({
  status: z.literal('ok'),
  rulesVersion: z.string().describe('Content hash of the rules in force (sha256:...).'),
  environment: z.string(),
})

export const consentResponseSchema = z.object({
  jurisdiction: z.string().describe('EU, UK, CH, US-CA, ... or OTHER (unknown location).'),
  regime: z.enum(['opt-in', 'opt-out']),
  purposes: purposesSchema,
  saleShareOptOut: z.boolean(),
  gpc: z.boolean(),
  signals: z
    .record(z.string(), z.unknown())
    .describe('Each signal read (tcf, gpp, usp, cmp.<name>), decoded, with `valid` and `errors`.'),
  reasons: z.array(z.string()).describe('How the purposes were reached, in plain words.'),
  sources: z.array(z.object({ signal: z.string(), from: z.string(), valid: z.boolean(), used: z.boolean() })),
  snapshotId: z.string().describe('Hash of the resolved consent; decision records name it.'),
})

export const identityResponseSchema = z.object({
  basis: basisSchema,
  customerId: z.string().nullable(),
  anonymousId: z.string(),
  unitId: z.string().describe('The bucketing unit: the customer id when known, else the anonymous id.'),
  stateKey: z.string().nullable().describe('null: nothing is kept for this visitor (no storage consent).'),
  touchpoint: z.record(z.string(), z.unknown()).nullable(),
})

export const signOutResponseSchema = z.object({
  signedOut: z.literal(true),
  anonymousId: z.string().nullable().describe('The new anonymous id; null without storage consent.'),
})

const eventSchema = z
  .strictObject({
    id: z
      .string()
      .regex(EVENT_ID)
      .describe('Idempotency key (a UUID): an id sent again is accepted and counted once.'),
    type: z.string().regex(EVENT_TYPE).describe('The event type, e.g. add_to_cart.'),
    ts: z
      .string()
      .describe(
        `ISO 8601 date-time with offset; at most ${LIMITS.maxFutureMs / 60_000} minutes ahead, ` +
          `${LIMITS.maxAgeMs / 86_400_000} days old (${LIMITS.maxIngestAgeMs / 86_400_000} for ingestion).`,
      ),
    props: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        `At most ${LIMITS.maxPropsKeys} keys, ${LIMITS.maxPropsDepth} levels, ${LIMITS.maxPropsBytes} bytes as JSON.`,
      ),
  })
  .describe('One event; an invalid one is rejected on its own, by its index.')

const eventList = z.array(eventSchema).max(LIMITS.maxEvents)

export const eventsRequestSchema = z
  .strictObject({ events: eventList })
  .describe(`Events of the caller, at most ${LIMITS.maxEvents} per request (${LIMITS.maxBodyBytes} bytes).`)

export const ingestRequestSchema = z
  .strictObject({
    subject: z.strictObject({
      type: z.enum(['customer_id', 'email']),
      value: z.string().min(1).max(256),
    }),
    source: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,31}$/)
      .default('ingest'),
    measurementConsent: z.boolean().default(false),
    attributes: z
      .record(
        z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
        z.union([z.string().max(256), z.number(), z.boolean(), z.null()]),
      )
      .optional()
      .describe('Profile attributes (at most 50); never raw identifiers.'),
    events: eventList,
  })
  .describe('Offline events of one subject, from a server holding the ingest credential.')

const rejectedSchema = z.array(
  z.object({
    index: z.number().int().describe('Index of the event in the request.'),
    errors: z.array(fieldErrorSchema),
  }),
)

export const eventsResponseSchema = z.object({
  accepted: z.number().int(),
  rejected: rejectedSchema,
  duplicates: z.number().int().describe('Events whose id was seen before: counted once.'),
  stored: z.boolean(),
  storage: z.enum(['full', 'minimal']).optional().describe('full with measurement consent, else minimal.'),
  reason: z
    .enum(['no_valid_events', 'no_customer_state', 'no_measurement_consent', 'subject_erased'])
    .optional()
    .describe('Why nothing was stored.'),
  identified: z
    .object({ attached: z.number().int(), invalid: z.number().int(), complete: z.boolean() })
    .optional()
    .describe('Identifiers of `identify` events attached to the caller’s own state.'),
})

export const ingestResponseSchema = z.object({
  accepted: z.number().int(),
  rejected: rejectedSchema,
  duplicates: z.number().int(),
  stored: z.boolean(),
  storage: z.enum(['full', 'minimal']).optional(),
  reason: z.literal('subject_erased').optional(),
  suppressed: z.number().int().optional(),
  timersCancelled: z.number().int().optional(),
})

export const meResponseSchema = z.object({
  identity: z.object({
    basis: basisSchema,
    customerId: z.string().nullable().optional(),
    anonymousId: z.string().optional(),
  }),
  held: z.boolean().describe('Whether anything is stored for the caller.'),
  detail: z.string().optional(),
  state: z.record(z.string(), z.unknown()).describe('Every table of the caller’s own state object.'),
  decisions: z.array(
    z.object({
      time: z.string(),
      placement: z.string(),
      variant: z.string().nullable(),
      why: z
        .record(z.string(), z.unknown())
        .describe('reason, fallback, rulesVersion, consent, experiment, caps, trace.'),
    }),
  ),
})

export const eraseReceiptSchema = z.object({
  receiptId: z.string().nullable().describe('null when nothing was held.'),
  subject: z.string().optional().describe('Pseudonymous digest of the subject.'),
  status: z.enum(['in_progress', 'completed']),
  stores: z.record(z.string(), z.number()).describe('Rows removed per store.'),
  remaining: z.array(z.string()).optional(),
  tombstoneUntil: z.string().optional(),
  requestedBy: z.string().optional(),
  requestedAt: z.string().optional(),
  completedAt: z.string().nullable().optional(),
  detail: z.string().optional(),
})
