import { describe, expect, it } from 'vitest'
import { fallbackChain, pickLocale, preferredLocale } from '../../worker/decide/locale'
import { inSchedule, type Schedule } from '../../worker/decide/schedule'
import locales from './cases/locales.json'
import schedules from './cases/schedules.json'

describe('locale fallback chains (test/decide/cases/locales.json)', () => {
  it.each(locales)('$name', ({ locale, available, extra, expected, chain }) => {
    const content = Object.fromEntries(available.map((l) => [l, {}]))
    expect(fallbackChain(locale, extra ?? {})).toEqual(chain)
    expect(pickLocale(locale, content, extra ?? {})).toBe(expected)
  })

  it('takes the highest-weighted language range of Accept-Language', () => {
    expect(preferredLocale('en;q=0.5, de-AT, de;q=0.9')).toBe('de-AT')
    expect(preferredLocale('*')).toBeNull()
    expect(preferredLocale(undefined)).toBeNull()
  })
})

describe('schedules in IANA time zones, across daylight saving (test/decide/cases/schedules.json)', () => {
  it.each(schedules)('$name', ({ schedule, at, expected }) => {
    expect(inSchedule(schedule as Schedule, Date.parse(at))).toEqual(expected)
  })
})
