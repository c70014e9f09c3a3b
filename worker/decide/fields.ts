/**
 * The fields a condition can test, defined once: the compiler checks names against this list (and
 * suggests the nearest for a typo); the evaluator turns each into an accessor closure. Pure.
 */
import { StatePart } from '../../durable-objects/customer/contract'
import type { DecisionContext } from './context'
import { localTime } from './schedule'

export type FieldSource = 'request' | 'state'

export interface FieldAccessor {
  /** Where the value comes from: `state` fields need customer state (and personalization consent). */
  source: FieldSource
  /** For `state` fields: the StatePart the value is in (the object reads only parts asked for). */
  part?: number
  /** A customer attribute whose age the freshness guard checks. */
  attribute?: string
  read(ctx: DecisionContext, timeZone: string): unknown
}

const req = (read: (ctx: DecisionContext) => unknown): FieldAccessor => ({ source: 'request', read })

const STATIC: Record<string, FieldAccessor> = {
  'geo.country': req((c) => c.geo.country),
  'geo.region': req((c) => c.geo.region),
  'geo.jurisdiction': req((c) => c.geo.jurisdiction),
  'device.type': req((c) => c.device.type),
  locale: req((c) => c.locale),
  'locale.language': req((c) => c.locale?.split('-')[0] ?? null),
  'consent.storage': req((c) => c.consent.purposes.storage),
  'consent.measurement': req((c) => c.consent.purposes.measurement),
  'consent.personalization': req((c) => c.consent.purposes.personalization),
  'consent.advertising': req((c) => c.consent.purposes.advertising),
  'consent.saleShareOptOut': req((c) => c.consent.saleShareOptOut),
  'identity.known': req((c) => c.identity.customerId !== null),
  'identity.basis': req((c) => c.identity.basis),
  'touchpoint.present': req((c) => c.touchpoint !== null),
  'touchpoint.source': req((c) => c.touchpoint?.source ?? null),
  'touchpoint.medium': req((c) => c.touchpoint?.medium ?? null),
  'touchpoint.campaign': req((c) => c.touchpoint?.campaign ?? null),
  'touchpoint.term': req((c) => c.touchpoint?.term ?? null),
  'touchpoint.content': req((c) => c.touchpoint?.content ?? null),
  'touchpoint.referrerHost': req((c) => c.touchpoint?.referrerHost ?? null),
  'page.path': req((c) => c.page.path),
  'page.host': req((c) => c.page.host),
  'time.hour': { source: 'request', read: (c, tz) => localTime(c.now, tz).hour },
  'time.minute': { source: 'request', read: (c, tz) => localTime(c.now, tz).minute },
  'time.weekday': { source: 'request', read: (c, tz) => localTime(c.now, tz).weekday },
  'time.date': { source: 'request', read: (c, tz) => localTime(c.now, tz).date },
  intent: {
    source: 'state',
    part: StatePart.intent,
    read: (c) => (typeof c.state === 'object' && c.state ? c.state.intentScore : undefined),
  },
}

/** Field name patterns with a free part, for docs and suggestions. */
export const FIELD_PATTERNS = [
  'customer.<attribute>',
  'events.<type>.count',
  'events.<type>.daysSince',
  'context.<attribute>',
]

/** Every fixed field name (for "did you mean"). */
export const STATIC_FIELDS = Object.keys(STATIC)

const SEGMENT = /^[A-Za-z0-9_:-]{1,64}$/

export type FieldResult =
  { ok: true; value: FieldAccessor } | { ok: false; error: { reason: 'unknown_field'; message: string } }

/** The accessor for `name`, or why there is none. */
export function resolveField(name: string): FieldResult {
  const fixed = STATIC[name]
  if (fixed) return { ok: true, value: fixed }
  const parts = name.split('.')
  if (parts[0] === 'customer' && parts.length === 2 && SEGMENT.test(parts[1]!)) {
    const attr = parts[1]!
    return {
      ok: true,
      value: {
        source: 'state',
        part: StatePart.attributes,
        attribute: attr,
        read: (c) => (typeof c.state === 'object' && c.state ? c.state.attributes[attr]?.value : undefined),
      },
    }
  }
  if (parts[0] === 'events' && parts.length === 3 && SEGMENT.test(parts[1]!)) {
    const type = parts[1]!
    if (parts[2] === 'count') {
      return {
        ok: true,
        value: {
          source: 'state',
          part: StatePart.events,
          read: (c) =>
            typeof c.state === 'object' && c.state ? (c.state.events[type]?.count ?? 0) : undefined,
        },
      }
    }
    if (parts[2] === 'daysSince') {
      return {
        ok: true,
        value: {
          source: 'state',
          part: StatePart.events,
          read: (c) => {
            if (typeof c.state !== 'object' || !c.state) return undefined
            const seen = c.state.events[type]
            return seen ? (c.now - seen.lastAt) / 86_400_000 : undefined
          },
        },
      }
    }
  }
  if (parts[0] === 'context' && parts.length === 2 && SEGMENT.test(parts[1]!)) {
    const key = parts[1]!
    return { ok: true, value: req((c) => (Object.hasOwn(c.attributes, key) ? c.attributes[key] : undefined)) }
  }
  return {
    ok: false,
    error: {
      reason: 'unknown_field',
      message: `unknown field "${name}"; fields are ${STATIC_FIELDS.join(', ')}, ${FIELD_PATTERNS.join(', ')}`,
    },
  }
}

/** Field names to suggest for a typo: the fixed ones plus the prefixes of the free ones. */
export function fieldCandidates(name: string): string[] {
  const parts = name.split('.')
  const rest = parts.slice(1).join('.')
  return [...STATIC_FIELDS, ...['customer', 'events', 'context'].map((p) => (rest ? `${p}.${rest}` : p))]
}
