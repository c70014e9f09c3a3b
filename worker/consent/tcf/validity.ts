/**
 * Policy checks on a decoded TC string: whether a well-formed string may still be relied on
 * (TCF v2.2 Policies and "Consent string and vendor list formats v2"). Decoding answers "what
 * does it say"; this answers "does it count". An invalid string grants nothing.
 */
import { isoFromEpochMs } from '../bits'
import type { TcfString } from '../types'

export interface TcfValidityPolicy {
  /** A string whose LastUpdated is older than this many calendar months has expired (13). */
  maxAgeMonths: number
  /**
   * Strings created on or after this day (ISO date, UTC) must carry a DisclosedVendors segment
   * (mandatory from TCF v2.3); null disables the check. Default `2026-03-01`.
   */
  requireDisclosedVendorsFrom: string | null
  /** Strings created after the end of `date` (UTC) need TcfPolicyVersion >= `min` (v2.2 = 4). */
  policyVersionMinAfter: { date: string; min: number }
  /**
   * How far in the future Created/LastUpdated may be, in minutes, before the string is refused.
   * Strings are stamped by the visitor's device clock, which can be hours off; default one day.
   */
  maxFutureSkewMinutes?: number
}

export const DEFAULT_TCF_VALIDITY_POLICY: TcfValidityPolicy = {
  maxAgeMonths: 13,
  requireDisclosedVendorsFrom: '2026-03-01',
  policyVersionMinAfter: { date: '2023-09-30', min: 4 },
  maxFutureSkewMinutes: 24 * 60,
}

const DAY_MS = 86_400_000

/**
 * Every reason the string must not be relied on at `now`; an empty array means valid.
 *
 * @example checkTcfValidity(tc, DEFAULT_TCF_VALIDITY_POLICY, new Date()) // [] or ['IsServiceSpecific is 0: ...']
 */
export function checkTcfValidity(
  tc: TcfString,
  policy: TcfValidityPolicy = DEFAULT_TCF_VALIDITY_POLICY,
  now: Date = new Date(),
): string[] {
  const errors: string[] = []
  const { created, lastUpdated } = tc
  const nowMs = now.getTime()

  if (tc.version !== 2) errors.push(`Version is ${tc.version}: only TCF v2 strings are supported`)
  // TCF v2.2 retired globally-scoped strings: a valid string is service-specific.
  if (!tc.isServiceSpecific) errors.push('IsServiceSpecific is 0: only service-specific TC strings are valid')

  const policyCutoff = Date.parse(`${policy.policyVersionMinAfter.date}T00:00:00.000Z`) + DAY_MS
  if (!(created < policyCutoff) && tc.policyVersion < policy.policyVersionMinAfter.min) {
    errors.push(
      `TcfPolicyVersion is ${tc.policyVersion}: strings created after ${policy.policyVersionMinAfter.date} need ${policy.policyVersionMinAfter.min} or later`,
    )
  }

  const expiry = addUtcMonths(lastUpdated, policy.maxAgeMonths)
  if (!(nowMs < expiry))
    errors.push(`LastUpdated ${isoFromEpochMs(lastUpdated)} is more than ${policy.maxAgeMonths} months old`)

  const skewMs =
    (policy.maxFutureSkewMinutes ?? DEFAULT_TCF_VALIDITY_POLICY.maxFutureSkewMinutes ?? 0) * 60_000
  if (!(created <= nowMs + skewMs)) errors.push(`Created ${isoFromEpochMs(created)} is in the future`)
  if (!(lastUpdated <= nowMs + skewMs))
    errors.push(`LastUpdated ${isoFromEpochMs(lastUpdated)} is in the future`)

  if (policy.requireDisclosedVendorsFrom !== null && tc.disclosedVendors === null) {
    const from = Date.parse(`${policy.requireDisclosedVendorsFrom}T00:00:00.000Z`)
    if (!(created < from)) {
      errors.push(
        `DisclosedVendors segment is missing: required for strings created from ${policy.requireDisclosedVendorsFrom}`,
      )
    }
  }
  return errors
}

/** `ms` plus `months` calendar months in UTC (day clamped to the target month's last day). */
function addUtcMonths(ms: number, months: number): number {
  const d = new Date(ms)
  const day = d.getUTCDate()
  d.setUTCDate(1)
  d.setUTCMonth(d.getUTCMonth() + months)
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate()
  d.setUTCDate(Math.min(day, lastDay))
  return d.getTime()
}
