/**
 * The subject's own routes (the transparency layer, docs/api.md):
 * - `GET /v1/me`: what the gateway holds about the caller, and for their recent decisions why
 *   they saw what they saw (reason, rules version, fallback, consent, experiment, trace).
 * - `DELETE /v1/me`: self-service erase; returns a receipt like the admin erase.
 * The caller is who the identity stage says they are (`c.get('identity')`); an ephemeral visitor has
 * no stored state, and gets an honest empty answer.
 */
import { Hono } from 'hono'
import { decisionsFor } from '../admin/decisions'
import type { AppEnv } from '../env'
import type { Identity } from '../identity/types'
import { ProblemError, problemResponse } from '../lib/problem'
import type { RuleSet } from '../rules'
import { EraseIncompleteError, eraseSubject } from './dsar'
import { resolveDsarSubject } from './resolve'
import { dumpReplacer, storeBudget, StoreUnavailableError, stores } from './stores'
import type { SubjectIdentifier } from './subject'
import { isTombstoned } from './tombstone'

export interface MeOptions {
  rules: RuleSet
  /** Decisions explained in `GET /v1/me`, newest first. */
  recentDecisions?: number
}

// Which identifier names the caller: the verified customer id when known, else the anonymous id
// (only when the identity stage keeps state for it: an ephemeral id has nothing behind it).
function callerIdentifier(identity: Identity | undefined): SubjectIdentifier | null {
  if (!identity) return null
  if (identity.customerId) return { type: 'customer_id', value: identity.customerId }
  if (identity.stateKey && identity.basis !== 'ephemeral')
    return { type: 'anonymous_id', value: identity.anonymousId }
  return null
}

const NOTHING_HELD =
  'The gateway keeps no state for this visit: no identifier was stored, so there is nothing to show or delete.'

export function me(opts: MeOptions): Hono<AppEnv> {
  const recent = opts.recentDecisions ?? 50
  const app = new Hono<AppEnv>()

  app.get('/me', async (c) => {
    const budget = storeBudget(c.env)
    const identity = c.get('identity') as Identity | undefined
    const id = callerIdentifier(identity)
    const headers = { 'cache-control': 'no-store, private' }
    if (!id) {
      return c.json(
        {
          identity: { basis: identity?.basis ?? 'ephemeral' },
          held: false,
          detail: NOTHING_HELD,
          state: {},
          decisions: [],
        },
        200,
        headers,
      )
    }
    if (await isTombstoned(c.env, id.type === 'customer_id' ? `c:${id.value}` : `a:${id.value}`)) {
      return c.json(
        {
          identity: { basis: identity!.basis },
          held: false,
          detail: 'This identifier was erased.',
          state: {},
          decisions: [],
        },
        200,
        headers,
      )
    }
    try {
      const state: Record<string, unknown> = {}
      // The caller's own objects only (their customer and anonymous state), not linked identities.
      const keys = [identity!.customerId ? `c:${identity!.customerId}` : null, identity!.stateKey].filter(
        (k, i, all): k is string => !!k && all.indexOf(k) === i,
      )
      for (const key of keys) state[key] = await stores.customerState.export(c.env, key, budget)
      const decisions = await decisionsFor(
        c.env.DB,
        {
          customerIds: identity!.customerId ? [identity!.customerId] : [],
          anonymousIds: identity!.anonymousId ? [identity!.anonymousId] : [],
        },
        recent,
      )
      const held =
        decisions.length > 0 ||
        Object.values(state).some((dump) =>
          Object.values(dump as Record<string, unknown[]>).some((rows) => rows.length > 0),
        )
      const body = {
        identity: {
          basis: identity!.basis,
          customerId: identity!.customerId,
          anonymousId: identity!.anonymousId,
        },
        held,
        state,
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
      throw new ProblemError(
        503,
        'Store unavailable',
        'Your data could not be read right now; try again shortly.',
      )
    }
  })

  app.delete('/me', async (c) => {
    const budget = storeBudget(c.env)
    const identity = c.get('identity') as Identity | undefined
    const id = callerIdentifier(identity)
    if (!id) {
      return c.json({ receiptId: null, status: 'completed', stores: {}, detail: NOTHING_HELD }, 200, {
        'cache-control': 'no-store',
      })
    }
    try {
      const subject = await resolveDsarSubject(c.env, id, c.get('log'))
      const receipt = await eraseSubject(c.env, subject, {
        retention: opts.rules.privacy.retention,
        requestedBy: 'self',
        log: c.get('log'),
        budgetMs: budget,
      })
      return c.json(receipt, 200, { 'cache-control': 'no-store' })
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        throw new ProblemError(
          503,
          'Store unavailable',
          'Your data could not be reached right now; try again shortly.',
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
