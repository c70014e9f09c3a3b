/**
 * Identity stitching and subject resolution: the I/O half of identity (Durable Objects, D1).
 *
 * `stitch` links identifiers to one person when a verified source says they belong together (a
 * login: JWT subject + the device's own signed anonymous id + the identifiers the token vouches
 * for; a server-side or admin assertion), deterministically. An unverified assertion (a browser's
 * `identify` event) never reaches it: `attachAsserted` keeps such identifiers in the caller's own
 * state only (docs/identity.md "Trust model"). Steps:
 *
 * 1. Keys: every identifier is normalised and, for email/phone, HMAC'd with the pepper
 *    (worker/identity/keys.ts) before it goes anywhere.
 * 2. Target: the given customer id; else the customer already holding the highest-precedence
 *    identifier (JWT subject > CRM id > hashed email > hashed phone > anonymous id); else the
 *    anonymous visitor itself (`a:<anonymousId>`), whose links pass to a customer at login.
 * 2a. Tombstones: keys of an erased subject (D1 `tombstones`, worker/privacy/tombstone.ts) are
 *    dropped; when the target itself was erased nothing is linked (`erased` says which keys).
 * 3. Caps first: CustomerState.linkIdentifiers admits identifiers up to the caps in
 *    rules/identity.yaml (graph-collapse guard); refusals are recorded.
 * 4. Claims: each identifier's IdentityIndex object decides; a link held by another customer is
 *    never moved: the claim is refused, dropped from the customer's links and recorded as a
 *    conflict (in both objects and in D1 `identity_conflicts` for review).
 * 5. Absorb: the anonymous visitor's CustomerState is exported, absorbed by the customer's exactly
 *    once (CustomerState.absorb is idempotent per source key, even under concurrent logins), its
 *    trigger timers re-armed in the customer's state (CustomerState.restoreTimers), then erased so
 *    it is not counted twice.
 *
 * Every call has a time budget; a failure stops the step, is reported in `fallback`, and the same
 * stitch is safe to retry (every step is idempotent), which the identity stage does at the next login.
 */
import type { Env } from '../env'
import { withBudget, type BudgetResult } from '../lib/budget'
import { identifierKey, type IdentifierType } from './keys'
import { tombstonedKeys } from '../privacy/tombstone'
import type { ClaimResult, VerifiedSource } from '../../durable-objects/identity'

/** Who vouches for a stitch: a verified login (`jwt`) or a server-side/admin assertion (`admin`). */
export type AssertedBy = VerifiedSource

export interface StitchInput {
  customerId?: string | null
  anonymousId?: string | null
  identifiers: Array<{ type: IdentifierType; value: string }>
  assertedBy: AssertedBy
  /** The anonymous id was issued on this very request: it has no state to absorb (saves three calls). */
  anonymousIsNew?: boolean
  /** Defaults from rules/identity.yaml `stitching`. */
  limits?: Partial<StitchLimits>
  now?: number
}

export interface StitchLimits {
  maxIdentifiersPerCustomer: number
  maxAnonymousIdsPerCustomer: number
  /** Budget for one Durable Object / D1 call. */
  callBudgetMs: number
}

export interface StitchConflict {
  identifierKey: string
  /** Who holds it (`c:<customerId>`), or null when the refusal is the cap. */
  heldBy: string | null
  reason: 'conflict' | 'cap'
}

export interface StitchResult {
  /** The customer the identifiers now belong to (null: linked to the anonymous visitor only). */
  customerId: string | null
  /** The state key everything was linked to, or null when nothing could be. */
  stateKey: string | null
  /** Identifier keys now linked (new or before). */
  linked: string[]
  conflicts: StitchConflict[]
  /** Identifiers that did not normalise (`{ type: 'email', reason: 'invalid' }`); never echoed raw. */
  invalid: Array<{ type: IdentifierType; index: number }>
  /** Anonymous state keys absorbed into the customer by this call. */
  absorbed: string[]
  /**
   * Keys (state keys and identifier keys) of erased subjects (DSAR tombstones) this call refused to
   * link or absorb. When the target state key itself is one, nothing was linked (`stateKey` null).
   */
  erased: string[]
  /** Set when a call failed or ran out of time: the stitch is incomplete and safe to retry. */
  fallback: null | { reason: 'timeout' | 'error'; what: string; message: string }
}

const DEFAULT_LIMITS: StitchLimits = {
  maxIdentifiersPerCustomer: 25,
  maxAnonymousIdsPerCustomer: 200,
  callBudgetMs: 500,
}

