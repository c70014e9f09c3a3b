/**
 * Cookie enforcement: which category a cookie name belongs to (rules/cookies.yaml), whether the
 * resolved consent allows it, and the filters the proxy applies to the origin's `Set-Cookie` lines
 * and to the `Cookie` header sent to the origin. Pure: no Workers imports.
 */
import type { CookieCategory, CookiesRules } from '../../rules/concerns/cookies'
import type { SetCookie } from '../../lib/cookies'
import { PURPOSES, type Consent } from '../types'
import { globToRegExp, perRules } from './glob'

/** `gateway`: one of Gatehouse's own cookies, left to the feature that owns it. */
export type CookieClass = CookieCategory | 'all' | 'gateway'

interface Compiled {
  gateway: RegExp | null
  rules: Array<{ test: RegExp; category: CookieCategory }>
  unknown: CookieClass
}

const compile = perRules((rules: CookiesRules): Compiled => ({
  gateway: rules.gatewayCookies.length ? globToRegExp(rules.gatewayCookies) : null,
  rules: rules.categories.map((r) => ({ test: globToRegExp(r.names), category: r.category })),
  unknown: rules.unknown,
}))

/**
 * The category of a cookie name: the gateway's own, the first matching rule, else `unknown`.
 *
 * @example cookieClass('_ga_XYZ', rules.cookies) // 'measurement'
 */
export function cookieClass(name: string, rules: CookiesRules): CookieClass {
  const c = compile(rules)
  if (c.gateway?.test(name)) return 'gateway'
  for (const r of c.rules) if (r.test.test(name)) return r.category
  return c.unknown
}

/**
 * Whether consent allows a cookie of this class. A cookie is storage on the visitor's device, so
 * every non-essential category needs `storage` as well as its own purpose (TCF purpose 1 plus the
 * purpose the cookie serves); `all` needs every purpose.
 */
export function cookieAllowed(cls: CookieClass, consent: Pick<Consent, 'purposes'>): boolean {
  switch (cls) {
    case 'gateway':
    case 'essential':
      return true
    case 'all':
      return PURPOSES.every((p) => consent.purposes[p])
    case 'measurement':
    case 'personalization':
    case 'advertising':
      return consent.purposes.storage && consent.purposes[cls]
  }
}

/**
 * A `Set-Cookie` that deletes the cookie (RFC 6265 section 5.3: Max-Age <= 0 or an Expires in the
 * past). The origin clearing a tracker never needs consent, so deletions always pass.
 */
export function isDeletion(cookie: SetCookie, now: number): boolean {
  let expired = false
  for (const [key, value] of cookie.attributes) {
    const k = key.toLowerCase()
    // Max-Age wins over Expires (RFC 6265 section 5.3 step 3).
    if (k === 'max-age' && typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value) <= 0
    if (k === 'expires' && typeof value === 'string') {
      const t = Date.parse(value)
      if (!Number.isNaN(t) && t <= now) expired = true
    }
  }
  return expired
}

/**
 * The `Cookie` header with every cookie consent does not allow removed; pairs are kept verbatim
 * and in order (duplicates included). Returns null when nothing is left.
 */
export function filterCookieHeader(
  header: string,
  allowed: (name: string) => boolean,
): { value: string | null; dropped: string[] } {
  const kept: string[] = []
  const dropped: string[] = []
  for (const part of header.split(';')) {
    const pair = part.trim()
    if (!pair) continue
    const eq = pair.indexOf('=')
    // RFC 6265bis section 5.6: a pair without '=' is a cookie with an empty name; it is classified
    // like any unnamed cookie (unknown), so it cannot smuggle a tracker past the filter.
    const name = eq < 0 ? '' : pair.slice(0, eq).trim()
    if (!allowed(name)) dropped.push(name)
    else kept.push(pair)
  }
  return { value: kept.length ? kept.join('; ') : null, dropped }
}
