/**
 * Cookiebot: the `CookieConsent` cookie, a URL-encoded JavaScript object literal (not JSON:
 * unquoted keys, single-quoted strings), e.g.
 * `{stamp:'...',necessary:true,preferences:false,statistics:true,marketing:false,method:'explicit',ver:1,utc:1700000000000,region:'de'}`.
 * `method` is `explicit` or `implied`; `-1` (legacy, or `stamp:'-1'`) means the visitor's region
 * needs no consent; `0` (legacy) means declined. With TCF enabled the TC string is in `iab2`.
 * Pure; never throws.
 */
import type { DecodeResult } from '../types'
import type { CmpAdapter } from './types'
import { bounded, dict, fail, MAX_ENTRIES, percentDecode, reading } from './parse'

const FIELD = 'CookieConsent'
const CATEGORIES = ['necessary', 'preferences', 'statistics', 'marketing'] as const
const TC_STRING = /^[A-Za-z0-9_.-]{1,2048}$/

type Scalar = string | number | boolean

/** Reads `{key:value,...}` with values 'string', true, false or a number. */
export function objectLiteral(text: string): DecodeResult<Record<string, Scalar>> {
  const out = Object.create(null) as Record<string, Scalar>
  let i = 0
  const bad = (what: string) =>
    fail('bad_syntax', FIELD, `${FIELD} is not an object literal: ${what} at ${i}`)
  const space = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++
  }
  space()
  if (text[i] !== '{') return bad("expected '{'")
  i++
  space()
  if (text[i] === '}') return { ok: true, value: out }
  for (let n = 0; n < MAX_ENTRIES; n++) {
    space()
    const k = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}/.exec(text.slice(i, i + 64))
    if (!k) return bad('expected a key')
    i += k[0].length
    space()
    if (text[i] !== ':') return bad("expected ':'")
    i++
    space()
    let v: Scalar
    if (text[i] === "'") {
      const end = text.indexOf("'", i + 1)
      if (end < 0) return bad('unterminated string')
      v = text.slice(i + 1, end)
      i = end + 1
    } else {
      const m = /^(true|false|-?\d{1,16}(\.\d{1,16})?)/.exec(text.slice(i, i + 40))
      if (!m) return bad('expected a value')
      v = m[1] === 'true' ? true : m[1] === 'false' ? false : Number(m[1])
      i += m[0].length
    }
    out[k[0]] = v
    space()
    if (text[i] === '}') {
      i++
      space()
      return i === text.length ? { ok: true, value: out } : bad('text after the object')
    }
    if (text[i] !== ',') return bad("expected ',' or '}'")
    i++
  }
  return fail('too_many', FIELD, `${FIELD} has over ${MAX_ENTRIES} keys`)
}

export const cookiebot: CmpAdapter = {
  name: 'cookiebot',
  label: 'Cookiebot',
  cookies: ['CookieConsent'],
  find(cookies) {
    const value = cookies.get('CookieConsent')
    return value ? { from: 'cookie:CookieConsent', raw: value } : null
  },
  parse(raw) {
    const b = bounded(raw, FIELD)
    if (!b.ok) return b
    const text = percentDecode(b.value, FIELD)
    if (!text.ok) return text
    const all = (on: boolean) => {
      const c = dict()
      for (const k of CATEGORIES) c[k] = on
      return c
    }
    if (text.value === '-1') return reading('not-required', all(true), { fields: { stamp: '-1' } })
    if (text.value === '0')
      return reading('explicit', { ...all(false), necessary: true }, { fields: { legacy: '0' } })
    const obj = objectLiteral(text.value)
    if (!obj.ok) return obj
    const o = obj.value
    const categories = dict()
    for (const k of CATEGORIES) {
      if (o[k] === undefined) continue
      if (typeof o[k] !== 'boolean')
        return fail('bad_value', `${FIELD}.${k}`, `${FIELD}.${k} is not true or false`)
      categories[k] = o[k]
    }
    if (!('preferences' in categories && 'statistics' in categories && 'marketing' in categories))
      return fail('missing', FIELD, `${FIELD} lacks preferences, statistics or marketing`)
    const method = o.method ?? 'explicit'
    if (method !== 'explicit' && method !== 'implied')
      return fail(
        'bad_value',
        `${FIELD}.method`,
        `${FIELD}.method is ${JSON.stringify(method)}, not explicit or implied`,
      )
    const fields: Record<string, Scalar> = {}
    for (const k of ['stamp', 'method', 'ver', 'utc', 'region'] as const) {
      const v = o[k]
      if (v !== undefined) fields[k] = typeof v === 'string' ? v.slice(0, 64) : v
    }
    const iab2 = o.iab2
    const tcString = typeof iab2 === 'string' && TC_STRING.test(iab2) ? iab2 : undefined
    const state = o.stamp === '-1' ? 'not-required' : method
    return reading(state, categories, { fields, ...(tcString ? { tcString } : {}) })
  },
  standard: {
    necessary: [],
    preferences: ['storage', 'personalization'],
    statistics: ['storage', 'measurement'],
    marketing: ['storage', 'advertising'],
  },
  fixedCategories: true,
}
