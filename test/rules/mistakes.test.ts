/**
 * Mistakes that used to pass rules:check silently, and parser messages that showed internals:
 * each row edits one shipped rule file and names the exact lines rules:check prints (errors stop
 * the build; warnings, where the intent is plausible, do not). A bug report becomes a new row in
 * mistakes-cases.json.
 */
/// <reference types="vite/client" />
import { describe, expect, it } from 'vitest'
import { compileRules, formatRuleError } from '../../worker/rules/compile'
import cases from './mistakes-cases.json'

const shipped = Object.fromEntries(
  Object.entries(
    import.meta.glob<string>('../../rules/*.yaml', { eager: true, query: '?raw', import: 'default' }),
  ).map(([path, text]) => [path.replace('../../rules/', ''), text]),
)

// The shipped draft variant is compiled out with a warning in every row; it is not what a row tests.
const shippedWarning = (m: string) => m.includes('"black_friday" is draft')

describe('rules:check names each mistake with file:line:column, plain words and the fix', () => {
  it.each(cases)('$name', ({ file, from, to, compiles, messages }) => {
    expect(shipped[file], `${file} is shipped`).toContain(from)
    const r = compileRules({ ...shipped, [file]: shipped[file]!.replace(from, to) })
    const printed = [...(r.ok ? [] : r.errors), ...(r.warnings ?? [])]
      .map((e) => formatRuleError(e))
      .filter((m) => !shippedWarning(m))
    expect(printed).toEqual(messages)
    expect(r.ok).toBe(compiles)
  })

  it('accepts the shipped rules with no warning but the draft variant', () => {
    const r = compileRules(shipped)
    expect(r.ok).toBe(true)
    expect((r.warnings ?? []).map((e) => formatRuleError(e)).filter((m) => !shippedWarning(m))).toEqual([])
  })
})
