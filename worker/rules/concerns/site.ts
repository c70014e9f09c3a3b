/** `rules/site.yaml`: the site the gateway fronts. */
import { z } from 'zod'

export const siteSchema = z
  .strictObject({
    /** The one origin every non-gateway path is proxied to (the ORIGIN_URL var overrides it). */
    origin: z.url().default('http://127.0.0.1:8788'),
    /** Time budget for one origin request. */
    originTimeoutMs: z.number().int().min(100).max(60_000).default(8_000),
    /** HTML served with 503 when the origin fails and no good copy is cached. */
    fallbackPage: z
      .string()
      .max(64 * 1024)
      .default(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Back soon</title></head><body><h1>We will be back shortly</h1><p>This page is temporarily unavailable. Please try again in a minute.</p></body></html>',
      ),
    /** Seconds clients are told to wait before retrying when the fallback page is served. */
    retryAfterSeconds: z.number().int().min(1).max(86_400).default(30),
  })
  .prefault({})

export type SiteRules = z.output<typeof siteSchema>
