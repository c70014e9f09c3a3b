/**
 * IdentityIndex: one identifier's link to its customer (identity stitching).
 * SQLite-backed (new_sqlite_classes in wrangler.toml); RPC methods are added by the feature that owns them.
 */
import { DurableObject } from 'cloudflare:workers'
import type { Env } from '../../worker/env'

export class IdentityIndex extends DurableObject<Env> {}