// Highest first (the stitching precedence, docs/identity.md "Stitching"). The customer id itself
// outranks them all.
const PRECEDENCE: IdentifierType[] = ['customer_id', 'crm_id', 'email', 'phone', 'anonymous_id']

interface Keyed {
  type: IdentifierType
  key: string
}

class StitchAbort extends Error {
  constructor(readonly failure: NonNullable<StitchResult['fallback']>) {
    super(failure.message)
    this.name = 'StitchAbort'
  }
}

/**
 * Links the identifiers to one person. Never throws (a missing ID_PEPPER while an email/phone is
 * given is reported as a fallback `error`, not thrown).
 *
 * @example
 *   await stitch(env, { anonymousId, identifiers: [{ type: 'email', value: 'Ann@Example.com ' }], assertedBy: 'admin' })
 */
export async function stitch(env: Env, input: StitchInput): Promise<StitchResult> {
  const limits = { ...DEFAULT_LIMITS, ...input.limits }
  const now = input.now ?? Date.now()
  const result: StitchResult = {
    customerId: null,
    stateKey: null,
    linked: [],
    conflicts: [],
    invalid: [],
    absorbed: [],
    erased: [],
    fallback: null,
  }
  const call = async <T>(work: () => Promise<T>, what: string): Promise<T> => {
    const r: BudgetResult<T> = await withBudget(work, limits.callBudgetMs, what)
    if (!r.ok) throw new StitchAbort(r.error)
    return r.value
  }
  try {
    let keyed = await keysOf(env, input, result)
    const customerKey = keyed.find((k) => k.type === 'customer_id')
    let customerId = customerKey ? customerKey.key.slice('customer_id:'.length) : null
    if (!customerId) {
      // No asserted customer: the holder of the highest-precedence identifier, if any, is the person.
      const rows = await Promise.all(
        keyed.map((k) => call(() => indexStub(env, k.key).lookup(k.key), 'identity_index.lookup')),
      )
      customerId = rows.find((r) => r?.customerId)?.customerId ?? null
    }
    const anonymousKey = keyed.find((k) => k.type === 'anonymous_id')
    const stateKey = customerId
      ? `c:${customerId}`
      : anonymousKey
        ? `a:${anonymousKey.key.slice('anonymous_id:'.length)}`
        : null
    if (!stateKey) return result

    // An erased subject is not re-created (DSAR tombstones): one D1 read per stitch, which runs at logins,
    // identify events and admin assertions only, never on ordinary page views. Without a pepper no
    // tombstone can have been written (they are peppered digests), so there is nothing to read.
    const erased = env.ID_PEPPER
      ? await call(() => tombstonedKeys(env, [stateKey, ...keyed.map((k) => k.key)], now), 'd1.tombstones')
      : new Set<string>()
    if (erased.size > 0) {
      result.erased = [...erased].sort()
      if (erased.has(stateKey)) return result
      keyed = keyed.filter((k) => !erased.has(k.key))
    }
    result.customerId = customerId
    result.stateKey = stateKey
    if (customerId && !customerKey) keyed.unshift({ type: 'customer_id', key: `customer_id:${customerId}` })

    const ctx = {
      customerId,
      stateKey,
      assertedBy: input.assertedBy,
      now,
      limits,
      anonymousIsNew: !!input.anonymousIsNew,
    }
    await linkAll(env, keyed, ctx, result, call)
  } catch (err) {
    if (err instanceof StitchAbort) result.fallback = err.failure
    else
      result.fallback = {
        reason: 'error',
        what: 'stitch',
        message: err instanceof Error ? err.message : String(err),
      }
  }
  return result
}

async function keysOf(env: Env, input: StitchInput, result: StitchResult): Promise<Keyed[]> {
  const all: Array<{ type: IdentifierType; value: string }> = [...input.identifiers]
  if (input.customerId) all.unshift({ type: 'customer_id', value: input.customerId })
  if (input.anonymousId) all.push({ type: 'anonymous_id', value: input.anonymousId })
  const seen = new Set<string>()
  const keyed: Keyed[] = []
  for (const [index, id] of all.entries()) {
    const key = await identifierKey(id.type, id.value, env.ID_PEPPER)
    if (key === null) {
      if (index < input.identifiers.length + (input.customerId ? 1 : 0)) {
        result.invalid.push({ type: id.type, index: index - (input.customerId ? 1 : 0) })
      }
      continue
    }
    // Two different customer ids in one call: the first (the asserted one) wins, the other is a conflict.
    if (id.type === 'customer_id' && keyed.some((k) => k.type === 'customer_id')) {
      if (!seen.has(key)) result.conflicts.push({ identifierKey: key, heldBy: null, reason: 'conflict' })
      seen.add(key)
      continue
    }
    if (seen.has(key)) continue
    seen.add(key)
    keyed.push({ type: id.type, key })
  }
  return keyed.sort((a, b) => PRECEDENCE.indexOf(a.type) - PRECEDENCE.indexOf(b.type))
}

