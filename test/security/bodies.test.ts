/**
 * Attack rows "any body is buffered, unknown keys pass" and "deeply nested props: 500, the whole
 * batch lost": every route that reads a body caps its size before parsing (413), refuses nesting
 * it could not walk safely (400 naming the path), names unknown keys (400), and a too-deep event
 * costs only that event. Through the real gateway, in workerd.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import { DECIDE_BODY_LIMITS } from '../../worker/decide/body'
import { LIMITS } from '../../worker/events/validate'
import { adminToken, bearer } from '../admin/support'
import { US_CA } from '../identity/support'
import { gatewayWithIngestKey, ingestHeaders } from './ingest-key'

const app = createApp()
const call = async (path: string, init: RequestInit = {}) => app.request(`http://gate.test${path}`, init, env)
const JSON_TYPE = { 'content-type': 'application/json' }

/** A body of `bytes` bytes streamed without Content-Length (the header cannot be trusted anyway). */
function streamed(bytes: number): ReadableStream<Uint8Array> {
  const chunk = new TextEncoder().encode('['.repeat(64 * 1024))
  let sent = 0
  return new ReadableStream({
    pull(ctrl) {
      if (sent >= bytes) return ctrl.close()
      sent += chunk.byteLength
      ctrl.enqueue(chunk)
    },
  })
}

const nested = (depth: number) => {
  let v: Record<string, unknown> = { leaf: 1 }
  for (let i = 0; i < depth; i++) v = { a: v }
  return v
}

async function problem(res: Response) {
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  return (await res.json()) as { status: number; errors: Array<{ path: string; message: string }> }
}

describe('request bodies', () => {
  it.each([
    ['/v1/decide', DECIDE_BODY_LIMITS.decide, true],
    ['/v1/events', LIMITS.maxBodyBytes, false],
  ])(
    'refuses a declared 50 MB body on %s with 413 before reading it',
    async (path, limit, beforeIdentity) => {
      const res = await call(path, {
        method: 'POST',
        headers: { ...JSON_TYPE, ...US_CA, 'content-length': String(50 * 1024 * 1024) },
        body: '{}',
      })
      expect(res.status).toBe(413)
      expect((await problem(res)).errors[0]!.message).toBe(`at most ${limit} bytes`)
      // /v1/decide reads its body before the identity stage: a refused body issues no visitor id.
      if (beforeIdentity) expect(res.headers.get('set-cookie')).toBeNull()
    },
  )

  it.each(['/v1/decide', '/v1/events'])(
    'stops reading a streamed body on %s at the limit (413)',
    async (path) => {
      const res = await call(path, {
        method: 'POST',
        headers: JSON_TYPE,
        body: streamed(50 * 1024 * 1024),
        duplex: 'half',
      } as RequestInit)
      expect(res.status).toBe(413)
    },
  )

  it('caps conversions and admin bodies the same way', async () => {
    const gate = await gatewayWithIngestKey()
    const conv = await gate('/v1/decide/conversions', {
      method: 'POST',
      headers: ingestHeaders(),
      body: streamed(5 * 1024 * 1024),
      duplex: 'half',
    } as RequestInit)
    expect(conv.status).toBe(413)
    const token = await adminToken({ sub: 'dpo-bodies', roles: ['privacy'] })
    const dsar = await call('/admin/v1/subjects/export', {
      method: 'POST',
      headers: { ...bearer(token), ...JSON_TYPE },
      body: streamed(1024 * 1024),
      duplex: 'half',
    } as RequestInit)
    expect(dsar.status).toBe(413)
  })

  it.each([
    ['/v1/decide', { placements: ['home_hero'], contxt: {} }, 'contxt', 'did you mean "context"?'],
    [
      '/v1/decide',
      { placements: ['home_hero'], context: { lcoale: 'de' } },
      'context.lcoale',
      'did you mean "locale"?',
    ],
    ['/v1/events', { events: [], evnets: [] }, 'evnets', 'did you mean "events"?'],
  ])('names an unknown key in a %s body with 400', async (path, body, key, hint) => {
    const res = await call(path, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify(body) })
    expect(res.status).toBe(400)
    const p = await problem(res)
    expect(p.errors).toContainEqual({ path: key, message: `unknown field (${hint})` })
  })

  it('names an unknown key in a DSAR body with 400, and erases nothing', async () => {
    const token = await adminToken({ sub: 'dpo-bodies', roles: ['privacy'] })
    const res = await call('/admin/v1/subjects/erase', {
      method: 'POST',
      headers: { ...bearer(token), ...JSON_TYPE },
      body: JSON.stringify({ identifier: { type: 'customer_id', value: 'someone' }, dryrun: true }),
    })
    expect(res.status).toBe(400)
    expect((await problem(res)).errors[0]!.path).toBe('dryrun')
  })

  it.each(['/v1/decide', '/v1/events'])(
    'answers a body nested 100,000 deep on %s with 400 naming the path',
    async (path) => {
      const res = await call(path, {
        method: 'POST',
        headers: JSON_TYPE,
        body: '{"x":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}',
      })
      // The streamed brackets exceed the decide limit first; within the limit it is the depth check.
      expect([400, 413]).toContain(res.status)
      const deep = await call(path, {
        method: 'POST',
        headers: JSON_TYPE,
        body: '{"x":' + '['.repeat(5_000) + ']'.repeat(5_000) + '}',
      })
      expect(deep.status).toBe(400)
      const p = await problem(deep)
      expect(p.errors[0]!.path).toMatch(/^x(\.0)+$/)
      expect(p.errors[0]!.message).toBe('nested at most 32 levels')
    },
  )
})

describe('deeply nested props', () => {
  it('rejects only the too-deep event and stores the rest of the batch', async () => {
    // California is opt-out: storage and measurement are allowed, so the batch is stored.
    const first = await call('/v1/identity', { headers: US_CA })
    const id = first.headers.get('x-gatehouse-id')!
    const stateKey = ((await first.json()) as { stateKey: string }).stateKey
    const ts = new Date().toISOString()
    const good = { id: crypto.randomUUID(), type: 'add_to_cart', ts, props: { sku: 'sku-1' } }
    const res = await call('/v1/events', {
      method: 'POST',
      headers: { ...JSON_TYPE, ...US_CA, 'x-gatehouse-id': id },
      body: JSON.stringify({
        events: [{ id: crypto.randomUUID(), type: 'add_to_cart', ts, props: nested(20) }, good],
      }),
    })
    expect(res.status).toBe(202)
    const body = (await res.json()) as {
      accepted: number
      rejected: Array<{ index: number; errors: Array<{ path: string; message: string }> }>
    }
    expect(body.accepted).toBe(1)
    expect(body.rejected).toEqual([
      { index: 0, errors: [{ path: 'props', message: 'nested at most 4 levels (at props.a.a.a.a)' }] },
    ])
    const stored = await runInDurableObject(
      env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey)),
      (_i, state) => state.storage.sql.exec<{ id: string }>('SELECT id FROM events').toArray(),
    )
    expect(stored.map((r) => r.id)).toEqual([good.id])
  })
})
