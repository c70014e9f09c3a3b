/**
 * `rules/privacy.yaml`: how long each store keeps data, and the facts the GDPR Art. 30 record of
 * processing is generated from (controller, purposes, data categories, recipients, processors,
 * transfers), and what is done with emails and phone numbers found inside values (`piiValues`).
 * See rules/README.md, `## privacy`.
 */
import { z } from 'zod'

const days = (what: string, fallback: number) =>
  z.number().int().min(1).max(3650).default(fallback).describe(`Days ${what} are kept before deletion.`)

const name = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'use lower_snake_case')
  .describe('Table name in the CustomerState object.')

const retentionSchema = z
  .strictObject({
    decisionLog: days('decision records (D1 `decision_log`)', 180),
    decisionArchive: days(
      "archived decision records (R2, the person's fields sealed; whole `dt=` day partitions are dropped)",
      730,
    ),
    adminAudit: days('admin audit entries (D1 `admin_audit`)', 730),
    dsarReceipts: days('completed DSAR receipts (D1 `dsar_receipts`)', 1095),
    identityConflicts: days(
      'identity conflicts (a refused link between two customers) are kept for review (D1 `identity_conflicts`), open or resolved',
      180,
    ),
    tombstones: days(
      'tombstones of erased subjects are kept, refusing re-creation by late events (D1 `tombstones`)',
      395,
    ),
    customerState: z
      .strictObject({
        default: days('rows of customer state (any table with a time column)', 395),
        tables: z
          .record(name, z.number().int().min(1).max(3650))
          .default({})
          .describe('Per-table windows in days, overriding `default` (e.g. `events: 90`).'),
      })
      .prefault({})
      .describe('Retention inside each CustomerState object, enforced by its alarm.'),
  })
  .prefault({})
  .describe('Retention windows per store.')

const party = z.strictObject({
  name: z.string().min(1).describe('Who the recipient or processor is.'),
  purpose: z.string().min(1).describe('Why data goes to them.'),
  dataCategories: z.array(z.string().min(1)).default([]).describe('Data categories they receive.'),
  country: z.string().default('').describe('Where they process the data (ISO country or region).'),
})

export const piiValuesSchema = z
  .strictObject({
    action: z
      .enum(['hash', 'drop'])
      .default('hash')
      .describe(
        'hash: replace each email or phone number found in a value with its peppered key (email:<hmac>); drop: remove it.',
      ),
    detect: z
      .array(z.enum(['email', 'phone']))
      .default(['email', 'phone'])
      .describe('What is looked for in every string of event props and in UTM free text.'),
  })
  .prefault({})
  .describe(
    'Personal data by value: emails and phone numbers inside any event prop or UTM free-text field are never stored or forwarded raw.',
  )

export const privacySchema = z
  .strictObject({
    piiValues: piiValuesSchema,
    controller: z
      .strictObject({
        name: z.string().default('Example Shop GmbH').describe('Legal name of the controller.'),
        contact: z
          .string()
          .default('privacy@shop.example')
          .describe('How data subjects reach the controller.'),
        dpo: z.string().default('').describe('Data protection officer contact, if one is appointed.'),
        representative: z.string().default('').describe('EU representative (Art. 27), if any.'),
      })
      .prefault({})
      .describe('The controller named in the record of processing (Art. 30(1)(a)).'),
    retention: retentionSchema,
    purposes: z
      .array(
        z.strictObject({
          id: z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower_snake_case'),
          description: z.string().min(1),
          legalBasis: z
            .enum([
              'consent',
              'contract',
              'legal_obligation',
              'vital_interests',
              'public_task',
              'legitimate_interests',
            ])
            .describe('Art. 6(1) legal basis.'),
          dataCategories: z.array(z.string().min(1)).default([]),
        }),
      )
      .default([
        {
          id: 'personalization',
          description: 'Choosing which content and offers a visitor sees',
          legalBasis: 'consent',
          dataCategories: ['pseudonymous_ids', 'profile_attributes', 'events', 'consent'],
        },
        {
          id: 'measurement',
          description: 'Measuring campaigns and experiments',
          legalBasis: 'consent',
          dataCategories: ['pseudonymous_ids', 'touchpoints', 'experiment_assignments'],
        },
        {
          id: 'accountability',
          description: 'Proving which decision was taken and why (decision log, audit, DSAR receipts)',
          legalBasis: 'legal_obligation',
          dataCategories: ['pseudonymous_ids', 'decision_records', 'consent', 'consent_records'],
        },
      ])
      .describe('Purposes of processing (Art. 30(1)(b)).'),
    dataSubjects: z
      .array(z.string().min(1))
      .default(['website visitors', 'app users', 'customers'])
      .describe('Categories of data subjects (Art. 30(1)(c)).'),
    dataCategories: z
      .record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower_snake_case'), z.string().min(1))
      .default({
        pseudonymous_ids: 'Customer id, anonymous visitor id; email and phone only as peppered HMAC keys',
        profile_attributes: 'Attributes about a customer with their source and time',
        events: 'Behavioural events (page views, cart, purchase) with time',
        touchpoints: 'Campaign touchpoints (normalised UTM, consented click ids)',
        consent: 'Resolved consent per decision (purposes, jurisdiction, opt-outs)',
        consent_records:
          'Proof of consent (Art. 7(1)): each change of a person’s resolved consent, with when, which signals and sources (CMP, cookie, version fields, SHA-256 of the consent string, never the string), purposes and jurisdiction',
        decision_records: 'Which variant a person was shown, why, under which rules version',
        experiment_assignments: 'Experiment arm or holdout per pseudonymous unit',
      })
      .describe('Data categories by id, with a description (Art. 30(1)(c)).'),
    recipients: z
      .array(party)
      .default([])
      .describe(
        'Recipients beyond the trigger webhooks (which are listed automatically from triggers.yaml) (Art. 30(1)(d)).',
      ),
    processors: z
      .array(party)
      .default([
        {
          name: 'Cloudflare, Inc.',
          purpose: 'Hosting of the gateway, its Durable Objects, queues and database',
          dataCategories: [
            'pseudonymous_ids',
            'profile_attributes',
            'events',
            'touchpoints',
            'decision_records',
            'consent_records',
          ],
          country: 'global edge network',
        },
      ])
      .describe('Processors acting on the controller’s behalf (Art. 28, 30(1)(d)).'),
    transfers: z
      .array(
        z.strictObject({
          country: z.string().min(1),
          safeguard: z.string().min(1).describe('e.g. "EU-US Data Privacy Framework", "SCCs".'),
        }),
      )
      .default([])
      .describe('Transfers to third countries and their safeguards (Art. 30(1)(e)).'),
    securityMeasures: z
      .array(z.string().min(1))
      .default([
        'Email and phone stored only as peppered HMAC-SHA-256 keys',
        'Gateway cookies signed; consent enforced before storage',
        'Admin access by JWT with pinned algorithms and roles; every admin action audited',
        'Retention enforced by scheduled jobs and per-object alarms',
      ])
      .describe('General description of technical and organisational measures (Art. 30(1)(g)).'),
  })
  .prefault({})

export type RetentionRules = z.output<typeof retentionSchema>
export type PiiValuesRules = z.output<typeof piiValuesSchema>
