/**
 * ExperimentState: one experiment's arm statistics (exposures and conversions per arm), the input
 * of its Thompson-sampling bandit and of later reports. One object per experiment
 * (`idFromName(experimentId)`). Isolates never call it per request: they read statistics through
 * a per-isolate cache and send counts in batches (worker/decide/stats.ts), so traffic to one
 * experiment does not funnel through one object.
 */
import type { Env } from '../../worker/env'
import type { ArmDay } from '../../worker/experiments/types'
import { SqlObject } from '../lib/base'
import { addAggregates, readAggregates, validAggregateBatch, type AggregateBatch } from './aggregates'
import { experimentMigrations } from './schema'

export interface ArmCounts {
  exposures: number
  conversions: number
}

export interface ArmDelta extends ArmCounts {
  arm: string
}

export interface CountBatch {
  /** Idempotency key: a batch retried after a lost answer is applied once. */
  id: string
  deltas: ArmDelta[]
}

/** The running totals of an experiment (named apart from worker/decide's `ExperimentStats` cache). */
export interface ExperimentTotals {
  arms: Record<string, ArmCounts>
  /** ms since epoch of the read. */
  at: number
}

// Batch ids are kept a day: long past any retry of the same flush.
const BATCH_RETENTION_MS = 86_400_000
const MAX_DELTAS = 1000
/** Conversion ids are remembered this long: a repeat within it counts nothing (docs/storage.md). */
export const CONVERSION_ID_RETENTION_MS = 90 * 86_400_000
const MAX_CONVERSIONS = 100
const CONVERSION_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/

export interface Conversion {
  /** Idempotency key (an order number). */
  id: string
  arm: string
}

export class ExperimentState extends SqlObject {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, { migrations: experimentMigrations })
  }

  /** Adds a batch of exposure/conversion counts per arm, once per batch id. */
  async record(batch: CountBatch): Promise<{ applied: boolean }> {
    const deltas = this.#valid(batch)
    if (!deltas) return { applied: false }
    const sql = this.ctx.storage.sql
    return this.ctx.storage.transactionSync(() => {
      if (sql.exec('SELECT 1 FROM batches WHERE id = ?', batch.id).toArray().length > 0)
        return { applied: false }
      const now = Date.now()
      for (const d of deltas) {
        sql.exec(
          `INSERT INTO arms (arm, exposures, conversions, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (arm) DO UPDATE SET exposures = exposures + excluded.exposures,
             conversions = conversions + excluded.conversions, updated_at = excluded.updated_at`,
          d.arm,
          d.exposures,
          d.conversions,
          now,
        )
      }
      sql.exec('INSERT INTO batches (id, applied_at) VALUES (?, ?)', batch.id, now)
      sql.exec('DELETE FROM batches WHERE applied_at < ?', now - BATCH_RETENTION_MS)
      return { applied: true }
    })
  }

  /**
   * Counts each conversion once by its id, atomically: an id seen in the last 90 days counts
   * nothing. Returns how many were counted and how many were repeats; a malformed list counts none.
   */
  async recordConversions(list: Conversion[]): Promise<{ counted: number; duplicates: number }> {
    if (!Array.isArray(list) || list.length > MAX_CONVERSIONS) return { counted: 0, duplicates: 0 }
    for (const x of list) {
      if (!x || typeof x.id !== 'string' || !CONVERSION_ID.test(x.id)) return { counted: 0, duplicates: 0 }
      if (typeof x.arm !== 'string' || x.arm.length === 0 || x.arm.length > 128)
        return { counted: 0, duplicates: 0 }
    }
    const sql = this.ctx.storage.sql
    return this.ctx.storage.transactionSync(() => {
      const now = Date.now()
      sql.exec('DELETE FROM conversions WHERE counted_at < ?', now - CONVERSION_ID_RETENTION_MS)
      let counted = 0
      for (const x of list) {
        const fresh = sql
          .exec(
            'INSERT INTO conversions (id, arm, counted_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id',
            x.id,
            x.arm,
            now,
          )
          .toArray()
        if (fresh.length === 0) continue
        counted++
        sql.exec(
          `INSERT INTO arms (arm, exposures, conversions, updated_at) VALUES (?, 0, 1, ?)
           ON CONFLICT (arm) DO UPDATE SET conversions = conversions + 1, updated_at = excluded.updated_at`,
          x.arm,
          now,
        )
      }
      return { counted, duplicates: list.length - counted }
    })
  }

  /** Adds a batch of aggregate changes (one shard's share), once per batch id. */
  async recordAggregates(batch: AggregateBatch): Promise<{ applied: boolean }> {
    const rows = validAggregateBatch(batch)
    if (!rows) return { applied: false }
    const sql = this.ctx.storage.sql
    return this.ctx.storage.transactionSync(() => {
      if (sql.exec('SELECT 1 FROM batches WHERE id = ?', batch.id).toArray().length > 0)
        return { applied: false }
      addAggregates(sql, rows)
      const now = Date.now()
      sql.exec('INSERT INTO batches (id, applied_at) VALUES (?, ?)', batch.id, now)
      sql.exec('DELETE FROM batches WHERE applied_at < ?', now - BATCH_RETENTION_MS)
      return { applied: true }
    })
  }

  /** This shard's counters per arm and day. */
  async aggregates(): Promise<ArmDay[]> {
    return readAggregates(this.ctx.storage.sql)
  }

  /** The running totals per arm. */
  async stats(): Promise<ExperimentTotals> {
    const arms: Record<string, ArmCounts> = {}
    for (const row of this.ctx.storage.sql
      .exec<{ arm: string; exposures: number; conversions: number }>(
        'SELECT arm, exposures, conversions FROM arms',
      )
      .toArray()) {
      arms[row.arm] = { exposures: row.exposures, conversions: row.conversions }
    }
    return { arms, at: Date.now() }
  }

  // RPC input is untrusted in shape: non-integer or negative counts would corrupt the posterior.
  #valid(batch: CountBatch): ArmDelta[] | null {
    if (!batch || typeof batch.id !== 'string' || batch.id.length === 0 || batch.id.length > 128) return null
    if (!Array.isArray(batch.deltas) || batch.deltas.length > MAX_DELTAS) return null
    const out: ArmDelta[] = []
    for (const d of batch.deltas) {
      if (!d || typeof d.arm !== 'string' || d.arm.length === 0 || d.arm.length > 128) return null
      if (!Number.isSafeInteger(d.exposures) || !Number.isSafeInteger(d.conversions)) return null
      if (d.exposures < 0 || d.conversions < 0) return null
      out.push({ arm: d.arm, exposures: d.exposures, conversions: d.conversions })
    }
    return out
  }
}

/** The object name of shard `i` of an experiment's measurement counters (ids are lower_snake_case, so no clash). */
export function measurementShardName(experiment: string, shard: number): string {
  return `measure:${experiment}:${shard}`
}
