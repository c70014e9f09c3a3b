/**
 * The `consent` block of app-facing bodies is read the same way on every route: an EU app user
 * (signed in with a JWT, no cookies) whose app CMP granted measurement has their events stored,
 * and one whose block does not grant it has nothing beyond the minimum kept.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { gate, signToken } from '../identity/support'
import { ALL_PURPOSES, located, tcCookie } from './consent-support'

const view = () => ({
  id: crypto.randomUUID(),
  type: 'product_view',
  ts: new Date(Date.now() - 1000).toISOString(),
  props: { sku: 'sku-1' },
})

async function postEvents(sub: string, body: unknown) {
  return gate('/v1/events', {
    method: 'POST',
    headers: located('DE', undefined, {
      'content-type': 'application/json',
      authorization: `Bearer ${await signToken(sub)}`,
    }),
    body: JSON.stringify(body),
  })
}

const stateOf = (sub: string) => env.CUSTOMER.get(env.CUSTOMER.idFromName(`c:${sub}`))

describe('the consent block of POST /v1/events', () => {
  it('stores an EU app user’s events when the block grants measurement', async () => {
    const sub = `app-user-${crypto.randomUUID()}`
    const res = await postEvents(sub, { events: [view()], consent: { tcString: tcCookie(ALL_PURPOSES) } })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ stored: true, storage: 'full' })
    expect((await stateOf(sub).getDecisionState()).events.product_view?.count).toBe(1)
  })

  it('keeps nothing when the block grants storage but not measurement (purpose 1 only)', async () => {
    const sub = `app-user-${crypto.randomUUID()}`
    const res = await postEvents(sub, { events: [view()], consent: { tcString: tcCookie([1]) } })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ stored: false, reason: 'no_measurement_consent' })
    expect((await stateOf(sub).getDecisionState()).events.product_view).toBeUndefined()
  })

  it('keeps nothing for the same user without a block: the app’s cookies-free request grants nothing in the EU', async () => {
    const sub = `app-user-${crypto.randomUUID()}`
    const res = await postEvents(sub, { events: [view()] })
    expect(await res.json()).toMatchObject({ stored: false, reason: 'no_measurement_consent' })
  })

  it('grants nothing from a TC string that does not decode, and says the signal was invalid', async () => {
    const sub = `app-user-${crypto.randomUUID()}`
    const res = await postEvents(sub, { events: [view()], consent: { tcString: 'not-a-tc-string' } })
    expect(await res.json()).toMatchObject({ stored: false, reason: 'no_measurement_consent' })
  })

  it.each([
    [{ gpc: 'yes' }, 'consent.gpc'],
    [{ tcString: 42 }, 'consent.tcString'],
    [{ tcStrng: 'x' }, 'consent.tcStrng'],
    ['granted', 'consent'],
  ])('refuses a malformed block %j with a 400 naming %s, storing nothing', async (block, path) => {
    const sub = `app-user-${crypto.randomUUID()}`
    const res = await postEvents(sub, { events: [view()], consent: block })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    const problem = (await res.json()) as { errors: Array<{ path: string; message: string }> }
    expect(problem.errors.map((e) => e.path)).toContain(path)
    expect((await stateOf(sub).getDecisionState()).events.product_view).toBeUndefined()
  })

  it('suggests the field a typo meant', async () => {
    const res = await postEvents(`app-user-${crypto.randomUUID()}`, {
      events: [view()],
      consent: { tcStrng: 'x' },
    })
    const problem = (await res.json()) as { errors: Array<{ path: string; message: string }> }
    expect(problem.errors).toContainEqual({
      path: 'consent.tcStrng',
      message: 'unknown field (did you mean "tcString"?)',
    })
  })
})
