/**
 * The OpenAPI document an app developer generates a client from (`GET /v1/openapi.json`) covers
 * every app-facing route of the route table, with every status the Worker really answers and the
 * headers an app must handle; the response schemas match what the Worker really sends. Through
 * the real gateway, in workerd. (The document's lint and generated types: ./tooling.)
 */
import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { createApp } from '../../worker/app'
import { EVENT_KEYS } from '../../worker/events/validate'
import { INGEST_KEYS } from '../../worker/events/ingest-body'
import { API_VERSION, leftOut } from '../../worker/openapi/document'
import {
  consentResponseSchema,
  eraseReceiptSchema,
  eventsRequestSchema,
  eventsResponseSchema,
  healthResponseSchema,
  identityResponseSchema,
  ingestRequestSchema,
  meResponseSchema,
  problemSchema,
  signOutResponseSchema,
} from '../../worker/openapi/schemas'
import { GATEWAY_ROUTES } from '../../worker/routes/table'
import { US_CA } from '../identity/support'

interface Responses {
  [status: string]: { $ref?: string; headers?: Record<string, unknown> }
}
interface Operation {
  operationId: string
  parameters?: Array<{ $ref: string }>
  requestBody?: { content: Record<string, { schema: { $ref: string } }> }
  responses: Responses
}
interface Document {
  openapi: string
  info: { version: string; 'x-gatehouse-rules-version': string }
  servers: Array<{ url: string }>
  paths: Record<string, Record<string, Operation>>
  components: {
    schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }>
    responses: Record<string, { headers?: Record<string, unknown> }>
  }
}

const app = createApp()
const call = (path: string, init: RequestInit = {}) => app.request(`http://gate.test${path}`, init, env)

async function document(): Promise<Document> {
  const res = await exports.default.fetch('http://gate.test/v1/openapi.json')
  expect(res.status).toBe(200)
  return (await res.json()) as Document
}

/** The headers a response declares, following a `$ref` to a shared response. */
function headersOf(doc: Document, op: Operation, status: string): string[] {
  const r = op.responses[status]!
  const shared = r.$ref ? doc.components.responses[r.$ref.split('/').pop()!]! : r
  return Object.keys(shared.headers ?? {})
}

