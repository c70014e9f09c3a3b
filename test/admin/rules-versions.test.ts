/**
 * Rules version history: the gateway records the first request it serves with each rules version
 * (once per isolate, in D1), and `GET /admin/v1/rules/versions` answers which version was live when.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { rulesHistory } from '../../worker/admin/rules-versions'
import { bundledRules } from '../../worker/rules'
import { adminToken, bearer, capturingApp } from './support'

const withVersion = (version: string) => ({ rules: { ...bundledRules, version } })

async function rows(): Promise<Array<{ version: string; first_served_at: number }>> {
  const { results } = await env.DB.prepare(
    'SELECT version, first_served_at FROM rules_versions ORDER BY first_served_at',
  ).all<{ version: string; first_served_at: number }>()
  return results
}

describe('rules version history', () => {
  it('keeps the first time each version was served, and lists versions newest first', async () => {
    const before = Date.now()
    const a = capturingApp({}, withVersion('sha256:history-a'))
    expect((await a.fetch('/v1/health')).status).toBe(200)
    const afterA = Date.now()
    // More requests with the same version write nothing more (the isolate remembers).
    await a.fetch('/v1/health')
    await capturingApp({}, withVersion('sha256:history-a')).fetch('/v1/health')
    const b = capturingApp({}, withVersion('sha256:history-b'))
    await b.fetch('/v1/health')

    const recorded = await rows()
    expect(recorded.map((r) => r.version)).toEqual(['sha256:history-a', 'sha256:history-b'])
    expect(recorded[0]!.first_served_at).toBeGreaterThanOrEqual(before)
    expect(recorded[0]!.first_served_at).toBeLessThanOrEqual(afterA)

    const token = await adminToken({ roles: ['marketer'] })
    const res = await b.fetch('/admin/v1/rules/versions', { headers: bearer(token) })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { current: string; versions: Array<{ version: string }> }
    expect(body.current).toBe('sha256:history-b')
    expect(body.versions.map((v) => v.version)).toEqual(['sha256:history-b', 'sha256:history-a'])
  })

  it('answers which version was live at a given time', async () => {
    await env.DB.prepare(
      `INSERT INTO rules_versions (version, first_served_at, first_request_id) VALUES
       ('sha256:march-1', ?, 'r1'), ('sha256:march-5', ?, 'r2')`,
    )
      .bind(Date.parse('2026-03-01T09:00:00Z'), Date.parse('2026-03-05T09:00:00Z'))
      .run()
    const token = await adminToken({ roles: ['analyst'] })
    const res = await capturingApp().fetch('/admin/v1/rules/versions?at=2026-03-03', {
      headers: bearer(token),
    })
    expect(await res.json()).toMatchObject({
      at: '2026-03-03T00:00:00.000Z',
      liveAt: {
        version: 'sha256:march-1',
        firstServedAt: '2026-03-01T09:00:00.000Z',
        supersededAt: '2026-03-05T09:00:00.000Z',
      },
    })
  })

  it.each([
    { query: 'at=last-tuesday', field: 'at' },
    { query: 'since=2026-03-01', field: 'since' },
  ])('answers ?$query with 400 naming $field', async ({ query, field }) => {
    const token = await adminToken({ roles: ['admin'] })
    const res = await capturingApp().fetch(`/admin/v1/rules/versions?${query}`, { headers: bearer(token) })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    const body = (await res.json()) as { errors: Array<{ path: string }> }
    expect(body.errors).toEqual([expect.objectContaining({ path: field })])
  })

  it('says nothing was live before the first version, and the last one is not superseded', () => {
    const history = rulesHistory(
      [
        { version: 'v2', first_served_at: 200 },
        { version: 'v1', first_served_at: 100 },
      ],
      50,
    )
    expect(history.liveAt).toBeNull()
    expect(history.versions.map((v) => [v.version, v.supersededAt])).toEqual([
      ['v2', null],
      ['v1', new Date(200).toISOString()],
    ])
  })
})
