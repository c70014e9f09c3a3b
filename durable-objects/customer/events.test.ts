import { describe, expect, it } from 'vitest'
import { isTimeZone } from '../../worker/lib/timezone'
import cases from './events-cases.json'
import { planEvents, type StateEvent } from './events'

interface EventsCase {
  name: string
  measurement: boolean
  held?: string[]
  events: StateEvent[]
  expect: {
    fresh: string[][]
    duplicates: number
    conversions: Array<Array<string | number>>
    timeZones: unknown[]
  }
}

describe('planEvents: what recordEvents stores and acts on', () => {
  it.each(cases as EventsCase[])('$name', (c) => {
    const plan = planEvents({
      events: c.events,
      measurement: c.measurement,
      keepMinimal: new Set(['purchase', 'checkout_start']),
      conversionEvents: ['purchase'],
      held: new Set(c.held ?? []),
      isTimeZone,
    })
    expect({
      fresh: plan.fresh.map((f) => [f.event.id, f.store]),
      duplicates: plan.duplicates,
      conversions: plan.conversions.map((x) => [x.event.id, x.value]),
      timeZones: plan.timeZones,
    }).toEqual(c.expect)
  })
})
