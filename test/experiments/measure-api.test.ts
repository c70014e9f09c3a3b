/**
 * The experiment report routes as a marketer uses them: the list with verdicts, one report with
 * the bandit's allocation and posterior, CSV export, and 4xx problem+json naming the field for a
 * bad query or an unknown experiment.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { banditReport } from '../../worker/experiments/bandit-report'
import { adminToken, bearer, capturingApp } from '../admin/support'

async function get(path: string, role = 'marketer') {
  const { fetch } = capturingApp()
  return fetch(path, { headers: bearer(await adminToken({ roles: [role] })) })
}

describe('GET /admin/v1/experiments', () => {
  it('lists every measured experiment, the global holdout included, with its verdict', async () => {
    const res = await get('/admin/v1/experiments')
    expect(res.status).toBe(200)
    const body = (await res.json()) as {
      experiments: Array<{ id: string; kind: string; verdict: { kind: string } }>
    }
    expect(body.experiments.map((e) => [e.id, e.kind])).toEqual([
      ['hero_test', 'ab'],
      ['upsell_bandit', 'bandit'],
      ['holdout', 'holdout'],
    ])
    for (const e of body.experiments) expect(typeof e.verdict.kind).toBe('string')
  })

  it('reports a bandit with its current allocation and posterior beside the metrics', async () => {
    const stub = env.EXPERIMENT.get(env.EXPERIMENT.idFromName('upsell_bandit'))
    await stub.record({
      id: `api-${crypto.randomUUID()}`,
      deltas: [
        { arm: 'no_upsell', exposures: 200, conversions: 4 },
        { arm: 'bundle_offer', exposures: 200, conversions: 30 },
      ],
    })
    const res = await get('/admin/v1/experiments/upsell_bandit', 'analyst')
    expect(res.status).toBe(200)
    const body = (await res.json()) as {
      bandit: { arms: ReturnType<typeof banditReport> }
      analysis: { metrics: unknown[] }
    }
    const [none, bundle] = body.bandit.arms
    expect(none).toMatchObject({ arm: 'no_upsell', posterior: { alpha: 5, beta: 197 } })
    expect(bundle).toMatchObject({ arm: 'bundle_offer', posterior: { alpha: 31, beta: 171 } })
    expect(bundle!.allocation).toBeGreaterThan(0.99)
    expect(none!.allocation + bundle!.allocation).toBeCloseTo(1, 9)
    expect(body.analysis.metrics.length).toBeGreaterThan(0)
  })

  it('exports the metric table as CSV', async () => {
    const res = await get('/admin/v1/experiments/hero_test?format=csv')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    const lines = (await res.text()).trimEnd().split('\r\n')
    expect(lines[0]).toMatch(/^experiment,metric,role,arm,units,mean,/)
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 4).join(','))).toEqual([
      'hero_test,converted,primary,default_hero',
      'hero_test,converted,primary,free_shipping',
      'hero_test,refunds,guardrail,default_hero',
      'hero_test,refunds,guardrail,free_shipping',
    ])
  })

  it.each([
    ['/admin/v1/experiments/hero_tset', 404, 'id', 'did you mean "hero_test"'],
    ['/admin/v1/experiments/hero_test?format=xlsx', 400, 'format', 'must be json or csv'],
    ['/admin/v1/experiments?since=2026-01-01', 400, 'since', 'unknown parameter'],
    ['/admin/v1/experiments/constructor', 404, 'id', 'unknown experiment'],
  ])('%s answers %i naming %s', async (path, status, field, message) => {
    const res = await get(path)
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    const body = (await res.json()) as { errors: Array<{ path: string; message: string }> }
    expect(body.errors).toContainEqual({ path: field, message: expect.stringContaining(message) })
  })
})
