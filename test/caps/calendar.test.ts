/**
 * Calendar windows and quiet hours in the customer's time zone, across DST changes, and a cap
 * that resets at local midnight (not UTC midnight) inside the Durable Object.
 */
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it } from 'vitest'
import { calendarStart, quietHoursEnd, type WeekStart } from '../../durable-objects/customer/caps'
import { overrideStateRules } from '../../durable-objects/customer/state-rules'
import calendarCases from './calendar-cases.json'
import quietCases from './quiet-cases.json'
import { withCaps } from './rules'

afterEach(() => overrideStateRules(null))

const at = (iso: string) => Date.parse(iso)

describe('calendar windows', () => {
  it.each(calendarCases)('$name', ({ unit, tz, now, start, ...rest }) => {
    const weekStartsOn = ((rest as { weekStartsOn?: string }).weekStartsOn ?? 'monday') as WeekStart
    expect(new Date(calendarStart(unit as 'day', at(now), tz, weekStartsOn)).toISOString()).toBe(
      new Date(at(start)).toISOString(),
    )
  })
})

describe('quiet hours', () => {
  it.each(quietCases)('$name', ({ tz, start, end, now, until }) => {
    const got = quietHoursEnd({ start, end }, at(now), tz)
    expect(got === null ? null : new Date(got).toISOString()).toBe(
      until === null ? null : new Date(until).toISOString(),
    )
  })
})

describe('calendar caps in the customer state', () => {
  async function customer(name: string, timeZone: string) {
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName(name))
    await stub.setAttributes([{ name: 'time_zone', value: timeZone, source: 'app', at: Date.now() }])
    let i = 0
    const show = async (iso: string) =>
      (
        await stub.reserve([
          {
            decisionId: `${name}-${i++}`,
            placement: 'p',
            campaign: 'c',
            channel: 'app',
            tags: [],
            now: at(iso),
          },
        ])
      )[0]!
    return { stub, show }
  }

  it('resets a daily app cap at local midnight on the spring-forward day (23-hour day)', async () => {
    overrideStateRules(
      withCaps({ caps: [{ id: 'app_day', channel: 'app', limit: 1, window: { calendar: 'day' } }] }),
    )
    const { show } = await customer('c:berlin-dst', 'Europe/Berlin')
    expect((await show('2026-03-29T00:30:00Z')).allowed).toBe(true) // 01:30 CET
    expect(await show('2026-03-29T21:30:00Z')).toMatchObject({ allowed: false, reason: 'cap:app_day' }) // 23:30 CEST
    expect((await show('2026-03-29T22:05:00Z')).allowed).toBe(true) // 00:05 CEST on the 30th
  })

  it('counts the same instants into different days for different time zones', async () => {
    overrideStateRules(
      withCaps({ caps: [{ id: 'app_day', channel: 'app', limit: 1, window: { calendar: 'day' } }] }),
    )
    const ny = await customer('c:ny-day', 'America/New_York')
    const tokyo = await customer('c:tokyo-day', 'Asia/Tokyo')
    // 14:00Z and 16:00Z: the same day in New York (09:00, 11:00), different days in Tokyo (23:00, 01:00).
    expect((await ny.show('2026-11-23T14:00:00Z')).allowed).toBe(true)
    expect((await ny.show('2026-11-23T16:00:00Z')).allowed).toBe(false)
    expect((await tokyo.show('2026-11-23T14:00:00Z')).allowed).toBe(true)
    expect((await tokyo.show('2026-11-23T16:00:00Z')).allowed).toBe(true)
  })

  it('refuses quiet-hour channels in quiet hours and allows the web channel', async () => {
    overrideStateRules(withCaps({ quietHours: { start: '21:00', end: '08:00', channels: ['app', 'email'] } }))
    const { stub, show } = await customer('c:quiet', 'Europe/Berlin')
    expect(await show('2026-11-23T21:00:00Z')).toMatchObject({ allowed: false, reason: 'quiet_hours' })
    expect((await show('2026-11-23T12:00:00Z')).allowed).toBe(true)
    const web = await stub.reserve([
      {
        decisionId: 'quiet-web',
        placement: 'p',
        campaign: 'c',
        channel: 'web',
        tags: [],
        now: at('2026-11-23T21:00:00Z'),
      },
    ])
    expect(web[0]!.allowed).toBe(true)
  })

  it('falls back to the rules default time zone when the customer has none', async () => {
    overrideStateRules(
      withCaps({
        defaultTimeZone: 'Asia/Tokyo',
        caps: [{ id: 'd', channel: 'sms', limit: 1, window: { calendar: 'day' } }],
      }),
    )
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName('c:no-tz'))
    const sms = async (id: string, iso: string) =>
      (
        await stub.reserve([
          { decisionId: id, placement: 'p', campaign: null, channel: 'sms', tags: [], now: at(iso) },
        ])
      )[0]!
    expect((await sms('a', '2026-11-23T14:00:00Z')).allowed).toBe(true)
    expect((await sms('b', '2026-11-23T16:00:00Z')).allowed).toBe(true) // 01:00 next day in Tokyo
  })
})
