import { describe, expect, it } from 'vitest'
import { bundledRules } from '../../worker/rules'
import type { Channel } from './contract'
import cases from './fire-cases.json'
import { planFire, type FireRow } from './triggers'

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
