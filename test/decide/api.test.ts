import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { decideResponseSchema } from '../../worker/decide/api'
import { bucket, pickWeighted } from '../../worker/decide/bucket'
import { createApp } from '../../worker/app'
import { bundledRules } from '../../worker/rules'
import { ALL_PURPOSES, located, tcCookie } from '../consent/consent-support'
import { anonymousHeader, rulesFrom } from './support'

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch('http://gate.test/v1/decide', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

async function decisions(res: Response) {
  expect(res.status).toBe(200)
  const body = decideResponseSchema.strict().parse(await res.json())
  return body
}

describe('POST /v1/decide', () => {
  it('answers in the docs/api.md shape with the rules version, consent, identity and one decision per placement', async () => {
    const res = await post(
      { placements: ['home_hero', 'product_banner', 'cart_upsell'] },
      located('US', 'CA'),
    )
    expect(res.headers.get('cache-control')).toBe('private, no-store')
    const body = await decisions(res)
    expect(body.rulesVersion).toBe(bundledRules.version)
    expect(body.requestId).toBe(res.headers.get('x-request-id'))
    expect(body.decisions.map((d) => d.placement)).toEqual(['home_hero', 'product_banner', 'cart_upsell'])
    for (const d of body.decisions) {
      expect(Object.keys(d).sort()).toEqual([
        'content',
        'experiment',
        'fallback',
        'placement',
        'reason',
        'variant',
      ])
    }
  })

  it('buckets a consented visitor by their stable id into the experiment arm the v1 hash gives', async () => {
    const headers = located('US', 'CA', { 'x-gatehouse-id': await anonymousHeader('anon-e2e-unit-000001') })
    const first = await decisions(
      await post({ placements: ['home_hero'], context: { locale: 'en-US' } }, headers),
    )
    expect(first.identity.customerId).toBeNull()
    expect(first.identity.basis).not.toBe('ephemeral')
    const [d] = first.decisions
    const expectedArm = ['default_hero', 'free_shipping'][
      pickWeighted(bucket(1, 'hero_test', 'hero_test', 'anon-e2e-unit-000001'), [50, 50])
    ]
    // A unit in the global holdout (5%) would see the fallback instead; this id is not.
    expect(bucket(1, 'global-holdout', 'holdout', 'anon-e2e-unit-000001') * 100).toBeGreaterThanOrEqual(5)
    expect(d).toMatchObject({
      variant: expectedArm,
      reason: 'rule:hero_test',
      experiment: { id: 'hero_test', arm: expectedArm },
    })
    const again = await decisions(await post({ placements: ['home_hero'] }, headers))
    expect(again.decisions[0]!.variant).toBe(d!.variant)
  })

  it('shows the control without bucketing when an EU visitor has given no consent', async () => {
    const body = await decisions(
      await post({ placements: ['home_hero', 'cart_upsell'], context: { locale: 'de-DE' } }, located('DE')),
    )
    expect(body.consent.purposes).toEqual({
      storage: false,
      measurement: false,
      personalization: false,
      advertising: false,
    })
    expect(body.identity.basis).toBe('ephemeral')
    expect(body.decisions[0]).toMatchObject({
      variant: 'default_hero',
      reason: 'consent',
      experiment: null,
      content: { title: 'Willkommen im Demo-Shop' },
    })
    expect(body.decisions[1]).toMatchObject({ variant: 'no_upsell', reason: 'consent', experiment: null })
  })

  it('uses the consent signals in the body: a TC string consenting to everything lets a returning DACH customer see the spring sale', async () => {
    const id = 'anon-e2e-dach-000001'
    const headers = located('AT', undefined, { 'x-gatehouse-id': await anonymousHeader(id) })
    // The returning-customer audience needs a purchase in the last 90 days in customer state.
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName(`a:${id}`))
    await stub.recordEvents({
      stateKey: `a:${id}`,
      source: 'test',
      purposes: { storage: true, measurement: true, personalization: true, advertising: true },
      events: [{ id: crypto.randomUUID(), type: 'purchase', ts: Date.now() - 20 * 86_400_000, props: {} }],
    } as never)
    // A generous state budget: this test is about the decision, not the machine's speed under load.
    const app = createApp({
      rules: { ...bundledRules, placements: { ...bundledRules.placements, state: { budgetMs: 2000 } } },
    })
    const ctx = createExecutionContext()
    const res = await app.fetch(
      new Request('http://gate.test/v1/decide', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({
          placements: ['home_hero'],
          context: { locale: 'de-AT' },
          consent: { tcString: tcCookie(ALL_PURPOSES) },
        }),
      }),
      env,
      ctx,
    )
    await waitOnExecutionContext(ctx)
    const body = await decisions(res)
    expect(body.consent).toMatchObject({ jurisdiction: 'EU', purposes: { personalization: true } })
    expect(body.decisions[0]).toMatchObject({
      variant: 'spring_sale',
      reason: 'rule:spring_returning',
      fallback: null,
      content: { title: 'Frühlingsangebot' },
    })
  })

  it('falls back with state_unavailable, not an error, when customer state has no time to answer', async () => {
    const rules = rulesFrom({
      audiences: `audiences:\n  buyers:\n    when: { field: events.purchase.count, gte: 1 }\n`,
      placements: `state: { budgetMs: 0 }
placements:
  hero:
    fallback: plain
    variants:
      plain: { status: approved, content: { default: { text: plain } } }
      buyer: { status: approved }
    rules:
      - { id: buyers, when: { audience: buyers }, variant: buyer }
`,
    })
    const app = createApp({ rules })
    const ctx = createExecutionContext()
    const res = await app.fetch(
      new Request('http://gate.test/v1/decide', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...located('US', 'CA'),
          'x-gatehouse-id': await anonymousHeader('anon-e2e-state-00001'),
        },
        body: JSON.stringify({ placements: ['hero'] }),
      }),
      env,
      ctx,
    )
    await waitOnExecutionContext(ctx)
    const body = await decisions(res)
    expect(body.rulesVersion).toBe(rules.version)
    expect(body.decisions[0]).toEqual({
      placement: 'hero',
      variant: 'plain',
      content: { text: 'plain' },
      reason: 'fallback',
      fallback: 'state_unavailable',
      experiment: null,
    })
  })

  it.each([
    ['a body that is not JSON', 'not json', 'application/json', ''],
    ['no placements', {}, 'application/json', 'placements'],
    ['placements of the wrong type', { placements: 'home_hero' }, 'application/json', 'placements'],
    [
      'an attribute of the wrong type',
      { placements: ['home_hero'], context: { attributes: { a: { nested: 1 } } } },
      'application/json',
      'context.attributes.a',
    ],
    [
      'a consent signal of the wrong type',
      { placements: ['home_hero'], consent: { gpc: 'yes' } },
      'application/json',
      'consent.gpc',
    ],
    ['a form body', 'placements=home_hero', 'application/x-www-form-urlencoded', ''],
  ])('answers %s with 400 problem+json naming the field', async (_name, body, type, path) => {
    const res = await exports.default.fetch('http://gate.test/v1/decide', {
      method: 'POST',
      headers: { 'content-type': type },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    const problem = (await res.json()) as { errors: Array<{ path: string }> }
    expect(problem.errors.map((e) => e.path)).toContain(path)
  })

  it('names an unknown placement and suggests the nearest', async () => {
    const res = await post({ placements: ['home_hero', 'home_heor'] })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({
      errors: [
        { path: 'placements.1', message: 'unknown placement "home_heor" (did you mean "home_hero"?)' },
      ],
    })
  })
})
