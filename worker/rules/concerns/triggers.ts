/**
 * `rules/triggers.yaml`: behavioural triggers (an event starts a timer; conditions decide whether
 * it fires) and where fired triggers are delivered. See rules/README.md "## triggers". Timers run
 * in the customer's Durable Object (durable-objects/customer/triggers.ts); delivery in
 * worker/delivery/.
 */
import { z } from 'zod'
import { CHANNELS } from '../../lib/channels'
import type { CapsRules } from './caps'

const eventType = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'an event type in lower_snake_case, e.g. add_to_cart')

const triggerSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/, 'lower_snake_case, at most 64 characters')
    .describe('Stable name of the trigger; part of every fire id.'),
  campaign: z
    .string()
    .min(1)
    .max(64)
    .describe('Campaign the message belongs to: caps, suppressions and overrides apply to it.'),
  tags: z
    .array(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'a lower-case tag name such as marketing'))
    .default([])
    .describe(
      'Campaign classes (marketing, transactional, service, ...): caps with `tag` count only sends carrying it.',
    ),
  on: eventType.describe('Event type that starts the timer (page_view, add_to_cart, dwell, ...).'),
  delayMinutes: z
    .number()
    .min(0)
    .max(60 * 24 * 90)
    .default(0)
    .describe('How long after the starting event the trigger fires (0: at once).'),
  cancelOn: z
    .array(eventType)
    .default([])
    .describe('Events that cancel a running timer (purchase, checkout_start, ...).'),
  when: z
    .strictObject({
      sessionDwellAtLeastMs: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe('Only when the current session has at least this much dwell time.'),
      intentAtLeast: z
        .number()
        .min(0)
        .max(1)
        .optional()
        .describe('Only when the session intent score (0..1, rules/profile.yaml) is at least this.'),
      intentBelow: z
        .number()
        .min(0)
        .max(1)
        .optional()
        .describe('Only when the session intent score is below this (exploratory browsing).'),
    })
    .default({})
    .describe('Thresholds checked when the starting event arrives.'),
  onlyAfter: z
    .array(eventType)
    .default([])
    .describe(
      'Fires only if each of these events was seen before it fires (a survey only after a resolution).',
    ),
  excludeIfSeen: z
    .array(eventType)
    .default([])
    .describe('Never fires for a person who has one of these events within excludeLookbackDays.'),
  excludeLookbackDays: z.number().positive().max(3660).default(30).describe('Lookback for excludeIfSeen.'),
  excludeIfAttributes: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .default({})
    .describe('Never fires for a person whose profile attribute equals one of these values.'),
  minIntervalHours: z
    .number()
    .min(0)
    .max(24 * 3660)
    .default(24)
    .describe('Minimum time between two fires of this trigger for one person.'),
  respectQuietHours: z
    .boolean()
    .default(true)
    .describe('A fire due during quiet hours (rules/caps.yaml) is deferred to their end, not dropped.'),
  consent: z
    .array(z.enum(['storage', 'measurement', 'personalization', 'advertising']))
    .default(['measurement'])
    .describe('Consent purposes the person must have granted when the starting event arrived.'),
  channels: z
    .array(z.enum(CHANNELS))
    .min(1)
    .default(['email'])
    .describe(
      'Channel fallback order: the first channel the person is reachable on and not capped on is used.',
    ),
  priority: z
    .enum(['high', 'low'])
    .default('low')
    .describe('high goes to the high-priority queue and is delivered first.'),
})

const webhookSchema = z.union([
  z.strictObject({ url: z.url().describe("Webhook URL receiving this channel's fires.") }),
  z.strictObject({
    env: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'a Worker variable name in UPPER_SNAKE_CASE, e.g. EMAIL_WEBHOOK_URL')
      .describe('Name of a Worker variable holding the webhook URL (per-environment URLs).'),
  }),
])

