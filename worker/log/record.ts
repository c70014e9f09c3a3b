/**
 * The decision record: one per decision, queued to DECISIONS and stored in D1 so an auditor can
 * replay why a person saw what they saw. Never raw email/phone: ids are pseudonymous.
 */

export interface DecisionRecord {
  /** Unique id (idempotency key in D1). */
  id: string
  /** ISO time. */
  time: string
  requestId: string
  /** `page` for proxied HTML, `api` for /v1/decide. */
  channel: 'page' | 'api'
  placement: string
  variant: string | null
  reason: string
  fallback: string | null
  rulesVersion: string
  consentSnapshotId: string
  /** The resolved consent at decision time (purposes, saleShareOptOut, jurisdiction). */
  consent: { jurisdiction: string; purposes: Record<string, boolean>; saleShareOptOut: boolean }
  identityBasis: string
  /** Pseudonymous ids: customer id and/or anonymous id (never email/phone). */
  customerId: string | null
  anonymousId: string | null
  experiment: { id: string; arm: string; holdout: boolean } | null
  caps: Record<string, unknown> | null
  /** The evaluation trace (rule ids tried and why they did or did not match). */
  trace: string[]
}
