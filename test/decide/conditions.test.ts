import { describe, expect, it } from 'vitest'
import { compileCondition, conditionLibrary, type Scope } from '../../worker/decide/condition'
import { visitorContext, visitorSchema } from '../../worker/decide/explain'
import type { ConditionInput } from '../../worker/rules/concerns/audiences'
import rows from './cases/conditions.json'

const named = {
  audience: { dach: { when: { field: 'geo.country', in: ['DE', 'AT', 'CH'] } as ConditionInput } },
  trait: { mobile: { when: { field: 'device.type', eq: 'mobile' } as ConditionInput } },
}

function evaluate(when: ConditionInput, visitor: unknown): { result: boolean; problems: string[] } {
  const problems: string[] = []
  const lib = conditionLibrary(named, problems)
  const compiled = compileCondition(when, lib, 'case', problems)
  const ctx = visitorContext(visitorSchema.parse({ time: '2026-03-10T10:30:00Z', ...(visitor as object) }))
  const scope: Scope = { ctx, trace: [], maxAgeMs: 90 * 86_400_000, stale: [], memo: new Map(), errors: [] }
  return { result: compiled.test(scope), problems }
}

describe('conditions (test/decide/cases/conditions.json)', () => {
  it.each(rows)('$name', ({ when, visitor, expected }) => {
    expect(evaluate(when as ConditionInput, visitor).result).toBe(expected)
  })

  it('reports an impossible condition at compile time and evaluates it to false', () => {
    const { result, problems } = evaluate({ field: 'geo.planet', eq: 'earth' }, {})
    expect(result).toBe(false)
    expect(problems.join('\n')).toMatch(/unknown field "geo.planet"/)
  })

  it('compiles an audience cycle to false instead of recursing forever', () => {
    const problems: string[] = []
    const lib = conditionLibrary(
      { audience: { a: { when: { audience: 'b' } }, b: { when: { audience: 'a' } } }, trait: {} },
      problems,
    )
    const compiled = compileCondition({ audience: 'a' }, lib, 'case', problems)
    const ctx = visitorContext(visitorSchema.parse({}))
    expect(compiled.test({ ctx, trace: [], maxAgeMs: 1, stale: [], memo: new Map(), errors: [] })).toBe(false)
    expect(problems.join('\n')).toMatch(/refers to itself/)
  })
})
