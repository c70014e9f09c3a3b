/**
 * TrustArc: `notice_gdpr_prefs` lists the ACCEPTED consent buckets as indices ending in `:`
 * (`0:` required only, `0,1:` plus functional, `0,1,2:` plus advertising, by TrustArc's default
 * buckets); `notice_behavior` says how (`expressed,eu`, `implied,eu`, `none`). Read together as
 * `<prefs>|<behavior>`. Pure; never throws.
 */
import type { CmpAdapter } from './types'
import { bounded, dict, fail, percentDecode, reading } from './parse'

const FIELD = 'notice_gdpr_prefs'

export const trustarc: CmpAdapter = {
  name: 'trustarc',
  label: 'TrustArc',
  cookies: ['notice_gdpr_prefs', 'notice_behavior'],
  find(cookies) {
    const prefs = cookies.get('notice_gdpr_prefs')
    if (!prefs) return null
    return {
      from: 'cookie:notice_gdpr_prefs',
      raw: `${prefs}|${(cookies.get('notice_behavior') ?? '').slice(0, 64)}`,
    }
  },
  parse(raw) {
    const b = bounded(raw, FIELD)
    if (!b.ok) return b
    const bar = b.value.lastIndexOf('|')
    const text = percentDecode(b.value.slice(0, bar < 0 ? undefined : bar), FIELD)
    if (!text.ok) return text
    const behavior = bar < 0 ? '' : b.value.slice(bar + 1)
    if (!/^\d{1,2}(,\d{1,2}){0,31}:$/.test(text.value))
      return fail('bad_syntax', FIELD, `${FIELD} is not a list of bucket numbers ending in ':'`)
    const categories = dict()
    for (const id of text.value.slice(0, -1).split(',')) categories[String(Number(id))] = true
    const implied = /(^|[,%])implied/.test(behavior)
    return reading(implied ? 'implied' : 'explicit', categories, {
      listsAcceptedOnly: true,
      fields: behavior ? { notice_behavior: behavior.slice(0, 64) } : {},
    })
  },
  standard: {
    '0': [],
    '1': ['storage', 'measurement', 'personalization'],
    '2': ['storage', 'advertising'],
  },
  fixedCategories: false,
}
