/**
 * The channels a message can go out on: the one list that rules (caps, triggers), the customer's
 * object (reservations, fires) and delivery (webhooks) all check against. Pure.
 */

export const CHANNELS = ['web', 'app', 'email', 'push', 'sms'] as const

export type Channel = (typeof CHANNELS)[number]

const KNOWN: ReadonlySet<string> = new Set(CHANNELS)

/** True when `value` names one of `CHANNELS` (RPC and queue input is untrusted in shape). */
export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && KNOWN.has(value)
}