describe('GET /v1/openapi.json', () => {
  it('is OpenAPI 3.1 with a stable API version, the rules hash in an extension, and this gateway as server', async () => {
    const doc = await document()
    const health = (await (await call('/v1/health')).json()) as { rulesVersion: string }
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.info.version).toBe(API_VERSION)
    expect(doc.info['x-gatehouse-rules-version']).toBe(health.rulesVersion)
    expect(doc.servers).toEqual([{ url: 'http://gate.test', description: 'This gateway' }])
  })

  it('has every app-facing route of the route table, and no route the gateway does not answer', async () => {
    const doc = await document()
    const expected: string[] = []
    for (const [path, methods] of Object.entries(GATEWAY_ROUTES)) {
      if (leftOut(path)) continue
      for (const m of methods) expected.push(`${m} ${path}`)
    }
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
    )
    expect(documented.sort()).toEqual(expected.sort())
    for (const route of [
      'POST /v1/decide',
      'POST /v1/decide/conversions',
      'POST /v1/events',
      'GET /v1/me',
      'DELETE /v1/me',
      'GET /v1/consent',
      'GET /v1/identity',
      'POST /v1/sign-out',
      'GET /v1/health',
    ])
      expect(documented).toContain(route)
  })

  it('declares the headers an app must handle on every status that carries one', async () => {
    const doc = await document()
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`
        expect(op.responses['405'], where).toBeDefined()
        expect(headersOf(doc, op, '405'), where).toContain('Allow')
        expect(headersOf(doc, op, '401'), where).toContain('WWW-Authenticate')
        for (const s of ['429', '503'])
          if (op.responses[s]) expect(headersOf(doc, op, s), where).toContain('Retry-After')
        const ok = Object.keys(op.responses).find((s) => s.startsWith('2'))!
        expect(headersOf(doc, op, ok), where).toContain('X-Request-Id')
        const visitor = path !== '/v1/decide/conversions' && path !== '/v1/ingest/events'
        if (visitor) {
          expect(headersOf(doc, op, ok), where).toContain('X-Gatehouse-Id')
          expect(op.parameters, where).toContainEqual({ $ref: '#/components/parameters/X-Gatehouse-Id' })
        }
      }
    }
    expect(headersOf(doc, doc.paths['/v1/decide']!.post!, '200')).toContain('X-Gatehouse-Rules-Version')
  })

  it('makes no defaulted request field required', async () => {
    const doc = await document()
    expect(doc.components.schemas.DecideRequest!.required).toEqual(['placements'])
    expect(doc.components.schemas.IngestRequest!.required!.sort()).toEqual(['events', 'subject'])
    expect(JSON.stringify(doc.components.schemas.DecideRequest)).not.toContain('"default"')
  })

  it('names the same body keys the validators accept', () => {
    expect(Object.keys(eventsRequestSchema.shape.events.element.shape).sort()).toEqual([...EVENT_KEYS].sort())
    expect(Object.keys(ingestRequestSchema.shape).sort()).toEqual([...INGEST_KEYS].sort())
  })
})

// What the Worker really answers, row by row: each status must be one the document lists for the
// operation, with the headers it promises.
const BAD_JWT = { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' }
const JSON_TYPE = { 'content-type': 'application/json' }
const rows: Array<[string, string, string, RequestInit, number, string[]]> = [
  [
    'a bad visitor JWT',
    'post',
    '/v1/decide',
    { headers: { ...JSON_TYPE, ...BAD_JWT }, body: '{"placements":["home_hero"]}' },
    401,
    ['www-authenticate'],
  ],
  ['a bad visitor JWT', 'get', '/v1/me', { headers: BAD_JWT }, 401, ['www-authenticate']],
  ['a bad visitor JWT', 'get', '/v1/health', { headers: BAD_JWT }, 401, ['www-authenticate']],
  [
    'no ingest credential',
    'post',
    '/v1/decide/conversions',
    { headers: JSON_TYPE, body: '{}' },
    401,
    ['www-authenticate'],
  ],
  [
    'no ingest credential',
    'post',
    '/v1/ingest/events',
    { headers: JSON_TYPE, body: '{}' },
    401,
    ['www-authenticate'],
  ],
  [
    'an unknown key',
    'post',
    '/v1/decide',
    { headers: JSON_TYPE, body: '{"placements":["home_hero"],"contxt":{}}' },
    400,
    [],
  ],
  [
    'a mistyped placement',
    'post',
    '/v1/decide',
    { headers: JSON_TYPE, body: '{"placements":["home_heor"]}' },
    400,
    [],
  ],
  [
    'a body over 64 KiB',
    'post',
    '/v1/decide',
    { headers: JSON_TYPE, body: `{"placements":["${'x'.repeat(70_000)}"]}` },
    413,
    [],
  ],
  ['HTML', 'post', '/v1/events', { headers: { 'content-type': 'text/html' }, body: '<p>' }, 415, []],
  ['a body with a key', 'delete', '/v1/me', { headers: JSON_TYPE, body: '{"dryRun":true}' }, 400, []],
  ['another site', 'post', '/v1/sign-out', { headers: { origin: 'https://evil.example' } }, 403, []],
  [
    'another site',
    'post',
    '/v1/events',
    { headers: { ...JSON_TYPE, origin: 'https://evil.example' }, body: '{"events":[]}' },
    403,
    [],
  ],
]

describe('the statuses the Worker answers are the documented ones', () => {
  it.each(rows)('%s: %s %s', async (_why, method, path, init, status, headers) => {
    const doc = await document()
    const res = await call(path, { method: method.toUpperCase(), ...init })
    expect(res.status).toBe(status)
    expect(doc.paths[path]![method]!.responses[String(status)]).toBeDefined()
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    problemSchema.parse(await res.json())
    for (const h of headers) expect(res.headers.get(h)).toBeTruthy()
  })

  it.each(['/v1/me', '/v1/decide', '/v1/events', '/v1/sign-out'])(
    'answers another method on %s with a documented 405 and Allow',
    async (path) => {
      const doc = await document()
      const res = await call(path, { method: 'PUT' })
      expect(res.status).toBe(405)
      expect(res.headers.get('allow')).toBeTruthy()
      for (const op of Object.values(doc.paths[path]!)) expect(op.responses['405']).toBeDefined()
    },
  )
})

describe('the response schemas match what the Worker sends', () => {
  const parse = async <S extends z.ZodType>(schema: S, res: Response, status = 200): Promise<z.output<S>> => {
    expect(res.status).toBe(status)
    return schema.parse(await res.json())
  }

  it('for the read routes of a visitor with storage consent', async () => {
    const first = await call('/v1/identity', { headers: US_CA })
    const id = first.headers.get('x-gatehouse-id')!
    await parse(identityResponseSchema, first)
    const headers = { ...US_CA, 'x-gatehouse-id': id }
    await parse(healthResponseSchema, await call('/v1/health', { headers }))
    await parse(consentResponseSchema, await call('/v1/consent', { headers }))
    const events = await call('/v1/events', {
      method: 'POST',
      headers: { ...headers, ...JSON_TYPE },
      body: JSON.stringify({
        events: [
          { id: crypto.randomUUID(), type: 'page_view', ts: new Date().toISOString() },
          { id: 'short', type: 'page_view', ts: new Date().toISOString() },
        ],
      }),
    })
    const sent = await parse(eventsResponseSchema, events, 202)
    expect(sent.rejected[0]!.index).toBe(1)
    const me = await parse(meResponseSchema, await call('/v1/me', { headers }))
    expect(me.held).toBe(true)
    await parse(signOutResponseSchema, await call('/v1/sign-out', { method: 'POST', headers }))
    const receipt = await parse(eraseReceiptSchema, await call('/v1/me', { method: 'DELETE', headers }))
    expect(receipt.status).toBe('completed')
  })

  it('for an ephemeral visitor (nothing held)', async () => {
    const headers = { 'x-gatehouse-country': 'DE' }
    await parse(meResponseSchema, await call('/v1/me', { headers }))
    await parse(eraseReceiptSchema, await call('/v1/me', { method: 'DELETE', headers }))
  })
})
