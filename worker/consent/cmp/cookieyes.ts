/**
 * CookieYes: the `cookieyes-consent` cookie, a comma-separated `key:value` list, e.g.
 * `consentid:abc,consent:yes,action:yes,necessary:yes,functional:no,analytics:yes,performance:no,advertisement:no,other:no`.
 * Categories are `yes`/`no`; `action` is empty until the visitor acts (the banner's defaults are
 * then stored, not a choice). Pure; never throws.
 */
import type { CmpAdapter, CmpReading } from './types'
import { bounded, CATEGORY_ID, dict, fail, MAX_ENTRIES, percentDecode, reading } from './parse'

const FIELD = 'cookieyes-consent'
const META = new Set(['consentid', 'consent', 'action', 'lastRenewedDate', 'rejected'])

export const cookieyes: CmpAdapter = {
  name: 'cookieyes',
  label: 'CookieYes',
  cookies: ['cookieyes-consent'],
  find(cookies) {
    const value = cookies.get('cookieyes-consent')
    return value ? { from: 'cookie:cookieyes-consent', raw: value } : null
  },
  parse(raw) {
    const b = bounded(raw, FIELD)
    if (!b.ok) return b
    const text = percentDecode(b.value, FIELD)
    if (!text.ok) return text
    const parts = text.value.split(',')
    if (parts.length > MAX_ENTRIES) return fail('too_many', FIELD, `${FIELD} has over ${MAX_ENTRIES} entries`)
    const categories = dict()
    const fields: CmpReading['fields'] = {}
    let action: string | undefined
    for (const part of parts) {
      const at = part.indexOf(':')
      const key = part.slice(0, at).trim()
      const value = part.slice(at + 1).trim()
      if (at < 1 || !CATEGORY_ID.test(key))
        return fail(
          'bad_syntax',
          FIELD,
          `${FIELD} entry ${JSON.stringify(part.slice(0, 40))} is not key:value`,
        )
      if (META.has(key)) {
        fields[key] = value.slice(0, 64)
        if (key === 'action') action = value
        continue
      }
      if (value !== 'yes' && value !== 'no')
        return fail(
          'bad_value',
          `${FIELD}.${key}`,
          `${FIELD}.${key} is ${JSON.stringify(value.slice(0, 20))}, not yes or no`,
        )
      categories[key] = value === 'yes'
    }
    if (action === undefined) return fail('missing', `${FIELD}.action`, `${FIELD} has no action entry`)
    return reading(action === '' ? 'undecided' : 'explicit', categories, { fields })
  },
  standard: {
    necessary: [],
    functional: ['storage', 'personalization'],
    analytics: ['storage', 'measurement'],
    performance: ['storage', 'measurement'],
    advertisement: ['storage', 'advertising'],
    other: [],
  },
  fixedCategories: false,
}
