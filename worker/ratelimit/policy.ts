/**
 * Which requests are rate limited, by which limiter, under which key: the policy of the rate-limit
 * stage (./index.ts), pure so it is tested in Node. The limiters are Workers Rate Limiting
 * bindings (`[[ratelimits]]` in wrangler.toml); their limits live there and are copied in
 * `RATE_LIMITERS` for the `Retry-After` answer and the docs (docs/configuration.md "Rate limits").
 *
 * - Per visitor: the verified customer id, else the gateway's signed anonymous id. An ephemeral
 *   visitor (no stored id) has a fresh id on every request, so only the per-IP limit holds them.
 * - Per IP: `CF-Connecting-IP`, which Cloudflare sets and a client cannot; IPv6 addresses are
 *   limited per /64 (one customer line), as one host can use any address in its prefix.
 */

/** The limiter bindings, with the limit and period configured for each in wrangler.toml. */
export const RATE_LIMITERS = {
  /** Events written by one visitor. */
  RATE_LIMIT_VISITOR: { limit: 120, period: 60 },
  /** Requests to limited routes from one IP (or IPv6 /64): offices and carriers share addresses. */
  RATE_LIMIT_IP: { limit: 600, period: 60 },
  /** Self-service privacy requests (`GET`/`DELETE /v1/me`) of one visitor. */
  RATE_LIMIT_PRIVACY: { limit: 10, period: 60 },
} as const

export type LimiterName = keyof typeof RATE_LIMITERS

interface RouteLimits {
  /** Key prefix: each route's counters are its own. */
  scope: string
  /** The per-visitor limiter, or null where the caller is a server (no visitor). */
  visitor: LimiterName | null
  ip: LimiterName
}

/** `METHOD /path` -> its limits. Routes not listed are not rate limited. */
export const LIMITED_ROUTES: Readonly<Record<string, RouteLimits>> = {
  'POST /v1/events': { scope: 'events', visitor: 'RATE_LIMIT_VISITOR', ip: 'RATE_LIMIT_IP' },
  // A server holding the ingest credential: no visitor to key on, its address is the limit.
  'POST /v1/decide/conversions': { scope: 'conversions', visitor: null, ip: 'RATE_LIMIT_IP' },
  'GET /v1/me': { scope: 'me', visitor: 'RATE_LIMIT_PRIVACY', ip: 'RATE_LIMIT_IP' },
  'DELETE /v1/me': { scope: 'me', visitor: 'RATE_LIMIT_PRIVACY', ip: 'RATE_LIMIT_IP' },
}

export interface Caller {
  basis: 'jwt' | 'cookie' | 'header' | 'ephemeral'
  customerId: string | null
  anonymousId: string
  /** `CF-Connecting-IP`, when present. */
  ip: string | null
}

export interface LimitCheck {
  limiter: LimiterName
  key: string
  /** What the key is, for logs (never the key itself: it holds an address or an id). */
  dimension: 'visitor' | 'ip'
}

/**
 * The limiter calls a request needs, in order (visitor first); empty for a route that is not
 * limited.
 *
 * @example
 *   planRateLimit('POST', '/v1/events', { basis: 'cookie', customerId: null, anonymousId: 'a1', ip: '203.0.113.9' })
 *   // -> [{ limiter: 'RATE_LIMIT_VISITOR', key: 'events:a:a1', dimension: 'visitor' },
 *   //     { limiter: 'RATE_LIMIT_IP', key: 'events:ip:203.0.113.9', dimension: 'ip' }]
 */
export function planRateLimit(method: string, pathname: string, caller: Caller): LimitCheck[] {
  const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase()
  const route = LIMITED_ROUTES[`${m} ${pathname.replace(/\/+$/, '')}`]
  if (!route) return []
  const checks: LimitCheck[] = []
  const visitor = caller.customerId
    ? `c:${caller.customerId}`
    : caller.basis === 'ephemeral'
      ? null
      : `a:${caller.anonymousId}`
  if (route.visitor && visitor)
    checks.push({ limiter: route.visitor, key: `${route.scope}:${visitor}`, dimension: 'visitor' })
  const ip = caller.ip === null ? null : ipKey(caller.ip)
  if (ip) checks.push({ limiter: route.ip, key: `${route.scope}:ip:${ip}`, dimension: 'ip' })
  return checks
}

/**
 * The rate-limit key of an address: IPv4 as is, IPv6 as its /64 prefix (RFC 4291 section 2.2
 * text forms, `::` expanded), null for anything that is not an address.
 *
 * @example
 *   ipKey('2001:db8:1:2:aaaa::1') // -> '2001:db8:1:2::/64'
 */
export function ipKey(raw: string): string | null {
  let ip = raw.trim().toLowerCase()
  // An IPv4-mapped IPv6 address (RFC 4291 section 2.5.5.2) is its IPv4 address.
  const mapped = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/.exec(ip)
  if (mapped) ip = mapped[1]!
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return ip.split('.').every((o) => Number(o) <= 255) ? ip : null
  if (!/^[0-9a-f:.]{2,45}$/.test(ip) || !ip.includes(':')) return null
  const halves = ip.split('::')
  if (halves.length > 2) return null
  const parts = (s: string) => (s === '' ? [] : s.split(':'))
  const head = parts(halves[0]!)
  const tail = halves.length === 2 ? parts(halves[1]!) : []
  // An embedded IPv4 tail (::ffff:192.0.2.1) takes two groups; it is past the /64 either way.
  const groups = (xs: string[]) => xs.reduce((n, x) => n + (x.includes('.') ? 2 : 1), 0)
  const missing = 8 - groups(head) - groups(tail)
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail]
  const prefix = all.slice(0, 4)
  if (prefix.length < 4 || !prefix.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null
  return `${prefix.map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}
