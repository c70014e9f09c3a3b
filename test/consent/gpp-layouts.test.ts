/**
 * The GPP section objects are built by hand-written object literals (`worker/consent/gpp/
 * us-objects.ts`, the tcfcav1 literal in `tcfca.ts`) for speed. The field tables stay the source
 * of truth: each literal is matched to its layouts by the tables' keys when the module loads, and
 * these tests fail when a layout had to fall back to the generic builder (a table changed and its
 * literal did not), or when a decoded section's keys are not its table's, in order.
 */
import { describe, expect, it } from 'vitest'
import { decodeGppString } from '../../worker/consent/gpp'
import { TCFCA_BUILT_BY_LITERAL } from '../../worker/consent/gpp/tcfca'
import { layoutsWithoutLiteral } from '../../worker/consent/gpp/us'
import { coreFieldNames, US_SECTIONS } from '../../worker/consent/gpp/us-tables'

describe('GPP section objects', () => {
  it('builds every US layout and tcfcav1 with an object literal written for its exact keys', () => {
    expect(layoutsWithoutLiteral()).toEqual([])
    expect(TCFCA_BUILT_BY_LITERAL).toBe(true)
  })

  it('gives a decoded US section the keys of its table, in spec order', () => {
    // usnat v1 with GPC, usva (no sub-section), usin with its sensitive-data sub-section.
    const cases: Array<[string, string, number]> = [
      ['DBABLA~BVQqAAAAAgA.QA', 'usnat', 1],
      ['DBABRg~BASQARA', 'usva', 1],
      ['DBABUYA~BQBA.YAI', 'usin', 1],
    ]
    for (const [input, name, version] of cases) {
      const decoded = decodeGppString(input)
      expect(decoded.ok).toBe(true)
      if (!decoded.ok) continue
      const spec = US_SECTIONS.find((s) => s.name === name)
      if (!spec) throw new Error(`no spec ${name}`)
      const sub =
        spec.subsection === 'gpc'
          ? ['Gpc']
          : spec.subsection === 'sensitive'
            ? ['SensitiveDataProcessing']
            : []
      expect(Object.keys(decoded.value.sections[name] ?? {})).toEqual([
        ...coreFieldNames(spec, version),
        ...sub,
      ])
    }
  })
})
