/**
 * Shopify's Customer Privacy API: the `_tracking_consent` cookie, URL-encoded JSON. Version 2.1
 * keeps the choice in `con.CMP` as `{ a, m, p, s }` (analytics, marketing, preferences,
 * sale_of_data), each `"1"` (granted), `"0"` (refused) or `""` (no choice); the older 2.0 form has
 * one `con.GDPR` flag for everything. `s: "0"` is an opt-out of the sale or sharing of data.
 * Pure; never throws.
 */
import type { CmpAdapter } from './types'
import { dict, encodedJson, fail, pick, reading } from './parse'

const FIELD = '_tracking_consent'
const KEYS = ['a', 'm', 'p', 's'] as const

export const shopify: CmpAdapter = {
  name: 'shopify',
  label: 'Shopify',
  cookies: ['_tracking_consent'],
  find(cookies) {
    const value = cookies.get('_tracking_consent')
    return value ? { from: 'cookie:_tracking_consent', raw: value } : null
  },
  parse(raw) {
    const obj = encodedJson(raw, FIELD)
    if (!obj.ok) return obj
    const con = obj.value.con
    if (con === null || typeof con !== 'object' || Array.isArray(con))
      return fail('missing', `${FIELD}.con`, `${FIELD} has no con object`)
    const c = con as Record<string, unknown>
    const flags: Record<string, unknown> =
      c.CMP && typeof c.CMP === 'object' && !Array.isArray(c.CMP)
        ? (c.CMP as Record<string, unknown>)
        : 'GDPR' in c
          ? { a: c.GDPR, m: c.GDPR, p: c.GDPR, s: '' }
          : {}
    const categories = dict()
    for (const k of KEYS) {
      const v = flags[k] ?? ''
      if (v !== '1' && v !== '0' && v !== '')
        return fail(
          'bad_value',
          `${FIELD}.con.CMP.${k}`,
          `${FIELD}.con.CMP.${k} is ${JSON.stringify(v)?.slice(0, 20)}, not "1", "0" or ""`,
        )
      if (v !== '') categories[k] = v === '1'
    }
    if (!('a' in flags) && !('m' in flags) && !('p' in flags))
      return fail('missing', `${FIELD}.con.CMP`, `${FIELD}.con has neither CMP nor GDPR`)
    const decided = 'a' in categories || 'm' in categories || 'p' in categories
    return reading(decided ? 'explicit' : 'undecided', categories, {
      saleOptOut: categories.s === false,
      fields: pick(obj.value, ['v', 'reg', 'region', 'consent_id']),
    })
  },
  standard: {
    a: ['storage', 'measurement'],
    m: ['storage', 'advertising'],
    p: ['storage', 'personalization'],
    s: [],
  },
  fixedCategories: true,
}
