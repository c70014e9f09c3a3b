/**
 * The `origin` stage: the reverse proxy. Every method goes to the one configured origin with the
 * client's path and query; bodies stream both ways; hop-by-hop and gateway-only headers are
 * removed and X-Forwarded-* set; WebSocket upgrades pass through. Each origin request has a time
 * budget, and a GET that fails gets the last good copy or the fallback page (fallback.ts).
 *
 * What is stored as a good copy is the origin's response as it arrived, before the `response`
 * stage personalises it, so a personalised page is never replayed to someone else.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { runInBackground } from '../context/background'
import type { AppEnv } from '../env'
import { ProblemError } from '../lib/problem'
import type { RuleSet } from '../rules'
import type { SiteRules } from '../rules/concerns/site'
import { decideCopy } from './cache-policy'
import {
  acceptsHtml,
  claimCopyRefresh,
  copyRefreshDue,
  fallbackPage,
  findCopy,
  storeCopy,
  type OriginFailure,
} from './fallback'
import { clientResponseHeaders, isWebSocketUpgrade, originRequestHeaders } from './headers'
import { buildTarget, parseOrigin } from './target'

export interface OriginOptions {
  rules: RuleSet
}

/** The abort reason when the time budget runs out, so a timeout is told apart from a network error. */
class OriginTimeoutError extends Error {
  constructor(readonly budgetMs: number) {
    super(`origin did not answer within ${budgetMs} ms`)
    this.name = 'OriginTimeoutError'
  }
}

function budgetMs(envValue: string | undefined, fallback: number): number {
  const n = Number(envValue)
  return Number.isInteger(n) && n >= 100 && n <= 60_000 ? n : fallback
}

export const origin = ({ rules }: OriginOptions): MiddlewareHandler<AppEnv> =>
  async function origin(c) {
    const site = rules.site
    const log = c.get('log')
    const request = c.req.raw
    const method = request.method.toUpperCase()

    const configured = parseOrigin(c.env.ORIGIN_URL || site.origin)
    if (!configured.ok) {
      log.error('origin_misconfigured', { detail: configured.error.detail })
      throw new ProblemError(502, 'Bad gateway', 'The gateway has no valid origin configured.')
    }
    const base = configured.value

    if (method === 'CONNECT') {
      throw new ProblemError(400, 'Open proxy request refused', 'CONNECT tunnels are not offered.', [
        { path: 'method', message: 'CONNECT is not proxied' },
      ])
    }
    const built = buildTarget(base, c.get('request').url)
    if (!built.ok) {
      log.warn('open_proxy_refused', { reason: built.error.reason, detail: built.error.detail })
      throw new ProblemError(
        400,
        'Open proxy request refused',
        'This gateway only serves its own site; it does not relay requests to other hosts.',
        [{ path: 'url', message: built.error.detail }],
      )
    }
    const target = built.value
    for (const hook of c.get('hooks').originUrl) hook(target)
    // Hooks may trim the query (click ids); none may move the request to another host.
    if (target.origin !== base.origin) throw new Error('an originUrl hook changed the origin')

    const headers = originRequestHeaders(request.headers, {
      publicUrl: c.get('request').url,
      clientIp: request.headers.get('cf-connecting-ip'),
    })
    for (const hook of c.get('hooks').originHeaders) hook(headers)

    const websocket = isWebSocketUpgrade(request.headers)
    const budget = budgetMs(c.env.ORIGIN_TIMEOUT_MS, site.originTimeoutMs)
    const controller = new AbortController()
    // The budget covers the wait for the response head; a long body then streams at its own pace.
    const timer = setTimeout(() => controller.abort(new OriginTimeoutError(budget)), budget)
    const started = Date.now()

    let res: Response
    try {
      res = await fetch(target, {
        method,
        headers,
        body: method === 'GET' || method === 'HEAD' ? null : request.body,
        redirect: 'manual',
        signal: controller.signal,
      })
    } catch (err) {
      const failure: OriginFailure = controller.signal.aborted ? 'timeout' : 'unreachable'
      log.warn('origin_failed', {
        failure,
        ms: Date.now() - started,
        error: err instanceof Error ? err : String(err),
      })
      return failed(c, site, target, failure, budget)
    } finally {
      clearTimeout(timer)
    }

    if (websocket && res.webSocket) {
      // Hand the origin's socket to the client as is (workerd pairs the two ends).
      return new Response(null, {
        status: 101,
        headers: clientResponseHeaders(res.headers, true),
        webSocket: res.webSocket,
      })
    }

    if (res.status >= 500 && method === 'GET') {
      const fallback = await fallbackFor(c, site, target, 'status')
      if (fallback) {
        log.warn('origin_failed', { failure: 'status', status: res.status, ms: Date.now() - started })
        await res.body?.cancel()
        return fallback
      }
    }

    const outgoing = clientResponseHeaders(res.headers)
    let body = res.body
    // The header checks run only when this isolate's copy is due for a refresh (once a minute
    // per URL by default), not on every response.
    const copy =
      body && copyRefreshDue(target, site.staleCopyRefreshSeconds)
        ? decideCopy(method, request.headers, res.status, res.headers, site)
        : null
    if (copy?.ok && body && claimCopyRefresh(target, site.staleCopyRefreshSeconds)) {
      const [toClient, toCache] = body.tee()
      body = toClient
      runInBackground(
        c,
        storeCopy(target, res.status, outgoing, toCache, copy.value.keepSeconds, site.staleCopyMaxBytes, log),
      )
    }
    return new Response(body, { status: res.status, statusText: res.statusText, headers: outgoing })
  }

/** The stale copy for any GET that has one, else the fallback page for page requests, else null. */
async function fallbackFor(
  c: Context<AppEnv>,
  site: SiteRules,
  target: URL,
  failure: OriginFailure,
): Promise<Response | null> {
  if (c.req.method.toUpperCase() !== 'GET') return null
  const copy = await findCopy(target, failure, c.get('log'))
  if (copy) return copy
  if (acceptsHtml(c.req.raw.headers)) return fallbackPage(site, failure)
  return null
}

/** No answer from the origin at all: a fallback when there is one, else 504 (timeout) or 502 problem+json. */
async function failed(
  c: Context<AppEnv>,
  site: SiteRules,
  target: URL,
  failure: OriginFailure,
  budget: number,
): Promise<Response> {
  const fallback = await fallbackFor(c, site, target, failure)
  if (fallback) return fallback
  if (failure === 'timeout') {
    throw new ProblemError(504, 'Origin timeout', `The site did not answer within ${budget} ms.`)
  }
  throw new ProblemError(502, 'Origin unreachable', 'The site could not be reached.')
}
