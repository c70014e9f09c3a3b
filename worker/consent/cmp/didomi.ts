/**
 * Didomi: the `didomi_token` cookie, base64 of a JSON object
 * `{"user_id":"...","created":"...","updated":"...","vendors":{"enabled":[],"disabled":[]},"purposes":{"enabled":["cookies","analytics"],"disabled":["select_basic_ads"]},"version":2}`.
 * Purpose ids are Didomi's names for the IAB purposes (`cookies`, `select_basic_ads`,
 * `create_ads_profile`, ...) plus the site's custom purposes. Pure; never throws.
 */
import type { CmpAdapter } from './types'
import { bounded, dict, fail, idList, jsonObject, pick, reading } from './parse'

const FIELD = 'didomi_token'

function base64Text(s: string): string | null {
  const std = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '')
  if (!/^[A-Za-z0-9+/]*$/.test(std) || std.length % 4 === 1) return null
  try {
    const bin = atob(std + '='.repeat((4 - (std.length % 4)) % 4))
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(
      Uint8Array.from(bin, (c) => c.charCodeAt(0)),
    )
  } catch {
    return null
  }
}

export const didomi: CmpAdapter = {
  name: 'didomi',
  label: 'Didomi',
  cookies: ['didomi_token'],
  find(cookies) {
    const value = cookies.get('didomi_token')
    return value ? { from: 'cookie:didomi_token', raw: value } : null
  },
  parse(raw) {
    const b = bounded(raw, FIELD)
    if (!b.ok) return b
    const text = base64Text(b.value)
    if (text === null) return fail('bad_base64', FIELD, `${FIELD} is not base64`)
    const obj = jsonObject(text, FIELD)
    if (!obj.ok) return obj
    const purposes = obj.value.purposes
    if (purposes === null || typeof purposes !== 'object' || Array.isArray(purposes))
      return fail('missing', `${FIELD}.purposes`, `${FIELD} has no purposes object`)
    const p = purposes as Record<string, unknown>
    const enabled = idList(p.enabled ?? [], `${FIELD}.purposes.enabled`)
    if (!enabled.ok) return enabled
    const disabled = idList(p.disabled ?? [], `${FIELD}.purposes.disabled`)
    if (!disabled.ok) return disabled
    const categories = dict()
    for (const id of disabled.value) categories[id] = false
    // A purpose listed both ways is refused: the disabled list wins.
    for (const id of enabled.value) if (!(id in categories)) categories[id] = true
    const decided = enabled.value.length + disabled.value.length > 0
    return reading(decided ? 'explicit' : 'undecided', categories, {
      fields: pick(obj.value, ['user_id', 'created', 'updated', 'version']),
    })
  },
  standard: {
    cookies: ['storage'],
    select_basic_ads: ['advertising'],
    create_ads_profile: ['advertising'],
    select_personalized_ads: ['advertising'],
    create_content_profile: ['personalization'],
    select_personalized_content: ['personalization'],
    measure_ad_performance: ['measurement'],
    measure_content_performance: ['measurement'],
    market_research: ['measurement'],
    improve_products: [],
  },
  fixedCategories: false,
}
