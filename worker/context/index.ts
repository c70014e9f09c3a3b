/**
 * The `context` stage: request id, cookies parsed once, the visitor's location and the public
 * URL. Everything later stages need to know about the raw request, computed once.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import { parseCookieHeader } from '../lib/cookies'
import { createLogger, type LogLevel } from '../lib/log'
import { emptyHooks } from '../proxy/hooks'
import { locate, type Location } from './location'

export type { Location } from './location'

export interface RequestInfo {
  /** The URL the client asked for (public host). */
  url: URL
  /** Request cookies, parsed once. */
  cookies: Map<string, string>
  location: Location
  /** true in `GATEHOUSE_ENV=development`. */
  development: boolean
  /** true for the gateway's own routes (`/v1/`, `/admin/`, `/.well-known/gpc.json`). */
  gatewayRoute: boolean
  /** Time the request arrived (ms since epoch). */
  receivedAt: number
}

export interface ContextOptions {
  /** Where log lines go; tests pass a capturing sink. */
  logSink?: (level: LogLevel, line: string) => void
}

// A client-supplied request id is kept only when it is short and plain (no header injection, no PII blobs).
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/

export function isGatewayPath(pathname: string): boolean {
  return (
    pathname.startsWith('/v1/') ||
    pathname === '/v1' ||
    pathname.startsWith('/admin/') ||
    pathname === '/.well-known/gpc.json'
  )
}

export const context = (opts: ContextOptions = {}): MiddlewareHandler<AppEnv> =>
  async function context(c, next) {
    const supplied = c.req.header('x-request-id')
    const requestId = supplied && SANE_REQUEST_ID.test(supplied) ? supplied : crypto.randomUUID()
    const url = new URL(c.req.url)
    const development = (c.env.GATEHOUSE_ENV ?? 'production') === 'development'
    c.set('requestId', requestId)
    c.set('log', createLogger({ requestId }, opts.logSink))
    c.set('request', {
      url,
      cookies: parseCookieHeader(c.req.header('cookie')),
      location: locate(c.req.raw, development, c.env.DEV_LOCATION),
      development,
      gatewayRoute: isGatewayPath(url.pathname),
      receivedAt: Date.now(),
    })
    c.set('hooks', emptyHooks())
    c.set('decisionRecords', [])
    await next()
    try {
      c.res.headers.set('x-request-id', requestId)
    } catch {
      // A response straight from fetch() has immutable headers: copy it (the body still streams).
      c.res = new Response(c.res.body, c.res)
      c.res.headers.set('x-request-id', requestId)
    }
  }
