/**
 * Exposure-based accounting in the runtime: a unit's first exposure is recorded once in its
 * CustomerState, events of a metric's type within the window count for its arm once per event id
 * (any source, late ones included), and the changes reach the sharded ExperimentState counters,
 * which merge on read.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { Measurement, readMergedAggregates } from '../../worker/experiments/accounting'
import { measuredExperiments } from '../../worker/experiments/definitions'
import { bundledRules } from '../../worker/rules'

const DAY = 86_400_000
const CONSENTED = { storage: true, measurement: true, personalization: true, advertising: false }
const EXPERIMENT = 'hero_test'

function customer() {
  const stateKey = `a:measure-${crypto.randomUUID()}`
  const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey))
  const events = (
    list: Array<{ id: string; type: string; ts: number; props?: Record<string, unknown> }>,
    measurement = true,
  ) =>
    stub.recordEvents({
      stateKey,
      source: 'web',
      purposes: { ...CONSENTED, measurement },
      events: list.map((e) => ({ props: {}, ...e })),
    })
  return { stateKey, stub, events }
}

describe('first exposures in CustomerState', () => {
  it('records a first exposure once and reports one unit for its arm and day', async () => {
    const { stub } = customer()
    const at = Date.UTC(2026, 10, 2, 9)
    const first = await stub.recordExposures([{ experiment: EXPERIMENT, arm: 'free_shipping', at }])
    expect(first).toEqual([
      {
        experiment: EXPERIMENT,
        arm: 'free_shipping',
        day: '2026-11-02',
        units: 1,
        metrics: {
          converted: { sum: 0, sumSq: 0, covSum: 0, covSumSq: 0, covCross: 0 },
          refunds: { sum: 0, sumSq: 0, covSum: 0, covSumSq: 0, covCross: 0 },
        },
      },
    ])
    // Seen again (a later page, another arm after a reshuffle): nothing changes.
    expect(
      await stub.recordExposures([{ experiment: EXPERIMENT, arm: 'default_hero', at: at + DAY }]),
    ).toEqual([])
    expect(await stub.exposures()).toEqual([
      { experiment: EXPERIMENT, arm: 'free_shipping', at, day: '2026-11-02' },
    ])
  })

  it('ignores experiments and arms the rules do not measure', async () => {
    const { stub } = customer()
    const at = Date.now()
    expect(
      await stub.recordExposures([
        { experiment: 'no_such_test', arm: 'x', at },
        { experiment: EXPERIMENT, arm: 'not_an_arm', at },
        { experiment: 'constructor', arm: 'x', at },
        { experiment: EXPERIMENT, arm: 'free_shipping', at: Number.NaN },
      ]),
    ).toEqual([])
    expect(await stub.exposures()).toEqual([])
  })
})

describe('attribution of events to exposures', () => {
  it('counts a purchase within the window once per event id, from any source', async () => {
    const { stub, events } = customer()
    const at = Date.now() - 3 * DAY
    await stub.recordExposures([{ experiment: EXPERIMENT, arm: 'free_shipping', at }])
    const purchase = { id: 'order-10001', type: 'purchase', ts: at + DAY, props: { value: 40 } }
    const r = await events([purchase])
    const hero = r.experiments?.find((d) => d.experiment === EXPERIMENT)
    expect(hero).toMatchObject({
      arm: 'free_shipping',
      units: 0,
      metrics: { converted: { sum: 1, sumSq: 1 } },
    })
    // The same order again (a retry, or the server ingesting what the browser sent): nothing more.
    expect((await events([purchase])).experiments ?? []).toEqual([])
    // A second purchase: still one converted unit (binary); refunds count one by one.
    const more = await events([
      { id: 'order-10002', type: 'purchase', ts: at + 2 * DAY },
      { id: 'refund-1', type: 'refund', ts: at + 2 * DAY },
    ])
    const d = more.experiments!.find((x) => x.experiment === EXPERIMENT)!
    expect(d.metrics.converted).toBeUndefined()
    expect(d.metrics.refunds).toMatchObject({ sum: 1, sumSq: 1 })
  })

  it('counts nothing outside the window, and nothing without measurement consent', async () => {
    const { stub, events } = customer()
    const at = Date.now() - 20 * DAY
    await stub.recordExposures([{ experiment: EXPERIMENT, arm: 'default_hero', at }])
    // 20 days later: outside the 14-day window of `converted`.
    expect(
      (await events([{ id: 'order-late-1', type: 'purchase', ts: Date.now() }])).experiments ?? [],
    ).toEqual([])
    const other = customer()
    await other.stub.recordExposures([{ experiment: EXPERIMENT, arm: 'default_hero', at: Date.now() - DAY }])
    expect(
      (await other.events([{ id: 'order-noconsent', type: 'purchase', ts: Date.now() }], false))
        .experiments ?? [],
    ).toEqual([])
  })

  it('attributes a late offline conversion dated inside the window, and keeps pre-exposure events as the covariate', async () => {
    const { stub, events } = customer()
    const at = Date.now() - 5 * DAY
    // A purchase before the exposure (stored first) is the unit's pre-period value.
    await events([{ id: 'order-before', type: 'purchase', ts: at - 2 * DAY, props: { value: 10 } }])
    const [exposed] = await stub.recordExposures([{ experiment: 'holdout', arm: 'exposed', at }])
    expect(exposed!.metrics.revenue).toEqual({ sum: 0, sumSq: 0, covSum: 10, covSumSq: 100, covCross: 0 })
    expect(exposed!.metrics.converted).toMatchObject({ covSum: 1 })
    // An offline conversion arrives days later, dated inside the window.
    const late = await events([
      { id: 'offline-77', type: 'purchase', ts: at + 3 * DAY, props: { value: 25 } },
    ])
    const d = late.experiments!.find((x) => x.experiment === 'holdout')!
    expect(d).toMatchObject({ arm: 'exposed', units: 0 })
    expect(d.metrics.revenue).toEqual({ sum: 25, sumSq: 625, covSum: 0, covSumSq: 0, covCross: 250 })
    // The pre-exposure order re-sent: already the covariate, counted nothing more.
    expect(
      (await events([{ id: 'order-before', type: 'purchase', ts: at - 2 * DAY, props: { value: 10 } }]))
        .experiments ?? [],
    ).toEqual([])
  })

  it('exports and erases exposures with the rest of the subject', async () => {
    const { stub, events } = customer()
    await stub.recordExposures([{ experiment: EXPERIMENT, arm: 'free_shipping', at: Date.now() }])
    await events([{ id: 'order-dsar-1', type: 'purchase', ts: Date.now() }])
    const dump = await stub.exportAll()
    expect(Object.keys(dump)).toEqual(
      expect.arrayContaining(['exposures', 'exposure_totals', 'exposure_events']),
    )
    await stub.privacyErase('receipt-measure', Date.now() + DAY)
    expect(await stub.exposures()).toEqual([])
    // An erased subject is not re-exposed.
    expect(
      await stub.recordExposures([{ experiment: EXPERIMENT, arm: 'free_shipping', at: Date.now() }]),
    ).toEqual([])
  })
})

describe('sharded counters', () => {
  it('spreads units over shards and merges them on read to the same totals', async () => {
    const experiment = EXPERIMENT
    const m = new Measurement(measuredExperiments(bundledRules.experiments), { shards: 4, flushMs: 60_000 })
    // A private experiment name: this test's shards hold only its rows.
    const id = `${experiment}`
    const name = `iso_${crypto.randomUUID().replaceAll('-', '_')}`
    const measured = new Measurement(new Map([[name, { ...m.measured.get(id)!, id: name }]]), {
      shards: 4,
      flushMs: 60_000,
    })
    const used = new Set<number>()
    let units = 0
    let sum = 0
    for (let i = 0; i < 40; i++) {
      const key = `a:unit-${i}`
      used.add(measured.shardOf(key))
      const converted = i % 3 === 0 ? 1 : 0
      units++
      sum += converted
      measured.add(key, [
        {
          experiment: name,
          arm: i % 2 ? 'free_shipping' : 'default_hero',
          day: '2026-11-02',
          units: 1,
          metrics: { converted: { sum: converted, sumSq: converted } },
        },
      ])
    }
    expect(used.size).toBe(4)
    await measured.flush(env.EXPERIMENT, { now: 1 })
    expect(Object.keys(measured.unsent())).toEqual([name])
    await measured.flush(env.EXPERIMENT, { force: true })
    expect(measured.unsent()).toEqual({})
    const r = await readMergedAggregates(env.EXPERIMENT, name, 4)
    if (!r.ok) throw new Error('a shard did not answer')
    expect(r.rows.map((x) => x.arm)).toEqual(['default_hero', 'free_shipping'])
    expect(r.rows.reduce((s, x) => s + x.units, 0)).toBe(units)
    expect(r.rows.reduce((s, x) => s + x.metrics.converted!.sum, 0)).toBe(sum)
  })

  it('applies a batch once per id and refuses malformed batches', async () => {
    const stub = env.EXPERIMENT.get(env.EXPERIMENT.idFromName(`measure:batch_test_${crypto.randomUUID()}:0`))
    const batch = {
      id: 'agg-1',
      rows: [
        {
          arm: 'a',
          day: '2026-11-02',
          units: 2,
          metrics: { m: { sum: 1, sumSq: 1, denSum: 3, denSumSq: 5, crossSum: 1 } },
        },
      ],
    }
    expect(await stub.recordAggregates(batch)).toEqual({ applied: true })
    expect(await stub.recordAggregates(batch)).toEqual({ applied: false })
    for (const bad of [
      { id: 'b', rows: [{ arm: 'a', day: 'yesterday', units: 1, metrics: {} }] },
      { id: 'c', rows: [{ arm: 'a', day: '2026-11-02', units: -1, metrics: {} }] },
      {
        id: 'd',
        rows: [{ arm: 'a', day: '2026-11-02', units: 1, metrics: { m: { sum: Number.NaN, sumSq: 0 } } }],
      },
    ])
      expect(await stub.recordAggregates(bad as never)).toEqual({ applied: false })
    expect(await stub.aggregates()).toEqual(batch.rows)
  })
})
