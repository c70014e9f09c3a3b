/**
 * Attack catalogue: every unauthenticated `/admin` request used to write its own audit row, so
 * anyone could grow D1 without bound. Requests without a valid token are now counted, one row per
 * refusal reason per minute; each still leaves its own log line, and every request made with a
 * valid token keeps its own row.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { DENIED_WINDOW_MS } from '../../worker/admin/audit'
import { adminToken, bearer, capturingApp } from '../admin/support'

interface Row {
  id: string
  at: number
  actor: string | null
  outcome: string
  status: number
  request_id: string
  detail: string
}

async function deniedRowsSince(since: number): Promise<Row[]> {
  const { results } = await env.DB.prepare(
    `SELECT * FROM admin_audit WHERE at >= ? AND actor IS NULL ORDER BY at, id`,
  )
    .bind(since - DENIED_WINDOW_MS)
    .all<Row>()
  return results
}

describe('denied admin requests cannot grow the audit table without bound', () => {
  it('counts a flood of unauthenticated requests in one row per reason and minute', async () => {
    const since = Date.now()
    const { fetch, lines } = capturingApp()
    const paths = ['/admin/v1/audit', '/admin/v1/decisions', '/admin/v1/nothing', '/admin/anything/else']
    const methods = ['GET', 'POST', 'DELETE', 'PURGE']
    const ids: string[] = []
    for (let i = 0; i < 60; i++) {
      const headers = i % 3 === 0 ? bearer('not.a.token') : {}
      const res = await fetch(paths[i % paths.length]!, { method: methods[i % methods.length], headers })
      expect(res.status).toBe(401)
      ids.push(res.headers.get('x-request-id')!)
    }
    const rows = await deniedRowsSince(since)
    const byReason = new Map<string, number>()
    for (const row of rows) {
      const detail = JSON.parse(row.detail) as { reason: string; count: number }
      byReason.set(detail.reason, (byReason.get(detail.reason) ?? 0) + detail.count)
      expect(row.outcome).toBe('denied_unauthenticated')
    }
    // Two reasons; the run may straddle one minute boundary, never more rows than that.
    expect(rows.length).toBeLessThanOrEqual(4)
    expect(Object.fromEntries(byReason)).toEqual({ invalid_token: 20, missing_token: 40 })
    // Each request is still in the structured log, by its own request id.
    for (const id of ids) {
      expect(lines.some((l) => l.includes('"event":"admin_audit"') && l.includes(id))).toBe(true)
    }
  })

  it('keeps one row per request made with a valid token, and shows the counted rows to auditors', async () => {
    const { fetch } = capturingApp()
    const token = await adminToken({ sub: 'auditor-1', roles: ['privacy'] })
    for (let i = 0; i < 3; i++)
      expect((await fetch('/admin/v1/audit', { headers: bearer(token) })).status).toBe(200)
    const own = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM admin_audit WHERE actor = 'auditor-1'`,
    ).first<{
      n: number
    }>()
    expect(own?.n).toBe(3)

    await fetch('/admin/v1/decisions')
    const res = await fetch('/admin/v1/audit?limit=500', { headers: bearer(token) })
    const { entries } = (await res.json()) as {
      entries: Array<{ actor: string | null; outcome: string; detail: { reason?: string; count?: number } }>
    }
    const counted = entries.find((e) => e.actor === null && e.detail.reason === 'missing_token')
    expect(counted).toMatchObject({
      outcome: 'denied_unauthenticated',
      detail: { count: expect.any(Number) },
    })
  })

  it('still refuses a flood: counting changes the record, not the answer', async () => {
    const { fetch } = capturingApp()
    const res = await fetch('/admin/v1/subjects/erase', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject: { type: 'customer_id', value: 'victim' } }),
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Bearer')
  })
})
