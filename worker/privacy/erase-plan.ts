/**
 * What a DSAR erase (GDPR Art. 17) removes, store by store, in the order it must happen: the
 * policy, kept apart from the orchestration in ./dsar.ts (which runs these steps, records progress
 * on the receipt and resumes an interrupted erase). Adding a store that holds personal data means
 * adding its step here, in its place.
 *
 * The decision archive in R2 is never rewritten: its step destroys the keys that seal the person's
 * fields in it (crypto-shredding, docs/privacy.md "Decision archive").
 *
 * Experiment assignments are not stored per unit (bucketing is a pure hash; ExperimentState keeps
 * per-arm totals only); the assignment a person got lives in their decision records.
 */
import type { Env } from '../env'
import type { RetentionRules } from '../rules/concerns/privacy'
import type { Pending } from './receipts'
import { d1Store, decisionLog, identityConflicts, stores, triggerDeadLetters } from './stores'
import { writeTombstones } from './tombstone'

/** What every step may use. */
export interface EraseContext {
  env: Env
  pending: Pending
  receiptId: string
  retention: RetentionRules
  /** Time budget per object call, ms. */
  budgetMs: number
  now: () => number
}

/**
 * One store's step. `each` lists the keys of a per-object store (one call per key, each recorded
 * on the receipt when done, so a resumed erase skips it); a step without `each` runs once.
 */
export type EraseStep<Store extends string = string> =
  | {
      store: Store
      why: string
      each: (p: Pending) => string[]
      erase: (ctx: EraseContext, key: string) => Promise<number>
    }
  | { store: Store; why: string; each?: undefined; erase: (ctx: EraseContext) => Promise<number> }

export const ERASE_PLAN = [
  {
    store: 'tombstones',
    why: 'first, so nothing re-creates the subject while the rest is erased',
    erase: ({ env, pending, receiptId, retention, now }) =>
      d1Store('tombstones', () =>
        writeTombstones(
          env,
          [...pending.stateKeys, ...pending.identifierKeys],
          receiptId,
          retention.tombstones,
          now(),
        ),
      ),
  },
  {
    store: 'decisionArchive',
    why: 'crypto-shredding: the subject keys in every CustomerState are destroyed, so every archived copy of their decision records (R2) is unreadable without rewriting a file; before customerState, so the receipt counts them',
    each: (p) => p.stateKeys,
    erase: ({ env, budgetMs }, key) => stores.decisionArchive.shred(env, key, budgetMs),
  },
  {
    store: 'customerState',
    why: 'every CustomerState object: rows removed, object tombstoned',
    each: (p) => p.stateKeys,
    erase: ({ env, receiptId, pending, budgetMs }, key) =>
      stores.customerState.erase(env, key, receiptId, pending.until, budgetMs),
  },
  {
    store: 'identityIndex',
    why: 'every identity link, and the identifier in states where a visitor only asserted it',
    each: (p) => p.identifierKeys,
    erase: ({ env, budgetMs, pending }, key) =>
      stores.identityIndex.erase(env, key, budgetMs, pending.stateKeys),
  },
  {
    store: 'identityConflicts',
    why: "D1 stitching conflicts naming any of the subject's keys",
    erase: ({ env, pending }) =>
      d1Store('identityConflicts', () =>
        identityConflicts.erase(env.DB, pending.identifierKeys, pending.stateKeys),
      ),
  },
  {
    store: 'decisionLog',
    why: 'D1 decision records by customer id and anonymous id',
    erase: ({ env, pending }) =>
      d1Store('decisionLog', () => decisionLog.erase(env.DB, pending.customerIds, pending.anonymousIds)),
  },
  {
    store: 'triggerDeadLetters',
    why: 'D1 trigger messages that exhausted their retries, by state key',
    erase: ({ env, pending }) =>
      d1Store('triggerDeadLetters', () => triggerDeadLetters.erase(env.DB, pending.stateKeys)),
  },
] as const satisfies readonly EraseStep[]

export type EraseStore = (typeof ERASE_PLAN)[number]['store']

/** The stores in erase order (receipts list what is done and what remains in this order). */
export const ERASE_STORES: readonly EraseStore[] = ERASE_PLAN.map((s) => s.store)
