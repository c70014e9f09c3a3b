/**
 * Attack row "a misspelt key is silently lost": every JSON body the gateway reads is a strict
 * object. A key a route does not know (`contxt`, `dryrun`) is a 400 problem+json naming it, with
 * the nearest known key where one is close, and the request changes nothing. Through the real
 * gateway, in workerd.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import { adminToken, bearer } from '../admin/support'
import { US_CA } from '../identity/support'
import { gatewayWithIngestKey, ingestHeaders } from './ingest-key'

const app = createApp()
const call = async (path: string, init: RequestInit = {}) => app.request(`http://gate.test${path}`, init, env)
const JSON_TYPE = { 'content-type': 'application/json' }
const event = (extra: Record<string, unknown> = {}) => ({
  id: crypto.randomUUID(),
  type: 'page_view',
  ts: new Date().toISOString(),
  ...extra,
})

interface Problem {
  status: number
  errors: Array<{ path: string; message: string }>
}

async function problem(res: Response): Promise<Problem> {
  expect(res.status).toBe(400)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  return (await res.json()) as Problem
}

describe('unknown keys in app bodies', () => {
  it.each([
    [
      '/v1/decide',
      { placements: ['home_hero'], contxt: {} },
      'contxt',
      'unknown field (did you mean "context"?)',
    ],
    ['/v1/decide', { placement: ['home_hero'] }, 'placement', 'unknown field (did you mean "placements"?)'],
    [
      '/v1/decide',
      { placements: ['home_hero'], context: { atributes: {} } },
      'context.atributes',
      'unknown field (did you mean "attributes"?)',
    ],
    [
      '/v1/decide',
      { placements: ['home_hero'], consent: { tcstring: 'x' } },
      'consent.tcstring',
      'unknown field (did you mean "tcString"?)',
    ],
    ['/v1/decide', { placements: ['home_hero'], debug: true }, 'debug', 'unknown field'],
    ['/v1/events', { events: [], evnets: [] }, 'evnets', 'unknown field (did you mean "events"?)'],
    ['/v1/events', { events: [], userId: 'c-1' }, 'userId', 'unknown field'],
  ])('POST %s with %j is a 400 naming the key', async (path, body, key, message) => {
    const res = await call(path, {
      method: 'POST',
      headers: { ...JSON_TYPE, ...US_CA },
      body: JSON.stringify(body),
    })
    expect((await problem(res)).errors).toContainEqual({ path: key, message })
  })

  it('rejects an event with a misspelt key by its index, naming the key with a hint, and keeps the rest', async () => {
    const res = await call('/v1/events', {
      method: 'POST',
      headers: { ...JSON_TYPE, ...US_CA },
      body: JSON.stringify({ events: [event(), event({ prpos: { sku: 'a' } })] }),
    })
    expect(res.status).toBe(202)
    const body = (await res.json()) as {
      accepted: number
      rejected: Array<{ index: number; errors: unknown[] }>
    }
    expect(body.accepted).toBe(1)
    expect(body.rejected).toEqual([
      { index: 1, errors: [{ path: 'prpos', message: 'unknown field (did you mean "props"?)' }] },
    ])
  })

  it('answers DELETE /v1/me with a body it does not take with 400, and erases nothing', async () => {
    const first = await call('/v1/identity', { headers: US_CA })
    const id = first.headers.get('x-gatehouse-id')!
    expect(id).toBeTruthy()
    const headers = { ...JSON_TYPE, ...US_CA, 'x-gatehouse-id': id }
    const stored = await call('/v1/events', {
      method: 'POST',
      headers,
      body: JSON.stringify({ events: [event()] }),
    })
    expect(((await stored.json()) as { stored: boolean }).stored).toBe(true)

    const res = await call('/v1/me', { method: 'DELETE', headers, body: JSON.stringify({ dryRun: true }) })
    expect((await problem(res)).errors).toEqual([
      { path: 'dryRun', message: 'unknown field (DELETE /v1/me takes no body)' },
    ])
    const me = (await (await call('/v1/me', { headers })).json()) as { held: boolean }
    expect(me.held).toBe(true)
  })

  it.each([
    ['an empty body', undefined],
    ['an empty object', '{}'],
  ])('erases on DELETE /v1/me with %s', async (_name, body) => {
    const res = await call('/v1/me', {
      method: 'DELETE',
      headers: { ...JSON_TYPE, ...US_CA },
      ...(body === undefined ? {} : { body }),
    })
    expect(res.status).toBe(200)
  })
})

describe('unknown keys in server-to-server bodies', () => {
  it.each([
    [
      { conversions: [{ id: 'order-000000001', experiment: 'upsell_bandit', arm: 'a' }], conversion: [] },
      'conversion',
      'unknown field (did you mean "conversions"?)',
    ],
    [
      { conversions: [{ id: 'order-000000001', experiment: 'upsell_bandit', arm: 'a', count: 5 }] },
      'conversions.0.count',
      'unknown field',
    ],
  ])('POST /v1/decide/conversions with %j is a 400 naming the key', async (body, key, message) => {
    const gate = await gatewayWithIngestKey()
    const res = await gate('/v1/decide/conversions', {
      method: 'POST',
      headers: ingestHeaders(),
      body: JSON.stringify(body),
    })
    expect((await problem(res)).errors).toContainEqual({ path: key, message })
  })

  it.each([
    [{ sourc: 'pos' }, 'sourc', 'unknown field (did you mean "source"?)'],
    [
      { measurement_consent: true },
      'measurement_consent',
      'unknown field (did you mean "measurementConsent"?)',
    ],
    [
      { subject: { type: 'customer_id', value: 'c-uk-1', vlaue: 'x' } },
      'subject.vlaue',
      'unknown field (did you mean "value"?)',
    ],
  ])('POST /v1/ingest/events with %j is a 400 naming the key', async (extra, key, message) => {
    const gate = await gatewayWithIngestKey()
    const res = await gate('/v1/ingest/events', {
      method: 'POST',
      headers: ingestHeaders(),
      body: JSON.stringify({
        subject: { type: 'customer_id', value: 'c-uk-1' },
        events: [event()],
        ...extra,
      }),
    })
    expect((await problem(res)).errors).toContainEqual({ path: key, message })
  })

  it.each([
    [{ identifier: { type: 'customer_id', value: 'someone' }, dryrun: true }, 'dryrun', 'unknown field'],
    [
      { identifer: { type: 'customer_id', value: 'someone' } },
      'identifer',
      'unknown field (did you mean "identifier"?)',
    ],
    [
      { identifier: { type: 'customer_id', value: 'someone', typ: 'email' } },
      'identifier.typ',
      'unknown field (did you mean "type"?)',
    ],
  ])('POST /admin/v1/subjects/erase with %j is a 400 naming the key', async (body, key, message) => {
    const token = await adminToken({ sub: 'dpo-unknown-keys', roles: ['privacy'] })
    const res = await call('/admin/v1/subjects/erase', {
      method: 'POST',
      headers: { ...bearer(token), ...JSON_TYPE },
      body: JSON.stringify(body),
    })
    expect((await problem(res)).errors).toContainEqual({ path: key, message })
  })
})
