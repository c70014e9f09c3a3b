/**
 * POST /v1/events: validation with per-event errors, bounded batches, idempotency by event id,
 * storage by consent, and a clean 503 (never a lost event) when the customer state is down.
 */
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { identifierKey } from '../../worker/identity/keys'
import { describe, expect, it } from 'vitest'
import { LIMITS } from '../../worker/events/validate'
import badEvents from './bad-events.json'
import { customer, event, eventsApp } from './harness'

const measured = { purposes: { storage: true, measurement: true } }

async function storedEvents(stateKey: string) {
  return runInDurableObject(customer(stateKey), (_i, state) =>
    state.storage.sql
      .exec<{ id: string; type: string; props: string | null; minimal: number }>(
        'SELECT id, type, props, minimal FROM events ORDER BY ts',
      )
      .toArray(),
  )
}

function fill(e: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...e }
  if (out.ts === 'NOW') out.ts = new Date().toISOString()
  if (out.id === 'ID') out.id = crypto.randomUUID()
  return out
}

describe('POST /v1/events', () => {
  it('accepts a valid batch with 202 and stores it in the customer state', async () => {
    const gate = eventsApp({ ...measured, stateKey: 'a:valid-batch' })
    const events = [event({ type: 'add_to_cart' }), event()]
    const res = await gate.post({ events })
    expect(res.status).toBe(202)
    expect(await res.json()).toEqual({
      accepted: 2,
      rejected: [],
      duplicates: 0,
      stored: true,
      storage: 'full',
    })
    expect((await storedEvents('a:valid-batch')).map((e) => e.id).sort()).toEqual(
      events.map((e) => e.id).sort(),
    )
  })

  it.each(badEvents)(
    'rejects an event with $name, naming $path, and keeps the valid one',
    async ({ event: bad, path }) => {
      const stateKey = `a:bad-${crypto.randomUUID()}`
      const gate = eventsApp({ ...measured, stateKey })
      const good = event()
      const res = await gate.post({ events: [bad && typeof bad === 'object' ? fill(bad) : bad, good] })
      expect(res.status).toBe(202)
      const body = (await res.json()) as {
        accepted: number
        rejected: Array<{ index: number; errors: Array<{ path: string }> }>
      }
      expect(body.accepted).toBe(1)
      expect(body.rejected).toHaveLength(1)
      expect(body.rejected[0]!.index).toBe(0)
      expect(body.rejected[0]!.errors.map((e) => e.path)).toContain(path)
      expect((await storedEvents(stateKey)).map((e) => e.id)).toEqual([good.id])
    },
  )

  it('accepts an event id seen before again and counts it once', async () => {
    const gate = eventsApp({ ...measured, stateKey: 'a:dupes' })
    const e = event({ type: 'add_to_cart' })
    expect(await (await gate.post({ events: [e] })).json()).toMatchObject({ accepted: 1, duplicates: 0 })
    expect(await (await gate.post({ events: [e, event()] })).json()).toMatchObject({
      accepted: 2,
      duplicates: 1,
    })
    const state = await customer('a:dupes').getDecisionState()
    expect(state.events.add_to_cart!.count).toBe(1)
  })

  it('counts an event repeated inside one batch once, and rejects a different event reusing its id', async () => {
    const gate = eventsApp({ ...measured, stateKey: 'a:repeats' })
    const e = event()
    const clash = { ...event({ type: 'search' }), id: e.id }
    const res = await gate.post({ events: [e, e, clash] })
    const body = (await res.json()) as Record<string, unknown>
    expect(body).toMatchObject({ accepted: 2, duplicates: 1 })
    expect(body.rejected).toEqual([
      {
        index: 2,
        errors: [{ path: 'id', message: 'already used by event 0 of this batch with different content' }],
      },
    ])
    expect(await storedEvents('a:repeats')).toHaveLength(1)
  })

  it('answers a batch over the count limit with 413 problem+json', async () => {
    const gate = eventsApp(measured)
    const res = await gate.post({ events: Array.from({ length: LIMITS.maxEvents + 1 }, () => event()) })
    expect(res.status).toBe(413)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toMatchObject({ status: 413, errors: [{ path: 'events' }] })
  })

  it('answers a declared body over the byte limit with 413 before reading it', async () => {
    const gate = eventsApp(measured)
    const res = await gate.post('{}', { headers: { 'content-length': String(LIMITS.maxBodyBytes + 1) } })
    expect(res.status).toBe(413)
  })

  it('answers a streamed body over the byte limit with 413 even without Content-Length', async () => {
    const gate = eventsApp(measured)
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024))
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (sent++ > 10) ctrl.close()
        else ctrl.enqueue(chunk)
      },
    })
    const res = await gate.request('/v1/events', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit)
    expect(res.status).toBe(413)
  })

  it.each([
    ['not JSON', '{"events": [', 400, ''],
    ['not an object', '[1,2]', 400, ''],
    ['events missing', '{"evts": []}', 400, 'events'],
    ['events not an array', '{"events": {}}', 400, 'events'],
  ])('answers a body that is %s with a clear 400', async (_name, body, status, path) => {
    const res = await eventsApp(measured).post(body)
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(((await res.json()) as { errors: Array<{ path: string }> }).errors[0]!.path).toBe(path)
  })

  it('refuses events posted from another site', async () => {
    const res = await eventsApp(measured).post(
      { events: [event()] },
      { headers: { origin: 'https://evil.example' } },
    )
    expect(res.status).toBe(403)
  })

  it('stores nothing for a visitor without a state object, and says so', async () => {
    const res = await eventsApp({ ...measured, stateKey: null }).post({ events: [event()] })
    expect(await res.json()).toMatchObject({ accepted: 1, stored: false, reason: 'no_customer_state' })
  })

  it('stores nothing without measurement consent except the minimum needed for suppression', async () => {
    const gate = eventsApp({ purposes: { storage: true }, stateKey: 'a:no-measurement' })
    const view = await gate.post({ events: [event()] })
    expect(await view.json()).toMatchObject({ accepted: 1, stored: false, reason: 'no_measurement_consent' })
    const purchase = event({ type: 'purchase', props: { total: 99, sku: 'x' } })
    const res = await gate.post({ events: [purchase, event()] })
    expect(await res.json()).toMatchObject({ accepted: 2, stored: true, storage: 'minimal' })
    // Only the conversion is kept, without its properties.
    expect(await storedEvents('a:no-measurement')).toEqual([
      { id: purchase.id, type: 'purchase', props: null, minimal: 1 },
    ])
    expect((await customer('a:no-measurement').getDecisionState()).suppressedCampaigns).toContain(
      'cart_recovery',
    )
  })

  it('answers 503 with Retry-After when the customer state does not answer, and the retry stores each event once', async () => {
    const events = [event({ type: 'add_to_cart' }), event()]
    const slow = await eventsApp({ ...measured, stateKey: 'a:retry' }, { storeBudgetMs: 0 }).post({ events })
    expect(slow.status).toBe(503)
    expect(slow.headers.get('retry-after')).toBe('2')
    expect(slow.headers.get('content-type')).toBe('application/problem+json')
    const retry = await eventsApp({ ...measured, stateKey: 'a:retry' }).post({ events })
    expect(retry.status).toBe(202)
    // Whether or not the first call landed late, each event is stored exactly once.
    expect(await storedEvents('a:retry')).toHaveLength(2)
    expect((await customer('a:retry').getDecisionState()).events.add_to_cart!.count).toBe(1)
  })

  it('never stores raw identifiers carried in props', async () => {
    const gate = eventsApp({ ...measured, stateKey: 'a:scrub' })
    const e = event({
      props: { sku: 'lamp-1', email: 'ana@example.com', shipping: { phone: '+4366412345678', city: 'Wien' } },
    })
    await gate.post({ events: [e] })
    const [row] = await storedEvents('a:scrub')
    expect(JSON.parse(row!.props!)).toEqual({ sku: 'lamp-1', shipping: { city: 'Wien' } })
  })

  it("attaches the email of an identify event to the visitor's own state only, as its peppered key", async () => {
    const anon = crypto.randomUUID()
    const gate = eventsApp({ ...measured, stateKey: `a:${anon}` })
    const res = await gate.post({
      events: [event({ type: 'identify', props: { email: 'Bea@Example.com' } })],
    })
    expect(await res.json()).toMatchObject({
      accepted: 1,
      stored: true,
      identified: { attached: 1, invalid: 0, complete: true },
    })
    const key = (await identifierKey('email', 'bea@example.com', env.ID_PEPPER))!
    const { links } = await customer(`a:${anon}`).identityLinks()
    expect(links).toEqual([expect.objectContaining({ identifierKey: key, assertedBy: 'browser' })])
    // An assertion is not proof: nothing is claimed in the identity index.
    expect(await env.IDENTITY.get(env.IDENTITY.idFromName(key)).lookup(key)).toBeNull()
    const [row] = await storedEvents(`a:${anon}`)
    expect(row!.props).toBe('{}')
  })

  it('stops a running trigger timer when the visitor withdraws the consent it needs', async () => {
    const stateKey = `a:${crypto.randomUUID()}`
    await eventsApp({ ...measured, stateKey }).post({ events: [event({ type: 'add_to_cart' })] })
    const timers = async () =>
      runInDurableObject(
        customer(stateKey),
        (_i, state) => state.storage.sql.exec('SELECT id FROM due_items').toArray().length,
      )
    expect(await timers()).toBe(1)
    // Measurement withdrawn; the next conversion-type event is all that reaches the state.
    await eventsApp({ purposes: { storage: true }, stateKey }).post({
      events: [event({ type: 'subscription_start' })],
    })
    expect(await timers()).toBe(0)
  })
})
