/**
 * `rules:explain`: a described visitor (where they are, what they consented to, who they are, what
 * we know about them, when) -> what each placement would show them and why, with the same trace
 * the engine produces at request time. Pure, so it runs in Node (the script) and in tests.
 */
import { z } from 'zod'
import type { DecisionState } from '../../durable-objects/customer/contract'
import type { RuleSet } from '../rules/types'
import { durationSchema } from '../rules/concerns/audiences'
import type { ArmStats, DecisionContext } from './context'
import { deviceType } from './device'
import { parseDuration } from './duration'
import { compileEngine, decidePlacement, type Engine, type EngineDecision } from './engine'
import { canonicalLocale } from './locale'

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()])

export const visitorSchema = z
  .strictObject({
    description: z.string().default(''),
    time: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('When the visit happens (ISO 8601); default: now.'),
    location: z
      .strictObject({
        country: z.string().length(2).nullable().default(null),
        region: z.string().nullable().default(null),
      })
      .prefault({}),
    jurisdiction: z.string().nullable().default(null),
    device: z.enum(['mobile', 'tablet', 'desktop', 'bot', 'unknown']).optional(),
    userAgent: z.string().optional(),
    locale: z.string().nullable().default(null),
    consent: z
      .strictObject({
        storage: z.boolean().default(false),
        measurement: z.boolean().default(false),
        personalization: z.boolean().default(false),
        advertising: z.boolean().default(false),
        saleShareOptOut: z.boolean().default(false),
      })
      .prefault({})
      .describe('Purposes granted; all false when absent (as in the EU without a signal).'),
    identity: z
      .strictObject({
        basis: z.enum(['jwt', 'cookie', 'header', 'ephemeral']).optional(),
        customerId: z.string().nullable().default(null),
        anonymousId: z.string().nullable().default(null),
      })
      .prefault({}),
    touchpoint: z
      .strictObject({
        source: z.string().nullable().default(null),
        medium: z.string().nullable().default(null),
        campaign: z.string().nullable().default(null),
        term: z.string().nullable().default(null),
        content: z.string().nullable().default(null),
        referrerHost: z.string().nullable().default(null),
      })
      .nullable()
      .default(null),
    page: z.string().nullable().default(null).describe('Page URL or path.'),
    attributes: z
      .record(
        z.string(),
        z.union([
          scalar,
          z.strictObject({
            value: scalar,
            age: durationSchema.default('0s'),
            source: z.string().default('crm'),
          }),
        ]),
      )
      .default({})
      .describe('Customer attributes: a value, or { value, age: "12d", source }.'),
    events: z
      .record(
        z.string(),
        z.strictObject({ count: z.number().int().min(0), lastSeen: durationSchema.default('0s') }),
      )
      .default({})
      .describe('Events seen: { purchase: { count: 2, lastSeen: "10d" } } (lastSeen = how long ago).'),
    intent: z.number().min(0).max(1).default(0),
    suppressedCampaigns: z.array(z.string()).default([]),
    context: z.record(z.string(), scalar).default({}).describe('App-side attributes (context.<name>).'),
    state: z
      .enum(['available', 'unavailable'])
      .default('available')
      .describe('Simulate customer state not answering.'),
    banditStats: z
      .record(
        z.string(),
        z.record(z.string(), z.strictObject({ exposures: z.number(), conversions: z.number() })),
      )
      .default({}),
  })
  .describe('A synthetic visitor for rules:explain.')

export type Visitor = z.input<typeof visitorSchema>

export interface Explanation {
  rulesVersion: string
  visitor: string
  placements: Array<
    Omit<EngineDecision, 'errors' | 'reserve' | 'rulesVersion' | 'locale'> & {
      locale: string | null
      capped: boolean
    }
  >
}

