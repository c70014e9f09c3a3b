/**
 * Property tests for the pure pieces: the event validator never throws and never accepts an event
 * that breaks the contract; source precedence never lets a less trusted source win.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { wins } from '../../durable-objects/customer/profile'
import { sessionStats } from '../../durable-objects/customer/events'
import { EVENT_ID, EVENT_TYPE, LIMITS, validateBatch, validateEvent } from '../../worker/events/validate'
import { bundledRules } from '../../worker/rules'

const now = Date.parse('2026-11-23T12:00:00Z')

describe('event validation properties', () => {
  it('never throws on any JSON value and only accepts events within the contract', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = validateEvent(v, now)
        if (r.ok) {
          expect(EVENT_ID.test(r.value.id)).toBe(true)
          expect(EVENT_TYPE.test(r.value.type)).toBe(true)
          expect(r.value.ts).toBeLessThanOrEqual(now + LIMITS.maxFutureMs)
        } else expect(r.error.errors.length).toBeGreaterThan(0)
      }),
      { numRuns: 2000 },
    )
  })

  it('accepts or rejects each event of a batch exactly once', () => {
    const eventish = fc.record(
      {
        id: fc.oneof(fc.uuid(), fc.string()),
        type: fc.oneof(fc.constantFrom('add_to_cart', 'purchase', 'page_view'), fc.string()),
        ts: fc.oneof(fc.constant('2026-11-23T11:59:00Z'), fc.string()),
        props: fc.oneof(fc.object(), fc.jsonValue()),
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(fc.array(eventish, { maxLength: LIMITS.maxEvents }), (events) => {
        const r = validateBatch({ events }, now)
        expect(r.ok).toBe(true)
        if (!r.ok) return
        expect(r.value.events.length + r.value.rejected.length + r.value.repeats).toBe(events.length)
      }),
      { numRuns: 500 },
    )
  })
})

describe('profile precedence properties', () => {
  const sources = fc.constantFrom('crm', 'pos', 'call_centre', 'app', 'event', 'partner')
  it('never lets a less trusted source replace a more trusted one, whatever the times', () => {
    const rules = bundledRules.profile
    const rank = (s: string) => {
      const i = rules.precedence.indexOf(s)
      return i === -1 ? rules.precedence.length : i
    }
    fc.assert(
      fc.property(sources, sources, fc.nat(), fc.nat(), (a, b, t1, t2) => {
        const replaced = wins(rules, { source: a, updatedAt: t1 }, { source: b, at: t2 })
        if (rank(b) > rank(a)) expect(replaced).toBe(false)
        if (rank(b) < rank(a)) expect(replaced).toBe(true)
        if (rank(b) === rank(a)) expect(replaced).toBe(t2 >= t1)
      }),
    )
  })
})

describe('intent score properties', () => {
  it('stays within 0..1 for any session', () => {
    const e = fc.record({
      type: fc.constantFrom('dwell', 'scroll', 'add_to_cart', 'product_view', 'checkout_start', 'x'),
      ts: fc.integer({ min: now - 3_600_000, max: now }),
      props: fc.record({ dwellMs: fc.double(), depth: fc.double() }, { requiredKeys: [] }),
    })
    fc.assert(
      fc.property(fc.array(e, { maxLength: 60 }), (events) => {
        const s = sessionStats(
          bundledRules.profile,
          [...events].sort((a, b) => b.ts - a.ts),
          now,
        )
        expect(s.score).toBeGreaterThanOrEqual(0)
        expect(s.score).toBeLessThanOrEqual(1)
      }),
    )
  })
})
