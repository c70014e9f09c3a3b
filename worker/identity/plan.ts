/**
 * The identity stage's policy as pure functions (docs/identity.md "Trust model"): what a request
 * proves about who is calling, which subject it may touch, and what its response does with the
 * signed id. No I/O: the stage (./index.ts) gathers the facts, runs the steps a plan asks for
 * (a tombstone read, a login stitch) and feeds their answers back in, then carries the plan out.
 *
 * What proves what:
 * - a JWT verified on this request proves the customer (`sub`);
 * - the signed first-party id (cookie or `X-Gatehouse-Id`) proves the device: its anonymous id.
 *   A customer it carries is remembered for personalisation, never proof of that customer;
 * - nothing else is proof: an identifier a browser asserts (an `identify` event) is attached to
 *   the caller's own state only (./stitch.ts `attachAsserted`).
 */
import type { Identity, IdentityBasis } from './types'

/** The signed id the request presented, already verified (./cookie.ts). */
export interface PresentedId {
  anonymousId: string
  customerId: string | null
  /** Seconds since epoch. */
  issuedAt: number
  kid: string
  via: 'cookie' | 'header'
}

/** How a login stitch ended (./index.ts `login`). */
export type LoginOutcome = 'linked' | 'anonymous_conflict' | 'erased' | 'retry'

export interface VisitorFacts {
  nowS: number
  /** Storage consent and a usable cookie key ring: the anonymous id may persist. */
  persistent: boolean
  /** The request carries a gateway id cookie although it may not persist (consent withdrawn). */
  cookieWithoutConsent: boolean
  /** `sub` of a JWT verified on this request, else null. */
  jwtSubject: string | null
  presented: PresentedId | null
  /** The kid that signs new values, and how old a value may get before it is re-signed. */
  signingKid: string | null
  refreshAfterS: number
  /** The caller asks to drop the customer binding from its id (`POST /v1/sign-out`). */
  signOut: boolean
  /** A random id, taken when the plan starts a new anonymous id (at most one per request). */
  newAnonymousId: string
  /** Answers to earlier steps of this plan. */
  tombstones?: { anonymous: boolean; customer: boolean }
  login?: LoginOutcome
}

export type RotationReason = 'signed_out' | 'different_customer' | 'erased' | 'anonymous_conflict'

/** What the response does with the signed id. */
export type CookiePlan =
  | { action: 'issue'; customerId: string | null }
  | { action: 'keep' }
  | { action: 'expire' }
  | { action: 'none' }

export interface Visit {
  identity: Identity
  cookie: CookiePlan
  /** Why a new anonymous id replaced the presented one, or null. */
  rotated: RotationReason | null
}

export type VisitorStep =
  /** Ask D1 whether the presented ids were erased (only when the id is due for renewal). */
  | { kind: 'check_tombstones'; anonymousId: string; customerId: string | null }
  /** Stitch the verified customer with the device's anonymous id. */
  | { kind: 'login'; customerId: string; anonymousId: string }
  | { kind: 'done'; visit: Visit }

/**
 * The next step for a request. Call it again with the answer to each step it asks for; it ends
 * with `done`.
 *
 * @example
 *   let step = planVisitor(facts)
 *   while (step.kind !== 'done') step = planVisitor({ ...facts, ...(await answer(step)) })
 */
