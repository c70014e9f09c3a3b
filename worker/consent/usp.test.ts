/**
 * US Privacy string decoding: every accepted form, every rejected position, and a property that
 * nothing outside the four-character grammar is ever accepted.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeUspString } from './usp'

const accepted = [
  { input: '1YNN', notice: 'Y', optOutSale: 'N', lspaCovered: 'N' },
  { input: '1YYY', notice: 'Y', optOutSale: 'Y', lspaCovered: 'Y' },
  { input: '1NYN', notice: 'N', optOutSale: 'Y', lspaCovered: 'N' },
  { input: '1---', notice: '-', optOutSale: '-', lspaCovered: '-' },
  { input: '1Y-N', notice: 'Y', optOutSale: '-', lspaCovered: 'N' },
]

const rejected = [
  { input: '', reason: 'bad_length', field: 'usprivacy' },
  { input: '1YN', reason: 'bad_length', field: 'usprivacy' },
  { input: '1YNNN', reason: 'bad_length', field: 'usprivacy' },
  { input: '2YNN', reason: 'bad_version', field: 'Version' },
  { input: 'YNN1', reason: 'bad_version', field: 'Version' },
  { input: '1yNN', reason: 'bad_value', field: 'Notice' },
  { input: '1YXN', reason: 'bad_value', field: 'OptOutSale' },
  { input: '1YN ', reason: 'bad_value', field: 'LspaCovered' },
  { input: '1YNn', reason: 'bad_value', field: 'LspaCovered' },
]

describe('US Privacy strings', () => {
  it.each(accepted)('decodes $input', ({ input, ...flags }) => {
    expect(decodeUspString(input)).toEqual({ ok: true, value: { version: 1, ...flags } })
  })

  it.each(rejected)('rejects $input naming $field', ({ input, reason, field }) => {
    const result = decodeUspString(input)
    expect(result).toMatchObject({ ok: false, error: { reason, field } })
  })

  it('accepts exactly the strings of its grammar and never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), (s) => {
        const result = decodeUspString(s)
        expect(result.ok).toBe(/^1[YN-]{3}$/.test(s))
      }),
      { numRuns: 5000 },
    )
  })
})
