/**
 * End to end in workerd: a simulated week of visitors (a fixed clock moved day by day) through
 * `POST /v1/decide`, proxied pages and `POST /v1/events` yields, at `GET /admin/v1/experiments/:id`,
 * the aggregates computed directly from the raw records (who saw which arm on which day, what they
 * bought), and the report the statistics engine computes from them.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../../worker/app'
import { measurement } from '../../worker/experiments/accounting'
import { analyseExperiment } from '../../worker/experiments/analysis'
import type { ArmDay } from '../../worker/experiments/types'
import { bundledRules } from '../../worker/rules'
import { adminToken, bearer } from '../admin/support'
import { located, PAGE_ACCEPT } from '../consent/consent-support'
import { anonymousHeader } from '../decide/support'

const DAY = 86_400_000
const START = Date.UTC(2026, 10, 2) // a Monday, 00:00 UTC
// Its own rule set object: its batched counters are this test's alone; a generous state budget so a
// cold object on a loaded machine does not turn a decision into the fallback.
const rules = {
  ...bundledRules,
  placements: { ...bundledRules.placements, state: { ...bundledRules.placements.state, budgetMs: 5000 } },
}
const app = createApp({ rules })

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext()
  const res = await app.fetch(new Request(`http://gate.test${path}`, init), env, ctx)
  const body = await res.arrayBuffer()
  await waitOnExecutionContext(ctx)
  return new Response(body, res)
}

interface Visitor {
  id: string
  day: number
  arm: string | null
  held: boolean
  purchases: Array<{ id: string; ts: number; value: number }>
  refunds: number
}

afterEach(() => {
  vi.useRealTimers()
})

describe('a simulated week of visitors', () => {
  it('yields the aggregates and report computed from the raw records', { timeout: 240_000 }, async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const visitors: Visitor[] = []
    for (let i = 0; i < 35; i++) {
      const day = i % 7
      const visitAt = START + day * DAY + 9 * 3_600_000 + i * 60_000
      vi.setSystemTime(visitAt)
      const id = `week-visitor-${String(i).padStart(6, '0')}`
      const headers = located('US', 'CA', { 'x-gatehouse-id': await anonymousHeader(id) })
      let variant: string
      let reason: string
      let arm: string | null
      if (i % 2 === 0) {
        const res = await call('/v1/decide', {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ placements: ['home_hero'] }),
        })
        expect(res.status).toBe(200)
        const d = ((await res.json()) as { decisions: Array<Record<string, unknown>> }).decisions[0]!
        variant = d.variant as string
        reason = d.reason as string
        arm = (d.experiment as { arm: string; holdout: boolean } | null)?.holdout
          ? null
          : ((d.experiment as { arm: string } | null)?.arm ?? null)
      } else {
        const res = await call('/', { headers: { ...headers, accept: PAGE_ACCEPT } })
        expect(res.status).toBe(200)
        const html = await res.text()
        const m = /data-gatehouse-slot="home_hero"[^>]*/.exec(html)![0]
        variant = /data-gatehouse-variant="([a-z_]+)"/.exec(m)![1]!
        reason = /data-gatehouse-reason="([a-z_:]+)"/.exec(m)![1]!
        arm = reason === 'rule:hero_test' ? variant : null
      }
      expect(['rule:hero_test', 'holdout']).toContain(reason)
      const v: Visitor = { id, day, arm, held: reason === 'holdout', purchases: [], refunds: 0 }
      visitors.push(v)
      if (i % 2 === 1) {
        // Visitors come back later in the week and buy; some twice, some return an order.
        const events: Array<Record<string, unknown>> = []
        for (let k = 0; k < (i % 5 === 1 ? 2 : 1); k++) {
          const p = { id: `order-${id}-${k}`, ts: visitAt + (k + 1) * 3_600_000, value: 10 + i + k }
          v.purchases.push(p)
          events.push({
            id: p.id,
            type: 'purchase',
            ts: new Date(p.ts).toISOString(),
            props: { value: p.value },
          })
        }
        if (i % 7 === 3) {
          v.refunds++
          events.push({
            id: `refund-${id}`,
            type: 'refund',
            ts: new Date(visitAt + 5 * 3_600_000).toISOString(),
          })
        }
        vi.setSystemTime(visitAt + 6 * 3_600_000)
        const body = JSON.stringify({ events })
        const post = () =>
          call('/v1/events', {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body,
          })
        const first = await post()
        expect(first.status).toBe(202)
        // The client retries the same batch (a lost answer): nothing counts twice.
        expect((await post()).status).toBe(202)
      }
    }
    vi.setSystemTime(START + 7 * DAY)
    await measurement(rules).flush(env.EXPERIMENT, { force: true })
    expect(measurement(rules).unsent()).toEqual({})

    // The oracle: aggregates straight from the raw records.
    const expected = (group: (v: Visitor) => string | null): ArmDay[] => {
      const rows = new Map<string, ArmDay>()
      for (const v of visitors) {
        const arm = group(v)
        if (arm === null) continue
        const day = new Date(START + v.day * DAY).toISOString().slice(0, 10)
        const key = `${day}|${arm}`
        const r = rows.get(key) ?? {
          arm,
          day,
          units: 0,
          metrics: {
            converted: { sum: 0, sumSq: 0 },
            revenue: { sum: 0, sumSq: 0 },
            refunds: { sum: 0, sumSq: 0 },
          },
        }
        const converted = v.purchases.length > 0 ? 1 : 0
        const revenue = v.purchases.reduce((s, p) => s + p.value, 0)
        r.units++
        r.metrics.converted!.sum += converted
        r.metrics.converted!.sumSq += converted
        r.metrics.revenue!.sum += revenue
        r.metrics.revenue!.sumSq += revenue * revenue
        r.metrics.refunds!.sum += v.refunds
        r.metrics.refunds!.sumSq += v.refunds * v.refunds
        rows.set(key, r)
      }
      return [...rows.values()].sort((a, b) =>
        a.day === b.day ? (a.arm < b.arm ? -1 : 1) : a.day < b.day ? -1 : 1,
      )
    }
    const token = bearer(await adminToken({ roles: ['analyst'] }))
    const hero = (await (await call('/admin/v1/experiments/hero_test', { headers: token })).json()) as {
      aggregates: ArmDay[]
      analysis: unknown
      metrics: never
      policy: never
      weights: Record<string, number>
    }
    const heroRows = expected((v) => v.arm)
    expect(heroRows.length).toBeGreaterThan(7)
    // hero_test is measured by converted (primary) and refunds (guardrail): the same sums, no covariate.
    expect(
      hero.aggregates.map((r) => ({
        ...r,
        metrics: Object.fromEntries(
          Object.entries(r.metrics).map(([k, m]) => [k, { sum: m.sum, sumSq: m.sumSq }]),
        ),
      })),
    ).toEqual(
      heroRows.map((r) => ({
        ...r,
        metrics: { converted: r.metrics.converted, refunds: r.metrics.refunds },
      })),
    )
    for (const r of hero.aggregates) for (const m of Object.values(r.metrics)) expect(m.covSum).toBe(0)
    const report = analyseExperiment(
      {
        id: 'hero_test',
        control: 'default_hero',
        arms: ['default_hero', 'free_shipping'],
        weights: hero.weights,
        metrics: hero.metrics,
        policy: hero.policy,
        rows: hero.aggregates,
      },
      { now: new Date(START + 7 * DAY) },
    )
    expect(hero.analysis).toEqual(JSON.parse(JSON.stringify(report)))

    // The global holdout: its visitors against everyone outside it, by every metric.
    const holdout = (await (await call('/admin/v1/experiments/holdout', { headers: token })).json()) as {
      aggregates: ArmDay[]
      incrementality: { metric: string }
    }
    const holdoutRows = expected((v) => (v.held ? 'holdout' : 'exposed'))
    expect(
      holdout.aggregates.map((r) => ({
        ...r,
        metrics: Object.fromEntries(
          Object.entries(r.metrics).map(([k, m]) => [k, { sum: m.sum, sumSq: m.sumSq }]),
        ),
      })),
    ).toEqual(holdoutRows)
    expect(holdout.incrementality.metric).toBe('converted')
  })
})
