/**
 * The visitor file of `rules:explain` (examples/visitors/*.json): the fields `rules:explain` has
 * always read (worker/decide/explain.ts) plus a `timeZone` and a `timeline` of timed events and
 * placement views for the simulation (./simulate.ts). Validation names the field at fault and
 * suggests the nearest valid key for a typo. Reference: docs/rules.md "The visitor file".
 */
import { z } from 'zod'
import { visitorSchema } from '../worker/decide/explain'
import { isTimeZone } from '../worker/lib/timezone'
import { nearest } from '../worker/rules/suggest'

const at = z.iso
  .datetime({ offset: true, error: 'an ISO 8601 time with an offset, e.g. "2026-03-10T10:30:00+01:00"' })
  .describe('When it happens (ISO 8601 with an offset).')

export const timelineEntrySchema = z.union([
  z.strictObject({
    at,
    event: z.string().min(1).describe('An event type, as sent to POST /v1/events.'),
    session: z
      .strictObject({
        dwellMs: z.number().min(0).default(0),
        intent: z.number().min(0).max(1).default(0),
      })
      .prefault({})
      .describe('The session at this moment, for trigger thresholds (`when` in rules/triggers.yaml).'),
  }),
  z.strictObject({
    at,
    view: z.string().min(1).describe('A placement the visitor sees on a page (its caps are reserved).'),
    channel: z.enum(['web', 'app']).default('web'),
  }),
])

export const visitorFileSchema = visitorSchema.extend({
  timeZone: z
    .string()
    .refine(isTimeZone, 'not an IANA time zone (e.g. "Europe/Berlin")')
    .default('UTC')
    .describe("The visitor's time zone: calendar caps and quiet hours count in it."),
  timeline: z
    .array(timelineEntrySchema)
    .default([])
    .describe('Timed events and placement views, simulated in time order.'),
})

export type VisitorFile = z.output<typeof visitorFileSchema>
export type TimelineEntry = z.output<typeof timelineEntrySchema>

/** Keys a visitor file may have at `path` (top level, or inside one of its objects). */
function keysAt(path: PropertyKey[]): string[] {
  const top = Object.keys(visitorFileSchema.shape)
  if (path.length === 0) return top
  if (path[0] === 'timeline') return ['at', 'event', 'session', 'view', 'channel']
  const inner: Record<string, string[]> = {
    location: ['country', 'region'],
    consent: ['storage', 'measurement', 'personalization', 'advertising', 'saleShareOptOut'],
    identity: ['basis', 'customerId', 'anonymousId'],
    touchpoint: ['source', 'medium', 'campaign', 'term', 'content', 'referrerHost'],
    attributes: ['value', 'age', 'source'],
    events: ['count', 'lastSeen'],
  }
  return inner[String(path[0])] ?? []
}

/**
 * Validates a visitor file. Each problem is `<path>: <message>`, with "did you mean" for an unknown
 * key that is close to a valid one.
 */
export function validateVisitorFile(
  input: unknown,
): { ok: true; value: VisitorFile } | { ok: false; issues: string[] } {
  const r = visitorFileSchema.safeParse(input)
  if (r.success) return { ok: true, value: r.data }
  const issues: string[] = []
  for (const i of r.error.issues) {
    const where = i.path.join('.') || '(visitor)'
    if (i.code === 'unrecognized_keys') {
      const allowed = keysAt(i.path)
      for (const key of i.keys) {
        const hint = nearest(key, allowed)
        issues.push(
          `${where === '(visitor)' ? key : `${where}.${key}`}: unknown key${hint ? ` (did you mean "${hint}"?)` : ''}; allowed: ${allowed.join(', ')}`,
        )
      }
    } else if (i.code === 'invalid_union' && i.path[0] === 'timeline') {
      issues.push(`${where}: a timeline entry is { at, event[, session] } or { at, view[, channel] }`)
    } else issues.push(`${where}: ${i.message}`)
  }
  return { ok: false, issues }
}
