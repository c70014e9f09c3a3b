/**
 * CookieFirst: the `cookiefirst-consent` cookie, URL-encoded JSON with one boolean per category
 * (`necessary`, `performance`, `functional`, `advertising`) beside metadata (`timestamp`, `type`,
 * `version`). Pure; never throws.
 */
import type { CmpAdapter } from './types'
import { dict, encodedJson, fail, pick, reading } from './parse'

const FIELD = 'cookiefirst-consent'
const CATEGORIES = ['necessary', 'performance', 'functional', 'advertising'] as const

export const cookiefirst: CmpAdapter = {
  name: 'cookiefirst',
  label: 'CookieFirst',
  cookies: ['cookiefirst-consent'],
  find(cookies) {
    const value = cookies.get('cookiefirst-consent')
    return value ? { from: 'cookie:cookiefirst-consent', raw: value } : null
  },
  parse(raw) {
    const obj = encodedJson(raw, FIELD)
    if (!obj.ok) return obj
    const categories = dict()
    for (const k of CATEGORIES) {
      const v = obj.value[k]
      if (v === undefined) continue
      if (typeof v !== 'boolean')
        return fail('bad_value', `${FIELD}.${k}`, `${FIELD}.${k} is not true or false`)
      categories[k] = v
    }
    if (Object.keys(categories).length === 0)
      return fail('missing', FIELD, `${FIELD} states none of ${CATEGORIES.join(', ')}`)
    return reading('explicit', categories, { fields: pick(obj.value, ['timestamp', 'type', 'version']) })
  },
  standard: {
    necessary: [],
    performance: ['storage', 'measurement'],
    functional: ['storage', 'personalization'],
    advertising: ['storage', 'advertising'],
  },
  fixedCategories: true,
}
