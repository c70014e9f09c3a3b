/**
 * The RPC contract between the decision engine (worker/decide) and the CustomerState object
 * (caps, profile, events). Types only: the object implements these methods, the engine calls
 * them with a time budget and falls back (`state_unavailable`) when they do not answer.
 *
 * Calls per decided page (worker/decide/service.ts, worker/events/pageviews.ts):
 * - `getDecisionState` only when one of the page's placements reads state (a condition on the
 *   profile or events, or a capped variant) and the visitor has a state key; it starts before
 *   the origin is asked and runs alongside it.
 * - `reserve` only when a chosen variant is capped (a campaign or tags), one batch per request.
 * - `recordEvents` (the page view) after the response head, and only for a 200 HTML page to a
 *   visitor with measurement consent, in `waitUntil`. It is deliberately not folded into the
 *   state read: that read happens before the origin's status is known, and recording it there
 *   would count error pages (or delay every decision behind the origin).
 */
import type { Channel } from '../../worker/lib/channels'

export type { Channel }

export interface ProfileAttribute {
  value: string | number | boolean | null
  /** Who asserted it (`crm`, `event`, `app`, `pos`, ...): precedence between sources is in rules/profile.yaml. */
  source: string
  /** ms since epoch. */
  updatedAt: number
}

/**
 * Parts of `DecisionState` a caller can ask for, as bit flags: the engine knows at compile time
 * which parts a page's placements read (worker/decide/fields.ts), so the object reads only those
 * (the session score alone scans the current session's events). Parts not asked for come back
 * empty (`{}`, `0`, `[]`).
 */
export const StatePart = {
  /** `attributes` and the `timeZone` derived from them. */
  attributes: 1,
  /** `events`: counts and last times by type. */
  events: 2,
  /** `intentScore`: the current session's score. */
  intent: 4,
  /** `suppressedCampaigns`. */
  suppressions: 8,
} as const

/** Every part (what a caller that names none gets). */
export const ALL_STATE_PARTS = 15

/** What the engine needs to evaluate audiences for this person, read in one call. */
export interface DecisionState {
  attributes: Record<string, ProfileAttribute>
  /** Events seen, by type: how many and when last (ms since epoch). */
  events: Record<string, { count: number; lastAt: number }>
  /** Current session intent score (0..1) from dwell, depth and events. */
  intentScore: number
  /** IANA time zone of the customer when known (calendar caps, schedules). */
  timeZone: string | null
  /** Campaign ids currently suppressed for this person (by a conversion on any channel). */
  suppressedCampaigns: string[]
}

export interface ReserveRequest {
  /** Idempotency key: a retried reserve with the same id returns the first answer. */
  decisionId: string
  placement: string
  campaign: string | null
  channel: Channel
  tags: string[]
  /** ms since epoch; defaults to the object's clock. */
  now?: number
}

export interface CapState {
  cap: string
  used: number
  limit: number
  window: string
}

export type ReserveResult =
  | { allowed: true; reservationId: string; caps: CapState[] }
  | { allowed: false; reason: string; caps: CapState[] }

/** Methods CustomerState offers to the decision engine. */
export interface DecisionStateApi {
  /** `parts`: StatePart flags, default every part. */
  getDecisionState(now?: number, parts?: number): Promise<DecisionState>
  /** Check-and-reserve for several placements in one atomic call (no over-delivery under concurrency). */
  reserve(requests: ReserveRequest[]): Promise<ReserveResult[]>
}
