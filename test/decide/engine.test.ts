import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bucket } from '../../worker/decide/bucket'
import { decidePlacement, compileEngine } from '../../worker/decide/engine'
import { explainVisitor, visitorContext, visitorSchema, type Visitor } from '../../worker/decide/explain'
import { bundledRules } from '../../worker/rules'
import { rulesFrom } from './support'

const PLACEMENTS = `
placements:
  hero:
    fallback: plain
    variants:
      plain: { status: approved, content: { default: { text: plain } } }
      promo: { status: approved, content: { default: { text: promo }, de: { text: aktion } } }
      a: { status: approved }
      b: { status: approved }
      c: { status: approved }
      wine: { status: approved, requires: [], compliance: [age_restricted] }
      later: { status: approved, requires: [], schedule: { timeZone: Europe/Berlin, start: '2027-01-01T00:00' } }
      draft_one: { status: draft }
    rules:
      - { id: stale_tier, when: { field: customer.tier, eq: gold }, variant: promo }
      - { id: future, when: { field: context.future, eq: true }, variant: later }
      - { id: wine, when: { field: context.wine, eq: true }, variant: wine }
      - { id: ab, when: { field: context.ab, eq: true }, experiment: abc }
      - { id: draft_rule, when: { field: context.draft, eq: true }, variant: draft_one }
      - { id: everyone, when: { field: context.promo, eq: true }, variant: promo }
  side:
    fallback: plain
    variants:
      plain: { status: approved }
      x: { status: approved }
      y: { status: approved }
    rules:
      - { id: layer_one, experiment: one }
      - { id: layer_two, experiment: two }
      - { id: banditry, when: { field: context.bandit, eq: true }, experiment: bandit }
`
const EXPERIMENTS = `
layers: { main: {} }
experiments:
  abc: { placement: hero, control: a, arms: [{ variant: a, weight: 1 }, { variant: b, weight: 1 }, { variant: c, weight: 2 }] }
  one: { placement: side, control: plain, layer: main, traffic: 50, arms: [{ variant: x }] }
  two: { placement: side, control: plain, layer: main, traffic: 50, arms: [{ variant: y }] }
  bandit: { placement: side, control: plain, arms: [{ variant: x }, { variant: y }], bandit: { conversion: purchase } }
`
const rules = rulesFrom({ placements: PLACEMENTS, experiments: EXPERIMENTS })
const engine = compileEngine(rules)
const ALL = { storage: true, measurement: true, personalization: true, advertising: true }

function decide(
  placement: string,
  v: Visitor,
  stats?: Record<string, Record<string, { exposures: number; conversions: number }>>,
) {
  const d = decidePlacement(
    engine,
    placement,
    visitorContext(visitorSchema.parse({ time: '2026-03-10T10:00:00Z', ...v })),
    {
      banditStats: (id) => stats?.[id],
    },
  )
  if (!d) throw new Error(`no placement ${placement}`)
  return d
}

describe('decisions', () => {
  it("shows the rule's variant with its reason, rules version and locale content", () => {
    const d = decide('hero', {
      consent: ALL,
      identity: { customerId: 'c1' },
      locale: 'de-AT',
      context: { promo: true },
    })
    expect(d).toMatchObject({
      variant: 'promo',
      reason: 'rule:everyone',
      fallback: null,
      locale: 'de',
      rulesVersion: rules.version,
    })
    expect(d.content).toEqual({ text: 'aktion' })
    expect(d.trace.at(-1)).toBe('=> promo (rule:everyone)')
  })

  it('never shows a personalised variant without personalization consent', () => {
    const d = decide('hero', {
      consent: { ...ALL, personalization: false },
      identity: { customerId: 'c1' },
      context: { promo: true },
    })
    expect(d).toMatchObject({ variant: 'plain', reason: 'consent', fallback: 'consent' })
  })

  it('falls back with freshness when the only matching data is stale', () => {
    const d = decide('hero', {
      consent: ALL,
      identity: { customerId: 'c1' },
      attributes: { tier: { value: 'gold', age: '120d' } },
    })
    expect(d).toMatchObject({ variant: 'plain', reason: 'freshness', fallback: 'freshness' })
    const fresh = decide('hero', {
      consent: ALL,
      identity: { customerId: 'c1' },
      attributes: { tier: { value: 'gold', age: '1d' } },
    })
    expect(fresh).toMatchObject({ variant: 'promo', reason: 'rule:stale_tier' })
  })

  it('keeps an age-restricted variant back unless the explicit attribute is there', () => {
    expect(
      decide('hero', { consent: ALL, identity: { customerId: 'c1' }, context: { wine: true } }),
    ).toMatchObject({
      variant: 'plain',
      reason: 'compliance',
    })
    expect(
      decide('hero', {
        consent: ALL,
        identity: { customerId: 'c1' },
        attributes: { age_verified: true },
        context: { wine: true },
      }),
    ).toMatchObject({ variant: 'wine', reason: 'rule:wine' })
  })

  it('keeps a scheduled variant back outside its schedule', () => {
    expect(decide('hero', { consent: ALL, context: { future: true } })).toMatchObject({
      variant: 'plain',
      reason: 'schedule',
    })
    expect(
      decide('hero', { time: '2027-01-02T00:00:00Z', consent: ALL, context: { future: true } }),
    ).toMatchObject({
      variant: 'later',
      reason: 'rule:future',
    })
  })

  it('compiles out unapproved variants and the rules that show them', () => {
    expect(rules.placements.placements.hero!.variants.draft_one).toBeUndefined()
    expect(rules.placements.placements.hero!.rules.map((r) => r.id)).not.toContain('draft_rule')
  })

  it('falls back with state_unavailable when customer state did not answer, only where a rule needs it', () => {
    expect(
      decide('hero', { consent: ALL, identity: { customerId: 'c1' }, state: 'unavailable' }),
    ).toMatchObject({
      variant: 'plain',
      reason: 'fallback',
      fallback: 'state_unavailable',
    })
    expect(
      decide('side', { consent: ALL, identity: { customerId: 'c1' }, state: 'unavailable' }).fallback,
    ).not.toBe('state_unavailable')
  })
})

