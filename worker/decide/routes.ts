/**
 * The decision API: `POST /v1/decide` (docs/api.md) and `POST /v1/decide/conversions` (bandit
 * feedback from a server holding the ingest credential). Their validators (./api.ts) also generate
 * their part of the OpenAPI document (worker/openapi).
 */
import { Hono } from 'hono'
import type { AppEnv } from '../env'
import { requireIngestCredential } from '../events/ingest-auth'
import { withBudget } from '../lib/budget'
import { invalid, ProblemError, problemResponse, type FieldError } from '../lib/problem'
import type { RuleSet } from '../rules'
import { nearest } from '../rules/suggest'
import { conversionsRequestSchema, type DecideResponse } from './api'
import { readConversionsBody } from './body'
import { NO_CONSENT } from './context'
import { decideForRequest, decisionService, executionWaitUntil } from './service'
import { parseBody, validDecideBody } from './validate'

export function decideRoutes({ rules }: { rules: RuleSet }): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  app.post('/decide', async (c) => {
    const svc = decisionService(rules)
    // Validated already by the body-consent stage, before any store was called (./validate.ts).
    const body = await validDecideBody(c.req.raw, svc.engine.placements)

    // Body signals were resolved before the identity stage (./body-consent.ts); this is that consent.
    const consent = c.get('consent')
    const result = await decideForRequest(c, svc, {
      placements: body.placements,
      channel: 'api',
      locale: body.context.locale ?? null,
      attributes: body.context.attributes,
      url: body.context.url ?? null,
      consent,
    })
    for (const d of result.decisions) {
      if (d.experiment && !d.experiment.holdout)
        svc.stats.count(d.experiment.id, d.experiment.arm, 'exposure')
    }
    executionWaitUntil(c)(svc.stats.flush(c.env?.EXPERIMENT))

    const payload: DecideResponse = {
      rulesVersion: rules.version,
      requestId: c.get('requestId'),
      consent: result.consent
        ? {
            jurisdiction: result.consent.jurisdiction,
            purposes: { ...NO_CONSENT, ...result.consent.purposes },
            saleShareOptOut: result.consent.saleShareOptOut,
          }
        : { jurisdiction: 'OTHER', purposes: { ...NO_CONSENT }, saleShareOptOut: true },
      identity: { basis: result.identity.basis, customerId: result.identity.customerId },
      decisions: result.decisions.map((d) => ({
        placement: d.placement,
        variant: d.variant,
        content: d.content,
        reason: d.reason,
        fallback: d.fallback,
        experiment: d.experiment,
      })),
    }
    return c.json(payload, 200, {
      'cache-control': 'private, no-store',
      'x-gatehouse-rules-version': rules.version,
    })
  })

  // Conversions are facts a server knows (an order was paid), so only a server holding the
  // ingest credential reports them: an anonymous caller cannot steer a bandit. Each conversion
  // carries an id and counts once, atomically in the experiment's ExperimentState.
  app.post('/decide/conversions', async (c) => {
    const caller = await requireIngestCredential(c)
    const svc = decisionService(rules)
    const body = parseBody(await readConversionsBody(c.req.raw), conversionsRequestSchema)
    const errors: FieldError[] = []
    const byExperiment = new Map<string, Array<{ id: string; arm: string }>>()
    const seen = new Set<string>()
    let repeats = 0
    body.conversions.forEach((conv, i) => {
      const e = svc.engine.experiments.get(conv.experiment)
      if (!e) {
        const hint = nearest(conv.experiment, svc.engine.experiments.keys())
        errors.push({
          path: `conversions.${i}.experiment`,
          message: `unknown experiment "${conv.experiment}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        })
      } else if (!e.arms.includes(conv.arm)) {
        errors.push({ path: `conversions.${i}.arm`, message: `experiment ${e.id} has no arm "${conv.arm}"` })
      } else if (seen.has(`${conv.experiment}|${conv.id}`)) {
        repeats++
      } else {
        seen.add(`${conv.experiment}|${conv.id}`)
        const list = byExperiment.get(e.id) ?? []
        list.push({ id: conv.id, arm: conv.arm })
        byExperiment.set(e.id, list)
      }
    })
    if (errors.length) throw invalid(errors)
    const ns = c.env.EXPERIMENT
    const results = await Promise.all(
      [...byExperiment].map(([experiment, list]) =>
        withBudget(
          () => ns.get(ns.idFromName(experiment)).recordConversions(list),
          CONVERSIONS_BUDGET_MS,
          'experiment_state.record_conversions',
        ),
      ),
    )
    const failed = results.find((r) => !r.ok)
    if (failed && !failed.ok) {
      c.get('log')?.warn('conversions_unavailable', { ...failed.error })
      // Ids make the retry safe: conversions that did land count nothing the second time.
      return problemResponse(
        new ProblemError(
          503,
          'Service unavailable',
          'The conversions could not be counted now. Retry with the same ids; they count once.',
        ).problem,
        { 'retry-after': '2' },
      )
    }
    let counted = 0
    let duplicates = repeats
    for (const r of results) {
      if (!r.ok) continue
      counted += r.value.counted
      duplicates += r.value.duplicates
    }
    c.get('log')?.info('conversions_counted', { keyId: caller.keyId, counted, duplicates })
    return c.json({ accepted: body.conversions.length, counted, duplicates }, 202, {
      'cache-control': 'no-store',
    })
  })

  return app
}

/** Budget of one ExperimentState call counting a request's conversions. */
const CONVERSIONS_BUDGET_MS = 2_000