interface LinkContext {
  customerId: string | null
  stateKey: string
  assertedBy: AssertedBy
  now: number
  limits: StitchLimits
  anonymousIsNew: boolean
}

type Call = <T>(work: () => Promise<T>, what: string) => Promise<T>

async function linkAll(
  env: Env,
  keyed: Keyed[],
  ctx: LinkContext,
  result: StitchResult,
  call: Call,
): Promise<void> {
  const target = env.CUSTOMER.get(env.CUSTOMER.idFromName(ctx.stateKey))
  let pending = keyed
  const absorbedFrom = new Set<string>()
  // A second round links the identifiers that an absorbed anonymous state brought with it.
  for (let round = 0; round < 2 && pending.length > 0; round++) {
    const outcome = await call(
      () =>
        target.linkIdentifiers({
          candidates: pending.map((k) => ({ identifierKey: k.key, identifierType: k.type })),
          assertedBy: ctx.assertedBy,
          maxIdentifiers: ctx.limits.maxIdentifiersPerCustomer,
          maxAnonymousIds: ctx.limits.maxAnonymousIdsPerCustomer,
          now: ctx.now,
        }),
      'customer_state.link_identifiers',
    )
    if (outcome.erased) {
      // Erased since the tombstone read (or D1 could not say): link nothing to the erased person.
      result.erased.push(ctx.stateKey)
      result.customerId = null
      result.stateKey = null
      return
    }
    for (const key of outcome.refused)
      result.conflicts.push({ identifierKey: key, heldBy: null, reason: 'cap' })
    const admitted = pending.filter((k) => !outcome.refused.includes(k.key))
    const claims = await Promise.all(
      admitted.map(async (k) => ({
        k,
        claim: await call<ClaimResult>(
          () =>
            // The RPC stub's inferred type loses the union's discriminant; the method returns ClaimResult.
            indexStub(env, k.key).claim({
              identifierKey: k.key,
              identifierType: k.type,
              customerId: ctx.customerId,
              stateKey: ctx.stateKey,
              assertedBy: ctx.assertedBy,
              now: ctx.now,
            }) as unknown as Promise<ClaimResult>,
          'identity_index.claim',
        ),
      })),
    )
    const toAbsorb: string[] = []
    for (const { k, claim } of claims) {
      if (claim.status === 'linked' || claim.status === 'already' || claim.status === 'upgraded') {
        result.linked.push(k.key)
        if (claim.status === 'upgraded') toAbsorb.push(claim.previousStateKey)
        if (k.type === 'anonymous_id' && ctx.customerId && !(round === 0 && ctx.anonymousIsNew))
          toAbsorb.push(`a:${k.key.slice('anonymous_id:'.length)}`)
        continue
      }
      await refuse(env, k, claim, ctx, result, call)
    }
    const next: Keyed[] = []
    for (const from of new Set(toAbsorb)) {
      if (from === ctx.stateKey || absorbedFrom.has(from) || !from.startsWith('a:')) continue
      absorbedFrom.add(from)
      const brought = await absorbOnce(env, target, from, result, call, ctx.stateKey)
      for (const link of brought) {
        if (!keyed.some((k) => k.key === link.key) && !next.some((k) => k.key === link.key)) next.push(link)
      }
    }
    pending = next
  }
}

