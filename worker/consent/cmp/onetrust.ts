/**
 * OneTrust: the `OptanonConsent` cookie, a URL-encoded query string
 * (`isGpcEnabled=0&datestamp=...&version=...&interactionCount=1&groups=C0001%3A1%2CC0002%3A0&geolocation=DE%3BBE`).
 * `groups` lists each consent group as `<id>:<1|0>`; group ids are the site's own (C0001 strictly
 * necessary, C0002 performance, C0003 functional, C0004 targeting, C0005 social media by default).
 * `OptanonAlertBoxClosed` (a date) is set once the banner was closed. Pure; never throws.
 */
import type { CmpAdapter, CmpReading } from './types'
import { bounded, CATEGORY_ID, dict, fail, MAX_ENTRIES, percentDecode, reading } from './parse'

const FIELD = 'OptanonConsent'
const REPORTED = [
  'version',
  'datestamp',
  'consentId',
  'interactionCount',
  'geolocation',
  'isIABGlobal',
  'AwaitingReconsent',
]

export const onetrust: CmpAdapter = {
  name: 'onetrust',
  label: 'OneTrust',
  cookies: ['OptanonConsent', 'OptanonAlertBoxClosed'],
  // The first character carries whether `OptanonAlertBoxClosed` is present: the two cookies are read
  // as one, and one cache entry covers both.
  find(cookies) {
    const value = cookies.get('OptanonConsent')
    if (!value) return null
    return { from: 'cookie:OptanonConsent', raw: (cookies.get('OptanonAlertBoxClosed') ? '1' : '0') + value }
  },
  parse(raw) {
    const closed = raw.startsWith('1')
    const b = bounded(raw.slice(1), FIELD)
    if (!b.ok) return b
    // OneTrust writes the query string as is; a proxy or app that encoded the whole value is read too.
    const whole = !b.value.includes('=') && b.value.includes('%3D') ? percentDecode(b.value, FIELD) : b
    if (!whole.ok) return whole
    const params = new URLSearchParams(whole.value)
    const groups = params.get('groups')
    if (groups === null) return fail('missing', `${FIELD}.groups`, `${FIELD} has no groups parameter`)
    const categories = dict()
    const entries = groups === '' ? [] : groups.split(',')
    if (entries.length > MAX_ENTRIES)
      return fail('too_many', `${FIELD}.groups`, `${FIELD}.groups has over ${MAX_ENTRIES} groups`)
    for (const entry of entries) {
      const at = entry.lastIndexOf(':')
      const id = entry.slice(0, at)
      const flag = entry.slice(at + 1)
      if (at < 1 || !CATEGORY_ID.test(id) || (flag !== '0' && flag !== '1'))
        return fail(
          'bad_value',
          `${FIELD}.groups`,
          `${FIELD}.groups entry ${JSON.stringify(entry.slice(0, 40))} is not <group>:<0|1>`,
        )
      categories[id] = flag === '1'
    }
    const count = params.get('interactionCount')
    const interactions = count === null ? null : Number(count)
    if (interactions !== null && !(Number.isInteger(interactions) && interactions >= 0))
      return fail('bad_value', `${FIELD}.interactionCount`, `${FIELD}.interactionCount is not a count`)
    const fields: CmpReading['fields'] = {}
    for (const k of REPORTED) {
      const v = params.get(k)
      if (v !== null) fields[k] = v.slice(0, 64)
    }
    // A choice was made once the banner was closed or the visitor interacted; groups switched on
    // without that are OneTrust's implied-consent (or opt-out) model, and all-off is no choice yet.
    const decided = closed || (interactions ?? 0) > 0
    const anyOn = Object.entries(categories).some(([id, on]) => on && id !== 'C0001')
    return reading(decided ? 'explicit' : anyOn ? 'implied' : 'undecided', categories, {
      gpc: params.get('isGpcEnabled') === '1',
      fields,
    })
  },
  standard: {
    C0001: [],
    C0002: ['storage', 'measurement'],
    C0003: ['storage', 'personalization'],
    C0004: ['storage', 'advertising'],
    C0005: ['storage', 'advertising'],
  },
  fixedCategories: false,
}
