import { describe, expect, it } from 'vitest'
import { compileRules } from '../rules/compile'
import { HOLDOUT_ID, measuredExperiments } from './definitions'

const PLACEMENTS = `placements:
  home_hero:
    fallback: default_hero
    variants:
      default_hero: { status: approved, requires: [] }
      spring_sale: { status: approved }
    rules:
      - id: test
        experiment: hero_test
`
const EXPERIMENTS = `holdout: { percent: 10 }
metrics:
  converted: { kind: binary, event: purchase }
  revenue: { kind: revenue, event: purchase, prop: value, windowDays: 7 }
  refunds: { kind: count, event: refund, higherIsBetter: false }
experiments:
  hero_test:
    placement: home_hero
    control: default_hero
    arms:
      - { variant: default_hero, weight: 1 }
      - { variant: spring_sale, weight: 3 }
    measure: { primary: revenue, guardrails: [refunds], alpha: 0.01 }
`

function compile(experiments: string) {
  return compileRules({ 'placements.yaml': PLACEMENTS, 'experiments.yaml': experiments })
}

describe('metrics in rules', () => {
  it('compiles metrics and the decision policy into what the analysis takes', () => {
    const r = compile(EXPERIMENTS)
    if (!r.ok) throw new Error(JSON.stringify(r.errors))
    const hero = measuredExperiments(r.ruleset.experiments).get('hero_test')!
    expect(hero.metrics.map((m) => m.id)).toEqual(['revenue', 'refunds'])
    expect(hero.metrics[0]).toEqual({
      id: 'revenue',
      kind: 'revenue',
      event: 'purchase',
      prop: 'value',
      windowDays: 7,
      higherIsBetter: true,
    })
    expect(hero.policy).toEqual({
      primary: 'revenue',
      guardrails: ['refunds'],
      alpha: 0.01,
      power: 0.8,
      minimumEffect: 0.05,
    })
    expect(hero.weights).toEqual({ default_hero: 25, spring_sale: 75 })
  })

  it('measures an experiment that says nothing by a purchase within 14 days (the default metric)', () => {
    const r = compile(`experiments:
  hero_test:
    placement: home_hero
    control: default_hero
    arms: [{ variant: default_hero }, { variant: spring_sale }]
`)
    if (!r.ok) throw new Error(JSON.stringify(r.errors))
    const hero = measuredExperiments(r.ruleset.experiments).get('hero_test')!
    expect(hero.metrics).toEqual([
      { id: 'converted', kind: 'binary', event: 'purchase', windowDays: 14, higherIsBetter: true },
    ])
    expect(hero.policy).toMatchObject({ primary: 'converted', guardrails: [], alpha: 0.05, power: 0.8 })
    // No global holdout configured: nothing to report for it.
    expect(measuredExperiments(r.ruleset.experiments).has(HOLDOUT_ID)).toBe(false)
  })

  it('measures the global holdout against everyone outside it, by every metric', () => {
    const r = compile(EXPERIMENTS)
    if (!r.ok) throw new Error(JSON.stringify(r.errors))
    const h = measuredExperiments(r.ruleset.experiments).get(HOLDOUT_ID)!
    expect(h).toMatchObject({ kind: 'holdout', control: 'holdout', arms: ['holdout', 'exposed'] })
    expect(h.weights).toEqual({ holdout: 10, exposed: 90 })
    expect(h.metrics.map((m) => m.id)).toEqual(['converted', 'revenue', 'refunds'])
  })

  it.each([
    [
      'an unknown primary metric, with the nearest name',
      EXPERIMENTS.replace('primary: revenue', 'primary: revenu'),
      { line: 13, message: 'unknown metric "revenu"', suggestion: 'revenue' },
    ],
    [
      'an unknown guardrail, with the nearest name',
      EXPERIMENTS.replace('guardrails: [refunds]', 'guardrails: [refund]'),
      { line: 13, message: 'unknown metric "refund"', suggestion: 'refunds' },
    ],
    [
      'a revenue metric without its prop',
      EXPERIMENTS.replace(', prop: value', ''),
      { line: 4, message: 'a revenue metric needs the prop it sums' },
    ],
    [
      'a ratio metric without a denominator',
      EXPERIMENTS.replace('kind: count, event: refund', 'kind: ratio, event: refund'),
      { line: 5, message: 'a ratio metric needs a denominator' },
    ],
    [
      'an unknown metric kind',
      EXPERIMENTS.replace('kind: count', 'kind: counts'),
      { line: 5, path: 'metrics.refunds.kind' },
    ],
    [
      'an experiment named like the holdout report',
      EXPERIMENTS.replace('  hero_test:', '  holdout:').replace(
        'experiment: hero_test',
        'experiment: holdout',
      ),
      { message: '"holdout" names the global holdout\'s report' },
    ],
  ])('rules:check rejects %s', (_name, yaml, expected) => {
    const r = compile(yaml)
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.errors).toContainEqual(expect.objectContaining({ file: 'experiments.yaml', ...expected }))
  })
})
