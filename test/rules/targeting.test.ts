/**
 * "Show only to X, with an A/B test": an experiment's `audience` targets it, so no extra variant
 * is needed for everyone else; and overlapping triggers (two timers for one campaign on one event)
 * are reported by rules:check.
 */
/// <reference types="vite/client" />
import { describe, expect, it } from 'vitest'
import { explainVisitor } from '../../worker/decide/explain'
import { compileRules, formatRuleError } from '../../worker/rules/compile'
import type { RuleSet } from '../../worker/rules/types'
import returningVienna from '../../examples/visitors/returning-vienna.json'
import usAnonymous from '../../examples/visitors/us-anonymous.json'

const shipped = Object.fromEntries(
  Object.entries(
    import.meta.glob<string>('../../rules/*.yaml', { eager: true, query: '?raw', import: 'default' }),
  ).map(([path, text]) => [path.replace('../../rules/', ''), text]),
)

/** The shipped rules, with a DACH-only hero test tried before every other home_hero rule. */
function withDachTest(audience = 'dach'): Record<string, string> {
  return {
    ...shipped,
    'experiments.yaml': shipped['experiments.yaml']!.replace(
      'experiments:\n',
      `experiments:
  dach_hero_test:
    placement: home_hero
    audience: ${audience}
    control: default_hero
    arms:
      - { variant: default_hero, weight: 50 }
      - { variant: free_shipping, weight: 50 }
`,
    ),
    'placements.yaml': shipped['placements.yaml']!.replace(
      '    rules:\n      - id: spring_returning',
      '    rules:\n      - { id: dach_test, experiment: dach_hero_test }\n      - id: spring_returning',
    ),
  }
}

function compiled(files: Record<string, string>): RuleSet {
  const r = compileRules(files)
  if (!r.ok) throw new Error(r.errors.map((e) => formatRuleError(e)).join('\n'))
  return r.ruleset
}

function hero(rules: RuleSet, visitor: unknown) {
  const r = explainVisitor(rules, visitor)
  if (!r.ok) throw new Error(r.error.issues.join('\n'))
  return r.value.placements.find((p) => p.placement === 'home_hero')!
}

describe('a targeted A/B test', () => {
  it('puts a visitor in the audience into an arm of the experiment', () => {
    const h = hero(compiled(withDachTest()), returningVienna)
    expect(h.reason).toBe('rule:dach_test')
    expect(['default_hero', 'free_shipping']).toContain(h.variant)
    expect(h.trace.slice(0, 2)).toEqual([
      'audience dach: yes',
      `rule dach_test: experiment dach_hero_test arm ${h.variant}`,
    ])
  })

  it('leaves a visitor outside the audience to the rules below, without a third variant', () => {
    const h = hero(compiled(withDachTest()), usAnonymous)
    expect(h.trace.slice(0, 2)).toEqual(['audience dach: no', 'rule dach_test: no match'])
    expect(h.reason).not.toBe('rule:dach_test')
  })

  it('names an unknown audience of an experiment and suggests the real one', () => {
    const r = compileRules(withDachTest('dahc'))
    expect(r.ok ? [] : r.errors.map((e) => formatRuleError(e))).toEqual([
      'rules/experiments.yaml:31:15: unknown audience "dahc"; audiences are dach, returning_dach, vip, cart_builders, newsletter_clickers at experiments.dach_hero_test.audience (did you mean "dach"?)',
    ])
  })
})

describe('overlapping triggers', () => {
  it('warns when two triggers start one campaign on the same event, naming both', () => {
    const r = compileRules({
      ...shipped,
      'triggers.yaml': shipped['triggers.yaml']!.replace(
        'triggers:\n',
        `triggers:
  - id: product_view_email
    campaign: browse_abandonment
    tags: [marketing]
    on: product_view
    channels: [email]
`,
      ),
    })
    expect(r.ok).toBe(true)
    expect((r.warnings ?? []).map((w) => formatRuleError(w)).filter((w) => w.includes('triggers'))).toEqual([
      'rules/triggers.yaml:23:9: triggers "product_view_email" (line 4) and "high_intent_browse" both start campaign "browse_abandonment" on "product_view": one event would start two timers for one campaign; merge them (one trigger, several channels) or give one a different campaign at triggers.2.on',
    ])
  })
})
