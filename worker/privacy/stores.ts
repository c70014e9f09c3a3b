/**
 * The stores a subject's data lives in, each behind one small adapter with a time budget
 * (docs/architecture.md "State (Durable Objects, queues, D1)": every call is raced against a
 * timer). DSAR export and erase (./dsar.ts, in the
 * order of ./erase-plan.ts) and `/v1/me` (./me.ts) go through these and nothing
 * else, so adding a store means adding it here.
 */
import type { PendingTimerRow } from './pending-triggers'
import type { Env } from '../env'
import { withBudget } from '../lib/budget'
import type { SubjectKey } from '../../durable-objects/customer/archive-keys'
import type { TableDump } from '../../durable-objects/lib/tables'

/** A store did not answer within its budget or failed: the operation cannot be completed now. */
export class StoreUnavailableError extends Error {
  constructor(
    readonly store: string,
    readonly why: string,
  ) {
    super(`${store} unavailable: ${why}`)
    this.name = 'StoreUnavailableError'
  }
}

/** The per-call time budget: `PRIVACY_STORE_BUDGET_MS` when it is a sane number, else 5 s. */
export function storeBudget(env: Pick<Env, 'PRIVACY_STORE_BUDGET_MS'>): number {
  const n = Number(env.PRIVACY_STORE_BUDGET_MS)
  return Number.isInteger(n) && n >= 50 && n <= 60_000 ? n : 5_000
}

/** Runs one D1 call for `store`; any failure becomes `StoreUnavailableError` naming the store. */
export async function d1Store<T>(store: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw new StoreUnavailableError(store, error instanceof Error ? error.message : String(error))
  }
}

async function budgeted<T>(store: string, ms: number, work: () => Promise<T>): Promise<T> {
  const r = await withBudget(work, ms, store)
  if (!r.ok) throw new StoreUnavailableError(store, `${r.error.reason}: ${r.error.message}`)
  return r.value
}

function customer(env: Env, stateKey: string) {
  return env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey))
}

function identityIndex(env: Env, key: string) {
  return env.IDENTITY.get(env.IDENTITY.idFromName(key))
}

export const stores = {
  customerState: {
    /**
     * The object's tables, without its archive keys: a key handed out in an export would survive
     * the erase meant to destroy it (durable-objects/customer/archive-keys.ts).
     */
    export: (env: Env, key: string, ms: number): Promise<TableDump> =>
      budgeted('customerState', ms, async () => {
        const { archive_keys: _keys, ...dump } = (await customer(env, key).exportAll()) as TableDump
        return dump
      }),
    erase: (env: Env, key: string, receiptId: string, until: number, ms: number): Promise<number> =>
      budgeted('customerState', ms, async () => sum(await customer(env, key).privacyErase(receiptId, until))),
    /** The trigger timers still waiting (scheduled work, which `export` leaves out). */
    pendingTimers: (env: Env, key: string, ms: number): Promise<PendingTimerRow[]> =>
      budgeted(
        'customerState',
        ms,
        async () => (await customer(env, key).pendingTimers()) as PendingTimerRow[],
      ),
  },
  /**
   * The subject keys of the decision archive in one CustomerState (worker/archive): read to open
   * the person's archived records (export), destroyed to make them unreadable (erase).
   */
  decisionArchive: {
    keys: (env: Env, key: string, ms: number): Promise<SubjectKey[]> =>
      budgeted('decisionArchive', ms, () => customer(env, key).archiveKeys()),
    shred: (env: Env, key: string, ms: number): Promise<number> =>
      budgeted('decisionArchive', ms, () => customer(env, key).shredArchiveKeys()),
  },
  identityIndex: {
    export: (env: Env, key: string, ms: number): Promise<TableDump> =>
      budgeted('identityIndex', ms, () => identityIndex(env, key).exportAll() as Promise<TableDump>),
    /**
     * Erases one identifier's index object. First the identifier goes from the other states where a
     * visitor only asserted it (its `mentions`: docs/identity.md "Trust model"), so nothing of the
     * person stays behind in them; `own` (the subject's own states, erased whole) are skipped.
     */
    erase: (env: Env, key: string, ms: number, own: readonly string[] = []): Promise<number> =>
      budgeted('identityIndex', ms, async () => {
        const index = identityIndex(env, key)
        let forgotten = 0
        for (const stateKey of await index.mentions()) {
          if (!own.includes(stateKey))
            forgotten += await customer(env, stateKey).forgetAssertedIdentifier(key)
        }
        return forgotten + sum(await index.eraseIdentifier())
      }),
  },
}

