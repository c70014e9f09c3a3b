/**
 * vanilla-cookieconsent v3 (orestbida/cookieconsent): the `cc_cookie` cookie,
 * `encodeURIComponent(JSON.stringify(value))` where value is `{ categories, revision, data,
 * consentTimestamp, consentId, services, languageCode, lastConsentTimestamp, expirationTime }`
 * (its `CookieValue` type). `categories` lists the ACCEPTED categories only; the category names are
 * the site's. The library writes the cookie only once the visitor chose, and treats a value without
 * `consentId`, both timestamps and a `categories` array as no valid consent. Pure; never throws.
 */
import type { CmpAdapter } from './types'
import { dict, encodedJson, fail, idList, pick, reading } from './parse'

const FIELD = 'cc_cookie'

export const vanillaCookieconsent: CmpAdapter = {
  name: 'vanilla-cookieconsent',
  label: 'vanilla-cookieconsent',
  cookies: ['cc_cookie'],
  find(cookies) {
    const value = cookies.get('cc_cookie')
    return value ? { from: 'cookie:cc_cookie', raw: value } : null
  },
  parse(raw) {
    const obj = encodedJson(raw, FIELD)
    if (!obj.ok) return obj
    const o = obj.value
    for (const k of ['consentId', 'consentTimestamp', 'lastConsentTimestamp'])
      if (typeof o[k] !== 'string' || o[k] === '')
        return fail('missing', `${FIELD}.${k}`, `${FIELD} has no ${k}, so it records no valid consent`)
    const list = idList(o.categories, `${FIELD}.categories`)
    if (!list.ok) return list
    const categories = dict()
    for (const c of list.value) categories[c] = true
    return reading('explicit', categories, {
      listsAcceptedOnly: true,
      fields: pick(o, ['revision', 'consentId', 'consentTimestamp', 'lastConsentTimestamp', 'languageCode']),
    })
  },
  standard: {
    necessary: [],
    analytics: ['storage', 'measurement'],
    functionality: ['storage', 'personalization'],
    preferences: ['storage', 'personalization'],
    marketing: ['storage', 'advertising'],
    ads: ['storage', 'advertising'],
    advertising: ['storage', 'advertising'],
  },
  fixedCategories: false,
}