export function planVisitor(f: VisitorFacts): VisitorStep {
  const jwt = f.jwtSubject
  if (!f.persistent) {
    return done(
      {
        basis: jwt ? 'jwt' : 'ephemeral',
        anonymousId: f.newAnonymousId,
        customerId: jwt,
        stateKey: jwt ? `c:${jwt}` : null,
      },
      f.cookieWithoutConsent ? { action: 'expire' } : { action: 'none' },
      null,
    )
  }

  const p = f.presented
  let anonymousId = p?.anonymousId ?? f.newAnonymousId
  let fresh = p === null
  let carried = p?.customerId ?? null
  let rotated: RotationReason | null = null
  const rotate = (why: RotationReason) => {
    anonymousId = f.newAnonymousId
    fresh = true
    rotated = why
  }

  if (p && f.signOut) {
    // A new device id with no customer: the next person on this browser starts from nothing.
    rotate('signed_out')
    carried = null
  } else if (jwt && carried !== null && carried !== jwt) {
    // Someone else signs in on a browser stitched to another customer (a shared device).
    rotate('different_customer')
    carried = null
  }

  // Tombstones are read where an id is renewed, not on every page view (docs/identity.md).
  if (p && !fresh && renewalDue(p, f)) {
    if (!f.tombstones) return { kind: 'check_tombstones', anonymousId, customerId: carried }
    if (f.tombstones.anonymous || f.tombstones.customer) {
      rotate('erased')
      if (f.tombstones.customer) carried = null
    }
  }

  let cookieCustomer = f.signOut ? null : carried
  if (jwt && !f.signOut && carried !== jwt) {
    if (fresh) {
      // An id issued on this very request has no history to merge: nothing to stitch.
      cookieCustomer = jwt
    } else {
      if (!f.login) return { kind: 'login', customerId: jwt, anonymousId }
      cookieCustomer = f.login === 'linked' ? jwt : null
      if (f.login === 'anonymous_conflict' || f.login === 'erased') {
        rotate(f.login === 'erased' ? 'erased' : 'anonymous_conflict')
        cookieCustomer = jwt
      }
    }
  }

  const customerId = jwt ?? carried
  const reissue =
    fresh ||
    p === null ||
    p.customerId !== cookieCustomer ||
    p.kid !== f.signingKid ||
    f.nowS - p.issuedAt >= f.refreshAfterS
  return done(
    {
      basis: jwt ? 'jwt' : (p?.via ?? 'cookie'),
      anonymousId,
      customerId,
      stateKey: customerId ? `c:${customerId}` : `a:${anonymousId}`,
    },
    reissue ? { action: 'issue', customerId: cookieCustomer } : { action: 'keep' },
    rotated,
  )
}

function renewalDue(p: PresentedId, f: VisitorFacts): boolean {
  return p.kid !== f.signingKid || f.nowS - p.issuedAt >= f.refreshAfterS
}

function done(
  id: { basis: IdentityBasis; anonymousId: string; customerId: string | null; stateKey: string | null },
  cookie: CookiePlan,
  rotated: RotationReason | null,
): VisitorStep {
  // JIT: docs/performance.md "Engine notes", "Object spread on the identity path".
  const identity: Identity = {
    basis: id.basis,
    anonymousId: id.anonymousId,
    customerId: id.customerId,
    unitId: id.customerId ?? id.anonymousId,
    stateKey: id.stateKey,
  }
  return { kind: 'done', visit: { identity, cookie, rotated } }
}

/** The customer this request proved (a JWT verified on this request), else null. */
export function provenCustomerId(identity: Identity | undefined): string | null {
  return identity?.basis === 'jwt' ? identity.customerId : null
}

/**
 * Which stored subject a self-service privacy request (`GET`/`DELETE /v1/me`) may read or erase:
 * a customer only with that customer's JWT; otherwise the device's own anonymous state, never a
 * customer it was once stitched to; nothing for an ephemeral visit.
 */
export type SelfScope =
  | { kind: 'customer'; customerId: string; anonymousId: string }
  | { kind: 'anonymous'; anonymousId: string }
  | { kind: 'none' }

export function selfServiceScope(identity: Identity | undefined): SelfScope {
  if (!identity) return { kind: 'none' }
  const customerId = provenCustomerId(identity)
  const device = identity.basis !== 'ephemeral' && identity.stateKey !== null
  if (customerId) return { kind: 'customer', customerId, anonymousId: identity.anonymousId }
  if (device) return { kind: 'anonymous', anonymousId: identity.anonymousId }
  return { kind: 'none' }
}
