/**
 * `rules:explain` over a visitor's timeline: caps, quiet hours, suppression and triggers simulated
 * with the gateway's own pure logic, on a small rule set (test/rules/fixtures/timeline), and the
 * visitor file's validation with its suggestions. The command itself runs as a real process.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { formatSimulation, simulateTimeline } from '../../scripts/simulate'
import { validateVisitorFile } from '../../scripts/visitor-file'
import { compileRules } from '../../worker/rules/compile'
import type { RuleSet } from '../../worker/rules/types'

const root = resolve(__dirname, '../..')
const fixture = join(root, 'test/rules/fixtures/timeline')

function fixtureRules(): RuleSet {
  const files: Record<string, string> = {}
  for (const f of readdirSync(fixture)) files[f] = readFileSync(join(fixture, f), 'utf8')
  const r = compileRules(files)
  if (!r.ok) throw new Error(JSON.stringify(r.errors))
  return r.ruleset
}

const base = {
  time: '2026-03-10T09:00:00+01:00',
  timeZone: 'Europe/Berlin',
  location: { country: 'DE' },
  consent: { storage: true, measurement: true, personalization: true },
  identity: { customerId: 'cust-1' },
  attributes: { email_reachable: true, push_token_present: false },
}

function simulate(timeline: unknown[], extra: Record<string, unknown> = {}): string[] {
  const v = validateVisitorFile({ ...base, ...extra, timeline })
  if (!v.ok) throw new Error(v.issues.join('\n'))
  return formatSimulation(simulateTimeline(fixtureRules(), v.value), v.value.timeZone).split('\n')
}

describe('rules:explain timeline simulation', () => {
  it('shows a capped campaign twice a day, then the fallback, and again the next day', () => {
    const at = (t: string) => ({ at: t, view: 'banner' })
    expect(
      simulate([
        at('2026-03-10T09:00:00+01:00'),
        at('2026-03-10T12:00:00+01:00'),
        at('2026-03-10T23:59:00+01:00'),
        at('2026-03-11T00:01:00+01:00'),
      ]),
    ).toEqual([
      'timeline (Europe/Berlin):',
      '  2026-03-10 09:00  view banner: offer [rule:everyone] (counted against caps)',
      '  2026-03-10 12:00  view banner: offer [rule:everyone] (counted against caps)',
      '  2026-03-10 23:59  view banner: offer blocked (cap:offer_per_day), shows plain [cap]',
      '  2026-03-11 00:01  view banner: offer [rule:everyone] (counted against caps)',
    ])
  })

  it('defers a trigger due in quiet hours to their end, on the first reachable channel', () => {
    expect(simulate([{ at: '2026-03-10T20:45:00+01:00', event: 'add_to_cart' }])).toEqual([
      'timeline (Europe/Berlin):',
      '  2026-03-10 20:45  event add_to_cart: starts timer cart_abandoned (due 2026-03-10 21:15)',
      '  2026-03-10 21:15  cart_abandoned: due in quiet hours, deferred to 2026-03-11 08:00',
      '  2026-03-11 08:00  cart_abandoned: fires on email (campaign cart_recovery)',
    ])
  })

  it('restarts a timer on a new starting event, cancels it, and says what a cap and a suppression block', () => {
    expect(
      simulate([
        { at: '2026-03-10T10:00:00+01:00', event: 'add_to_cart' },
        { at: '2026-03-10T10:10:00+01:00', event: 'add_to_cart' },
        { at: '2026-03-11T10:00:00+01:00', event: 'add_to_cart' },
        { at: '2026-03-12T10:00:00+01:00', event: 'add_to_cart' },
        { at: '2026-03-12T10:05:00+01:00', event: 'checkout_start' },
        { at: '2026-03-12T11:00:00+01:00', event: 'purchase' },
        { at: '2026-03-12T11:05:00+01:00', event: 'add_to_cart' },
      ]),
    ).toEqual([
      'timeline (Europe/Berlin):',
      '  2026-03-10 10:00  event add_to_cart: starts timer cart_abandoned (due 2026-03-10 10:30)',
      '  2026-03-10 10:10  event add_to_cart: restarts timer cart_abandoned (due 2026-03-10 10:40)',
      '  2026-03-10 10:40  cart_abandoned: fires on email (campaign cart_recovery)',
      '  2026-03-11 10:00  event add_to_cart: starts timer cart_abandoned (due 2026-03-11 10:30)',
      '  2026-03-11 10:30  cart_abandoned: due, blocked (email: cap:email_per_week)',
      '  2026-03-12 10:00  event add_to_cart: starts timer cart_abandoned (due 2026-03-12 10:30)',
      '  2026-03-12 10:05  event checkout_start: cancels timer cart_abandoned',
      '  2026-03-12 11:00  event purchase: suppresses cart_recovery until 2026-03-14 11:00',
      '  2026-03-12 11:05  event add_to_cart: starts timer cart_abandoned (due 2026-03-12 11:35)',
      '  2026-03-12 11:35  cart_abandoned: due, not sent (suppressed:cart_recovery)',
    ])
  })

  it('starts no timer without the consent the trigger needs, and skips an unreachable person', () => {
    expect(
      simulate([{ at: '2026-03-10T10:00:00+01:00', event: 'add_to_cart' }], {
        consent: { storage: true },
      }),
    ).toEqual(['timeline (Europe/Berlin):', '  2026-03-10 10:00  event add_to_cart'])
    expect(
      simulate([{ at: '2026-03-10T10:00:00+01:00', event: 'add_to_cart' }], {
        attributes: { email_reachable: false },
      }).at(-1),
    ).toBe('  2026-03-10 10:30  cart_abandoned: due, not sent (unreachable)')
  })
})

describe('the visitor file', () => {
  it('names an unknown key and suggests the nearest one, at any depth', () => {
    const r = validateVisitorFile({
      ...base,
      timezone: 'UTC',
      consent: { storage: true, personalisation: true },
      timeline: [{ at: '2026-03-10T10:00:00Z', evnt: 'add_to_cart' }],
    })
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.issues).toContain(
      'timezone: unknown key (did you mean "timeZone"?); allowed: ' +
        'description, time, location, jurisdiction, device, userAgent, locale, consent, identity, ' +
        'touchpoint, page, attributes, events, intent, suppressedCampaigns, context, state, banditStats, timeZone, timeline',
    )
    expect(r.issues).toContain(
      'consent.personalisation: unknown key (did you mean "personalization"?); allowed: ' +
        'storage, measurement, personalization, advertising, saleShareOptOut',
    )
    expect(r.issues).toContain(
      'timeline.0: a timeline entry is { at, event[, session] } or { at, view[, channel] }',
    )
  })

  it('rejects a time zone that is not IANA and a time without an offset', () => {
    const r = validateVisitorFile({
      ...base,
      timeZone: 'Berlin',
      timeline: [{ at: '2026-03-10 10:00', view: 'banner' }],
    })
    expect(r).toEqual({
      ok: false,
      issues: [
        'timeZone: not an IANA time zone (e.g. "Europe/Berlin")',
        'timeline.0.at: an ISO 8601 time with an offset, e.g. "2026-03-10T10:30:00+01:00"',
      ],
    })
  })

  it('is checked by npm run rules:explain, which exits 1 with the problems', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-visitor-'))
    try {
      const file = join(dir, 'v.json')
      writeFileSync(file, JSON.stringify({ ...base, timline: [] }))
      const r = spawnSync(
        join(root, 'node_modules/.bin/tsx'),
        [join(root, 'scripts/rules.ts'), 'explain', file],
        {
          cwd: root,
          encoding: 'utf8',
          env: { ...process.env, GATEHOUSE_RULES_DIR: fixture },
        },
      )
      expect(r.status).toBe(1)
      expect(r.stderr).toContain(`${file}: timline: unknown key (did you mean "timeline"?)`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
