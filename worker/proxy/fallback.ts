/**
 * What a visitor gets when the origin is slow, down or failing: the last good copy of the page
 * from the Cache API, or the configured fallback page with an honest 503. Copies are the
 * origin's own responses, stored before any stage personalises them.
 */
import type { Logger } from '../lib/log'
import type { SiteRules } from '../rules/concerns/site'

/** Why the origin could not answer: `timeout` (budget spent), `unreachable` (fetch threw), `status` (5xx). */
export type OriginFailure = 'timeout' | 'unreachable' | 'status'

export const FALLBACK_HEADER = 'x-gatehouse-fallback'
const REASON_HEADER = 'x-gatehouse-fallback-reason'
const STORED_AT = 'x-gatehouse-stored-at'

// A cache of its own, so nothing else in the zone can read or evict the copies by URL.
const CACHE_NAME = 'gatehouse:last-good-copy'

// When each URL's copy was last written by this isolate: a copy is refreshed at most once per
// `site.staleCopyRefreshSeconds`, since a Cache API write per request costs more than the proxying.
const lastWritten = new Map<string, number>()
const MAX_TRACKED = 10_000

/** true when the copy of `target` is due for a rewrite (read-only: see `claimCopyRefresh`). */
export function copyRefreshDue(target: URL, refreshSeconds: number, now = Date.now()): boolean {
  const last = lastWritten.get(target.href)
  return last === undefined || now - last >= refreshSeconds * 1000
}

/**
 * true when the copy of `target` is due for a rewrite, and marks it as written now. Marking
 * before the write finishes keeps concurrent requests from all writing the same copy.
 */
export function claimCopyRefresh(target: URL, refreshSeconds: number, now = Date.now()): boolean {
  const last = lastWritten.get(target.href)
  if (last !== undefined && now - last < refreshSeconds * 1000) return false
  // Re-inserting moves the key to the end, so the Map's first key is the least recently written.
  lastWritten.delete(target.href)
  lastWritten.set(target.href, now)
  if (lastWritten.size > MAX_TRACKED) lastWritten.delete(lastWritten.keys().next().value!)
  return true
}

function cacheKey(target: URL): Request {
  return new Request(target.href, { method: 'GET' })
}

/**
 * Reads one branch of the origin's body into a copy and stores it, unless it grows past
 * `maxBytes`: then the branch is cancelled, so the visitor's branch streams on unbuffered.
 */
export async function storeCopy(
  target: URL,
  status: number,
  headers: Headers,
  body: ReadableStream<Uint8Array>,
  keepSeconds: number,
  maxBytes: number,
  log: Logger,
): Promise<void> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        await reader.cancel()
        return
      }
      chunks.push(value)
    }
    const bytes = new Uint8Array(size)
    let at = 0
    for (const chunk of chunks) {
      bytes.set(chunk, at)
      at += chunk.byteLength
    }
    const stored = new Headers(headers)
    stored.set('cache-control', `public, max-age=${keepSeconds}`)
    stored.set(STORED_AT, String(Date.now()))
    stored.delete('content-length')
    stored.delete('expires')
    const cache = await caches.open(CACHE_NAME)
    await cache.put(cacheKey(target), new Response(bytes, { status, headers: stored }))
  } catch (err) {
    // A lost copy only means a worse fallback later; the visitor's response is unaffected.
    log.warn('good_copy_not_stored', { error: err instanceof Error ? err : String(err) })
  }
}

/** The last good copy of `target`, marked as a fallback, or null when none is kept. */
export async function findCopy(target: URL, failure: OriginFailure, log: Logger): Promise<Response | null> {
  let hit: Response | undefined
  try {
    hit = await (await caches.open(CACHE_NAME)).match(cacheKey(target))
  } catch (err) {
    log.warn('good_copy_lookup_failed', { error: err instanceof Error ? err : String(err) })
    return null
  }
  if (!hit) return null
  const headers = new Headers(hit.headers)
  const storedAt = Number(headers.get(STORED_AT))
  headers.delete(STORED_AT)
  headers.delete('cf-cache-status')
  if (Number.isFinite(storedAt) && storedAt > 0) {
    headers.set('age', String(Math.max(0, Math.floor((Date.now() - storedAt) / 1000))))
  }
  // The copy is stale by definition: nobody downstream should keep it as if it were fresh.
  headers.set('cache-control', 'no-store')
  headers.set(FALLBACK_HEADER, 'stale-copy')
  headers.set(REASON_HEADER, failure)
  return new Response(hit.body, { status: hit.status, headers })
}

/** The configured fallback page: 503 with Retry-After (RFC 9110 section 15.6.4, 10.2.3). */
export function fallbackPage(site: SiteRules, failure: OriginFailure): Response {
  return new Response(site.fallbackPage, {
    status: 503,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'retry-after': String(site.retryAfterSeconds),
      [FALLBACK_HEADER]: 'fallback-page',
      [REASON_HEADER]: failure,
    },
  })
}

/** true when the client will take an HTML page (a browser navigation or any `text/html` Accept). */
export function acceptsHtml(headers: Headers): boolean {
  const accept = headers.get('accept')
  if (!accept) return false
  return accept
    .toLowerCase()
    .split(',')
    .some((part) => {
      const [type = '', ...params] = part.split(';').map((p) => p.trim())
      // RFC 9110 12.5.1: q=0 means "not acceptable".
      if (params.some((p) => /^q=0(?:\.0*)?$/.test(p))) return false
      return type === 'text/html' || type === 'application/xhtml+xml'
    })
}
