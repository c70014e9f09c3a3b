/**
 * Which requests the reverse proxy may take at all, decided before any stage acts on them:
 *
 * - the request's host must be one of the configured public hosts (`site.publicHosts`, or the
 *   PUBLIC_HOSTS var). The public host ends up in X-Forwarded-Host, in rewritten `Location`
 *   headers and in cookie `Domain` attributes, so it must never be whatever the client sent;
 * - the path must not be one the origin keeps to itself (`site.neverProxied`, e.g. the demo
 *   storefront's `/__control/` fault controls).
 *
 * Pure: no Workers imports. The `admission` middleware in ./admission-stage.ts maps the result.
 */
import { PUBLIC_HOST } from '../rules/concerns/site'

export type AdmissionRefusal = 'unknown_host' | 'never_proxied'

export type Admission = { ok: true } | { ok: false; error: { reason: AdmissionRefusal; detail: string } }

/** A configured host, split once: `port` is null for "the scheme's default port". */
export interface PublicHost {
  hostname: string
  port: string | null
}

/** The configured hosts: entries that are not hosts are left out (and named, for the log). */
export function parsePublicHosts(entries: readonly string[]): { hosts: PublicHost[]; rejected: string[] } {
  const hosts: PublicHost[] = []
  const rejected: string[] = []
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase()
    if (!PUBLIC_HOST.test(entry)) {
      if (entry) rejected.push(raw)
      continue
    }
    const colon = entry.lastIndexOf(':')
    const hasPort = colon > entry.lastIndexOf(']') && colon !== -1
    const port = hasPort ? entry.slice(colon + 1) : null
    if (port !== null && Number(port) > 65_535) {
      rejected.push(raw)
      continue
    }
    hosts.push({ hostname: hasPort ? entry.slice(0, colon) : entry, port })
  }
  return { hosts, rejected }
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' }

/**
 * true when `url` names one of `hosts`. URL parsing has already lower-cased the name and dropped a
 * default port (WHATWG URL "host parsing"); an entry with the default port written out matches too.
 */
export function isPublicHost(url: URL, hosts: readonly PublicHost[]): boolean {
  const port = url.port || DEFAULT_PORT[url.protocol] || ''
  for (const h of hosts) {
    if (h.hostname !== url.hostname) continue
    if (h.port === null ? url.port === '' : h.port === port) return true
  }
  return false
}

// `%XX` escapes, decoded one by one so a malformed escape elsewhere does not stop the others.
const ESCAPE = /%([0-9a-f]{2})/gi

/**
 * The path as an origin server might route it: percent-escapes decoded (RFC 3986 section 2.1; many
 * servers decode `%5F` or even `%2F` before routing), `\` read as `/` (as browsers and some servers
 * do), `;parameters` dropped from each segment (RFC 3986 section 3.3, stripped by Tomcat and
 * others), empty and dot segments removed, and lower case (some servers ignore case). The result is only
 * compared with the configured prefixes, never sent anywhere.
 */
export function routingPath(pathname: string): string {
  const decoded = pathname.replace(ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  const segments: string[] = []
  for (const raw of decoded.replace(/\\/g, '/').split('/')) {
    const segment = raw.split(';', 1)[0]!
    // Dot segments a decoded escape produced are resolved as RFC 3986 section 5.2.4 does.
    if (segment === '' || segment === '.') continue
    if (segment === '..') segments.pop()
    else segments.push(segment.toLowerCase())
  }
  return `/${segments.join('/')}`
}

// A path without escapes, parameters, backslashes or empty segments needs no decoding: URL parsing
// has already removed its dot segments (WHATWG URL "path state"). Most page paths are like this.
const NEEDS_ROUTING = /[%;\\]|\/\//

/** true when `pathname` is one of `prefixes` or below one of them. */
export function isNeverProxied(pathname: string, prefixes: readonly string[]): boolean {
  if (prefixes.length === 0) return false
  const path = NEEDS_ROUTING.test(pathname) ? routingPath(pathname) : pathname.toLowerCase()
  for (const raw of prefixes) {
    const prefix = raw.toLowerCase().replace(/\/+$/, '')
    if (path === prefix || path.startsWith(`${prefix}/`)) return true
  }
  return false
}

/**
 * Decides whether a request for `url` may be proxied.
 *
 * @example admitProxy(new URL('https://evil.example/cart'), parsePublicHosts(['shop.example']).hosts, [])
 *          // -> { ok: false, error: { reason: 'unknown_host', ... } }
 */
export function admitProxy(
  url: URL,
  hosts: readonly PublicHost[],
  neverProxied: readonly string[],
): Admission {
  if (!isPublicHost(url, hosts)) {
    return { ok: false, error: { reason: 'unknown_host', detail: 'the host is not one this gateway serves' } }
  }
  if (isNeverProxied(url.pathname, neverProxied)) {
    return {
      ok: false,
      error: { reason: 'never_proxied', detail: 'the path is not served through the gateway' },
    }
  }
  return { ok: true }
}
