/**
 * The typed client (examples/client) against the real Worker: every call it offers reaches its
 * route and returns what the types promise; the anonymous id the gateway issues is carried from
 * call to call; a request the gateway refuses (a mistyped placement) surfaces as an error the app
 * sees, never as built-in content; only an unreachable gateway falls back. In workerd, through the
 * Worker's own fetch handler, as an app talks to the gateway.
 */
import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { contentFor, createGatehouseClient, GatehouseError } from '../../examples/client/index'
import { located } from '../consent/consent-support'
import { gatewayWithIngestKey, INGEST_KEY, rulesWithBandit } from '../security/ingest-key'

// The client talks to the Worker through its fetch handler, with a location for the consent stage.
const viaWorker = (extra: Record<string, string>): typeof fetch =>
  ((input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers)
    for (const [k, v] of Object.entries(extra)) headers.set(k, v)
    return exports.default.fetch(new Request(input, { ...init, headers }))
  }) as typeof fetch

// California is opt-out: the visitor gets a stored anonymous id and measurement.
const californian = () =>
  createGatehouseClient({ baseUrl: 'http://gate.test/', fetch: viaWorker(located('US', 'CA')) })
const event = (type = 'page_view') => ({ id: crypto.randomUUID(), type, ts: new Date().toISOString() })

describe('the typed client (examples/client)', () => {
  it('decides a placement from the smallest request, { placements }', async () => {
    const gate = californian()
    const r = await gate.decide({ placements: ['home_hero'] })
    expect(r.decisions[0]!.placement).toBe('home_hero')
    expect(r.rulesVersion).toMatch(/^sha256:/)
    expect(gate.anonymousId()).toBeTruthy()
  })

  it('surfaces a mistyped placement as a GatehouseError naming it, even through contentFor', async () => {
    const gate = californian()
    const err = await contentFor(gate, 'home_heor', {}, { title: 'Built in' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GatehouseError)
    const e = err as GatehouseError
    expect(e.status).toBe(400)
    expect(e.isClientError).toBe(true)
    expect(e.problem?.errors).toEqual([
      { path: 'placements.0', message: 'unknown placement "home_heor" (did you mean "home_hero"?)' },
    ])
  })

  it('falls back to built-in content only when the gateway cannot be reached', async () => {
    const gate = createGatehouseClient({
      baseUrl: 'http://gate.test',
      fetch: (() => Promise.reject(new TypeError('offline'))) as typeof fetch,
    })
    const r = await contentFor(gate, 'home_hero', {}, { title: 'Built in' })
    expect(r.content).toEqual({ title: 'Built in' })
    expect(r.decision).toBeNull()
    expect(r.error?.reason).toBe('network')
  })

  it('sends events under the id it was issued, reads them back in me(), then erases them', async () => {
    const gate = californian()
    const who = await gate.identity()
    const sent = await gate.sendEvents([event(), { ...event(), id: 'short' }])
    expect(sent).toMatchObject({ accepted: 1, stored: true, storage: 'full' })
    expect(sent.rejected.map((r) => r.index)).toEqual([1])
    const me = await gate.me()
    expect(me.held).toBe(true)
    expect(me.identity.anonymousId).toBe(who.anonymousId)
    const receipt = await gate.deleteMe()
    expect(receipt.status).toBe('completed')
  })

  it('carries the new anonymous id after sign-out', async () => {
    const gate = californian()
    const before = await gate.identity()
    const signedBefore = gate.anonymousId()
    const out = await gate.signOut()
    expect(out.signedOut).toBe(true)
    expect(out.anonymousId).not.toBe(before.anonymousId)
    // The client now sends the new signed id (an opaque value), which the gateway reads as the new visitor.
    expect(gate.anonymousId()).not.toBe(signedBefore)
    expect((await gate.identity()).anonymousId).toBe(out.anonymousId)
  })

  it('reports the consent the gateway resolved', async () => {
    const c = await createGatehouseClient({
      baseUrl: 'http://gate.test',
      fetch: viaWorker(located('DE')),
    }).consent()
    expect(c.jurisdiction).toBe('EU')
    expect(c.purposes.storage).toBe(false)
  })

  it('records conversions with the ingest credential, and refuses without it', async () => {
    const experiment = 'client_bandit'
    const gate = await gatewayWithIngestKey(rulesWithBandit(experiment))
    const viaGate = ((input: RequestInfo | URL, init?: RequestInit) =>
      gate(new URL(String(input)).pathname, init)) as typeof fetch
    const server = createGatehouseClient({
      baseUrl: 'http://gate.test',
      fetch: viaGate,
      getToken: () => INGEST_KEY,
    })
    const conversion = { id: `order-${crypto.randomUUID()}`, experiment, arm: 'bundle_offer' }
    expect(await server.recordConversions([conversion])).toEqual({ accepted: 1, counted: 1, duplicates: 0 })
    expect(await server.recordConversions([conversion])).toEqual({ accepted: 1, counted: 0, duplicates: 1 })
    const anonymous = createGatehouseClient({ baseUrl: 'http://gate.test', fetch: viaGate })
    const err = (await anonymous.recordConversions([conversion]).catch((e: unknown) => e)) as GatehouseError
    expect(err.status).toBe(401)
  })
})
