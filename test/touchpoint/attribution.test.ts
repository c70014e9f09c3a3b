/**
 * Attribution: the five models as pure functions (vectors), and CustomerState.attribute() over a
 * stored touchpoint history, as the events feature calls it on a conversion.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import type { CustomerState } from '../../durable-objects/customer'
import { describe, expect, it } from 'vitest'
import type { AttributionModel } from '../../worker/rules/concerns/utm'
import { attribute, weights, type AttributionTouch } from '../../worker/touchpoint/attribution'
import type { Touchpoint } from '../../worker/touchpoint/types'
import vectors from './attribution-vectors.json'

interface Vector {
  name: string
  model: AttributionModel
  daysBefore: number[]
  halfLifeDays?: number
  positionBased?: { first: number; last: number }
  expected: number[]
}

const DAY = 86_400_000
const CONVERSION = Date.UTC(2026, 10, 23, 12)
const touches = (daysBefore: number[]): AttributionTouch[] =>
  daysBefore.map((d, i) => ({
    id: `t${i}`,
    at: CONVERSION - d * DAY,
    source: `s${i}`,
    medium: 'cpc',
    campaign: null,
  }))

describe('attribution model vectors', () => {
  it.each((vectors as Vector[]).map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const shares = weights(v.model, touches(v.daysBefore), CONVERSION, {
      timeDecayHalfLifeDays: v.halfLifeDays ?? 7,
      positionBased: v.positionBased ?? { first: 0.4, last: 0.4 },
    })
    expect(shares).toHaveLength(v.expected.length)
    shares.forEach((s, i) => expect(s).toBeCloseTo(v.expected[i]!, 12))
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)
  })
})

describe('attribute()', () => {
  const opts = {
    models: ['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based'] as const,
    lookbackDays: 30,
    timeDecayHalfLifeDays: 7,
    positionBased: { first: 0.4, last: 0.4 },
  }

  it('credits only touchpoints inside the lookback window and before the conversion, and splits the value', () => {
    const history = touches([45, 20, 10, 1, -1])
    const r = attribute(history, { id: 'order-1', at: CONVERSION, value: 90 }, opts)
    expect(r.touchpoints).toBe(3)
    expect(r.models.linear!.map((c) => [c.touchpointId, c.value])).toEqual([
      ['t1', 30],
      ['t2', 30],
      ['t3', 30],
    ])
    expect(r.models.first_touch).toEqual([
      expect.objectContaining({ touchpointId: 't1', credit: 1, value: 90 }),
    ])
    expect(r.models.last_touch).toEqual([
      expect.objectContaining({ touchpointId: 't3', credit: 1, value: 90 }),
    ])
    expect(r.conversionId).toBe('order-1')
  })

  it('gives no credit when no touchpoint qualifies', () => {
    const r = attribute(touches([100]), { at: CONVERSION, value: 10 }, opts)
    expect(r.touchpoints).toBe(0)
    expect(r.models.linear).toEqual([])
  })
})

describe('CustomerState.attribute', () => {
  it('credits the stored history by the models configured in rules/utm.yaml', async () => {
    const state = env.CUSTOMER.get(env.CUSTOMER.idFromName(`c:attr-${crypto.randomUUID()}`))
    const now = Date.now()
    for (const [i, source] of ['google', 'facebook', 'newsletter'].entries()) {
      const tp: Touchpoint = {
        source,
        medium: 'cpc',
        campaign: `camp-${i}`,
        term: null,
        content: null,
        clickIds: {},
        referrerHost: null,
        landingPath: '/',
        at: now - (3 - i) * DAY,
        unmapped: [],
      }
      expect(await state.recordTouchpoint(tp)).toMatchObject({ recorded: true })
    }
    const r = await state.attribute({ id: 'order-42', at: now, value: 100 })
    expect(Object.keys(r.models).sort()).toEqual([
      'first_touch',
      'last_touch',
      'linear',
      'position_based',
      'time_decay',
    ])
    expect(r.models.first_touch![0]).toMatchObject({ source: 'google', credit: 1, value: 100 })
    expect(r.models.last_touch![0]).toMatchObject({ source: 'newsletter', credit: 1 })
    expect(r.models.position_based!.map((c) => c.credit)).toEqual([0.4, expect.closeTo(0.2, 12), 0.4])
    const decay = r.models.time_decay!.map((c) => c.credit)
    expect(decay[0]!).toBeLessThan(decay[1]!)
    expect(decay[1]!).toBeLessThan(decay[2]!)
    // A per-call override (e.g. one model only) is honoured.
    const linearOnly = await state.attribute({ at: now, value: 30 }, { models: ['linear'] })
    expect(Object.keys(linearOnly.models)).toEqual(['linear'])
    expect(linearOnly.models.linear!.map((c) => c.value)).toEqual([10, 10, 10])
  })

  it('credits a purchase event to the touchpoints once, when it is recorded with measurement consent', async () => {
    const key = `c:attr-${crypto.randomUUID()}`
    const state = env.CUSTOMER.get(env.CUSTOMER.idFromName(key))
    const now = Date.now()
    for (const [i, source] of ['google', 'newsletter'].entries()) {
      await state.recordTouchpoint({
        source,
        medium: 'cpc',
        campaign: `camp-${i}`,
        term: null,
        content: null,
        clickIds: {},
        referrerHost: null,
        landingPath: '/',
        at: now - (2 - i) * DAY,
        unmapped: [],
      })
    }
    const all = { storage: true, measurement: true, personalization: true, advertising: true }
    const purchase = { id: 'order-7', type: 'purchase', ts: now, props: { value: 50 } }
    await state.recordEvents({ stateKey: key, source: 'web', purposes: all, events: [purchase] })
    // The same event again (a retried batch) is not credited twice.
    await state.recordEvents({ stateKey: key, source: 'web', purposes: all, events: [purchase] })
    const rows = await runInDurableObject(state, (_i: CustomerState, ctx) =>
      ctx.storage.sql
        .exec<{ event_id: string; value: number; models: string }>('SELECT * FROM conversion_credits')
        .toArray(),
    )
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ event_id: 'order-7', value: 50 })
    const models = JSON.parse(rows[0]!.models) as Record<string, Array<{ source: string; value: number }>>
    expect(models.first_touch).toEqual([expect.objectContaining({ source: 'google', value: 50 })])
    expect(models.last_touch).toEqual([expect.objectContaining({ source: 'newsletter', value: 50 })])
    expect(models.linear!.map((c) => c.value)).toEqual([25, 25])
  })

  it('credits nothing for a conversion recorded without measurement consent', async () => {
    const key = `c:attr-${crypto.randomUUID()}`
    const state = env.CUSTOMER.get(env.CUSTOMER.idFromName(key))
    const none = { storage: true, measurement: false, personalization: false, advertising: false }
    await state.recordEvents({
      stateKey: key,
      source: 'web',
      purposes: none,
      events: [{ id: 'order-8', type: 'purchase', ts: Date.now(), props: { value: 10 } }],
    })
    const n = await runInDurableObject(
      state,
      (_i: CustomerState, ctx) =>
        ctx.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM conversion_credits').one().n,
    )
    expect(n).toBe(0)
  })

  it('rejects a conversion without a time', async () => {
    const state = env.CUSTOMER.get(env.CUSTOMER.idFromName(`c:attr-${crypto.randomUUID()}`))
    await runInDurableObject(state, async (instance: CustomerState) => {
      await expect(instance.attribute({ at: Number.NaN })).rejects.toThrow(/conversion.at/)
    })
  })
})