describe('experiments', () => {
  it('splits A/B/n traffic by weight with the versioned hash, the same for the same unit', () => {
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 }
    for (let i = 0; i < 4000; i++) {
      const d = decide('hero', { consent: ALL, identity: { anonymousId: `u${i}` }, context: { ab: true } })
      counts[d.variant]!++
      expect(d.experiment).toEqual({ id: 'abc', arm: d.variant, holdout: false })
    }
    expect(counts.c! / 4000).toBeGreaterThan(0.46)
    expect(counts.c! / 4000).toBeLessThan(0.54)
    const once = decide('hero', { consent: ALL, identity: { anonymousId: 'same' }, context: { ab: true } })
    expect(
      decide('hero', { consent: ALL, identity: { anonymousId: 'same' }, context: { ab: true } }).variant,
    ).toBe(once.variant)
  })

  it('does not bucket without the consent the experiment needs: the visitor sees the control', () => {
    const d = decide('hero', {
      consent: { ...ALL, measurement: false },
      identity: { anonymousId: 'u1' },
      context: { ab: true },
    })
    expect(d).toMatchObject({ variant: 'a', reason: 'consent', experiment: null })
  })

  it('does not bucket an ephemeral visitor', () => {
    const d = decide('hero', {
      consent: ALL,
      identity: { basis: 'ephemeral', anonymousId: 'x' },
      context: { ab: true },
    })
    expect(d).toMatchObject({ reason: 'consent', experiment: null })
  })

  it('keeps experiments of one layer mutually exclusive', () => {
    let one = 0
    let two = 0
    for (let i = 0; i < 2000; i++) {
      const d = decide('side', { consent: ALL, identity: { anonymousId: `u${i}` } })
      expect(d.experiment?.id).toMatch(/^(one|two)$/)
      if (d.experiment?.id === 'one') one++
      else two++
      const inLayer = bucket(1, 'main', 'layer:main', `u${i}`)
      expect(d.experiment?.id).toBe(inLayer < 0.5 ? 'one' : 'two')
    }
    expect(Math.abs(one - two)).toBeLessThan(200)
  })

  it('moves bandit traffic to the arm that converts better (Thompson sampling)', () => {
    const stats = {
      bandit: { x: { exposures: 1000, conversions: 20 }, y: { exposures: 1000, conversions: 120 } },
    }
    let y = 0
    const layered = rulesFrom({
      placements: PLACEMENTS.replace(/- \{ id: layer_one.*\n.*layer_two.*\n/, ''),
      experiments: EXPERIMENTS,
    })
    const e = compileEngine(layered)
    for (let i = 0; i < 500; i++) {
      const ctx = visitorContext(
        visitorSchema.parse({ consent: ALL, identity: { anonymousId: `u${i}` }, context: { bandit: true } }),
      )
      const d = decidePlacement(e, 'side', ctx, { banditStats: (id) => stats[id as 'bandit'] })!
      expect(d.experiment?.id).toBe('bandit')
      if (d.variant === 'y') y++
    }
    expect(y / 500).toBeGreaterThan(0.95)
    // Without statistics the arms are drawn from equal priors: both get traffic.
    let yCold = 0
    for (let i = 0; i < 500; i++) {
      const ctx = visitorContext(
        visitorSchema.parse({ consent: ALL, identity: { anonymousId: `u${i}` }, context: { bandit: true } }),
      )
      if (decidePlacement(e, 'side', ctx)!.variant === 'y') yCold++
    }
    expect(yCold / 500).toBeGreaterThan(0.4)
    expect(yCold / 500).toBeLessThan(0.6)
  })

  it('holds out the global holdout from every personalisation, and placement holdouts per placement', () => {
    const held = rulesFrom({
      placements: PLACEMENTS,
      experiments: EXPERIMENTS + 'holdout: { percent: 100 }\n',
    })
    const d = decidePlacement(
      compileEngine(held),
      'hero',
      visitorContext(
        visitorSchema.parse({ consent: ALL, identity: { anonymousId: 'u1' }, context: { promo: true } }),
      ),
    )!
    expect(d).toMatchObject({
      variant: 'plain',
      reason: 'holdout',
      experiment: { id: 'holdout', holdout: true },
    })
    const perPlacement = compileEngine(
      rulesFrom({ placements: PLACEMENTS, experiments: EXPERIMENTS + 'placementHoldouts: { hero: 100 }\n' }),
    )
    const ctx = visitorContext(
      visitorSchema.parse({ consent: ALL, identity: { anonymousId: 'u1' }, context: { promo: true } }),
    )
    expect(decidePlacement(perPlacement, 'hero', ctx)).toMatchObject({
      reason: 'holdout',
      experiment: { id: 'holdout:hero' },
    })
    expect(decidePlacement(perPlacement, 'side', ctx)!.reason).not.toBe('holdout')
  })
})

