/**
 * Klaro (kiprotect/klaro): the `klaro` cookie (its default `cookieName`), the JSON object of
 * per-service consents `{"<service>": true|false, ...}`, URL-encoded or not. Service names are
 * the site's own (its `services[].name`). Klaro stores it when the visitor saves a choice. Pure;
 * never throws.
 */
import type { CmpAdapter } from './types'
import { booleanMap, encodedJson, reading } from './parse'

const FIELD = 'klaro'

export const klaro: CmpAdapter = {
  name: 'klaro',
  label: 'Klaro',
  cookies: ['klaro'],
  find(cookies) {
    const value = cookies.get('klaro')
    return value ? { from: 'cookie:klaro', raw: value } : null
  },
  parse(raw) {
    const obj = encodedJson(raw, FIELD)
    if (!obj.ok) return obj
    const services = booleanMap(obj.value, FIELD, () => false)
    if (!services.ok) return services
    return reading('explicit', services.value)
  },
  standard: {
    'google-analytics': ['storage', 'measurement'],
    googleAnalytics: ['storage', 'measurement'],
    matomo: ['storage', 'measurement'],
    'google-ads': ['storage', 'advertising'],
    googleAds: ['storage', 'advertising'],
    'facebook-pixel': ['storage', 'advertising'],
    facebookPixel: ['storage', 'advertising'],
  },
  fixedCategories: false,
}
