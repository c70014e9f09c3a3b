/**
 * ExperimentState's tables (docs/storage.md): one row per arm with running totals, and the batch
 * ids already applied so a retried flush is counted once; and the ids of conversions reported by
 * servers (`POST /v1/decide/conversions`), so a conversion is counted once however often it is sent;
 * and the measurement counters of a shard (./aggregates.ts).
 */
import type { Migration } from '../lib/migrations'
import { aggregateMigrations } from './aggregates'

export const experimentMigrations: Migration[] = [
  {
    id: 'experiment-001',
    sql: `CREATE TABLE IF NOT EXISTS arms (
      arm TEXT PRIMARY KEY,
      exposures INTEGER NOT NULL DEFAULT 0,
      conversions INTEGER NOT NULL DEFAULT 0,
      updated_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS batches (
      id TEXT PRIMARY KEY,
      applied_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS batches_applied ON batches (applied_at);`,
  },
  {
    id: 'experiment-002',
    sql: `CREATE TABLE IF NOT EXISTS conversions (
      id TEXT PRIMARY KEY,
      arm TEXT NOT NULL,
      counted_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS conversions_counted ON conversions (counted_at);`,
  },
  ...aggregateMigrations,
]
