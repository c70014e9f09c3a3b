/**
 * Whether an origin response may be kept as the "last good copy" served when the origin later
 * fails, and for how long. The gateway acts as a shared cache here (RFC 9111), so it keeps a
 * copy only when the origin's headers allow shared caching. Pure: no Workers imports.
 */

export interface CopyLimits {
  /** Seconds a copy stays usable after it goes stale, when the origin does not say (site.staleCopySeconds). */
  staleCopySeconds: number
  /** Largest body kept (site.staleCopyMaxBytes). */
  staleCopyMaxBytes: number
}

export type CopyRefusal =
  | 'method'
  | 'status'
  | 'no_store'
  | 'private'
  | 'no_cache'
  | 'set_cookie'
  | 'vary'
  | 'authorization'
  | 'no_freshness'
  | 'too_large'
  | 'disabled'

export type CopyDecision =
  { ok: true; value: { keepSeconds: number } } | { ok: false; error: { reason: CopyRefusal } }

/** Parses Cache-Control (RFC 9111 section 5.2) into lower-case directive -> argument. */
export function parseCacheControl(value: string | null): Map<string, string | true> {
  const directives = new Map<string, string | true>()
  if (!value) return directives
  for (const part of value.split(',')) {
    const [rawName = '', ...rest] = part.split('=')
    const name = rawName.trim().toLowerCase()
    if (!name) continue
    const arg = rest.join('=').trim().replace(/^"|"$/g, '')
    if (!directives.has(name)) directives.set(name, rest.length ? arg : true)
  }
  return directives
}

function seconds(value: string | true | undefined): number | null {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return null
  return Number(value)
}

// Vary on these is harmless for a fallback copy: any client can take any of the variants.
const HARMLESS_VARY = new Set(['accept-encoding'])

const refuse = (reason: CopyRefusal): CopyDecision => ({ ok: false, error: { reason } })

/**
 * Decides whether to keep the origin's response as a fallback copy.
 *
 * @param method the request method
 * @param requestHeaders the headers the client sent
 * @param status the origin's status
 * @param responseHeaders the origin's headers (before any gateway change)
 * @param now current time in ms, for Expires
 */
export function decideCopy(
  method: string,
  requestHeaders: Headers,
  status: number,
  responseHeaders: Headers,
  limits: CopyLimits,
  now = Date.now(),
): CopyDecision {
  if (limits.staleCopyMaxBytes === 0) return refuse('disabled')
  if (method !== 'GET') return refuse('method')
  if (status !== 200) return refuse('status')
  const cc = parseCacheControl(responseHeaders.get('cache-control'))
  if (cc.has('no-store')) return refuse('no_store')
  // `private` (RFC 9111 5.2.2.7), also in its field-qualified form: a shared cache keeps nothing.
  if (cc.has('private')) return refuse('private')
  if (cc.has('no-cache')) return refuse('no_cache')
  // A response that sets cookies is about one visitor; never replay it to another.
  if (responseHeaders.has('set-cookie')) return refuse('set_cookie')
  const vary = (responseHeaders.get('vary') ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean)
  if (vary.some((v) => !HARMLESS_VARY.has(v))) return refuse('vary')
  // RFC 9111 3.5: a response to an authenticated request is shared only when explicitly allowed.
  if (requestHeaders.has('authorization') && !cc.has('public') && !cc.has('s-maxage')) {
    return refuse('authorization')
  }
  const length = Number(responseHeaders.get('content-length') ?? NaN)
  if (Number.isFinite(length) && length > limits.staleCopyMaxBytes) return refuse('too_large')

  let freshness = seconds(cc.get('s-maxage')) ?? seconds(cc.get('max-age'))
  if (freshness === null) {
    const expires = Date.parse(responseHeaders.get('expires') ?? '')
    const date = Date.parse(responseHeaders.get('date') ?? '') || now
    if (Number.isFinite(expires)) freshness = Math.max(0, Math.floor((expires - date) / 1000))
  }
  if (freshness === null && !cc.has('public')) return refuse('no_freshness')

  // RFC 5861 section 4: stale-if-error says how long a stale copy may stand in on errors. Without
  // it, must-revalidate, proxy-revalidate and s-maxage forbid serving stale (RFC 9111 4.2.4).
  const staleIfError = seconds(cc.get('stale-if-error'))
  const forbidsStale = cc.has('must-revalidate') || cc.has('proxy-revalidate') || cc.has('s-maxage')
  const staleWindow = staleIfError ?? (forbidsStale ? 0 : limits.staleCopySeconds)
  const keepSeconds = (freshness ?? 0) + staleWindow
  if (keepSeconds <= 0) return refuse('no_freshness')
  return { ok: true, value: { keepSeconds } }
}