/** Rows of D1 `identity_conflicts` (worker/identity) naming any of the subject's keys. */
const CONFLICTS_WHERE = (keys: number, states: number) =>
  `identifier_key IN (${marks(keys)}) OR held_by IN (${marks(states)}) OR claimed_by IN (${marks(states)})`

function marks(n: number): string {
  return n === 0 ? 'NULL' : Array.from({ length: n }, () => '?').join(',')
}

export const identityConflicts = {
  export: async (db: D1Database, identifierKeys: string[], stateKeys: string[]) => {
    if (identifierKeys.length + stateKeys.length === 0) return []
    const { results } = await db
      .prepare(
        `SELECT * FROM identity_conflicts WHERE ${CONFLICTS_WHERE(identifierKeys.length, stateKeys.length)}`,
      )
      .bind(...identifierKeys, ...stateKeys, ...stateKeys)
      .all()
    return results
  },
  erase: async (db: D1Database, identifierKeys: string[], stateKeys: string[]): Promise<number> => {
    if (identifierKeys.length + stateKeys.length === 0) return 0
    const r = await db
      .prepare(
        `DELETE FROM identity_conflicts WHERE ${CONFLICTS_WHERE(identifierKeys.length, stateKeys.length)}`,
      )
      .bind(...identifierKeys, ...stateKeys, ...stateKeys)
      .run()
    return r.meta.changes
  },
}

/**
 * Rows of D1 `trigger_dead_letters` (worker/delivery, migration 0100): trigger messages that
 * exhausted their retries. Each names whose message it was by `state_key` (and carries the customer
 * id inside `message`), so a subject's rows are found by their state keys.
 */
export const triggerDeadLetters = {
  export: async (db: D1Database, stateKeys: string[]): Promise<Array<Record<string, unknown>>> => {
    const rows: Array<Record<string, unknown>> = []
    for (const chunk of chunks(stateKeys)) {
      const { results } = await db
        .prepare(
          `SELECT * FROM trigger_dead_letters WHERE state_key IN (${marks(chunk.length)}) ORDER BY dead_at`,
        )
        .bind(...chunk)
        .all()
      rows.push(...results)
    }
    return rows
  },
  erase: async (db: D1Database, stateKeys: string[]): Promise<number> => {
    let n = 0
    for (const chunk of chunks(stateKeys)) {
      const r = await db
        .prepare(`DELETE FROM trigger_dead_letters WHERE state_key IN (${marks(chunk.length)})`)
        .bind(...chunk)
        .run()
      n += r.meta.changes
    }
    return n
  },
}

/**
 * Rows of D1 `decision_log` (worker/log) by the subject's customer ids and anonymous ids. A record
 * under an anonymous id that names a customer is that customer's (a signed-in visit on the device),
 * as `decisionsFor` reads them: erased with that customer, never by the device's id alone.
 */
export const decisionLog = {
  erase: async (db: D1Database, customerIds: string[], anonymousIds: string[]): Promise<number> => {
    let n = 0
    for (const [column, values, own] of [
      ['customer_id', customerIds, ''],
      ['anonymous_id', anonymousIds, ' AND customer_id IS NULL'],
    ] as const) {
      for (const chunk of chunks(values)) {
        const r = await db
          .prepare(`DELETE FROM decision_log WHERE ${column} IN (${marks(chunk.length)})${own}`)
          .bind(...chunk)
          .run()
        n += r.meta.changes
      }
    }
    return n
  },
}

// D1 caps bound parameters per statement at 100.
function chunks(values: string[], size = 90): string[][] {
  const out: string[][] = []
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size))
  return out
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

/** JSON for a table dump: binary column values (ArrayBuffer) become `{ "base64": "..." }`. */
export function dumpReplacer(_key: string, value: unknown): unknown {
  if (value instanceof ArrayBuffer) {
    let s = ''
    for (const b of new Uint8Array(value)) s += String.fromCharCode(b)
    return { base64: btoa(s) }
  }
  return value
}
