/**
 * Every migration of the CustomerState object, in order. Each feature keeps its tables in its own
 * module beside this file and lists its migrations here (ids are never renamed once shipped).
 * The tables are documented in docs/storage.md.
 */
import type { Migration } from '../lib/migrations'
import { scheduleMigrations } from '../lib/schedule'
import { archiveKeyMigrations } from './archive-keys'
import { capsMigrations } from './caps'
import { eventsMigrations } from './events'
import { profileMigrations } from './profile'
import { triggersMigrations } from './triggers'
import { identityLinkMigrations } from './identity-links'
import { touchpointMigrations } from './touchpoints'
import { exposureMigrations } from './exposures'
import { consentRecordMigrations } from './consent-records'

export const customerMigrations: Migration[] = [
  ...scheduleMigrations,
  {
    id: 'core-001',
    sql: `CREATE TABLE IF NOT EXISTS absorbed (
      state_key TEXT PRIMARY KEY,
      absorbed_at INTEGER NOT NULL,
      rows INTEGER NOT NULL
    );`,
  },
  // --- identity links and touchpoints ---
  ...identityLinkMigrations,
  ...touchpointMigrations,
  // --- events, profile, caps, triggers ---
  ...eventsMigrations,
  ...profileMigrations,
  ...capsMigrations,
  ...triggersMigrations,
  // --- experiment exposures ---
  ...exposureMigrations,
  // --- consent records (proof of consent) ---
  ...consentRecordMigrations,
  // --- decision archive ---
  ...archiveKeyMigrations,
]
