/**
 * Schedules in IANA time zones: "from 2026-03-01 08:00 to 2026-03-31 20:00 Europe/Berlin, Monday to
 * Friday, 09:00-18:00". Times are wall-clock times in the zone, so a daylight-saving change moves
 * nothing: 09:00 stays 09:00 local. Pure (uses only `Intl`).
 */
import { isTimeZone, wallClock } from '../lib/timezone'

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
export type Weekday = (typeof WEEKDAYS)[number]

export interface Schedule {
  timeZone: string
  /** Local wall time `YYYY-MM-DDTHH:mm` (inclusive). */
  start?: string
  /** Local wall time `YYYY-MM-DDTHH:mm` (exclusive). */
  end?: string
  days?: Weekday[]
  /** Daily window, local `HH:mm`; `to` exclusive; a window past midnight (`22:00`-`06:00`) wraps. */
  hours?: { from: string; to: string }
}

export interface LocalTime {
  /** `YYYY-MM-DD` */
  date: string
  /** `HH:mm` */
  time: string
  hour: number
  minute: number
  weekday: Weekday
}

export { isTimeZone }

// Formatting is the expensive part; within one minute the answer for a zone does not change.
// The entry also keeps the `YYYY-MM-DDTHH:mm` stamp schedules compare, built once per minute.
interface MinuteEntry {
  minute: number
  value: LocalTime
  stamp: string
}
const minuteCache = new Map<string, MinuteEntry>()

function localMinute(now: number, zone: string): MinuteEntry {
  const minute = Math.floor(now / 60_000)
  const hit = minuteCache.get(zone)
  if (hit && hit.minute === minute) return hit
  const value = computeLocalTime(now, zone)
  if (minuteCache.size > 500) minuteCache.clear()
  const entry = { minute, value, stamp: `${value.date}T${value.time}` }
  minuteCache.set(zone, entry)
  return entry
}

/** The wall-clock date and time at `now` (ms since epoch) in `zone`. Throws on an unknown zone. */
export function localTime(now: number, zone: string): LocalTime {
  return localMinute(now, zone).value
}

function computeLocalTime(now: number, zone: string): LocalTime {
  const t = wallClock(now, zone)
  const two = (n: number) => String(n).padStart(2, '0')
  return {
    date: `${t.year}-${two(t.month)}-${two(t.day)}`,
    time: `${two(t.hour)}:${two(t.minute)}`,
    hour: t.hour,
    minute: t.minute,
    // WEEKDAYS starts on Monday; wallClock's weekday is 0 for Sunday.
    weekday: WEEKDAYS[(t.weekday + 6) % 7]!,
  }
}

export type ScheduleResult =
  { ok: true } | { ok: false; reason: 'before_start' | 'after_end' | 'day' | 'hours' }

// Answers are shared and frozen: schedules are checked on every decision that meets one.
const INSIDE: ScheduleResult = Object.freeze({ ok: true })
const BEFORE_START: ScheduleResult = Object.freeze({ ok: false, reason: 'before_start' })
const AFTER_END: ScheduleResult = Object.freeze({ ok: false, reason: 'after_end' })
const WRONG_DAY: ScheduleResult = Object.freeze({ ok: false, reason: 'day' })
const WRONG_HOURS: ScheduleResult = Object.freeze({ ok: false, reason: 'hours' })

/** Whether `now` falls inside `schedule`, and if not, which part excluded it. */
export function inSchedule(schedule: Schedule, now: number): ScheduleResult {
  const entry = localMinute(now, schedule.timeZone)
  const t = entry.value
  const stamp = entry.stamp
  if (schedule.start && stamp < schedule.start) return BEFORE_START
  if (schedule.end && stamp >= schedule.end) return AFTER_END
  if (schedule.days && schedule.days.length > 0 && !schedule.days.includes(t.weekday)) return WRONG_DAY
  if (schedule.hours) {
    const { from, to } = schedule.hours
    const inside = from <= to ? t.time >= from && t.time < to : t.time >= from || t.time < to
    if (!inside) return WRONG_HOURS
  }
  return INSIDE
}