/** The engine context for a visitor description (already validated). */
export function visitorContext(v: z.output<typeof visitorSchema>): DecisionContext {
  const now = v.time ? Date.parse(v.time) : Date.now()
  const known = v.identity.customerId !== null
  const basis = v.identity.basis ?? (known ? 'jwt' : v.identity.anonymousId ? 'cookie' : 'ephemeral')
  const unit = v.identity.customerId ?? v.identity.anonymousId
  const hasState = basis !== 'ephemeral'
  const state: DecisionState = {
    attributes: Object.fromEntries(
      Object.entries(v.attributes).map(([k, a]) =>
        a !== null && typeof a === 'object'
          ? [k, { value: a.value, source: a.source, updatedAt: now - (parseDuration(a.age) ?? 0) }]
          : [k, { value: a, source: 'crm', updatedAt: now }],
      ),
    ),
    events: Object.fromEntries(
      Object.entries(v.events).map(([k, e]) => [
        k,
        { count: e.count, lastAt: now - (parseDuration(e.lastSeen) ?? 0) },
      ]),
    ),
    intentScore: v.intent,
    timeZone: null,
    suppressedCampaigns: v.suppressedCampaigns,
  }
  let page: URL | null = null
  if (v.page) {
    try {
      page = new URL(v.page, 'https://site.example')
    } catch {
      page = null
    }
  }
  return {
    now,
    geo: {
      country: v.location.country?.toUpperCase() ?? null,
      region: v.location.region,
      jurisdiction: v.jurisdiction,
    },
    device: { type: v.device ?? deviceType(v.userAgent) },
    locale: v.locale ? canonicalLocale(v.locale) : null,
    consent: {
      purposes: {
        storage: v.consent.storage,
        measurement: v.consent.measurement,
        personalization: v.consent.personalization,
        advertising: v.consent.advertising,
      },
      saleShareOptOut: v.consent.saleShareOptOut,
    },
    identity: { basis, customerId: v.identity.customerId, unitId: basis === 'ephemeral' ? null : unit },
    touchpoint: v.touchpoint,
    page: { path: page?.pathname ?? null, host: page?.host ?? null },
    attributes: v.context,
    state: v.state === 'unavailable' ? 'unavailable' : hasState ? state : null,
  }
}

export type ExplainResult =
  { ok: true; value: Explanation } | { ok: false; error: { reason: 'invalid_visitor'; issues: string[] } }

/** What each placement (or the named ones) shows the visitor, and why. */
export function explainVisitor(
  rules: RuleSet | Engine,
  input: unknown,
  placements?: string[],
): ExplainResult {
  const parsed = visitorSchema.safeParse(input)
  if (!parsed.success) {
    return {
      ok: false,
      error: {
        reason: 'invalid_visitor',
        issues: parsed.error.issues.map((i) => `${i.path.join('.') || '(visitor)'}: ${i.message}`),
      },
    }
  }
  const engine =
    'placements' in rules && rules.placements instanceof Map
      ? (rules as Engine)
      : compileEngine(rules as RuleSet)
  const ctx = visitorContext(parsed.data)
  const stats = parsed.data.banditStats as Record<string, Record<string, ArmStats>>
  const names = placements ?? [...engine.placements.keys()]
  const out: Explanation['placements'] = []
  for (const name of names) {
    const d = decidePlacement(engine, name, ctx, { banditStats: (id) => stats[id] })
    if (!d) continue
    out.push({
      placement: d.placement,
      variant: d.variant,
      content: d.content,
      locale: d.locale,
      reason: d.reason,
      fallback: d.fallback,
      experiment: d.experiment,
      // Caps are reserved at request time; explain says the variant is capped instead of reserving.
      capped: d.reserve !== null,
      trace: [...d.trace, ...d.errors.map((e) => `not evaluated (false): ${e}`)],
    })
  }
  return {
    ok: true,
    value: { rulesVersion: engine.version, visitor: parsed.data.description, placements: out },
  }
}

/** Human-readable explanation, one block per placement. */
export function formatExplanation(e: Explanation): string {
  const lines = [`rules ${e.rulesVersion}${e.visitor ? ` — ${e.visitor}` : ''}`, '']
  for (const p of e.placements) {
    const exp = p.experiment
      ? `  experiment ${p.experiment.id}: ${p.experiment.arm}${p.experiment.holdout ? ' (holdout)' : ''}`
      : ''
    lines.push(
      `${p.placement}: ${p.variant}  [${p.reason}${p.fallback ? `, fallback: ${p.fallback}` : ''}]${exp}`,
    )
    if (p.capped) lines.push("  capped: shown only if the visitor's frequency caps allow it at request time")
    for (const t of p.trace) lines.push(`  · ${t}`)
    lines.push('')
  }
  return lines.join('\n')
}