export const triggersSchema = z
  .strictObject({
    triggers: z.array(triggerSchema).default([]).describe('Behavioural triggers.'),
    reachability: z
      .partialRecord(z.enum(CHANNELS), z.string())
      .default({ push: 'push_token_present', email: 'email_reachable', sms: 'sms_reachable' })
      .describe('Profile attribute that must be true for a channel to be used (channel fallback).'),
    delivery: z
      .strictObject({
        webhooks: z
          .partialRecord(z.enum(CHANNELS), webhookSchema)
          .default({})
          .describe('Where fires are posted, per channel.'),
        timeoutMs: z
          .number()
          .int()
          .min(100)
          .max(30_000)
          .default(5_000)
          .describe('Time budget of one webhook call.'),
        maxAttempts: z
          .number()
          .int()
          .min(1)
          .max(20)
          .default(6)
          .describe('Deliveries tried before a fire goes to the dead-letter queue.'),
        backoffBaseSeconds: z
          .number()
          .int()
          .min(1)
          .max(3600)
          .default(10)
          .describe('First retry delay; doubled on each attempt (capped at 12 hours).'),
        replayWindowSeconds: z
          .number()
          .int()
          .min(30)
          .max(3600)
          .default(300)
          .describe('How old a signature timestamp a receiver should accept (documented for receivers).'),
      })
      .prefault({})
      .describe('Webhook delivery of fired triggers.'),
  })
  .prefault({})

export type TriggersRules = z.output<typeof triggersSchema>
export type TriggerRule = z.output<typeof triggerSchema>

/** Issues found across caps.yaml and triggers.yaml (registered in worker/rules/cross.ts). */
export interface StateRuleIssue {
  concern: 'caps' | 'triggers'
  path: Array<string | number>
  message: string
  candidates?: string[]
  severity?: 'warning'
  firstAt?: Array<string | number>
}

/**
 * Checks a rule set's caps and triggers together: unique ids, campaign overrides naming real caps,
 * a known default time zone, and a webhook for every channel a trigger may use (a fire to a channel
 * without one could only go to the dead-letter queue).
 */
export function stateRuleIssues(rules: { caps: CapsRules; triggers: TriggersRules }): StateRuleIssue[] {
  const issues: StateRuleIssue[] = []
  const capIds = rules.caps.caps.map((c) => c.id)
  capIds.forEach((id, i) => {
    if (capIds.indexOf(id) !== i)
      issues.push({
        concern: 'caps',
        path: ['caps', i, 'id'],
        message: `duplicate cap id "${id}" (first used at {first}): skip reasons say cap:<id>, so each cap needs its own id`,
        firstAt: ['caps', capIds.indexOf(id), 'id'],
      })
  })
  for (const [campaign, overrides] of Object.entries(rules.caps.campaignOverrides)) {
    for (const capId of Object.keys(overrides)) {
      if (!capIds.includes(capId)) {
        issues.push({
          concern: 'caps',
          path: ['campaignOverrides', campaign, capId],
          message: `unknown cap "${capId}"${capIds.length ? `; caps are ${capIds.join(', ')}` : ''}`,
          candidates: capIds,
        })
      }
    }
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: rules.caps.defaultTimeZone })
  } catch {
    issues.push({
      concern: 'caps',
      path: ['defaultTimeZone'],
      message: `unknown IANA time zone "${rules.caps.defaultTimeZone}": use a name such as "Europe/Berlin", "America/New_York" or "UTC"`,
      candidates: [...Intl.supportedValuesOf('timeZone'), 'UTC'],
    })
  }
  const ids = rules.triggers.triggers.map((t) => t.id)
  rules.triggers.triggers.forEach((t, i) => {
    if (ids.indexOf(t.id) !== i)
      issues.push({
        concern: 'triggers',
        path: ['triggers', i, 'id'],
        message: `duplicate trigger id "${t.id}" (first used at {first}): fire ids start with the trigger id, so each trigger needs its own`,
        firstAt: ['triggers', ids.indexOf(t.id), 'id'],
      })
    // Two timers for one campaign on one event: the person may get the same campaign twice.
    const earlier = rules.triggers.triggers.findIndex((o) => o.on === t.on && o.campaign === t.campaign)
    if (earlier !== i && ids.indexOf(t.id) === i)
      issues.push({
        concern: 'triggers',
        path: ['triggers', i, 'on'],
        firstAt: ['triggers', earlier],
        message: `triggers "${ids[earlier]}" ({first}) and "${t.id}" both start campaign "${t.campaign}" on "${t.on}": one event would start two timers for one campaign; merge them (one trigger, several channels) or give one a different campaign`,
        severity: 'warning',
      })
    t.channels.forEach((ch, j) => {
      if (!rules.triggers.delivery.webhooks[ch]) {
        issues.push({
          concern: 'triggers',
          path: ['triggers', i, 'channels', j],
          message: `channel "${ch}" has no webhook in delivery.webhooks: its fires could not be delivered`,
        })
      }
    })
  })
  return issues
}
