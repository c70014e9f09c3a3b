/**
 * The subject's own routes (the transparency layer, docs/api.md):
 * - `GET /v1/me`: what the gateway holds about the caller, and for their recent decisions why
 *   they saw what they saw (reason, rules version, fallback, consent, experiment, trace).
 * - `DELETE /v1/me`: self-service erase; returns a receipt like the admin erase.
 * Scope by proof, not by link (worker/identity/plan.ts `selfServiceScope`, docs/privacy.md): a
 * customer's data needs that customer's JWT on this request; without one the caller reaches only the
 * device's own anonymous state, never a customer the signed id was once stitched to; an ephemeral
 * visitor has no stored state and gets an honest empty answer.
 */
import { Hono } from 'hono'
import { decisionsFor } from '../admin/decisions'
import type { AppEnv } from '../env'
import { selfServiceScope, type SelfScope } from '../identity/plan'
import type { Identity } from '../identity/types'
import { withBudget } from '../lib/budget'
import { refuseBody } from '../lib/json-body'
import { ProblemError, problemResponse, withHeaders } from '../lib/problem'
import type { RuleSet } from '../rules'
import { EraseIncompleteError, eraseSubject } from './dsar'
import { resolveDsarSubject } from './resolve'
import { dumpReplacer, storeBudget, StoreUnavailableError, stores } from './stores'
import { toSubject, type DsarSubject } from './subject'
import { isTombstoned } from './tombstone'
import { pendingTriggers } from './pending-triggers'

export interface MeOptions {
  rules: RuleSet
  /** Decisions explained in `GET /v1/me`, newest first. */
  recentDecisions?: number
}

/** Seconds a client waits before asking again when a store did not answer. */
const STORE_RETRY_AFTER_SECONDS = 5

const NOTHING_HELD =
  'The gateway keeps no state for this visit: no identifier was stored, so there is nothing to show or delete.'

export function me(opts: MeOptions): Hono<AppEnv> {
  const recent = opts.recentDecisions ?? 50
  const app = new Hono<AppEnv>()

  app.get('/me', async (c) => {
    const budget = storeBudget(c.env)
    const identity = c.get('identity') as Identity | undefined
    const scope = selfServiceScope(identity)
    const headers = { 'cache-control': 'no-store, private' }
    if (scope.kind === 'none') {
      return c.json(
        {
          identity: { basis: identity?.basis ?? 'ephemeral' },
          held: false,
          detail: NOTHING_HELD,
          state: {},
          pendingTriggers: [],
          decisions: [],
        },
        200,
        headers,
      )
    }
    const own = ownKeys(scope)
    if (await isTombstoned(c.env, own.stateKey)) {
      return c.json(
        {
          identity: { basis: identity!.basis },
          held: false,
          detail: 'This identifier was erased.',
          state: {},
          pendingTriggers: [],
          decisions: [],
        },
        200,
        headers,
      )
    }
    try {
      // The caller's own object only (their customer's, or the device's anonymous state).
      const state: Record<string, unknown> = {
        [own.stateKey]: await stores.customerState.export(c.env, own.stateKey, budget),
      }
      // Decisions under an anonymous id that name a customer are that customer's (decisionsFor).
      const decisions = await decisionsFor(c.env.DB, own, recent)
      const held =
        decisions.length > 0 ||
        Object.values(state).some((dump) =>
          Object.values(dump as Record<string, unknown[]>).some((rows) => rows.length > 0),
        )
      const body = {
        identity: {
          basis: identity!.basis,
          customerId: scope.kind === 'customer' ? scope.customerId : null,
          anonymousId: scope.anonymousId,
        },
        held,
        state,
        // Messages still waiting to be sent, in words (the raw rows are in `state.*.due_items`).
        pendingTriggers: pendingTriggers(
          await stores.customerState.pendingTimers(c.env, own.stateKey, budget),
        ),
        decisions: decisions.map((d) => ({
          time: d.time,
          placement: d.placement,
          variant: d.variant,
          why: {
            reason: d.reason,
            fallback: d.fallback,
            rulesVersion: d.rulesVersion,
            consent: d.consent,
            experiment: d.experiment,
            caps: d.caps,
            trace: d.trace,
          },
        })),
        ...(held ? {} : { detail: 'Nothing is stored for this identifier yet.' }),
      }
      return new Response(JSON.stringify(body, dumpReplacer), {
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      })
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error
      throw withHeaders(
        new ProblemError(
          503,
          'Store unavailable',
          'Your data could not be read right now; try again shortly.',
        ),
        { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) },
      )
    }
  })

  app.delete('/me', async (c) => {
    // An option this route does not have (`{ "dryRun": true }`) must not be ignored by an erase.
    await refuseBody(c.req.raw, 'DELETE /v1/me')
    const budget = storeBudget(c.env)
    const scope = selfServiceScope(c.get('identity') as Identity | undefined)
    if (scope.kind === 'none') {
      return c.json({ receiptId: null, status: 'completed', stores: {}, detail: NOTHING_HELD }, 200, {
        'cache-control': 'no-store',
      })
    }
    try {
      const subject =
        scope.kind === 'customer'
          ? await resolveDsarSubject(c.env, { type: 'customer_id', value: scope.customerId }, c.get('log'))
          : await deviceSubject(c.env, scope.anonymousId, budget)
      const receipt = await eraseSubject(c.env, subject, {
        retention: opts.rules.privacy.retention,
        requestedBy: 'self',
        log: c.get('log'),
        budgetMs: budget,
      })
      return c.json(receipt, 200, { 'cache-control': 'no-store' })
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        throw withHeaders(
          new ProblemError(
            503,
            'Store unavailable',
            'Your data could not be reached right now; try again shortly.',
          ),
          { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) },
        )
      }
      if (!(error instanceof EraseIncompleteError)) throw error
      return problemResponse(
        new ProblemError(
          503,
          'Erase incomplete',
          'Part of your data could not be erased yet. Send the same request again to finish.',
          undefined,
          {
            receipt: error.receipt,
          },
        ).problem,
        { 'retry-after': '10' },
      )
    }
  })

  return app
}

/** The one state object and the decision-log ids a self-service request reaches. */
function ownKeys(scope: Exclude<SelfScope, { kind: 'none' }>): {
  stateKey: string
  customerIds: string[]
  anonymousIds: string[]
} {
  return scope.kind === 'customer'
    ? {
        stateKey: `c:${scope.customerId}`,
        customerIds: [scope.customerId],
        anonymousIds: [scope.anonymousId],
      }
    : { stateKey: `a:${scope.anonymousId}`, customerIds: [], anonymousIds: [scope.anonymousId] }
}

/**
 * The device's own anonymous subject, for an erase without a customer's JWT: its state object and
 * its index entry, but not when a login linked that entry to a customer (the link is the customer's
 * record, and this request did not prove the customer).
 */
async function deviceSubject(
  env: AppEnv['Bindings'],
  anonymousId: string,
  budgetMs: number,
): Promise<DsarSubject> {
  const stateKey = `a:${anonymousId}`
  const indexKey = `anonymous_id:${anonymousId}`
  const r = await withBudget(
    () => env.IDENTITY.get(env.IDENTITY.idFromName(indexKey)).lookup(indexKey),
    budgetMs,
    'identity_index.lookup',
  )
  if (!r.ok) throw new StoreUnavailableError('identityIndex', r.error.message)
  const own = r.value === null || r.value.stateKey === stateKey
  return toSubject(env, { type: 'anonymous_id', value: anonymousId }, [
    { customerId: null, stateKeys: [stateKey], identifierKeys: own ? [indexKey] : [] },
  ])
}
