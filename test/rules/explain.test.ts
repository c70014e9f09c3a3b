import { describe, expect, it } from 'vitest'
import { explainVisitor, formatExplanation } from '../../worker/decide/explain'
import { bundledRules } from '../../worker/rules'
import euNoConsent from '../../examples/visitors/eu-no-consent.json'
import returningVienna from '../../examples/visitors/returning-vienna.json'
import usAnonymous from '../../examples/visitors/us-anonymous.json'

function explain(visitor: unknown) {
  const r = explainVisitor(bundledRules, visitor)
  if (!r.ok) throw new Error(r.error.issues.join('\n'))
  return r.value
}

describe('rules:explain on the example visitors (examples/visitors/*.json)', () => {
  it('shows a returning customer in Vienna the spring sale in Austrian German, and why', () => {
    const e = explain(returningVienna)
    expect(e.rulesVersion).toBe(bundledRules.version)
    const hero = e.placements.find((p) => p.placement === 'home_hero')!
    expect(hero).toMatchObject({
      variant: 'spring_sale',
      reason: 'rule:spring_returning',
      locale: 'de-AT',
      fallback: null,
    })
    expect(hero.trace).toEqual([
      'audience dach: yes',
      'trait active_customer: yes',
      'audience returning_dach: yes',
      '=> spring_sale (rule:spring_returning)',
    ])
    const banner = e.placements.find((p) => p.placement === 'product_banner')!
    expect(banner).toMatchObject({ variant: 'vip_banner', capped: true })
    // 10:30 CET on a Tuesday is inside the weekday 08:00-14:00 window.
    expect(e.placements.find((p) => p.placement === 'cart_upsell')).toMatchObject({
      variant: 'weekday_express',
    })
  })

  it('shows an EU visitor without consent only fallbacks and controls, saying consent', () => {
    const e = explain(euNoConsent)
    expect(e.placements.map((p) => [p.placement, p.variant, p.reason])).toEqual([
      ['home_hero', 'default_hero', 'consent'],
      ['product_banner', 'standard_banner', 'fallback'],
      ['cart_upsell', 'no_upsell', 'consent'],
    ])
    expect(e.placements[0]!.trace).toContain(
      'rule hero_test: experiment hero_test not bucketed: no stable visitor id',
    )
  })

  it('explains that stale data and a missing age check kept a variant back', () => {
    const e = explain(usAnonymous)
    const banner = e.placements.find((p) => p.placement === 'product_banner')!
    expect(banner).toMatchObject({ variant: 'standard_banner', reason: 'compliance', fallback: 'compliance' })
    expect(banner.trace).toContain('rule vip_early_access: ignored stale customer.tier')
    expect(banner.trace).toContain(
      'variant wine_offer: age_restricted and the visitor lacks the explicit attribute',
    )
  })

  it('formats one block per placement for marketers', () => {
    const text = formatExplanation(explain(returningVienna))
    expect(text.split('\n').slice(0, 4)).toEqual([
      `rules ${bundledRules.version} — Returning customer in Vienna, consented to everything, bought 20 days ago`,
      '',
      'home_hero: spring_sale  [rule:spring_returning]',
      '  · audience dach: yes',
    ])
    expect(text).toContain("  capped: shown only if the visitor's frequency caps allow it at request time")
  })

  it('gives the same answer as the engine would for the simulated state outage', () => {
    const e = explain({ ...returningVienna, state: 'unavailable' })
    expect(e.placements.find((p) => p.placement === 'home_hero')).toMatchObject({
      variant: 'default_hero',
      reason: 'fallback',
      fallback: 'state_unavailable',
    })
  })
})
