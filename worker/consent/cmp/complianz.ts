/**
 * Complianz (WordPress): one cookie per category, `cmplz_<category>` = `allow` | `deny`
 * (`cmplz_functional`, `cmplz_preferences`, `cmplz_statistics`, `cmplz_statistics-anonymous`,
 * `cmplz_marketing`), written when the visitor chooses. The category cookies are read together as
 * `category=value&...` in name order. Pure; never throws.
 */
import type { CmpAdapter } from './types'
import { bounded, dict, fail, reading } from './parse'

const FIELD = 'cmplz_*'
const CATEGORIES = ['functional', 'preferences', 'statistics', 'statistics-anonymous', 'marketing'] as const

export const complianz: CmpAdapter = {
  name: 'complianz',
  label: 'Complianz',
  cookies: CATEGORIES.map((c) => `cmplz_${c}`),
  find(cookies) {
    const parts: string[] = []
    for (const c of CATEGORIES) {
      const v = cookies.get(`cmplz_${c}`)
      if (v !== undefined) parts.push(`${c}=${v.slice(0, 64)}`)
    }
    return parts.length ? { from: 'cookie:cmplz_*', raw: parts.join('&') } : null
  },
  parse(raw) {
    const b = bounded(raw, FIELD)
    if (!b.ok) return b
    const categories = dict()
    for (const part of b.value.split('&')) {
      const at = part.indexOf('=')
      const name = part.slice(0, at)
      const value = part.slice(at + 1)
      if (!(CATEGORIES as readonly string[]).includes(name))
        return fail(
          'bad_syntax',
          FIELD,
          `not a Complianz category cookie: ${JSON.stringify(name.slice(0, 40))}`,
        )
      if (value !== 'allow' && value !== 'deny')
        return fail(
          'bad_value',
          `cmplz_${name}`,
          `cmplz_${name} is ${JSON.stringify(value.slice(0, 20))}, not allow or deny`,
        )
      categories[name] = value === 'allow'
    }
    return reading('explicit', categories)
  },
  standard: {
    functional: [],
    preferences: ['storage', 'personalization'],
    statistics: ['storage', 'measurement'],
    'statistics-anonymous': ['storage', 'measurement'],
    marketing: ['storage', 'advertising'],
  },
  fixedCategories: true,
}
