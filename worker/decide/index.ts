/**
 * The `decide` stage (docs/architecture.md "The request path") for proxied pages. Elements with
 * `data-gatehouse-slot="<placement>"` get the decided variant's content through HTMLRewriter.
 *
 * Streaming is preserved: the placements a page decides are known from its path (`pages` in
 * rules/placements.yaml), so their decisions start before the origin is asked and run alongside
 * it; the slot handler awaits them only when the rewriter reaches a slot, so bytes before the
 * first slot flow immediately. A slot on a page that is not mapped shows its placement's fallback
 * (the page was not marked personalised, so shared caches must not get per-visitor content).
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import { bundledRules, type RuleSet } from '../rules'
import { placementsForPath, type EngineDecision } from './engine'
import { fallbackContent, fillSlot } from './slots'
import { decideForRequest, decisionService, executionWaitUntil } from './service'
import { preferredLocale } from './locale'

export interface DecideStageOptions {
  /** The compiled rule set; defaults to the bundled one. */
  rules?: RuleSet
}

export const SLOT_SELECTOR = '[data-gatehouse-slot]'

export const decide = (opts: DecideStageOptions = {}): MiddlewareHandler<AppEnv> =>
  async function decide(c, next) {
    const rules = opts.rules ?? bundledRules
    const method = c.req.method
    if (c.get('request').gatewayRoute || (method !== 'GET' && method !== 'HEAD')) return next()
    const svc = decisionService(rules)
    if (svc.engine.placements.size === 0) return next()

    // Only page loads decide (and reserve caps): an image or script under a mapped prefix must
    // not spend a visitor's frequency cap. Anything else that turns out to be HTML shows fallbacks.
    const wantsPage =
      (c.req.header('accept') ?? '').includes('text/html') || c.req.header('sec-fetch-dest') === 'document'
    const mapped = wantsPage ? placementsForPath(svc.engine, c.get('request').url.pathname) : []
    let pending: Promise<Map<string, EngineDecision>> | null = null
    if (mapped.length > 0) {
      // Set before the response stage runs: it marks the page Cache-Control: private.
      c.get('hooks').personalised = true
      pending = decideForRequest(c, svc, { placements: mapped, channel: 'page', url: c.req.url })
        .then((r) => new Map(r.decisions.map((d) => [d.placement, d])))
        .catch((e: unknown) => {
          c.get('log').error('page_decision_failed', { error: e instanceof Error ? e : String(e) })
          return new Map<string, EngineDecision>()
        })
    }
    const waitUntil = executionWaitUntil(c)
    const locale = preferredLocale(c.req.header('accept-language'))

    c.get('hooks').html.push({
      selector: SLOT_SELECTOR,
      handler: {
        element: async (el) => {
          const name = el.getAttribute('data-gatehouse-slot') ?? ''
          const decided = pending ? (await pending).get(name) : undefined
          if (decided) {
            fillSlot(el, decided.content, decided.variant, decided.reason)
            if (decided.experiment && !decided.experiment.holdout) {
              svc.stats.count(decided.experiment.id, decided.experiment.arm, 'exposure')
              waitUntil(svc.stats.flush(c.env?.EXPERIMENT))
            }
            return
          }
          const fallback = fallbackContent(svc.engine, name, locale)
          if (fallback) fillSlot(el, fallback.content, fallback.variant, 'fallback')
          else
            c.get('log').warn('unknown_slot', {
              slot: name.slice(0, 64),
              path: c.get('request').url.pathname,
            })
        },
      },
    })

    await next()
    // Decision records must be on the context before the log stage (which wraps this one) reads them.
    if (pending) await pending
  }
