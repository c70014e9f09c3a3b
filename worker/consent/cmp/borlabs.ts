/**
 * Borlabs Cookie (WordPress): the `borlabs-cookie` cookie, URL-encoded JSON whose `consents`
 * object lists, per ACCEPTED service group (`essential`, `statistics`, `marketing`,
 * `external-media`, or the site's own), the accepted service ids. A group it does not list was
 * refused. Pure; never throws.
 */
import type { CmpAdapter } from './types'
import { CATEGORY_ID, dict, encodedJson, fail, MAX_ENTRIES, pick, reading } from './parse'

const FIELD = 'borlabs-cookie'

export const borlabs: CmpAdapter = {
  name: 'borlabs',
  label: 'Borlabs Cookie',
  cookies: ['borlabs-cookie'],
  find(cookies) {
    const value = cookies.get('borlabs-cookie')
    return value ? { from: 'cookie:borlabs-cookie', raw: value } : null
  },
  parse(raw) {
    const obj = encodedJson(raw, FIELD)
    if (!obj.ok) return obj
    const consents = obj.value.consents
    if (consents === null || typeof consents !== 'object' || Array.isArray(consents))
      return fail('missing', `${FIELD}.consents`, `${FIELD} has no consents object`)
    const groups = Object.entries(consents as Record<string, unknown>)
    if (groups.length > MAX_ENTRIES)
      return fail('too_many', `${FIELD}.consents`, `${FIELD}.consents has over ${MAX_ENTRIES} groups`)
    const categories = dict()
    for (const [group, services] of groups) {
      if (!CATEGORY_ID.test(group) || !Array.isArray(services))
        return fail(
          'bad_value',
          `${FIELD}.consents`,
          `${FIELD}.consents entry ${JSON.stringify(group.slice(0, 40))} is not a group with a service list`,
        )
      categories[group] = true
    }
    return reading('explicit', categories, {
      listsAcceptedOnly: true,
      fields: pick(obj.value, ['uid', 'version', 'expires', 'domainPath']),
    })
  },
  standard: {
    essential: [],
    statistics: ['storage', 'measurement'],
    marketing: ['storage', 'advertising'],
    'external-media': ['storage', 'personalization'],
  },
  fixedCategories: false,
}
