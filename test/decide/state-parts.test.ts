/**
 * Which parts of customer state a page's placements read: the engine works them out from the
 * rules at compile time, and CustomerState reads only those (the session score alone scans the
 * session's events). A field the flags forget would be decided on empty state, so both halves
 * are pinned here.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { ALL_STATE_PARTS, StatePart } from '../../durable-objects/customer/contract'
import { compileEngine } from '../../worker/decide/engine'
import { resolveField, STATIC_FIELDS } from '../../worker/decide/fields'
import { rulesFrom } from './support'

const AUDIENCES = `
traits:
  keen: { when: { field: intent, gte: 0.5 } }
audiences:
  gold: { when: { field: customer.tier, eq: gold } }
  buyers: { when: { field: events.purchase.count, gte: 1 } }
  keen_gold: { when: { all: [{ audience: gold }, { trait: keen }] } }
  german: { when: { field: geo.country, eq: DE } }
`
const variants = `{ plain: { status: approved }, other: { status: approved } }`
const PLACEMENTS = `
placements:
  by_request:
    fallback: plain
    variants: ${variants}
    rules: [{ id: r, when: { audience: german }, variant: other }]
  by_attribute:
    fallback: plain
    variants: ${variants}
    rules: [{ id: r, when: { audience: gold }, variant: other }]
  by_events:
    fallback: plain
    variants: ${variants}
    rules: [{ id: r, when: { not: { audience: buyers } }, variant: other }]
  by_reference:
    fallback: plain
    variants: ${variants}
    rules: [{ id: r, when: { any: [{ audience: keen_gold }, { audience: german }] }, variant: other }]
  capped:
    fallback: plain
    variants:
      plain: { status: approved }
      other: { status: approved, campaign: spring }
    rules: [{ id: r, variant: other }]
  guarded:
    fallback: plain
    variants:
      plain: { status: approved }
      other: { status: approved, compliance: [age_restricted] }
    rules: [{ id: r, variant: other }]
`

describe('state parts a placement reads', () => {
  const engine = compileEngine(rulesFrom({ audiences: AUDIENCES, placements: PLACEMENTS }))
  const parts = (name: string) => engine.placements.get(name)!.state

  it('asks for no state when the rules only read the request', () => {
    expect(parts('by_request')).toBe(0)
  })

  it('asks for the part each state field lives in, through audiences, traits and not/any/all', () => {
    expect(parts('by_attribute')).toBe(StatePart.attributes)
    expect(parts('by_events')).toBe(StatePart.events)
    expect(parts('by_reference')).toBe(StatePart.attributes | StatePart.intent)
  })

  it('asks for suppressions when a variant is capped, and for what a compliance guard reads', () => {
    expect(parts('capped')).toBe(StatePart.suppressions)
    // The bundled age_restricted guard reads a customer attribute.
    expect(parts('guarded') & StatePart.attributes).toBe(StatePart.attributes)
  })

  it('gives every state field a part (a field without one would be decided on empty state)', () => {
    const stateFields = [
      ...STATIC_FIELDS,
      'customer.tier',
      'events.purchase.count',
      'events.purchase.daysSince',
    ]
      .map((name) => resolveField(name))
      .filter((f) => f.ok && f.value.source === 'state')
    expect(stateFields.length).toBe(4)
    for (const f of stateFields) if (f.ok) expect(f.value.part).toBeGreaterThan(0)
  })
})

describe('CustomerState.getDecisionState(now, parts)', () => {
  async function seeded(key: string) {
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName(key))
    const now = Date.now()
    await stub.setAttributes([{ name: 'tier', value: 'gold', source: 'crm', at: now }])
    await stub.recordEvents({
      stateKey: key,
      source: 'web',
      purposes: { storage: true, measurement: true, personalization: true, advertising: true },
      events: [
        { id: `${key}:1`, type: 'add_to_cart', ts: now - 1000, props: {} },
        { id: `${key}:2`, type: 'purchase', ts: now, props: { value: 10 } },
      ],
    })
    return { stub, now }
  }

  it('reads only the parts asked for and leaves the others empty', async () => {
    const { stub, now } = await seeded('a:parts-narrow')
    const attributesOnly = await stub.getDecisionState(now, StatePart.attributes)
    expect(attributesOnly.attributes.tier?.value).toBe('gold')
    expect(attributesOnly.events).toEqual({})
    expect(attributesOnly.intentScore).toBe(0)
    expect(attributesOnly.suppressedCampaigns).toEqual([])

    const eventsOnly = await stub.getDecisionState(now, StatePart.events)
    expect(eventsOnly.attributes).toEqual({})
    expect(eventsOnly.events.purchase?.count).toBe(1)
  })

  it('reads everything without parts, or with parts that are not a valid set of flags', async () => {
    const { stub, now } = await seeded('a:parts-all')
    const all = await stub.getDecisionState(now)
    expect(all.attributes.tier?.value).toBe('gold')
    expect(all.events.purchase?.count).toBe(1)
    expect(all.intentScore).toBeGreaterThan(0)
    for (const bad of [-1, ALL_STATE_PARTS + 1, 1.5, Number.NaN]) {
      expect(await stub.getDecisionState(now, bad)).toEqual(all)
    }
  })
})
