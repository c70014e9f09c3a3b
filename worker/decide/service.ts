/**
 * Decisions for one request, at the edge: builds the engine's context from what earlier stages
 * set, reads customer state within its time budget (only when a rule needs it and the visitor has
 * state), decides each placement, reserves caps, and writes one DecisionRecord per decision.
 * Never throws: state that does not answer becomes `fallback: "state_unavailable"`. First exposures
 * to experiments are recorded in the background (worker/experiments/accounting.ts).
 */
import type { Context } from 'hono'
import type {
  DecisionState,
  DecisionStateApi,
  ReserveRequest,
  ReserveResult,
} from '../../durable-objects/customer/contract'
import type { Consent } from '../consent/types'
import type { AppEnv } from '../env'
import type { Identity } from '../identity/types'
import type { DecisionRecord } from '../log/record'
import type { RuleSet } from '../rules'
import { withBudget } from '../lib/budget'
import { NO_CONSENT, type DecisionContext } from './context'
import { deviceType } from './device'
import { compileEngine, decidePlacement, toFallback, type Engine, type EngineDecision } from './engine'
import { canonicalLocale, preferredLocale } from './locale'
import { ExperimentStats } from './stats'
import { accountExposures } from '../experiments/accounting'

/** The engine and experiment statistics of one rule set, shared by the stage and the routes. */
export interface DecisionService {
  engine: Engine
  stats: ExperimentStats
  rules: RuleSet
}

// One compiled engine per rule set per isolate (compiling is the expensive part).
const services = new WeakMap<RuleSet, DecisionService>()

export function decisionService(rules: RuleSet): DecisionService {
  let svc = services.get(rules)
  if (!svc) {
    const engine = compileEngine(rules)
    for (const p of engine.problems)
      console.warn(JSON.stringify({ level: 'warn', event: 'rule_problem', problem: p }))
    svc = { engine, stats: new ExperimentStats(engine.stats), rules }
    services.set(rules, svc)
  }
  return svc
}

export interface RequestDecisionInput {
  placements: string[]
  channel: 'page' | 'api'
  /** Locale stated by the app; else the Accept-Language header; else the rule set's default. */
  locale?: string | null
  attributes?: Record<string, unknown>
  /** The URL the decision is for (the app's screen or the proxied page). */
  url?: string | null
  /** Consent for this decision (a decide body's signals may differ from the request's own). */
  consent?: Consent
}

export interface RequestDecisions {
  decisions: EngineDecision[]
  consent: Consent | undefined
  identity: Identity
}

/** Consent as the engine sees it: absent consent is no consent (never granted by accident). */
function purposesOf(consent: Consent | undefined): DecisionContext['consent'] {
  return consent
    ? { purposes: { ...NO_CONSENT, ...consent.purposes }, saleShareOptOut: consent.saleShareOptOut }
    : { purposes: { ...NO_CONSENT }, saleShareOptOut: true }
}

/** The identity stage's value, or an ephemeral visitor when it set none. */
export function identityOf(c: Context<AppEnv>): Identity {
  const id = c.get('identity')
  if (id) return id
  const anonymousId = crypto.randomUUID()
  return { basis: 'ephemeral', anonymousId, customerId: null, unitId: anonymousId, stateKey: null }
}

