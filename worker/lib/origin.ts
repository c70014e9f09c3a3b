/**
 * The first-party check for state-changing browser requests (RFC 6454 section 7, the `Origin`
 * header; RFC 9110 section 9.2.1 on unsafe methods). Apps send no `Origin`; a browser always does
 * on a cross-origin POST. `Origin: null` (a sandboxed frame, a `data:` page, some redirects) is an
 * opaque origin: never this site.
 */

/**
 * Whether a request with this `Origin` header may change state on `host`.
 *
 * @example
 *   firstPartyOrigin(undefined, 'shop.example')              // true: an app, no Origin
 *   firstPartyOrigin('https://shop.example', 'shop.example') // true
 *   firstPartyOrigin('null', 'shop.example')                 // false: an opaque origin
 */
export function firstPartyOrigin(origin: string | undefined, host: string): boolean {
  if (origin === undefined) return true
  try {
    return new URL(origin).host === host
  } catch {
    // `null` and anything else that is not a URL.
    return false
  }
}
