/** `rules/site.yaml`: the site the gateway fronts, and what visitors get when it fails. */
import { z } from 'zod'

export const siteSchema = z
  .strictObject({
    origin: z
      .url({ protocol: /^https?$/ })
      .default('http://127.0.0.1:8788')
      .describe(
        'The one origin every non-gateway path is proxied to (scheme, host and optional port). The ORIGIN_URL var overrides it.',
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
