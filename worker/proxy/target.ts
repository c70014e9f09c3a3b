/**
 * Where a proxied request goes: always the one configured origin, with the client's path and
 * query. Requests that try to make the gateway reach another host are refused (an open proxy
 * would let anyone relay traffic through the site's domain). Pure: no Workers imports.
 */

export type TargetError = { reason: 'bad_origin'; detail: string } | { reason: 'open_proxy'; detail: string }

export type TargetResult = { ok: true; value: URL } | { ok: false; error: TargetError }

// Paths a relay client uses to name another host: `//evil.com/x` (scheme-relative, a classic
// open-redirect/open-proxy vector when joined with `new URL(path, base)`), `/\evil.com`
// (browsers treat `\` as `/`), and `/http://evil.com/` (absolute URL in the path).
const SCHEME_RELATIVE = /^\/[/\\]/
const URL_IN_PATH = /^\/+(?:https?|wss?|ftp):[/\\]{2}/i

/** Parses the configured origin (ORIGIN_URL or site.origin): http(s), no credentials, path ignored. */
export function parseOrigin(value: string): { ok: true; value: URL } | { ok: false; error: TargetError } {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return { ok: false, error: { reason: 'bad_origin', detail: 'the configured origin is not a URL' } }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return {
      ok: false,
      error: { reason: 'bad_origin', detail: 'the configured origin must be http or https' },
    }
  }
  if (url.username || url.password) {
    return {
      ok: false,
      error: { reason: 'bad_origin', detail: 'the configured origin must not carry credentials' },
    }
  }
  return { ok: true, value: new URL(url.origin) }
}

/**
 * Builds the origin URL for a client request, or says why the request is an open-proxy attempt.
 *
 * @param origin the configured origin (from `parseOrigin`)
 * @param requestUrl the URL the Worker received
 * @example buildTarget(new URL('http://127.0.0.1:8788'), new URL('https://shop.example/cart?x=1'))
 *          // -> http://127.0.0.1:8788/cart?x=1
 */
export function buildTarget(origin: URL, requestUrl: URL): TargetResult {
  const path = requestUrl.pathname
  if (SCHEME_RELATIVE.test(path) || URL_IN_PATH.test(path)) {
    return { ok: false, error: { reason: 'open_proxy', detail: 'the path names another host' } }
  }
  // Whatever host the request names (an absolute-form target, RFC 9112 section 3.2.2, or any
  // Host header) is never a destination: the request goes to the configured origin regardless.
  // Refusing on a mismatch is not possible either: Miniflare's dispatchFetch, service bindings
  // and some CDN setups legitimately deliver a URL whose host differs from the Host header.
  // Built by assignment, never by joining strings or resolving a relative reference, so nothing
  // in the client's path or query can change the scheme, host, port or credentials.
  const target = new URL(origin.href)
  target.pathname = path
  target.search = requestUrl.search
  if (target.origin !== origin.origin) {
    return {
      ok: false,
      error: { reason: 'open_proxy', detail: 'the request would leave the configured origin' },
    }
  }
  return { ok: true, value: target }
}
