/**
 * ExperimentState: one experiment's state: bandit arm statistics, exposures and conversions.
 * SQLite-backed (new_sqlite_classes in wrangler.toml); RPC methods are added by the feature that owns them.
 */
import { DurableObject } from 'cloudflare:workers'
import type { Env } from '../../worker/env'

export class ExperimentState extends DurableObject<Env> {}
