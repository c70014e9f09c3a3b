/**
 * rules/consent.yaml `cmp`: a typo in a CMP name, in a fixed category id or in a purpose is a
 * rule error at its line with the nearest valid name, like every other rule error; the shipped
 * rules read every supported CMP.
 */
import { describe, expect, it } from 'vitest'
import { CMP_NAMES } from '../../worker/consent/cmp'
import { bundledRules } from '../../worker/rules'
import { compileRules, formatRuleError } from '../../worker/rules/compile'

function firstError(yaml: string) {
  const result = compileRules({ 'consent.yaml': yaml })
  expect(result.ok).toBe(false)
  return result.ok ? undefined : result.errors[0]
}

describe('rules/consent.yaml cmp', () => {
  it('names an unknown CMP in read and suggests the nearest', () => {
    const e = firstError('cmp:\n  read: [onetrsut]\n')
    expect(e).toMatchObject({ file: 'consent.yaml', line: 2, suggestion: 'onetrust' })
  })

  it('names an unknown CMP under categories and suggests the nearest', () => {
    const e = firstError('cmp:\n  categories:\n    cookiebott:\n      statistics: [measurement]\n')
    expect(e).toMatchObject({ file: 'consent.yaml', line: 3, suggestion: 'cookiebot' })
    expect(formatRuleError(e!)).toContain('unknown field "cookiebott"')
  })

  it("names a category a fixed-category CMP does not have and suggests the CMP's own", () => {
    const e = firstError('cmp:\n  categories:\n    cookiebot:\n      statistic: [measurement]\n')
    expect(e).toMatchObject({ line: 4, suggestion: 'statistics' })
  })

  it('names an unknown purpose and suggests the nearest', () => {
    const e = firstError('cmp:\n  categories:\n    onetrust:\n      C0002: [storage, measurment]\n')
    expect(e).toMatchObject({ line: 4, suggestion: 'measurement' })
  })

  it("accepts the site's own category ids for a CMP whose ids the site names", () => {
    const result = compileRules({
      'consent.yaml':
        'cmp:\n  read: [onetrust]\n  categories:\n    onetrust:\n      C0007: [storage, personalization]\n',
    })
    expect(result.ok).toBe(true)
    if (result.ok)
      expect(result.ruleset.consent.cmp.categories.onetrust).toEqual({
        C0007: ['storage', 'personalization'],
      })
  })

  it('ships rules that read every supported CMP cookie', () => {
    expect([...bundledRules.consent.cmp.read].sort()).toEqual([...CMP_NAMES].sort())
    expect(CMP_NAMES.length).toBeGreaterThanOrEqual(14)
  })
})
