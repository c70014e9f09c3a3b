/**
 * A gateway path called with a method it does not have is a 405 with `Allow` (RFC 9110 section
 * 15.5.6), not a 404, and touches nothing: no cookie, no state. The route table the check reads is
 * the table of routes the app really mounts.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import { isGatewayPath } from '../../worker/context'
import { checkMethod, GATEWAY_ROUTES } from '../../worker/routes/table'
import { adminToken, bearer } from '../admin/support'

const app = createApp()
const call = (path: string, init: RequestInit = {}) => app.request(`http://gate.test${path}`, init, env)

describe('405 with Allow on gateway paths', () => {
  it('lists exactly the gateway routes the app mounts, with their methods', () => {
    const mounted: Record<string, string[]> = {}
    for (const r of app.routes) {
      if (r.method === 'ALL' || !isGatewayPath(r.path) || r.path.includes('*')) continue
      ;(mounted[r.path] ??= []).push(r.method)
    }
    const sorted = (t: Record<string, readonly string[]>) =>
      Object.fromEntries(Object.entries(t).map(([p, m]) => [p, [...m].sort()]))
    expect(sorted(GATEWAY_ROUTES)).toEqual(sorted(mounted))
  })

  it.each([
    ['GET', '/v1/events', 'POST'],
    ['PUT', '/v1/me', 'GET, DELETE, HEAD'],
    ['POST', '/v1/me', 'GET, DELETE, HEAD'],
    ['GET', '/v1/decide', 'POST'],
    ['DELETE', '/v1/decide/conversions', 'POST'],
    ['POST', '/v1/health', 'GET, HEAD'],
    ['PATCH', '/v1/ingest/events', 'POST'],
    ['POST', '/.well-known/gpc.json', 'GET, HEAD'],
    ['OPTIONS', '/v1/consent', 'GET, HEAD'],
  ])('answers %s %s with 405, Allow: %s, and sets no cookie', async (method, path, allow) => {
    const res = await call(path, { method, headers: { cookie: 'gatehouse_consent=all' } })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe(allow)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('set-cookie')).toBeNull()
    expect(await res.json()).toMatchObject({ status: 405, errors: [{ path: 'method' }] })
  })

  it('still answers an unknown gateway path with 404, and allowed methods as before', async () => {
    expect((await call('/v1/nothing-here', { method: 'PUT' })).status).toBe(404)
    expect((await call('/v1/health', { method: 'HEAD' })).status).toBe(200)
    expect(checkMethod('GET', '/admin/v1/decisions/abc')).toEqual({ ok: true, value: 'allowed' })
  })

  it('answers a wrong method on an admin route with 401 before authentication and 405 after', async () => {
    expect((await call('/admin/v1/audit', { method: 'DELETE' })).status).toBe(401)
    const token = await adminToken({ sub: 'ops-405', roles: ['admin'] })
    const res = await call('/admin/v1/audit', { method: 'DELETE', headers: bearer(token) })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, HEAD')
    const erase = await call('/admin/v1/subjects/erase', { method: 'GET', headers: bearer(token) })
    expect(erase.status).toBe(405)
    expect(erase.headers.get('allow')).toBe('POST')
  })
})
