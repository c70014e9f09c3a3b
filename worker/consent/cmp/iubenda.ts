/**
 * iubenda Cookie Solution: the `_iub_cs-<siteId>` cookie, URL-encoded JSON
 * `{"timestamp":"...","version":"...","purposes":{"1":true,"2":false,"3":true,"4":false,"5":false},"id":<siteId>}`.
 * Purposes: 1 strictly necessary, 2 basic interactions and functionalities, 3 experience
 * enhancement, 4 measurement, 5 targeting and advertising. Without per-purpose preferences the
 * older form has one `consent` boolean. Written when the visitor chooses. Pure; never throws.
 */
import type { CmpAdapter } from './types'
import { dict, encodedJson, fail, pick, reading } from './parse'

const PURPOSES = ['1', '2', '3', '4', '5'] as const
const NAME = /^_iub_cs-[A-Za-z0-9]{1,32}$/

export const iubenda: CmpAdapter = {
  name: 'iubenda',
  label: 'iubenda',
  cookies: ['_iub_cs-*'],
  find(cookies) {
    for (const [name, value] of cookies) {
      if (value && NAME.test(name)) return { from: `cookie:${name}`, raw: value }
    }
    return null
  },
  parse(raw) {
    const FIELD = '_iub_cs'
    const obj = encodedJson(raw, FIELD)
    if (!obj.ok) return obj
    const o = obj.value
    const categories = dict()
    if (o.purposes !== undefined) {
      const p = o.purposes
      if (p === null || typeof p !== 'object' || Array.isArray(p))
        return fail('bad_value', `${FIELD}.purposes`, `${FIELD}.purposes is not an object`)
      for (const id of PURPOSES) {
        const v = (p as Record<string, unknown>)[id]
        if (v === undefined) continue
        if (typeof v !== 'boolean')
          return fail('bad_value', `${FIELD}.purposes.${id}`, `${FIELD}.purposes.${id} is not true or false`)
        categories[id] = v
      }
    } else if (typeof o.consent === 'boolean') {
      for (const id of PURPOSES) categories[id] = id === '1' || o.consent
    } else return fail('missing', `${FIELD}.purposes`, `${FIELD} has neither purposes nor consent`)
    return reading('explicit', categories, { fields: pick(o, ['timestamp', 'version', 'id']) })
  },
  standard: {
    '1': [],
    '2': ['storage'],
    '3': ['storage', 'personalization'],
    '4': ['storage', 'measurement'],
    '5': ['storage', 'advertising'],
  },
  fixedCategories: true,
}
