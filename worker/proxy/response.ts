/**
 * The `response` stage: turns what the origin stage returned into what the visitor gets.
 *
 * - `Location` / `Content-Location` on the origin's host point at the public host instead.
 * - Each `Set-Cookie` line is handled on its own (never folded): Domain rewritten from the
 *   origin's host to the public host, then the stages' filters (`hooks.setCookie`) may drop it;
 *   the gateway's own cookies (`hooks.cookies`) are appended.
 * - `hooks.responseHeaders` are appended.
 * - HTML (`text/html`) runs through HTMLRewriter with `hooks.html` / `hooks.htmlDocument`;
 *   anything else streams through byte for byte. When the page injects scripts and the origin
 *   sent a Content-Security-Policy (or its Report-Only form), the policy is fitted to them first
 *   (worker/proxy/csp.ts): the hooks learn the nonce to use and which scripts to leave out.
 * - A personalised response (`hooks.personalised`) gets `Cache-Control: private, no-store`, and
 *   its `ETag` and `Expires` are removed, so no shared cache or browser cache keeps it.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import type { RuleSet } from '../rules'
import type { Logger } from '../lib/log'
import { planScripts } from './csp'
import { mergeBySelector, type HtmlHook, type ResponseHooks } from './hooks'
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
      if (hooks.inlineScripts.length || hooks.externalScripts.length)
        fitCsp(headers, hooks, publicUrl, c.get('log'))
      if (hooks.externalScripts.length) hooks.html.push(collectMetaPolicies(hooks))
    }
    if (!copied && !rewrite) return
    if (copied) res = new Response(res.body, { status: res.status, statusText: res.statusText, headers })
    if (rewrite) {
      let rewriter = new HTMLRewriter()
      for (const h of mergeBySelector(hooks.html)) rewriter = rewriter.on(h.selector, h.handler)
      for (const d of hooks.htmlDocument) rewriter = rewriter.onDocument(d)
      res = rewriter.transform(res)
    }
    // Hono's `c.res` setter merges the old response's headers into the new one, which would
    // bring back every header removed above; clearing it first makes this a plain replacement.
    c.res = undefined
    c.res = res
  }

const CSP = 'content-security-policy'
const CSP_REPORT_ONLY = 'content-security-policy-report-only'

/** Lets the injected scripts run under the origin's CSP; a page without one pays two header reads. */
function fitCsp(headers: Headers, hooks: ResponseHooks, page: URL, log: Logger): void {
  const enforce = headers.get(CSP)
  const reportOnly = headers.get(CSP_REPORT_ONLY)
  if (enforce === null && reportOnly === null) return
  const plan = planScripts(
    { enforce, reportOnly },
    { inline: hooks.inlineScripts, external: hooks.externalScripts },
    page,
  )
  hooks.scriptNonce = plan.nonce
  // One header with the policies comma-separated is the same policy list as repeated headers.
  if (plan.enforce !== enforce && plan.enforce !== null) headers.set(CSP, plan.enforce)
  if (plan.reportOnly !== reportOnly && plan.reportOnly !== null)
    headers.set(CSP_REPORT_ONLY, plan.reportOnly)
  if (plan.blocked.length === 0) return
  // A script the enforced policy blocks could not run: it is left out, rather than adding a
  // console error and a violation report to every page. One the Report-Only policy would report
  // still runs. Either way the operator learns why, once per page.
  hooks.blockedScripts = plan.blocked.filter((b) => b.disposition === 'enforce').map((b) => b.src)
  log.warn('csp_blocks_injected_script', { scripts: plan.blocked })
}

/**
 * Collects the page's `<meta http-equiv="Content-Security-Policy">` values into
 * `hooks.metaPolicies` as the rewriter passes them, for the hooks that append scripts after them.
 */
function collectMetaPolicies(hooks: ResponseHooks): HtmlHook {
  return {
    selector: 'meta[http-equiv]',
    handler: {
      element(el) {
        if (el.getAttribute('http-equiv')?.trim().toLowerCase() !== CSP) return
        const content = el.getAttribute('content')
        if (content) hooks.metaPolicies.push(content)
      },
    },
  }
}

// The configured origin only changes with a new deployment: parse it once per value.
let lastOrigin: { value: string; parsed: ReturnType<typeof parseOrigin> } | null = null
function configuredOrigin(value: string): ReturnType<typeof parseOrigin> {
  if (lastOrigin?.value !== value) lastOrigin = { value, parsed: parseOrigin(value) }
  return lastOrigin.parsed
}
