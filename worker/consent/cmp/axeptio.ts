/**
 * Axeptio: the `axeptio_cookies` cookie, URL-encoded JSON with one boolean per vendor (the ids the
 * site configured, e.g. `google_analytics`, `facebook_pixel`) beside `$$`-prefixed metadata
 * (`$$token`, `$$date`, `$$completed`: true once the visitor finished the widget). Pure; never throws.
 */
import type { CmpAdapter } from './types'
import { booleanMap, encodedJson, reading } from './parse'

const FIELD = 'axeptio_cookies'

export const axeptio: CmpAdapter = {
  name: 'axeptio',
  label: 'Axeptio',
  cookies: ['axeptio_cookies'],
  find(cookies) {
    const value = cookies.get('axeptio_cookies')
    return value ? { from: 'cookie:axeptio_cookies', raw: value } : null
  },
  parse(raw) {
    const obj = encodedJson(raw, FIELD)
    if (!obj.ok) return obj
    const vendors = booleanMap(obj.value, FIELD, (k) => k.startsWith('$$'))
    if (!vendors.ok) return vendors
    const o = obj.value
    const fields: Record<string, string | boolean> = {}
    if (typeof o.$$token === 'string') fields.token = o.$$token.slice(0, 64)
    if (typeof o.$$date === 'string') fields.date = o.$$date.slice(0, 64)
    if (typeof o.$$completed === 'boolean') fields.completed = o.$$completed
    return reading(o.$$completed === true ? 'explicit' : 'undecided', vendors.value, { fields })
  },
  standard: {
    google_analytics: ['storage', 'measurement'],
    matomo: ['storage', 'measurement'],
    hotjar: ['storage', 'measurement'],
    google_ads: ['storage', 'advertising'],
    facebook_pixel: ['storage', 'advertising'],
  },
  fixedCategories: false,
}
