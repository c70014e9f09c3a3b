/**
 * IAB CCPA / US Privacy String v1 (`usprivacy` cookie, `us_privacy` parameter, GPP section 6
 * `uspv1`): exactly four characters, "Version", "Notice/Opportunity to Opt Out",
 * "Opt-Out Sale", "LSPA Covered Transaction" (IAB "U.S. Privacy String" spec, "String Format").
 * Pure TypeScript; never throws.
 */
import { decodeError } from './bits'
import type { DecodeResult, UspString } from './types'

type Flag = UspString['notice']

// Position, spec field name, and the UspString key it fills.
const FLAGS = [
  [1, 'Notice', 'notice'],
  [2, 'OptOutSale', 'optOutSale'],
  [3, 'LspaCovered', 'lspaCovered'],
] as const

function isFlag(c: string): c is Flag {
  return c === 'Y' || c === 'N' || c === '-'
}

/** The flag a character code stands for (`Y`, `N` or `-`), or null. */
export function uspFlag(code: number): Flag | null {
  return code === 89 ? 'Y' : code === 78 ? 'N' : code === 45 ? '-' : null
}

/**
 * Decodes a US Privacy string. Anything but exactly 4 characters, version `1`, and `Y`/`N`/`-`
 * in each of the three flag positions is an error naming the position (case-sensitive: the spec
 * defines upper-case `Y` and `N` only).
 *
 * @example decodeUspString('1YNN') // { ok: true, value: { version: 1, notice: 'Y', optOutSale: 'N', lspaCovered: 'N' } }
 */
export function decodeUspString(input: string): DecodeResult<UspString> {
  // The common case, a valid string, in one pass over its character codes; anything else takes
  // the checks below, which name the position at fault.
  if (typeof input === 'string' && input.length === 4 && input.charCodeAt(0) === 49) {
    const notice = uspFlag(input.charCodeAt(1))
    const optOutSale = uspFlag(input.charCodeAt(2))
    const lspaCovered = uspFlag(input.charCodeAt(3))
    if (notice !== null && optOutSale !== null && lspaCovered !== null) {
      return { ok: true, value: { version: 1, notice, optOutSale, lspaCovered } }
    }
  }
  if (typeof input !== 'string' || input.length !== 4) {
    const length = typeof input === 'string' ? input.length : 0
    return decodeError('bad_length', 'usprivacy', `a US Privacy string has 4 characters, got ${length}`)
  }
  if (input[0] !== '1') {
    return decodeError(
      'bad_version',
      'Version',
      `position 1 (Version) must be 1, got ${JSON.stringify(input[0])}`,
    )
  }
  const value: UspString = { version: 1, notice: '-', optOutSale: '-', lspaCovered: '-' }
  for (const [position, field, key] of FLAGS) {
    const c = input[position] as string
    if (!isFlag(c)) {
      return decodeError(
        'bad_value',
        field,
        `position ${position + 1} (${field}) must be Y, N or -, got ${JSON.stringify(c)}`,
      )
    }
    value[key] = c
  }
  return { ok: true, value }
}
