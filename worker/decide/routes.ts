/**
 * The decision API: `POST /v1/decide` (docs/api.md), `POST /v1/decide/conversions` (bandit feedback),
 * and `GET /v1/openapi.json` (OpenAPI 3.1 generated from the same validators).
 */
import { Hono, type Context } from 'hono'
import type { z } from 'zod'
import type { AppEnv } from '../env'
import { invalid, type FieldError } from '../lib/problem'
import type { RuleSet } from '../rules'
import { nearest } from '../rules/suggest'
import { conversionsRequestSchema, decideRequestSchema, openApiDocument, type DecideResponse } from './api'
import { NO_CONSENT } from './context'
import { decideForRequest, decisionService, executionWaitUntil } from './service'

export function decideRoutes({ rules }: { rules: RuleSet }): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  app.post('/decide', async (c) => {
    const svc = decisionService(rules)
    const body = await parseBody(c, decideRequestSchema)
    const unknown: FieldError[] = []
    body.placements.forEach((p, i) => {
      if (svc.engine.placements.has(p)) return
      const hint = nearest(p, svc.engine.placements.keys())
      unknown.push({
        path: `placements.${i}`,
        message: `unknown placement "${p}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
      })
    })
    if (unknown.length) throw invalid(unknown, 'Some placements are not in the rule set.')

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

  app.post('/decide/conversions', async (c) => {
    const svc = decisionService(rules)
    const body = await parseBody(c, conversionsRequestSchema)
    const errors: FieldError[] = []
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
      }
    })
    if (errors.length) throw invalid(errors)
    for (const conv of body.conversions) svc.stats.count(conv.experiment, conv.arm, 'conversion', conv.count)
    executionWaitUntil(c)(svc.stats.flush(c.env?.EXPERIMENT))
    return c.json({ accepted: body.conversions.length }, 202, { 'cache-control': 'no-store' })
  })

  const doc = openApiDocument(rules.version)
  app.get('/openapi.json', (c) => c.json(doc, 200, { 'cache-control': 'public, max-age=300' }))
  return app
}

/** Parses a JSON body against `schema`; any failure is a 400 naming the fields. */
async function parseBody<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.output<S>> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type)) {
    throw invalid([{ path: '', message: 'the body must be JSON (Content-Type: application/json)' }])
  }
  let raw: unknown
  try {
    raw = await c.req.json()
  } catch {
    throw invalid([{ path: '', message: 'the body is not valid JSON' }])
  }
  const parsed = schema.safeParse(raw)
  if (!parsed.success) {
    throw invalid(parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })))
  }
  return parsed.data
}
