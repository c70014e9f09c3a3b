/**
 * The `touchpoint` stage (docs/architecture.md "The request path"): where this visit came from.
 *
 * - Normalises UTM parameters, click ids and the referrer against rules/utm.yaml (./normalise.ts)
 *   and sets `c.get('touchpoint')` (null for a visit without campaign data or a referrer of note).
 * - Click ids without advertising consent are removed from the URL the origin receives.
 * - The origin receives the touchpoint in `X-Gatehouse-Touchpoint` (a client-sent one is replaced).
 * - Emails and phone numbers in UTM values are hashed or dropped (`piiValues` in
 *   rules/privacy.yaml, ./pii.ts) in the touchpoint and in the URL the origin receives.
 * - With measurement consent and a state key, the touchpoint is stored in the person's
 *   CustomerState (first touch, last touch, bounded history) after the response, within a budget.
 * - Optionally (`redirectToCleanUrl`), a page view with captured parameters is redirected (302) to
 *   the same URL without them.
 * Values outside the taxonomy become `(other)`; each is counted per isolate and logged.
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import { withBudget } from '../lib/budget'
import { bundledRules, type RuleSet } from '../rules'
import { normaliseLabel, normaliseTouchpoint, touchpointHeader } from './normalise'
import { piiHasher } from '../privacy/pii-values'
import { scrubTouchpoint, utmParamsWithPii } from './pii'
import type { Touchpoint } from './types'

const TOUCHPOINT_HEADER = 'x-gatehouse-touchpoint'

export interface TouchpointOptions {
  rules?: RuleSet
  /** Time budget for storing the touchpoint in CustomerState (ms). */
  recordBudgetMs?: number
}

// Per-isolate count of values that fell outside the taxonomy, by field and value (bounded).
const otherCounts = new Map<string, number>()
const MAX_COUNTED_VALUES = 1000
// A value is logged verbatim only when it looks like a label; anything else (an email pasted into
// utm_source, a long id) is logged as redacted so no personal data reaches the logs.
const LOGGABLE = /^[a-z0-9 ._-]{1,40}$/

/** The per-isolate counts of out-of-taxonomy values (`source:myspace` -> 3). */
export function unmappedCounts(): ReadonlyMap<string, number> {
  return otherCounts
}

export const touchpoint = (opts: TouchpointOptions = {}): MiddlewareHandler<AppEnv> =>
  async function touchpoint(c, next) {
    const rules = (opts.rules ?? bundledRules).utm
    const req = c.get('request')
    // Admin routes are operators, not visits.
    if (req.url.pathname.startsWith('/admin/')) {
      c.set('touchpoint', null)
      return next()
    }
    const purposes = c.get('consent')?.purposes
    const out = normaliseTouchpoint(
      {
        url: req.url,
        referrer: c.req.header('referer') ?? null,
        advertising: purposes?.advertising === true,
        now: req.receivedAt,
      },
      rules,
    )
    // Emails and phone numbers in UTM free text are hashed or dropped before anything keeps them.
    const piiRule = (opts.rules ?? bundledRules).privacy.piiValues
    const hash = piiHasher(c.env?.ID_PEPPER)
    const scrubbed = out.touchpoint ? await scrubTouchpoint(out.touchpoint, piiRule, hash) : null
    const tp = scrubbed?.touchpoint ?? null
    c.set('touchpoint', tp)
    const piiParams = await utmParamsWithPii(req.url, piiRule, hash)
    if (piiParams.size) {
      c.get('log').info('pii_values_scrubbed', { utm: [...piiParams.keys()].slice(0, 10) })
      c.get('hooks').originUrl.push(function scrubUtmPii(url) {
        for (const [name, value] of piiParams) {
          if (value === null) url.searchParams.delete(name)
          else url.searchParams.set(name, value)
        }
      })
    }

    for (const miss of out.unmapped) {
      const label = normaliseLabel(miss.value)
      const value = LOGGABLE.test(label) ? label : '[redacted]'
      const key = `${miss.field}:${value}`
      const count = (otherCounts.get(key) ?? 0) + 1
      if (otherCounts.has(key) || otherCounts.size < MAX_COUNTED_VALUES) otherCounts.set(key, count)
      c.get('log').info('utm_other', { field: miss.field, value, count })
    }

    const strip = new Set(out.strip)
    if (strip.size) {
      c.get('hooks').originUrl.push(function stripClickIds(url) {
        for (const name of [...url.searchParams.keys()]) if (strip.has(name)) url.searchParams.delete(name)
      })
    }
    c.get('hooks').originHeaders.push(function touchpointForOrigin(headers) {
      headers.delete(TOUCHPOINT_HEADER)
      if (tp) headers.set(TOUCHPOINT_HEADER, touchpointHeader(tp))
    })

    const stateKey = c.get('identity')?.stateKey ?? null
    if (tp && purposes?.measurement === true && stateKey)
      record(c, stateKey, tp, rules.historyLimit, opts.recordBudgetMs ?? 1000)

    if (
      rules.redirectToCleanUrl &&
      out.captured.length > 0 &&
      !req.gatewayRoute &&
      (c.req.method === 'GET' || c.req.method === 'HEAD')
    ) {
      return cleanRedirect(c, out.captured)
    }
    await next()
  }

function record(
  c: Context<AppEnv>,
  stateKey: string,
  tp: Touchpoint,
  historyLimit: number,
  budgetMs: number,
): void {
  const log = c.get('log')
  const stub = c.env.CUSTOMER.get(c.env.CUSTOMER.idFromName(stateKey))
  const work = withBudget(
    () => stub.recordTouchpoint(tp, { historyLimit }),
    budgetMs,
    'customer_state.record_touchpoint',
  ).then((r) => {
    if (!r.ok) log.warn('touchpoint_not_stored', { ...r.error })
  })
  try {
    c.executionCtx.waitUntil(work)
  } catch {
    // No execution context: the write still runs, nobody waits for it.
  }
}

/** 302 to the URL without the captured parameters, keeping the cookies the earlier stages set. */
function cleanRedirect(c: Context<AppEnv>, captured: string[]): Response {
  const url = new URL(c.get('request').url)
  const drop = new Set(captured)
  for (const name of [...url.searchParams.keys()]) if (drop.has(name)) url.searchParams.delete(name)
  const headers = new Headers({ location: url.pathname + url.search + url.hash, 'cache-control': 'no-store' })
  for (const line of c.get('hooks').cookies) headers.append('set-cookie', line)
  return new Response(null, { status: 302, headers })
}
