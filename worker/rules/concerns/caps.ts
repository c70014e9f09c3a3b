/**
 * `rules/caps.yaml`: frequency caps, quiet hours and conversion suppression. See rules/README.md
 * "## caps". Evaluated inside the customer's Durable Object (durable-objects/customer/caps.ts).
 */
import { z } from 'zod'
import { CHANNELS } from '../../lib/channels'

const selector = (what: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe(
      `Only counts ${what} with this value; "*" counts each ${what} separately (e.g. each campaign at most twice a day). Omitted: any ${what}.`,
    )

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/

const windowSchema = z.union([
  z.strictObject({
    rollingHours: z
      .number()
      .positive()
      .max(24 * 366)
      .describe('A rolling window: the last N hours before the decision.'),
  }),
  z.strictObject({
    calendar: z
      .enum(['day', 'week', 'month'])
      .describe("A calendar window in the customer's time zone: today, this week, this month."),
  }),
])

const capSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/)
    .describe('Stable name of the cap; appears in decisions and skip reasons.'),
  placement: selector('placement'),
  campaign: selector('campaign'),
  channel: z
    .union([z.enum(CHANNELS), z.literal('*')])
    .optional()
    .describe('Only counts this channel; "*" counts each channel separately. Omitted: every channel.'),
  tag: selector('tag'),
  limit: z.number().int().min(0).max(100_000).describe('How many deliveries the window allows.'),
  window: windowSchema.describe('Rolling hours or a calendar window.'),
})

export const capsSchema = z
  .strictObject({
    defaultTimeZone: z
      .string()
      .default('UTC')
      .describe('IANA time zone used for calendar windows and quiet hours when the customer has none.'),
    weekStartsOn: z
      .enum(['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'])
      .default('monday')
      .describe('First day of a calendar week.'),
    caps: z
      .array(capSchema)
      .default([])
      .describe('Frequency caps; every matching cap must allow a delivery.'),
    campaignOverrides: z
      .record(z.string(), z.record(z.string(), z.number().int().min(0).max(100_000).nullable()))
      .default({})
      .describe(
        "Per-campaign limits replacing a cap's limit (by cap id); null exempts the campaign from that cap.",
      ),
    quietHours: z
      .strictObject({
        start: z.string().regex(HHMM).describe('Local time quiet hours begin (HH:MM, 24h).'),
        end: z
          .string()
          .regex(HHMM)
          .describe('Local time quiet hours end (HH:MM, 24h); before start means overnight.'),
        channels: z
          .array(z.enum(CHANNELS))
          .default(['email', 'push', 'sms'])
          .describe('Channels that stay silent during quiet hours.'),
      })
      .nullable()
      .default(null)
      .describe("Hours in the customer's time zone when nothing is sent on the listed channels."),
    suppressions: z
      .array(
        z.strictObject({
          on: z
            .string()
            .min(1)
            .max(64)
            .describe('Event type of the conversion (e.g. purchase), from any channel.'),
          ends: z.array(z.string().min(1).max(64)).min(1).describe('Campaign ids this conversion ends.'),
          forHours: z
            .number()
            .positive()
            .max(24 * 3660)
            .default(720)
            .describe('How long the campaigns stay suppressed after the conversion.'),
        }),
      )
      .default([])
      .describe('Conversions that suppress campaigns, whatever channel they came through.'),
  })
  .prefault({})

export type CapsRules = z.output<typeof capsSchema>
export type CapRule = z.output<typeof capSchema>
