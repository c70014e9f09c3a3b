import { describe, expect, it } from 'vitest'
import { bundledRules } from '../../worker/rules'
import type { Channel } from './contract'
import cases from './fire-cases.json'
import { OUTBOX_MAX_SENDS, outboxWindowMs, planFire, planOutbox, type FireRow } from './triggers'

const NOW = Date.UTC(2026, 10, 23, 12, 0)
const HOUR = 3_600_000

interface FireCase {
  name: string
  trigger: string
  existing?: { status: FireRow['status']; channel: Channel | null; fired_at: number }
  attributes?: Record<string, boolean>
  suppressed?: string[]
  /** Event types seen a minute ago. */
  seen?: string[]
  lastFireAtHoursAgo?: number
  /** End of quiet hours now (null: not quiet); absent: quiet hours off in the rules. */
  quietUntil?: number | null
  expect: Record<string, unknown>
}

describe('planFire: what a due trigger timer does', () => {
  it.each(cases as FireCase[])('$name', (c) => {
    const caps = c.quietUntil === undefined ? { ...bundledRules.caps, quietHours: null } : bundledRules.caps
    const plan = planFire(
      { triggers: bundledRules.triggers, caps },
      { trigger: c.trigger, eventId: 'e1', eventType: 'add_to_cart', startedAt: NOW - HOUR },
      {
        now: NOW,
        existing: c.existing,
        attributes: Object.fromEntries(
          Object.entries(c.attributes ?? {}).map(([name, value]) => [
            name,
            { value, source: 'crm', updatedAt: 0 },
          ]),
        ),
        suppressed: new Set(c.suppressed ?? []),
        timeZone: 'Europe/Vienna',
        seenSince: (type, since) => (c.seen ?? []).includes(type) && NOW - 60_000 >= since,
        lastFireAt: c.lastFireAtHoursAgo === undefined ? null : NOW - c.lastFireAtHoursAgo * HOUR,
        quietHoursEnd: () => c.quietUntil ?? null,
      },
    )
    expect(plan).toMatchObject(c.expect)
    if (plan.kind !== 'none' && plan.kind !== 'defer') expect(plan.trigger.id).toBe(c.trigger)
  })
})

describe('planOutbox: what a sent fire waiting for its outcome does when its window ends', () => {
  const window = outboxWindowMs(bundledRules.triggers.delivery)
  it.each([
    {
      name: 'nothing once delivered',
      row: { status: 'enqueued', outcome: 'delivered', sends: 1 },
      kind: 'none',
    },
    { name: 'nothing once dead', row: { status: 'enqueued', outcome: 'dead', sends: 2 }, kind: 'none' },
    { name: 'nothing for an erased or unknown fire', row: undefined, kind: 'none' },
    {
      name: 'nothing for a fire never sent',
      row: { status: 'pending', outcome: null, sends: 1 },
      kind: 'none',
    },
    {
      name: 're-sends while sends remain',
      row: { status: 'enqueued', outcome: null, sends: 1 },
      kind: 'resend',
    },
    {
      name: 'abandons after the last send',
      row: { status: 'enqueued', outcome: null, sends: OUTBOX_MAX_SENDS },
      kind: 'abandon',
    },
  ] as const)('$name', ({ row, kind }) => {
    const plan = planOutbox(row, NOW, window)
    expect(plan.kind).toBe(kind)
    if (plan.kind === 'resend') expect(plan).toEqual({ kind, sends: row!.sends + 1, nextDueAt: NOW + window })
  })

  it('waits out every webhook attempt and backoff of the queue before re-sending', () => {
    // maxAttempts 6, base 10 s: 10+20+40+80+160 s of backoff, six 5 s calls, five minutes of slack.
    expect(outboxWindowMs({ maxAttempts: 6, timeoutMs: 5000, backoffBaseSeconds: 10 })).toBe(
      (310 + 30 + 300) * 1000,
    )
  })
})
