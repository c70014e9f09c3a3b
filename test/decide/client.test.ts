import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { contentFor, createDecisionClient, DecisionClientError } from '../../examples/client'
import { located } from '../consent/consent-support'

// The client talks to the Worker through its fetch handler, as an app talks to the gateway.
const viaWorker = (extra: Record<string, string>): typeof fetch =>
  ((input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers)
    for (const [k, v] of Object.entries(extra)) headers.set(k, v)
    return exports.default.fetch(new Request(input, { ...init, headers }))
  }) as typeof fetch

describe('the typed decision client (examples/client)', () => {
  it('decides placements and returns typed decisions', async () => {
    const gate = createDecisionClient({ baseUrl: 'http://gate.test/', fetch: viaWorker(located('US', 'CA')) })
    const r = await gate.decide({ placements: ['home_hero'], context: { locale: 'en-US' } })
    expect(r.decisions[0]!.placement).toBe('home_hero')
    expect(r.rulesVersion).toMatch(/^sha256:/)
  })

  it('surfaces a 400 as a DecisionClientError carrying the problem', async () => {
    const gate = createDecisionClient({ baseUrl: 'http://gate.test', fetch: viaWorker({}) })
    const err = await gate.decide({ placements: ['nope'] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DecisionClientError)
    expect((err as DecisionClientError).problem?.errors?.[0]?.path).toBe('placements.0')
  })

  it('falls back to built-in content when the gateway cannot be reached', async () => {
    const gate = createDecisionClient({
      baseUrl: 'http://gate.test',
      fetch: (() => Promise.reject(new TypeError('offline'))) as typeof fetch,
    })
    expect(await contentFor(gate, 'home_hero', {}, { title: 'Built in' })).toEqual({
      content: { title: 'Built in' },
      decision: null,
    })
  })
})
