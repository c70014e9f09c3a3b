/**
 * Rewrites that make the origin's answers point at the public host: `Location` /
 * `Content-Location` URLs on the origin's host, and the `Domain` attribute of its cookies.
 * Pure: no Workers imports.
 */
import { parseSetCookie, serializeSetCookie, type SetCookie } from '../lib/cookies'

/**
 * Rewrites a Location-style URL (RFC 9110 section 10.2.2) that points at the origin so it points
 * at the public host instead. Relative references and other hosts are returned unchanged.
 *
 * @example rewriteLocation('http://127.0.0.1:8788/cart', origin, new URL('https://shop.example/'))
 *          // -> 'https://shop.example/cart'
 */
export function rewriteLocation(value: string, origin: URL, publicUrl: URL): string {
  const trimmed = value.trim()
  // Only absolute or scheme-relative references can name the origin's host.
  if (!/^(?:[a-z][a-z0-9+.-]*:)?\/\//i.test(trimmed)) return value
  let url: URL
  try {
    url = new URL(trimmed, origin)
  } catch {
    return value
  }
  if (url.origin !== origin.origin) return value
  // Rebuilt from parts: the URL host setter keeps the old port when the new host has none.
  return publicUrl.origin + url.pathname + url.search + url.hash
}

/** true when `domain` (a cookie Domain attribute value) names `host` itself (RFC 6265 5.2.3 drops a leading dot). */
function namesHost(domain: string, host: string): boolean {
  return domain.replace(/^\./, '').toLowerCase() === host.toLowerCase()
}

/**
 * Rewrites a cookie's `Domain` attribute from the origin's host name to the public host name, so
 * the browser accepts it for the site it is actually on. Cookies for other domains are left alone.
 */
export function rewriteCookieDomain(cookie: SetCookie, originHost: string, publicHost: string): SetCookie {
  if (originHost.toLowerCase() === publicHost.toLowerCase()) return cookie
  let changed = false
  const attributes = cookie.attributes.map(([key, value]): [string, string | true] => {
    if (key.toLowerCase() === 'domain' && typeof value === 'string' && namesHost(value, originHost)) {
      changed = true
      return [key, publicHost]
    }
    return [key, value]
  })
  if (!changed) return cookie
  const next = { name: cookie.name, value: cookie.value, attributes }
  return { ...next, raw: serializeSetCookie(next) }
}

export interface SetCookieOutcome {
  /** Lines to send, in the origin's order. */
  kept: string[]
  /** Names of cookies a filter dropped (for the log; values never leave this function). */
  dropped: string[]
  /** Lines that were not cookies at all (no name), dropped. */
  malformed: number
}

/**
 * Applies the Domain rewrite and the stages' filters to each `Set-Cookie` line separately.
 * A filter returning false drops that cookie; a line without a cookie name is dropped.
 */
export function processSetCookies(
  lines: string[],
  filters: Array<(cookie: SetCookie) => boolean>,
  originHost: string,
  publicHost: string,
): SetCookieOutcome {
  const outcome: SetCookieOutcome = { kept: [], dropped: [], malformed: 0 }
  for (const line of lines) {
    const parsed = parseSetCookie(line)
    if (!parsed) {
      outcome.malformed++
      continue
    }
    const cookie = rewriteCookieDomain(parsed, originHost, publicHost)
    if (filters.every((keep) => keep(cookie))) outcome.kept.push(cookie.raw)
    else outcome.dropped.push(cookie.name)
  }
  return outcome
}
