/**
 * What the engine decides from: a plain snapshot of the request, consent, identity and (when read)
 * customer state. Built at the edge (stage, route, explain script); the engine itself is pure.
 */
import type { DecisionState } from '../../durable-objects/customer/contract'

export type PurposeFlags = {
  storage: boolean
  measurement: boolean
  personalization: boolean
  advertising: boolean
}

export interface DecisionContext {
  /** ms since epoch. */
  now: number
  geo: { country: string | null; region: string | null; jurisdiction: string | null }
  device: { type: 'mobile' | 'tablet' | 'desktop' | 'bot' | 'unknown' }
  /** Canonical BCP 47 tag, or null. */
  locale: string | null
  consent: { purposes: PurposeFlags; saleShareOptOut: boolean }
  identity: {
    basis: 'jwt' | 'cookie' | 'header' | 'ephemeral'
    customerId: string | null
    /** Bucketing unit; null for an ephemeral visitor (never bucketed). */
    unitId: string | null
  }
  touchpoint: {
    source: string | null
    medium: string | null
    campaign: string | null
    term: string | null
    content: string | null
    referrerHost: string | null
  } | null
  page: { path: string | null; host: string | null }
  /** Attributes the app sent (`context.attributes` on /v1/decide). */
  attributes: Record<string, unknown>
  /** Customer state when read; null when not needed or not allowed; `unavailable` when it did not answer. */
  state: DecisionState | null | 'unavailable'
}

export interface ArmStats {
  exposures: number
  conversions: number
}

/** Bandit statistics by experiment id and arm (variant); undefined when not (yet) known. */
export type BanditStatsReader = (experimentId: string) => Record<string, ArmStats> | undefined

export const NO_CONSENT: PurposeFlags = {
  storage: false,
  measurement: false,
  personalization: false,
  advertising: false,
}
