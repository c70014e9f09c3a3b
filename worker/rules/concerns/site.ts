/** `rules/site.yaml`: the site the gateway fronts, and what visitors get when it fails. */
import { z } from 'zod'

/**
 * A public host as it appears in a URL's authority (RFC 3986 section 3.2.2 and 3.2.3): a lower-case
 * DNS name, an IPv4 address or a bracketed IPv6 address, with a port when it is not the scheme's
 * default. No scheme, path, credentials or wildcards.
 */
export const PUBLIC_HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::[1-9][0-9]{0,4})?$/

/** A path prefix the gateway never proxies: starts with `/`, no query, no dot segments. */
export const NEVER_PROXIED_PATH = /^(?:\/[A-Za-z0-9._~!$&'()*+,=:@-]+)+\/?$/

export const siteSchema = z
  .strictObject({
    origin: z
      .url({ protocol: /^https?$/ })
      .default('http://127.0.0.1:8788')
      .describe(
        'The one origin every non-gateway path is proxied to (scheme, host and optional port). The ORIGIN_URL var overrides it.',
      ),
    publicHosts: z
      .array(
        z
          .string()
          .regex(PUBLIC_HOST, 'a host name or IP address with an optional :port, lower case, nothing else'),
      )
      .min(1)
      .default(['127.0.0.1:8787', 'localhost:8787'])
      .describe(
        "The hosts visitors reach the site on (e.g. shop.example, www.shop.example; add :port when it is not 80 or 443). X-Forwarded-Host, Location and cookie Domain rewrites use the request's host only when it is listed; a page request for any other host is answered 421 and never reaches the origin. The PUBLIC_HOSTS var (comma-separated) overrides it.",
      ),
    neverProxied: z
      .array(
        z
          .string()
          .regex(NEVER_PROXIED_PATH, 'a path prefix starting with /, without query or dot segments')
          .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'no dot segments'),
      )
      .default(['/__control'])
      .describe(
        "Origin path prefixes the gateway never proxies (answered 404 without reaching the origin), e.g. the origin's own admin or debug paths. Each matches itself and everything below it, compared case-insensitively after percent-decoding. The gateway's own paths (/v1/, /admin/, /.well-known/gpc.json) are never proxied in any case.",
      ),
    originTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(8_000)
      .describe(
        'Time budget for one origin request until its response headers arrive, in milliseconds. The ORIGIN_TIMEOUT_MS var overrides it.',
      ),
    fallbackPage: z
      .string()
      .max(64 * 1024)
      .default(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Back soon</title></head><body><h1>We will be back shortly</h1><p>This page is temporarily unavailable. Please try again in a minute.</p></body></html>',
      )
      .describe('HTML served with status 503 when a page fails at the origin and no good copy is cached.'),
    retryAfterSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(30)
      .describe('Seconds clients are told to wait (Retry-After) when the fallback page is served.'),
    staleCopySeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(86_400)
      .describe(
        'How long a good copy of a shared-cacheable page is kept to serve when the origin fails later (0 keeps none). An origin stale-if-error directive, when present, takes precedence.',
      ),
    staleCopyRefreshSeconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .default(60)
      .describe(
        'A good copy of a page is rewritten at most this often (per Worker instance); 0 rewrites it on every good response. Writing the cache on every request would cost more than proxying.',
      ),
    staleCopyMaxBytes: z
      .number()
      .int()
      .min(0)
      .max(16 * 1024 * 1024)
      .default(2 * 1024 * 1024)
      .describe('Largest response body kept as a good copy; bigger responses stream through uncached.'),
  })
  .prefault({})

export type SiteRules = z.output<typeof siteSchema>
