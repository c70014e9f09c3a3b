/**
 * `POST /v1/decide` validates its body before any store is called: for a login (which the
 * identity stage stitches through the stores) with every Durable Object,
 * queue, D1 and rate-limit binding failing (each throws on use and counts the attempt), a
 * malformed body still gets a 400 problem+json naming the field, never a 503, and no store was
 * touched. A valid body on the same failing bindings shows they are on the request path.
 */
import { env } from 'cloudflare:workers'
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import type { Env } from '../../worker/env'
import { signToken } from '../identity/support'
import { anonymousHeader } from './support'

const STORES = [
  'CUSTOMER',
  'EXPERIMENT',
  'IDENTITY',
  'DECISIONS',
  'TRIGGERS_HIGH',
  'TRIGGERS_LOW',
  'TRIGGERS_DLQ',
  'DB',
  'RATE_LIMIT_VISITOR',
  'RATE_LIMIT_IP',
  'RATE_LIMIT_PRIVACY',
] as const

/** The test env with every store binding replaced by one that throws on any use. */
function failingStores(): { env: Env; touched: string[] } {
  const touched: string[] = []
  const failing = (name: string): unknown =>
    new Proxy(
      {},
      {
        get(_t, prop) {
          touched.push(`${name}.${String(prop)}`)
          return () => {
            throw new Error(`${name} is down`)
          }
        },
      },
    )
  const broken = { ...(env as unknown as Env) } as Record<string, unknown>
  for (const name of STORES) broken[name] = failing(name)
  return { env: broken as unknown as Env, touched }
}

async function post(body: string, target: Env): Promise<Response> {
  const ctx = createExecutionContext()
  const res = await createApp().fetch(
    new Request('http://gate.test/v1/decide', {
      method: 'POST',
      // A login (customer JWT meeting a returning visitor's id): the identity stage would stitch.
      headers: {
        'content-type': 'application/json',
        'x-gatehouse-country': 'AT',
        authorization: `Bearer ${await signToken(`cust-${crypto.randomUUID()}`)}`,
        'x-gatehouse-id': await anonymousHeader(crypto.randomUUID()),
      },
      body,
    }),
    target,
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return res
}

describe('POST /v1/decide validates before it touches any store', () => {
  it.each([
    { name: 'not JSON', body: '{"placements": ["home_hero"', path: '' },
    { name: 'a misspelt key', body: '{"placements": ["home_hero"], "contxt": {}}', path: 'contxt' },
    { name: 'placements not an array', body: '{"placements": "home_hero"}', path: 'placements' },
    { name: 'an unknown placement', body: '{"placements": ["home_heor"]}', path: 'placements.0' },
    {
      name: 'a consent of the wrong type',
      body: '{"placements": ["home_hero"], "consent": {"tcString": 42}}',
      path: 'consent.tcString',
    },
  ])('answers $name with a 400 naming the field while every store fails', async ({ body, path }) => {
    const { env: broken, touched } = failingStores()
    const res = await post(body, broken)
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    const problem = (await res.json()) as { errors?: Array<{ path: string }> }
    if (path) expect(problem.errors?.map((e) => e.path)).toContain(path)
    expect(touched).toEqual([])
  })

  it('does reach the stores for a valid body (the failing bindings are in the request path)', async () => {
    const { env: broken, touched } = failingStores()
    await post('{"placements": ["home_hero"]}', broken)
    expect(touched.length).toBeGreaterThan(0)
  })
})