/** Refused claim: drop it from the customer's links, record the conflict for review. */
async function refuse(
  env: Env,
  k: Keyed,
  claim: ClaimResult,
  ctx: LinkContext,
  result: StitchResult,
  call: Call,
): Promise<void> {
  const target = env.CUSTOMER.get(env.CUSTOMER.idFromName(ctx.stateKey))
  await call(
    () =>
      target.unlinkIdentifier({ identifierKey: k.key, heldBy: claim.stateKey, assertedBy: ctx.assertedBy }),
    'customer_state.unlink_identifier',
  )
  if (claim.status === 'held') return
  result.conflicts.push({ identifierKey: k.key, heldBy: claim.stateKey, reason: 'conflict' })
  await call(
    () =>
      env.DB.prepare(
        `INSERT OR IGNORE INTO identity_conflicts
           (id, identifier_key, identifier_type, held_by, claimed_by, asserted_by, at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
        .bind(crypto.randomUUID(), k.key, k.type, claim.stateKey, ctx.stateKey, ctx.assertedBy, ctx.now)
        .run(),
    'd1.identity_conflicts',
  )
}

/**
 * Moves an anonymous visitor's state into the customer's: export, absorb (exactly once per source
 * key, whoever races), then erase the source. Erasing only after a successful absorb means a
 * failure in between loses nothing; a retry finds the key already absorbed and just erases.
 * Returns the identifier links the anonymous state carried (linked next round).
 */
async function absorbOnce(
  env: Env,
  target: DurableObjectStub<import('../../durable-objects/customer').CustomerState>,
  from: string,
  result: StitchResult,
  call: Call,
  targetKey: string,
): Promise<Keyed[]> {
  const source = env.CUSTOMER.get(env.CUSTOMER.idFromName(from))
  const dump = await call(() => source.exportAll(), 'customer_state.export_all')
  const outcome = await call(() => target.absorb(from, dump), 'customer_state.absorb')
  if (outcome.erased) {
    // The customer was erased: the anonymous state stays where it is (nothing merged, nothing lost).
    result.erased.push(targetKey)
    return []
  }
  if (outcome.absorbed) result.absorbed.push(from)
  // Timers do not travel with absorbed rows: re-arm them from the absorbed events, so a cart started
  // before login still gets its abandonment timer in the customer's state. Idempotent, so it also
  // runs when a retried stitch finds the source already absorbed (the first attempt may have
  // stopped right after absorb).
  await call(() => target.restoreTimers(), 'customer_state.restore_timers')
  await call(() => source.eraseAll(), 'customer_state.erase_all')
  const links = (dump.identity_links ?? []) as Array<{
    identifier_key?: unknown
    identifier_type?: unknown
    asserted_by?: unknown
  }>
  // Asserted identifiers moved with the state: their mentions follow it.
  await Promise.all(
    links
      .filter((l) => typeof l.identifier_key === 'string' && l.asserted_by === UNVERIFIED)
      .map((l) =>
        call(
          () => indexStub(env, l.identifier_key as string).mention(targetKey, { replaces: from }),
          'identity_index.mention',
        ),
      ),
  )
  // Identifiers the visitor only asserted travel with the state, but are never claimed from it.
  return links
    .filter(
      (l): l is { identifier_key: string; identifier_type: IdentifierType; asserted_by: string } =>
        typeof l.identifier_key === 'string' && l.asserted_by !== UNVERIFIED,
    )
    .map((l) => ({ key: l.identifier_key, type: l.identifier_type }))
}

/** `asserted_by` of an identifier a visitor asserted without proof (`attachAsserted`). */
export const UNVERIFIED = 'browser'

export interface AttachResult {
  /** Identifiers now attached to the caller's own state (new or before). */
  attached: number
  /** Identifiers that did not normalise, by index; never echoed. */
  invalid: number
  /** False when the state did not answer in time (safe to retry). */
  complete: boolean
}

/**
 * Attaches identifiers a visitor asserted without proof (an `identify` event: the email typed at
 * checkout) to the caller's own state, peppered, so that state's triggers can use them. Nothing
 * else: no index lookup, no claim, no merge, so the answer is the same whether or not anyone holds
 * the identifier, and another subject is never read, linked or absorbed. Never throws.
 *
 * @example
 *   await attachAsserted(env, { stateKey: 'a:7b1e...', identifiers: [{ type: 'email', value: 'ann@example.com' }] })
 */
export async function attachAsserted(
  env: Env,
  input: {
    stateKey: string
    identifiers: Array<{ type: IdentifierType; value: string }>
    limits?: Partial<StitchLimits>
    now?: number
  },
): Promise<AttachResult> {
  const limits = { ...DEFAULT_LIMITS, ...input.limits }
  const candidates: Array<{ identifierKey: string; identifierType: IdentifierType }> = []
  let invalid = 0
  for (const id of input.identifiers) {
    // An asserted customer or anonymous id would be a claim to another subject's name: never attached.
    if (id.type === 'customer_id' || id.type === 'anonymous_id') continue
    let key: string | null = null
    try {
      key = await identifierKey(id.type, id.value, env.ID_PEPPER)
    } catch {
      return { attached: 0, invalid, complete: false }
    }
    if (key === null) invalid++
    else if (!candidates.some((c) => c.identifierKey === key))
      candidates.push({ identifierKey: key, identifierType: id.type })
  }
  // An identifier erased by a DSAR is not written again, silently: the answer stays the same.
  const erased = await withBudget(
    async () =>
      env.ID_PEPPER && candidates.length > 0
        ? await tombstonedKeys(
            env,
            candidates.map((c) => c.identifierKey),
            input.now,
          )
        : new Set<string>(),
    limits.callBudgetMs,
    'd1.tombstones',
  )
  if (!erased.ok) return { attached: 0, invalid, complete: false }
  const live = candidates.filter((c) => !erased.value.has(c.identifierKey))
  const silent = candidates.length - live.length
  if (live.length === 0) return { attached: silent, invalid, complete: true }
  const state = env.CUSTOMER.get(env.CUSTOMER.idFromName(input.stateKey))
  const r = await withBudget(
    () =>
      state.linkIdentifiers({
        candidates: live,
        assertedBy: UNVERIFIED,
        maxIdentifiers: limits.maxIdentifiersPerCustomer,
        maxAnonymousIds: limits.maxAnonymousIdsPerCustomer,
        now: input.now,
      }),
    limits.callBudgetMs,
    'customer_state.link_identifiers',
  )
  if (!r.ok || r.value.erased) return { attached: 0, invalid, complete: r.ok }
  const attached = [...r.value.accepted, ...r.value.already]
  // The reverse index a DSAR for the identifier follows to remove it here; it answers nothing back.
  const mentioned = await withBudget(
    () => Promise.all(attached.map((key) => indexStub(env, key).mention(input.stateKey, { now: input.now }))),
    limits.callBudgetMs,
    'identity_index.mention',
  )
  return { attached: attached.length + silent, invalid, complete: mentioned.ok }
}

function indexStub(env: Env, key: string) {
  return env.IDENTITY.get(env.IDENTITY.idFromName(key))
}

export interface Subject {
  /** The customer, when the identifier leads to one. */
  customerId: string | null
  /** Every CustomerState object name that may hold this person's data. */
  stateKeys: string[]
  /** Every identifier key of this person (IdentityIndex object names; include the one asked for). */
  identifierKeys: string[]
}

/**
 * Everything stored about a person, found from any one identifier (DSAR). Follows the
 * IdentityIndex row to the person's CustomerState, whose `identity_links` list every identifier key;
 * anonymous ids add their own `a:<id>` state key (state written after absorption lives there).
 * Rejects (throws) when an object does not answer in time: a DSAR must not report a partial subject.
 *
 * @example
 *   const s = await resolveSubject(env, { type: 'email', value: 'ann@example.com' })
 *   // s.stateKeys -> ['c:42', 'a:7b1e...'], s.identifierKeys -> ['customer_id:42', 'email:5f...', ...]
 */
export async function resolveSubject(
  env: Env,
  identifier: { type: IdentifierType; value: string },
  opts: { callBudgetMs?: number } = {},
): Promise<Subject> {
  const budget = opts.callBudgetMs ?? 2000
  const must = async <T>(work: () => Promise<T>, what: string): Promise<T> => {
    const r = await withBudget(work, budget, what)
    if (!r.ok) throw new Error(`resolveSubject: ${r.error.what} ${r.error.reason}: ${r.error.message}`)
    return r.value
  }
  const key = await identifierKey(identifier.type, identifier.value, env.ID_PEPPER)
  if (key === null) return { customerId: null, stateKeys: [], identifierKeys: [] }
  const row = await must(() => indexStub(env, key).lookup(key), 'identity_index.lookup')
  const customerId =
    row?.customerId ?? (identifier.type === 'customer_id' ? key.slice('customer_id:'.length) : null)
  const stateKeys = new Set<string>()
  const identifierKeys = new Set<string>([key])
  if (customerId) stateKeys.add(`c:${customerId}`)
  if (row) stateKeys.add(row.stateKey)
  if (row?.previousStateKey) stateKeys.add(row.previousStateKey)
  if (identifier.type === 'anonymous_id') stateKeys.add(`a:${key.slice('anonymous_id:'.length)}`)
  for (const stateKey of [...stateKeys]) {
    const links = await must(
      () => env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey)).identityLinks(),
      'customer_state.identity_links',
    )
    for (const l of links.links) {
      // An asserted identifier is not this person's by proof: its index object may be someone else's.
      if (l.assertedBy === UNVERIFIED) continue
      identifierKeys.add(l.identifierKey)
      if (l.identifierType === 'anonymous_id')
        stateKeys.add(`a:${l.identifierKey.slice('anonymous_id:'.length)}`)
      if (l.identifierType === 'customer_id')
        stateKeys.add(`c:${l.identifierKey.slice('customer_id:'.length)}`)
    }
  }
  return { customerId, stateKeys: [...stateKeys].sort(), identifierKeys: [...identifierKeys].sort() }
}
