import { describe, expect, it } from 'vitest'
import { compileRules, formatRuleError, type RuleError } from './compile'

const AUDIENCES = `# yaml-language-server: $schema=./schema/audiences.schema.json
audiences:
  dach:
    when: { field: geo.country, in: [DE, AT, CH] }
  returning_dach:
    when:
      all:
        - { audience: dach }
        - { field: events.purchase.count, gte: 1 }
`
const PLACEMENTS = `placements:
  home_hero:
    fallback: default_hero
    variants:
      default_hero: { status: approved, requires: [] }
      spring_sale: { status: approved }
    rules:
      - id: spring_returning
        when: { audience: returning_dach }
        variant: spring_sale
`
const EXPERIMENTS = `experiments:
  hero_test:
    placement: home_hero
    control: default_hero
    arms:
      - { variant: default_hero }
      - { variant: spring_sale }
`

function errorsOf(files: Record<string, string>): RuleError[] {
  const r = compileRules({
    'audiences.yaml': AUDIENCES,
    'placements.yaml': PLACEMENTS,
    'experiments.yaml': EXPERIMENTS,
    ...files,
  })
  if (r.ok) throw new Error('expected the rule set to be rejected')
  return r.errors
}

describe('rules:check errors name file:line:col and suggest the nearest name', () => {
  it('accepts the valid set and versions it by content', () => {
    const a = compileRules({
      'audiences.yaml': AUDIENCES,
      'placements.yaml': PLACEMENTS,
      'experiments.yaml': EXPERIMENTS,
    })
    const b = compileRules({
      'placements.yaml': PLACEMENTS,
      'experiments.yaml': EXPERIMENTS,
      'audiences.yaml': AUDIENCES + '\n# a comment\n',
    })
    expect(a.ok && b.ok).toBe(true)
    if (a.ok && b.ok) {
      expect(a.ruleset.version).toMatch(/^sha256:[0-9a-f]{32}$/)
      // Comments and key order do not change what deploys, so they do not change the version.
      expect(b.ruleset.version).toBe(a.ruleset.version)
    }
  })

  it('points at a misspelt audience in placements.yaml and suggests the real one', () => {
    const [e] = errorsOf({
      'placements.yaml': PLACEMENTS.replace('audience: returning_dach', 'audience: returning_dahc'),
    })
    expect(e).toMatchObject({ file: 'placements.yaml', line: 9, column: 27, suggestion: 'returning_dach' })
    expect(formatRuleError(e!)).toBe(
      'rules/placements.yaml:9:27: unknown audience "returning_dahc"; audiences are dach, returning_dach at placements.home_hero.rules.0.when.audience (did you mean "returning_dach"?)',
    )
  })

  it('points at a misspelt field name and suggests the real one', () => {
    const [e] = errorsOf({ 'audiences.yaml': AUDIENCES.replace('geo.country', 'geo.contry') })
    expect(e).toMatchObject({ file: 'audiences.yaml', line: 4, column: 20, suggestion: 'geo.country' })
  })

  it('points at an unknown key inside a condition and suggests the field it resembles', () => {
    const [e] = errorsOf({
      'audiences.yaml': AUDIENCES.replace('{ field: geo.country', '{ feild: geo.country'),
    })
    expect(e).toMatchObject({
      file: 'audiences.yaml',
      line: 4,
      message: 'unknown field "feild"',
      suggestion: 'field',
    })
  })

  it('suggests the nearest variant for a typo in an experiment arm', () => {
    const [e] = errorsOf({
      'experiments.yaml': EXPERIMENTS.replace('{ variant: spring_sale }', '{ variant: sprint_sale }'),
    })
    expect(e).toMatchObject({ file: 'experiments.yaml', line: 7, column: 20, suggestion: 'spring_sale' })
  })

  it('suggests the nearest experiment named by a rule', () => {
    const [e] = errorsOf({
      'placements.yaml': PLACEMENTS.replace('variant: spring_sale\n', 'experiment: hero_tset\n'),
    })
    expect(e).toMatchObject({ file: 'placements.yaml', line: 10, suggestion: 'hero_test' })
  })

  it('suggests the nearest enum value (approval status, consent purpose)', () => {
    const [status] = errorsOf({
      'placements.yaml': PLACEMENTS.replace(
        'spring_sale: { status: approved }',
        'spring_sale: { status: aproved }',
      ),
    })
    expect(status).toMatchObject({ line: 6, suggestion: 'approved' })
    const [purpose] = errorsOf({
      'placements.yaml': PLACEMENTS.replace('requires: []', 'requires: [personalisation]'),
    })
    expect(purpose).toMatchObject({ line: 5, suggestion: 'personalization' })
  })

  it('rejects a regular expression that can backtrack catastrophically, at its line', () => {
    const [e] = errorsOf({
      'audiences.yaml': AUDIENCES.replace(
        '{ field: geo.country, in: [DE, AT, CH] }',
        () => "{ field: page.path, regex: '^(a+)+$' }",
      ),
    })
    expect(e).toMatchObject({ file: 'audiences.yaml', line: 4 })
    expect(e!.message).toMatch(/nested quantifier/)
  })

  it.each([
    ['(a|ab)*c', /can match the same text/],
    ['(\\w+\\s?)*$', /nested quantifier/],
    ['a'.repeat(201), /limit is 200/],
    ['(x)\\1', /backreferences/],
    ['(?<=a)b', /lookbehind/],
    ['([a-z', /invalid regular expression/],
  ])('rejects the regex %s', (pattern, message) => {
    const [e] = errorsOf({
      'audiences.yaml': AUDIENCES.replace('in: [DE, AT, CH]', () => `regex: '${pattern}'`),
    })
    expect(e!.message).toMatch(message)
  })

  it('accepts ordinary patterns', () => {
    for (const p of ['^/product/[a-z-]+$', '^(de|at|ch)$', '\\d{3,5}', '^(?:foo|bar)-\\d+$']) {
      const r = compileRules({
        'audiences.yaml': AUDIENCES.replace('in: [DE, AT, CH]', () => `regex: '${p}'`),
      })
      expect(r.ok, p).toBe(true)
    }
  })

  it('detects reference cycles between audiences', () => {
    const errors = errorsOf({
      'audiences.yaml': `audiences:
  a:
    when: { audience: b }
  b:
    when: { all: [{ audience: c }] }
  c:
    when: { audience: a }
`,
      'placements.yaml': '',
      'experiments.yaml': '',
    })
    expect(errors).toHaveLength(1)
    expect(errors[0]!.message).toMatch(
      /reference cycle: audience a -> audience b -> audience c -> audience a/,
    )
    expect(errors[0]).toMatchObject({ file: 'audiences.yaml' })
  })

  it('rejects a condition with two kinds or two operators', () => {
    const [e] = errorsOf({ 'audiences.yaml': AUDIENCES.replace('in: [DE, AT, CH]', 'in: [DE], eq: DE') })
    expect(e!.message).toMatch(/exactly one operator; found eq and in/)
  })

  it('rejects an unknown time zone', () => {
    const [e] = errorsOf({
      'placements.yaml': PLACEMENTS.replace(
        'spring_sale: { status: approved }',
        'spring_sale: { status: approved, schedule: { timeZone: Europe/Berln } }',
      ),
    })
    expect(e).toMatchObject({ line: 6 })
    expect(e!.message).toMatch(/IANA time zone/)
  })

  it('rejects an over-allocated layer', () => {
    const errors = errorsOf({
      'experiments.yaml': `layers: { l: {} }
experiments:
  e1: { placement: home_hero, control: default_hero, layer: l, traffic: 60, arms: [{ variant: default_hero }] }
  e2: { placement: home_hero, control: default_hero, layer: l, traffic: 60, arms: [{ variant: spring_sale }] }
`,
    })
    expect(errors[0]!.message).toMatch(/over-allocated: its experiments take 120%/)
    expect(errors[0]).toMatchObject({ file: 'experiments.yaml', line: 4 })
  })

  it('compiles unapproved variants out with a warning, and refuses an unapproved fallback', () => {
    const r = compileRules({
      'audiences.yaml': AUDIENCES,
      'placements.yaml': PLACEMENTS.replace(
        'spring_sale: { status: approved }',
        'spring_sale: { status: review }',
      ),
    })
    expect(r.ok).toBe(true)
    if (r.ok) {
      expect(r.ruleset.placements.placements.home_hero!.variants.spring_sale).toBeUndefined()
      expect(r.ruleset.placements.placements.home_hero!.rules).toEqual([])
      expect(r.warnings.map((w) => formatRuleError(w))).toEqual([
        'rules/placements.yaml:6:30: variant "spring_sale" is review, not approved: compiled out at placements.home_hero.variants.spring_sale.status',
        'rules/placements.yaml:10:18: rule "spring_returning" shows unapproved variant "spring_sale": compiled out at placements.home_hero.rules.0.variant',
      ])
    }
    const [e] = errorsOf({
      'placements.yaml': PLACEMENTS.replace(
        'default_hero: { status: approved',
        'default_hero: { status: draft',
      ),
    })
    expect(e!.message).toMatch(/fallback variant "default_hero" is draft; a fallback must be approved/)
  })

  it('names an unknown rule file and suggests the right one', () => {
    const [e] = errorsOf({ 'placement.yaml': 'placements: {}' })
    expect(e).toMatchObject({ file: 'placement.yaml', line: 1, column: 1, suggestion: 'placements.yaml' })
  })

  it('reports YAML syntax errors at their position', () => {
    const [e] = errorsOf({ 'placements.yaml': 'placements:\n  home_hero: {\n' })
    expect(e).toMatchObject({ file: 'placements.yaml', line: 3 })
  })
})