/** Decides `input.placements` for this request. Unknown placements are the caller's to reject. */
export async function decideForRequest(
  c: Context<AppEnv>,
  svc: DecisionService,
  input: RequestDecisionInput,
): Promise<RequestDecisions> {
  const { engine } = svc
  const consent = input.consent ?? c.get('consent')
  const identity = identityOf(c)
  const log = c.get('log')
  const now = Date.now()
  const url = safeUrl(input.url) ?? c.get('request')?.url ?? null
  const tp = c.get('touchpoint') ?? null
  const ctx: DecisionContext = {
    now,
    geo: {
      country: c.get('request')?.location.country ?? null,
      region: c.get('request')?.location.region ?? null,
      jurisdiction: consent?.jurisdiction ?? null,
    },
    device: { type: deviceType(c.req.header('user-agent')) },
    locale:
      (input.locale ? canonicalLocale(input.locale) : null) ??
      preferredLocale(c.req.header('accept-language')),
    consent: purposesOf(consent),
    identity: {
      basis: identity.basis,
      customerId: identity.customerId,
      unitId: identity.basis === 'ephemeral' ? null : identity.unitId,
    },
    touchpoint: tp
      ? {
          source: tp.source,
          medium: tp.medium,
          campaign: tp.campaign,
          term: tp.term,
          content: tp.content,
          referrerHost: tp.referrerHost,
        }
      : null,
    page: { path: url?.pathname ?? null, host: url?.host ?? null },
    attributes: input.attributes ?? {},
    state: null,
  }

  const placements = input.placements.filter((p) => engine.placements.has(p))
  // Only the parts of state these placements read (StatePart flags): often none at all.
  let parts = 0
  for (const p of placements) parts |= engine.placements.get(p)!.state
  const stub = parts !== 0 && identity.stateKey ? customerStub(c, identity.stateKey) : null
  if (stub) {
    const r = await withBudget(
      () => stub.getDecisionState(now, parts),
      engine.stateBudgetMs,
      'customer_state.getDecisionState',
    )
    if (r.ok && isDecisionState(r.value)) ctx.state = r.value
    else {
      ctx.state = 'unavailable'
      log?.warn('decision_state_unavailable', {
        reason: r.ok ? 'bad_shape' : r.error.reason,
        budgetMs: engine.stateBudgetMs,
      })
    }
  }

  const waitUntil = executionWaitUntil(c)
  const banditStats = svc.stats.reader(c.env?.EXPERIMENT, waitUntil, now)
  let decisions = placements.map((p) => decidePlacement(engine, p, ctx, { banditStats })!)
  for (const d of decisions) {
    if (d.errors.length) log?.warn('condition_not_evaluated', { placement: d.placement, errors: d.errors })
  }

  const reservations = new Map<string, ReserveResult>()
  const toReserve = decisions.filter((d) => d.reserve)
  if (stub && toReserve.length > 0) {
    const requests: ReserveRequest[] = toReserve.map((d) => ({
      decisionId: `${c.get('requestId')}:${d.placement}`,
      placement: d.placement,
      campaign: d.reserve!.campaign,
      channel: input.channel === 'page' ? 'web' : 'app',
      tags: d.reserve!.tags,
      now,
    }))
    const r = await withBudget(() => stub.reserve(requests), engine.stateBudgetMs, 'customer_state.reserve')
    decisions = decisions.map((d) => {
      if (!d.reserve) return d
      if (!r.ok || !Array.isArray(r.value)) {
        return toFallback(
          engine,
          d,
          ctx.locale,
          'fallback',
          'state_unavailable',
          'caps could not be reserved in time',
        )
      }
      const answer = r.value[toReserve.indexOf(d)]
      if (!answer) return toFallback(engine, d, ctx.locale, 'fallback', 'state_unavailable', 'no cap answer')
      reservations.set(d.placement, answer)
      if (answer.allowed) return { ...d, reserve: null }
      return toFallback(engine, d, ctx.locale, 'cap', 'cap', `cap reached: ${answer.reason}`)
    })
  }

  let records = c.get('decisionRecords')
  if (!records) c.set('decisionRecords', (records = []))
  for (const d of decisions)
    records.push(toRecord(c, d, input.channel, consent, identity, reservations.get(d.placement)))
  accountExposures(
    c,
    svc.rules,
    identity.stateKey,
    {
      decisions,
      holdoutEligible:
        identity.basis !== 'ephemeral' &&
        engine.holdout.requires.every((p) => ctx.consent.purposes[p] === true),
      at: now,
    },
    waitUntil,
  )
  return { decisions, consent, identity }
}

function toRecord(
  c: Context<AppEnv>,
  d: EngineDecision,
  channel: 'page' | 'api',
  consent: Consent | undefined,
  identity: Identity,
  reservation: ReserveResult | undefined,
): DecisionRecord {
  return {
    id: crypto.randomUUID(),
    time: new Date().toISOString(),
    requestId: c.get('requestId'),
    channel,
    placement: d.placement,
    variant: d.variant,
    reason: d.reason,
    fallback: d.fallback,
    rulesVersion: d.rulesVersion,
    consentSnapshotId: consent?.snapshotId ?? 'none',
    consent: consent
      ? {
          jurisdiction: consent.jurisdiction,
          purposes: { ...consent.purposes },
          saleShareOptOut: consent.saleShareOptOut,
        }
      : { jurisdiction: 'OTHER', purposes: { ...NO_CONSENT }, saleShareOptOut: true },
    identityBasis: identity.basis,
    customerId: identity.customerId,
    anonymousId: identity.basis === 'ephemeral' ? null : identity.anonymousId,
    experiment: d.experiment,
    caps: reservation ? { allowed: reservation.allowed, caps: reservation.caps } : null,
    trace: d.trace,
  }
}

function customerStub(c: Context<AppEnv>, stateKey: string): DecisionStateApi | null {
  const ns = c.env?.CUSTOMER
  if (!ns) return null
  // The contract (durable-objects/customer/contract.ts) is what the engine relies on.
  return ns.get(ns.idFromName(stateKey)) as unknown as DecisionStateApi
}

// An object that answers with the wrong shape is treated like one that did not answer.
function isDecisionState(v: unknown): v is DecisionState {
  if (!v || typeof v !== 'object') return false
  const s = v as Partial<DecisionState>
  return (
    typeof s.attributes === 'object' &&
    s.attributes !== null &&
    typeof s.events === 'object' &&
    s.events !== null &&
    Array.isArray(s.suppressedCampaigns)
  )
}

export function executionWaitUntil(c: Context<AppEnv>): (p: Promise<unknown>) => void {
  return (p) => {
    const guarded = p.catch(() => undefined)
    try {
      c.executionCtx.waitUntil(guarded)
    } catch {
      // No execution context (unit tests of the app): the promise simply runs.
    }
  }
}

function safeUrl(u: string | null | undefined): URL | null {
  if (!u) return null
  try {
    return new URL(u)
  } catch {
    return null
  }
}
