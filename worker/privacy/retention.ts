/**
 * Retention for D1 (the scheduled handler; the cron is in wrangler.toml): decision records, admin
 * audit entries, completed DSAR receipts, identity conflicts and expired tombstones older than the windows in
 * rules/privacy.yaml are deleted. Customer state has its own retention alarm inside each
 * CustomerState object (durable-objects/customer/privacy.ts). Idempotent: a second run deletes
 * nothing more.
 */
import type { Env } from '../env'
import type { Logger } from '../lib/log'
import type { RetentionRules } from '../rules/concerns/privacy'

const DAY_MS = 86_400_000

export interface RetentionResult {
  decisionLog: number
  adminAudit: number
  dsarReceipts: number
  identityConflicts: number
  tombstones: number
}

/** Deletes every D1 row past its window as of `now`. Returns rows deleted per table. */
export async function runRetention(
  env: Pick<Env, 'DB'>,
  retention: RetentionRules,
  log?: Logger,
  now = Date.now(),
): Promise<RetentionResult> {
  const before = (days: number) => now - days * DAY_MS
  const [decisionLog, adminAudit, dsarReceipts, identityConflicts, tombstones] = await env.DB.batch([
    env.DB.prepare('DELETE FROM decision_log WHERE at < ?').bind(before(retention.decisionLog)),
    env.DB.prepare('DELETE FROM admin_audit WHERE at < ?').bind(before(retention.adminAudit)),
    // Receipts still in progress are never deleted: they hold what is left to erase.
    env.DB.prepare("DELETE FROM dsar_receipts WHERE status = 'completed' AND completed_at < ?").bind(
      before(retention.dsarReceipts),
    ),
    // Open or resolved alike: a conflict nobody reviewed within the window is stale, and its rows
    // name two people's pseudonymous keys.
    env.DB.prepare('DELETE FROM identity_conflicts WHERE at < ?').bind(before(retention.identityConflicts)),
    env.DB.prepare('DELETE FROM tombstones WHERE expires_at <= ?').bind(now),
  ])
  const result: RetentionResult = {
    decisionLog: decisionLog!.meta.changes,
    adminAudit: adminAudit!.meta.changes,
    dsarReceipts: dsarReceipts!.meta.changes,
    identityConflicts: identityConflicts!.meta.changes,
    tombstones: tombstones!.meta.changes,
  }
  log?.info('retention_run', { ...result })
  return result
}
