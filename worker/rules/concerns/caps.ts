/**
 * `rules/caps.yaml`: frequency caps, quiet hours and conversion suppression. See rules/README.md
 * "## caps". Evaluated inside the customer's Durable Object (durable-objects/customer/caps.ts).
 */
import { z } from 'zod'
import { CHANNELS, type Channel } from '../../lib/channels'

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

/** What a cap counts: messages are triggered sends (rules/triggers.yaml), impressions are placements shown. */
export const CAP_COUNTS = ['messages', 'impressions'] as const
export type CapCounts = (typeof CAP_COUNTS)[number]

/** The channels each kind of delivery goes out on: a cap naming only these channels says what it counts. */
export const CHANNELS_OF: Record<CapCounts, readonly Channel[]> = {
  messages: ['email', 'push', 'sms'],
  impressions: ['web', 'app'],
}

const channelList = z.array(z.enum(CHANNELS)).min(1)

const capFields = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/, 'lower_snake_case, at most 64 characters')
    .describe('Stable name of the cap; appears in decisions and skip reasons.'),
  counts: z
    .enum(CAP_COUNTS)
    .optional()
    .describe(
      'messages: triggered sends (rules/triggers.yaml); impressions: placements shown on web and app. ' +
        'May be left out when `channel` or `placement` already says which.',
    ),
  placement: selector('placement'),
  campaign: selector('campaign'),
  channel: z
    .union([z.enum(CHANNELS), z.literal('*'), channelList])
    .optional()
    .describe(
      'Only counts this channel, or these channels together ([email, sms, push]); "*" counts each channel separately. Omitted: every channel.',
    ),
  tag: selector('tag').describe(
    'Only counts deliveries carrying this tag (trigger or variant `tags`, e.g. marketing); "*" counts each tag separately. Omitted: any tag.',
  ),
  limit: z.number().int().min(0).max(100_000).describe('How many deliveries the window allows.'),
  window: windowSchema.describe('Rolling hours or a calendar window.'),
})

type CapInput = z.output<typeof capFields>

/** What a cap counts, from `counts` or else from its channels or placement; a reason when it cannot tell. */
export function capCounts(cap: CapInput): { ok: true; value: CapCounts } | { ok: false; error: string } {
  const channels = Array.isArray(cap.channel)
    ? cap.channel
    : cap.channel && cap.channel !== '*'
      ? [cap.channel]
      : []
  const kinds = CAP_COUNTS.filter((k) => channels.some((ch) => CHANNELS_OF[k].includes(ch)))
  if (kinds.length > 1)
    return {
      ok: false,
      error: `channels ${channels.join(', ')} mix messages (${CHANNELS_OF.messages.join(', ')}) and impressions (${CHANNELS_OF.impressions.join(', ')}): write one cap for each`,
    }
  if (cap.counts !== undefined) {
    if (kinds.length === 1 && kinds[0] !== cap.counts)
      return {
        ok: false,
        error: `counts: ${cap.counts} never goes out on ${channels.join(', ')}; ${cap.counts} use ${CHANNELS_OF[cap.counts].join(', ')}`,
      }
    if (cap.counts === 'messages' && cap.placement !== undefined)
      return {
        ok: false,
        error:
          'a placement cap counts impressions, not messages: remove `placement` or write counts: impressions',
      }
    return { ok: true, value: cap.counts }
  }
  if (kinds.length === 1) return { ok: true, value: kinds[0]! }
  if (cap.placement !== undefined) return { ok: true, value: 'impressions' }
  return {
    ok: false,
    error:
      'say what this cap counts: counts: messages (triggered sends on email, push, sms) or counts: impressions (placements shown on web, app)',
  }
}

const capSchema = capFields
  .superRefine((cap, ctx) => {
    const r = capCounts(cap)
    if (!r.ok) ctx.addIssue({ code: 'custom', path: ['counts'], message: r.error })
  })
  .transform((cap) => {
    const r = capCounts(cap)
    const channel =
      cap.channel === undefined || cap.channel === '*'
        ? cap.channel
        : Array.isArray(cap.channel)
          ? cap.channel
          : [cap.channel]
    // superRefine has rejected a cap whose counts cannot be told, so `r` is ok here.
    return { ...cap, channel, counts: r.ok ? r.value : ('impressions' as const) }
  })

export const capsSchema = z
  .strictObject({
    defaultTimeZone: z
      .string()
      .default('UTC')
      .meta({ enum: [...new Set([...Intl.supportedValuesOf('timeZone'), 'UTC'])] })
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
        start: z
          .string()
          .regex(HHMM, 'a local time "HH:MM" (24-hour, e.g. "21:00")')
          .describe('Local time quiet hours begin (HH:MM, 24h).'),
        end: z
          .string()
          .regex(HHMM, 'a local time "HH:MM" (24-hour, e.g. "21:00")')
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
