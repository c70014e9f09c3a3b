/**
 * Cookie Information: the `CookieInformationConsent` cookie, URL-encoded JSON with the lists
 * `consents_approved` and `consents_denied` of category ids (`cookie_cat_necessary`,
 * `cookie_cat_functional`, `cookie_cat_statistic`, `cookie_cat_marketing`,
 * `cookie_cat_unclassified`). Pure; never throws.
 */
import type { CmpAdapter } from './types'
import { dict, encodedJson, idList, pick, reading } from './parse'

const FIELD = 'CookieInformationConsent'

export const cookieinformation: CmpAdapter = {
  name: 'cookieinformation',
  label: 'Cookie Information',
  cookies: ['CookieInformationConsent'],
  find(cookies) {
    const value = cookies.get('CookieInformationConsent')
    return value ? { from: 'cookie:CookieInformationConsent', raw: value } : null
  },
  parse(raw) {
    const obj = encodedJson(raw, FIELD)
    if (!obj.ok) return obj
    const approved = idList(obj.value.consents_approved, `${FIELD}.consents_approved`)
    if (!approved.ok) return approved
    const denied = idList(obj.value.consents_denied ?? [], `${FIELD}.consents_denied`)
    if (!denied.ok) return denied
    const categories = dict()
    for (const id of denied.value) categories[id] = false
    for (const id of approved.value) if (!(id in categories)) categories[id] = true
    return reading('explicit', categories, {
      fields: pick(obj.value, ['website_uuid', 'timestamp', 'user_uid']),
    })
  },
  standard: {
    cookie_cat_necessary: [],
    cookie_cat_functional: ['storage', 'personalization'],
    cookie_cat_statistic: ['storage', 'measurement'],
    cookie_cat_marketing: ['storage', 'advertising'],
    cookie_cat_unclassified: [],
  },
  fixedCategories: false,
}