// Random attribute bags: any JSON-ish value where the engine reads a field.
const anyValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(Number.NaN),
  fc.constant(Infinity),
)

describe('evaluator properties', () => {
  const bundled = compileEngine(bundledRules)
  it('never throws and always decides, whatever the attributes, events, state and consent', () => {
    fc.assert(
      fc.property(
        fc.record({
          attrs: fc.dictionary(fc.string({ maxLength: 12 }), anyValue),
          ctxAttrs: fc.dictionary(fc.constantFrom('promo', 'ab', 'wine', 'future', 'bandit', 'x'), anyValue),
          events: fc.dictionary(
            fc.string({ maxLength: 12 }),
            fc.record({ count: fc.integer(), lastAt: fc.double() }),
          ),
          intent: fc.oneof(fc.double(), fc.constant(Number.NaN)),
          purposes: fc.record({
            storage: fc.boolean(),
            measurement: fc.boolean(),
            personalization: fc.boolean(),
            advertising: fc.boolean(),
          }),
          locale: fc.oneof(fc.constant(null), fc.string({ maxLength: 20 })),
          unit: fc.oneof(fc.constant(null), fc.string()),
          now: fc.integer({ min: 0, max: 4_102_444_800_000 }),
          state: fc.constantFrom('ok', 'none', 'unavailable'),
        }),
        (r) => {
          const ctx = visitorContext(visitorSchema.parse({}))
          ctx.now = r.now
          ctx.locale = r.locale
          ctx.attributes = r.ctxAttrs
          ctx.consent.purposes = r.purposes
          ctx.identity = { basis: r.unit === null ? 'ephemeral' : 'cookie', customerId: null, unitId: r.unit }
          ctx.state =
            r.state === 'ok'
              ? {
                  attributes: Object.fromEntries(
                    Object.entries(r.attrs).map(([k, v]) => [
                      k,
                      { value: v as never, source: 'x', updatedAt: r.now - 1000 },
                    ]),
                  ),
                  events: r.events,
                  intentScore: r.intent,
                  timeZone: null,
                  suppressedCampaigns: [],
                }
              : r.state === 'none'
                ? null
                : 'unavailable'
          for (const e of [engine, bundled]) {
            for (const name of e.placements.keys()) {
              const d = decidePlacement(e, name, ctx)!
              expect(d.variant).toBeTruthy()
              expect(d.reason).toMatch(
                /^(rule:.+|holdout|cap|consent|freshness|compliance|schedule|fallback)$/,
              )
              // Never grants: a variant that needs personalisation is never shown without it.
              const v = (e === engine ? rules : bundledRules).placements.placements[name]!.variants[
                d.variant
              ]!
              const needs =
                v.requires ?? (d.variant === e.placements.get(name)!.fallback.id ? [] : ['personalization'])
              for (const p of needs) expect(r.purposes[p as keyof typeof r.purposes]).toBe(true)
            }
          }
        },
      ),
      { seed: 20261123, numRuns: 500 },
    )
  })
})

describe('rules:explain', () => {
  it('rejects an invalid visitor description, naming the field', () => {
    const r = explainVisitor(bundledRules, {
      location: { country: 'Germany' },
      consent: { personalisation: true },
    })
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.error.issues.join('\n')).toMatch(/location\.country/)
      expect(r.error.issues.join('\n')).toMatch(/personalisation/)
    }
  })
})
