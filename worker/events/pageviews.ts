/**
 * The `pageViews` stage: the gateway records a page view for every proxied HTML page it serves
 * to a visitor with measurement consent, so journeys and triggers work even when the browser
 * script is blocked or fails; and it injects that script (`/v1/beacon.js`) into the page's
 * `<head>`. Recording happens after the response, in `waitUntil`, never on the critical path.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import { fitAfterMeta, nonceAttribute } from '../proxy/csp'
import { BEACON_PATH } from './beacon'
import { recordEvents } from './store'

export interface PageViewOptions {
  /** Inject the beacon script into proxied HTML (default true). */
  injectBeacon?: boolean
}

function wantsHtml(accept: string | undefined): boolean {
  // Browsers navigating send text/html; missing Accept (curl, bots) counts as a page too.
  return accept === undefined || accept.includes('text/html') || accept.includes('*/*')
}

export const pageViews = (opts: PageViewOptions = {}): MiddlewareHandler<AppEnv> =>
  async function pageViews(c, next) {
    const page =
      c.req.method === 'GET' && !c.get('request')?.gatewayRoute && wantsHtml(c.req.header('accept'))
    const measurement = c.get('consent')?.purposes.measurement === true
    if (page && measurement && opts.injectBeacon !== false) {
      const hooks = c.get('hooks')
      // Registered so the response stage can fit the origin's CSP to it: the element gets the
      // page's nonce, or is left out when the enforced policy would block it anyway.
      hooks.externalScripts.push(BEACON_PATH)
      const log = c.get('log')
      const pageUrl = c.get('request')?.url ?? new URL(c.req.url)
      hooks.html.push({
        selector: 'head',
        handler: {
          element(el) {
            if (hooks.blockedScripts.includes(BEACON_PATH)) return
            // Written at `</head>`, after any <meta> policy in the head: those govern it too.
            el.onEndTag((end) => {
              let nonce = hooks.scriptNonce
              if (hooks.metaPolicies.length) {
                const fit = fitAfterMeta(hooks.metaPolicies, BEACON_PATH, nonce, pageUrl)
                if (!fit) {
                  log.warn('csp_blocks_injected_script', {
                    scripts: [{ src: BEACON_PATH, disposition: 'enforce', policy: 'meta' }],
                  })
                  return
                }
                nonce = fit.nonce
              }
              end.before(`<script src="${BEACON_PATH}" defer${nonceAttribute(nonce)}></script>`, {
                html: true,
              })
            })
          },
        },
      })
    }
    await next()

    const stateKey = c.get('identity')?.stateKey ?? null
    if (!page || !measurement || !stateKey) return
    if (c.res.status !== 200 || !(c.res.headers.get('content-type') ?? '').includes('text/html')) return
    const url = c.get('request')?.url ?? new URL(c.req.url)
    const referrer = c.req.header('referer')
    const props: Record<string, unknown> = { path: url.pathname.slice(0, 512) }
    const refHost = referrer ? safeHost(referrer) : null
    // The referrer's host only: its path and query may carry identifiers.
    if (refHost && refHost !== url.host) props.referrerHost = refHost
    const work = recordEvents(c.env, {
      stateKey,
      source: 'gateway',
      purposes: c.get('consent').purposes,
      events: [{ id: `pv:${c.get('requestId')}`, type: 'page_view', ts: Date.now(), props }],
      consentFromVisitor: true,
    }).then((r) => {
      if (!r.ok) c.get('log')?.warn('page_view_not_recorded', { reason: r.error.reason, what: r.error.what })
    })
    try {
      c.executionCtx.waitUntil(work)
    } catch {
      // No execution context (app.request in unit tests): let it run detached.
      void work
    }
  }

function safeHost(url: string): string | null {
  try {
    return new URL(url).host
  } catch {
    return null
  }
}
