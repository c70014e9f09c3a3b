/**
 * The decision archive's layout in R2 (docs/storage.md "Decision archive (R2)"), pure:
 *
 *   decisions/dt=2026-12-03/hour=19/<batch>.ndjson.gz
 *
 * Hive-style partitions by the record's own time (UTC), so an analytics engine prunes by `dt` and
 * `hour`; one gzip NDJSON object per consumer batch and partition. The object name is a digest of
 * the record ids it holds, so a redelivered batch writes the same key again instead of a second copy.
 */
import type { DecisionRecord } from '../log/record'
import type { SealedFields } from './seal'

export const ARCHIVE_PREFIX = 'decisions/'
const DAY_MS = 86_400_000

/** One archived decision: the record with the person's fields sealed (./seal.ts). */
export interface ArchivedDecision {
  id: string
  time: string
  requestId: string
  channel: 'page' | 'api'
  placement: string
  variant: string | null
  reason: string
  fallback: string | null
  rulesVersion: string
  consentSnapshotId: string
  jurisdiction: string
  purposes: Record<string, boolean>
  saleShareOptOut: boolean
  identityBasis: string
  experimentId: string | null
  experimentArm: string | null
  experimentHoldout: boolean | null
  /** The subject tag (seal.ts `subjectTag`); null for a record that names nobody. */
  subject: string | null
  /** The sealed `SealedFields`; null for a record that names nobody (then `caps`/`trace` are clear). */
  sealed: string | null
  caps: Record<string, unknown> | null
  trace: string[] | null
}

/** The fields of `r` that are sealed under the person's key. */
export function sealedFieldsOf(r: DecisionRecord): SealedFields {
  return { customerId: r.customerId, anonymousId: r.anonymousId, caps: r.caps, trace: r.trace }
}

/**
 * The CustomerState whose key seals `r`: the customer's when the record names one (a signed-in
 * visit), else the anonymous visitor's; null when it names nobody. The same rule as the D1 erase
 * (worker/privacy/stores.ts `decisionLog`): a record naming a customer is that customer's.
 */
export function sealingStateKey(r: Pick<DecisionRecord, 'customerId' | 'anonymousId'>): string | null {
  if (r.customerId) return `c:${r.customerId}`
  if (r.anonymousId) return `a:${r.anonymousId}`
  return null
}

/** The archived row: clear fields, plus either the seal and tag or (naming nobody) caps and trace. */
export function archivedRow(
  r: DecisionRecord,
  sealed: { subject: string; sealed: string } | null,
): ArchivedDecision {
  return {
    id: r.id,
    time: r.time,
    requestId: r.requestId,
    channel: r.channel,
    placement: r.placement,
    variant: r.variant,
    reason: r.reason,
    fallback: r.fallback,
    rulesVersion: r.rulesVersion,
    consentSnapshotId: r.consentSnapshotId,
    jurisdiction: r.consent.jurisdiction,
    purposes: r.consent.purposes,
    saleShareOptOut: r.consent.saleShareOptOut,
    identityBasis: r.identityBasis,
    experimentId: r.experiment?.id ?? null,
    experimentArm: r.experiment?.arm ?? null,
    experimentHoldout: r.experiment?.holdout ?? null,
    subject: sealed?.subject ?? null,
    sealed: sealed?.sealed ?? null,
    caps: sealed ? null : r.caps,
    trace: sealed ? null : r.trace,
  }
}

/** The partition folder of a record time: `decisions/dt=YYYY-MM-DD/hour=HH/` (UTC). */
export function partitionOf(time: string | number): string {
  const iso = new Date(time).toISOString()
  return `${ARCHIVE_PREFIX}dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`
}

/** The object key for records `ids` in `partition`: a digest of the sorted ids (SHA-256, 128 bits). */
export async function objectKey(partition: string, ids: readonly string[]): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode([...ids].sort().join('\n')))
  const hex = [...new Uint8Array(digest, 0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('')
  return `${partition}${hex}.ndjson.gz`
}

/** Groups items by the partition of their time, in first-seen order. */
export function byPartition<T>(items: readonly T[], time: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const p = partitionOf(time(item))
    const group = groups.get(p)
    if (group) group.push(item)
    else groups.set(p, [item])
  }
  return groups
}

/**
 * The day partitions (`decisions/dt=YYYY-MM-DD/`) wholly older than `days` as of `now`: a day is
 * dropped once its last hour has passed the window, never a record still inside it.
 */
export function expiredDayPartitions(prefixes: readonly string[], days: number, now: number): string[] {
  const cutoff = now - days * DAY_MS
  return prefixes.filter((p) => {
    const m = /^decisions\/dt=(\d{4}-\d{2}-\d{2})\/$/.exec(p)
    if (!m) return false
    const dayEnd = Date.parse(`${m[1]}T00:00:00Z`) + DAY_MS
    return Number.isFinite(dayEnd) && dayEnd <= cutoff
  })
}
