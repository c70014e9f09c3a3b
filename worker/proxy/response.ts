/**
 * The `response` stage: turns what the origin stage returned into what the visitor gets.
 *
 * - `Location` / `Content-Location` on the origin's host point at the public host instead.
 * - Each `Set-Cookie` line is handled on its own (never folded): Domain rewritten from the
 *   origin's host to the public host, then the stages' filters (`hooks.setCookie`) may drop it;
 *   the gateway's own cookies (`hooks.cookies`) are appended.
 * - `hooks.responseHeaders` are appended.
 * - HTML (`text/html`) runs through HTMLRewriter with `hooks.html` / `hooks.htmlDocument`;
 *   anything else streams through byte for byte.
 * - A personalised response (`hooks.personalised`) gets `Cache-Control: private, no-store`, and
 *   its `ETag` and `Expires` are removed, so no shared cache or browser cache keeps it.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import type { RuleSet } from '../rules'
import { parseOrigin } from './target'
import { processSetCookies, rewriteLocation } from './rewrite'

export interface ResponseOptions {
  rules: RuleSet
}

/** The exact marking for personalised responses (docs/architecture.md). */
export const PERSONALISED_CACHE_CONTROL = 'private, no-store'

export const response = ({ rules }: ResponseOptions): MiddlewareHandler<AppEnv> =>
  async function response(c, next) {
    await next()
    let res = c.res
    // A switched protocol (WebSocket) has no HTTP body or cookies left to shape.
    if (res.status === 101 || res.webSocket) return

    const hooks = c.get('hooks')
    const publicUrl = c.get('request').url
    const configured = configuredOrigin(c.env.ORIGIN_URL || rules.site.origin)
    // The origin stage and the fallbacks build their own responses, whose headers can be changed
    // in place; a response with immutable headers (straight from fetch) is copied once. The probe
    // write is one the context stage makes anyway.
    let headers = res.headers
    let copied = false
    try {
      headers.set('x-request-id', c.get('requestId'))
    } catch {
      headers = new Headers(res.headers)
      copied = true
    }

    if (configured.ok) {
      for (const name of ['location', 'content-location']) {
        const value = headers.get(name)
        if (value) headers.set(name, rewriteLocation(value, configured.value, publicUrl))
      }
    }

    const lines = headers.getSetCookie()
    if (lines.length || hooks.setCookie.length || hooks.cookies.length) {
      headers.delete('set-cookie')
      const outcome = processSetCookies(
        lines,
        hooks.setCookie,
        configured.ok ? configured.value.hostname : publicUrl.hostname,
        publicUrl.hostname,
      )
      for (const line of outcome.kept) headers.append('set-cookie', line)
      for (const line of hooks.cookies) headers.append('set-cookie', line)
      if (outcome.dropped.length || outcome.malformed) {
        c.get('log').info('set_cookie_filtered', { dropped: outcome.dropped, malformed: outcome.malformed })
      }
    }

    for (const [name, value] of hooks.responseHeaders) headers.append(name, value)

    if (hooks.personalised) {
      headers.set('cache-control', PERSONALISED_CACHE_CONTROL)
      headers.delete('expires')
      headers.delete('etag')
    }

    const html = (headers.get('content-type') ?? '').toLowerCase().includes('text/html')
    const rewrite = html && res.body !== null && (hooks.html.length > 0 || hooks.htmlDocument.length > 0)
    if (rewrite) {
      // The body changes, so validators and the length the origin computed no longer describe it.
      headers.delete('etag')
      headers.delete('content-length')
    }
    if (!copied && !rewrite) return
    if (copied) res = new Response(res.body, { status: res.status, statusText: res.statusText, headers })
    if (rewrite) {
      let rewriter = new HTMLRewriter()
      for (const h of hooks.html) rewriter = rewriter.on(h.selector, h.handler)
      for (const d of hooks.htmlDocument) rewriter = rewriter.onDocument(d)
      res = rewriter.transform(res)
    }
    // Hono's `c.res` setter merges the old response's headers into the new one, which would
    // bring back every header removed above; clearing it first makes this a plain replacement.
    c.res = undefined
    c.res = res
  }

// The configured origin only changes with a new deployment: parse it once per value.
let lastOrigin: { value: string; parsed: ReturnType<typeof parseOrigin> } | null = null
function configuredOrigin(value: string): ReturnType<typeof parseOrigin> {
  if (lastOrigin?.value !== value) lastOrigin = { value, parsed: parseOrigin(value) }
  return lastOrigin.parsed
}
