/**
 * Stitching: linking anonymous ids, emails and phones to customers, deterministically and once.
 * Runs against the real IdentityIndex and CustomerState objects and D1.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import { identifierKey } from '../../worker/identity/keys'
import { resolveSubject, stitch } from '../../worker/identity/stitch'
import type { Touchpoint } from '../../worker/touchpoint/types'
import { US_CA, appFetch, cookieClaims, idCookie, signToken, whoami } from './support'

const customer = (key: string) => env.CUSTOMER.get(env.CUSTOMER.idFromName(key))
const index = (key: string) => env.IDENTITY.get(env.IDENTITY.idFromName(key))
const pepper = env.ID_PEPPER!

function tp(at: number, source: string): Touchpoint {
  return {
    source,
    medium: 'cpc',
    campaign: `c-${at}`,
    term: null,
    content: null,
    clickIds: {},
    referrerHost: null,
    landingPath: '/',
    at,
    unmapped: [],
  }
}

/** An anonymous visitor with a cookie and some state (three touchpoints). */
async function anonymousVisitor(): Promise<{ cookie: string; anonymousId: string }> {
  const { res, body } = await whoami(US_CA)
  const state = customer(`a:${body.anonymousId}`)
  for (const [i, s] of ['google', 'facebook', 'bing'].entries()) {
    await state.recordTouchpoint(tp(Date.now() - (3 - i) * 3_600_000, s))
  }
  return { cookie: idCookie(res)!.value, anonymousId: body.anonymousId }
}

describe('login stitching', () => {
  it("keeps the customer object's own name when it absorbs an anonymous visitor's state", async () => {
    const from = `a:meta-${crypto.randomUUID()}`
    const to = `c:meta-${crypto.randomUUID()}`
    await customer(from).recordEvents({
      stateKey: from,
      source: 'gateway',
      purposes: { storage: true, measurement: true, personalization: true, advertising: true },
      events: [{ id: `${from}:pv`, type: 'page_view', ts: Date.now(), props: { path: '/' } }],
    })
    const dump = await customer(from).exportAll()
    expect(dump.state_meta).toEqual([{ key: 'state_key', value: from }])
    expect(await customer(to).absorb(from, dump)).toMatchObject({ absorbed: true })
    // Fired triggers name their person from this row: it must never become the anonymous key.
    expect((await customer(to).exportAll()).state_meta ?? []).toEqual([])
    expect((await customer(to).exportAll()).events).toHaveLength(1)
  })

  it('absorbs the anonymous state exactly once when 20 logins race', async () => {
    const { cookie, anonymousId } = await anonymousVisitor()
    const sub = `race-${crypto.randomUUID()}`
    const token = await signToken(sub)
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        whoami({ ...US_CA, cookie: `gh_id=${cookie}`, authorization: `Bearer ${token}` }),
      ),
    )
    for (const { res, body } of responses) {
      expect(res.status).toBe(200)
      expect(body).toMatchObject({ basis: 'jwt', customerId: sub, anonymousId })
    }
    const target = customer(`c:${sub}`)
    const dump = await target.exportAll()
    expect(dump.absorbed).toEqual([expect.objectContaining({ state_key: `a:${anonymousId}` })])
    expect((await target.touchpoints()).history.map((t) => t.source)).toEqual(['google', 'facebook', 'bing'])
    // The anonymous object was emptied, so nothing is counted twice.
    expect((await customer(`a:${anonymousId}`).touchpoints()).history).toEqual([])
    // Both identifiers lead to the customer.
    expect(await index(`anonymous_id:${anonymousId}`).lookup(`anonymous_id:${anonymousId}`)).toMatchObject({
      customerId: sub,
      stateKey: `c:${sub}`,
      assertedBy: 'jwt',
    })
    const links = (await target.identityLinks()).links.map((l) => l.identifierKey).sort()
    expect(links).toEqual([`anonymous_id:${anonymousId}`, `customer_id:${sub}`])
  })

  it('reports exactly one absorption across 20 concurrent stitch calls', async () => {
    const { anonymousId } = await anonymousVisitor()
    const sub = `direct-${crypto.randomUUID()}`
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        stitch(env, { customerId: sub, anonymousId, identifiers: [], assertedBy: 'jwt' }),
      ),
    )
    expect(results.every((r) => r.fallback === null)).toBe(true)
    expect(results.reduce((n, r) => n + r.absorbed.length, 0)).toBe(1)
    expect((await customer(`c:${sub}`).touchpoints()).history).toHaveLength(3)
  })

  it('never answers 5xx when the identity index does not respond, and stitches at the next login', async () => {
    const { cookie, anonymousId } = await anonymousVisitor()
    const sub = `retry-${crypto.randomUUID()}`
    const token = await signToken(sub)
    // A namespace whose objects never answer: what a stuck or overloaded Durable Object looks like to the Worker.
    const hung = {
      idFromName: (n: string) => env.IDENTITY.idFromName(n),
      get: () => new Proxy({}, { get: () => () => new Promise(() => {}) }),
    }
    const app = createApp()
    const headers = { ...US_CA, cookie: `gh_id=${cookie}`, authorization: `Bearer ${token}` }
    const first = await appFetch(app, '/v1/identity', { headers }, { IDENTITY: hung })
    expect(first.status).toBe(200)
    expect(((await first.json()) as { customerId: string }).customerId).toBe(sub)
    // The cookie is left as it was (no customer in it), so the next request with the token retries.
    expect(idCookie(first)).toBeUndefined()

    const second = await appFetch(app, '/v1/identity', { headers })
    expect(cookieClaims(idCookie(second)!.value)).toMatchObject({ a: anonymousId, c: sub })
    expect((await customer(`c:${sub}`).touchpoints()).history).toHaveLength(3)
  })
  it('does not stitch an id issued on the same request (nothing to merge), yet carries the customer from then on', async () => {
    const sub = `fresh-${crypto.randomUUID()}`
    const { res, body } = await whoami({ ...US_CA, authorization: `Bearer ${await signToken(sub)}` })
    expect(cookieClaims(idCookie(res)!.value)).toMatchObject({ a: body.anonymousId, c: sub })
    const key = `anonymous_id:${body.anonymousId}`
    expect(await index(key).lookup(key)).toBeNull()
  })
})

describe('identify with email and phone', () => {
  it('stores email and phone only as peppered hashes of their normalised form', async () => {
    const sub = `hash-${crypto.randomUUID()}`
    const r = await stitch(env, {
      customerId: sub,
      identifiers: [
        { type: 'email', value: '  Ann.Example@Example.COM ' },
        { type: 'phone', value: '+49 (30) 1234-5678' },
      ],
      assertedBy: 'admin',
    })
    const email = (await identifierKey('email', 'ann.example@example.com', pepper))!
    const phone = (await identifierKey('phone', '+493012345678', pepper))!
    expect(r.linked).toEqual(expect.arrayContaining([email, phone]))
    const stored = JSON.stringify([
      await customer(`c:${sub}`).exportAll(),
      await index(email).exportAll(),
      await index(phone).exportAll(),
    ])
    expect(stored).not.toMatch(/example\.com/i)
    expect(stored).not.toContain('12345678')
    expect(await index(email).lookup(email)).toMatchObject({ customerId: sub, assertedBy: 'admin' })
  })

  it('reports identifiers that do not normalise instead of storing them', async () => {
    const r = await stitch(env, {
      customerId: `bad-${crypto.randomUUID()}`,
      identifiers: [
        { type: 'email', value: 'not an email' },
        { type: 'phone', value: '030 1234' },
      ],
      assertedBy: 'admin',
    })
    expect(r.invalid).toEqual([
      { type: 'email', index: 0 },
      { type: 'phone', index: 1 },
    ])
  })

  it('links an email given before login to the anonymous visitor, and to the customer once they log in', async () => {
    const { cookie, anonymousId } = await anonymousVisitor()
    const early = await stitch(env, {
      anonymousId,
      identifiers: [{ type: 'email', value: 'early@example.com' }],
      assertedBy: 'admin',
    })
    expect(early).toMatchObject({ customerId: null, stateKey: `a:${anonymousId}` })

    const sub = `early-${crypto.randomUUID()}`
    await whoami({ ...US_CA, cookie: `gh_id=${cookie}`, authorization: `Bearer ${await signToken(sub)}` })
    const email = (await identifierKey('email', 'early@example.com', pepper))!
    expect(await index(email).lookup(email)).toMatchObject({
      customerId: sub,
      previousStateKey: `a:${anonymousId}`,
    })
    expect((await customer(`c:${sub}`).identityLinks()).links.map((l) => l.identifierKey)).toContain(email)
  })

  it('resolves a second device that identifies with a known email to the customer holding it', async () => {
    const sub = `device-${crypto.randomUUID()}`
    const address = `${sub}@example.com`
    await stitch(env, {
      customerId: sub,
      identifiers: [{ type: 'email', value: address }],
      assertedBy: 'admin',
    })
    const { anonymousId } = await anonymousVisitor()
    const r = await stitch(env, {
      anonymousId,
      identifiers: [{ type: 'email', value: address }],
      assertedBy: 'admin',
    })
    expect(r).toMatchObject({ customerId: sub, absorbed: [`a:${anonymousId}`], conflicts: [] })
    expect((await customer(`c:${sub}`).touchpoints()).history).toHaveLength(3)
  })
})

describe('conflict guard', () => {
  it('never moves an email linked to one customer to another; the refusal is recorded for review', async () => {
    const ann = `ann-${crypto.randomUUID()}`
    const bob = `bob-${crypto.randomUUID()}`
    const address = `${ann}@example.com`
    const email = (await identifierKey('email', address, pepper))!
    await stitch(env, {
      customerId: ann,
      identifiers: [{ type: 'email', value: address }],
      assertedBy: 'admin',
    })
    const r = await stitch(env, {
      customerId: bob,
      identifiers: [{ type: 'email', value: address }],
      assertedBy: 'admin',
    })

    expect(r.conflicts).toEqual([{ identifierKey: email, heldBy: `c:${ann}`, reason: 'conflict' }])
    expect(r.linked).not.toContain(email)
    expect(await index(email).lookup(email)).toMatchObject({ customerId: ann })
    const bobState = await customer(`c:${bob}`).identityLinks()
    expect(bobState.links.map((l) => l.identifierKey)).not.toContain(email)
    expect(bobState.conflicts).toEqual([
      expect.objectContaining({
        identifierKey: email,
        heldBy: `c:${ann}`,
        reason: 'conflict',
        assertedBy: 'admin',
      }),
    ])
    const review = await env.DB.prepare('SELECT * FROM identity_conflicts WHERE identifier_key = ?')
      .bind(email)
      .all()
    expect(review.results).toEqual([
      expect.objectContaining({
        held_by: `c:${ann}`,
        claimed_by: `c:${bob}`,
        asserted_by: 'admin',
        identifier_type: 'email',
      }),
    ])
  })

  it('gives a browser stitched to one customer a new anonymous id when another customer claims it', async () => {
    const { cookie, anonymousId } = await anonymousVisitor()
    const owner = `owner-${crypto.randomUUID()}`
    await stitch(env, { customerId: owner, anonymousId, identifiers: [], assertedBy: 'jwt' })
    // The cookie predates that login (it carries no customer), and someone else signs in with it.
    const other = `other-${crypto.randomUUID()}`
    const { res, body } = await whoami({
      ...US_CA,
      cookie: `gh_id=${cookie}`,
      authorization: `Bearer ${await signToken(other)}`,
    })
    expect(res.status).toBe(200)
    expect(body.customerId).toBe(other)
    expect(body.anonymousId).not.toBe(anonymousId)
    expect(cookieClaims(idCookie(res)!.value).a).not.toBe(anonymousId)
    expect(await index(`anonymous_id:${anonymousId}`).lookup(`anonymous_id:${anonymousId}`)).toMatchObject({
      customerId: owner,
    })
  })

  it('caps the identifiers per customer so one person cannot absorb a whole graph', async () => {
    const sub = `cap-${crypto.randomUUID()}`
    const emails = [1, 2, 3].map((i) => `${sub}-${i}@example.com`)
    const r = await stitch(env, {
      customerId: sub,
      identifiers: emails.map((value) => ({ type: 'email' as const, value })),
      assertedBy: 'admin',
      limits: { maxIdentifiersPerCustomer: 2 },
    })
    const keys = await Promise.all(emails.map(async (e) => (await identifierKey('email', e, pepper))!))
    const capped = r.conflicts.filter((c) => c.reason === 'cap').map((c) => c.identifierKey)
    expect(capped).toHaveLength(1)
    expect(r.linked.filter((k) => k.startsWith('email:'))).toHaveLength(2)
    // The refused identifier is not linked anywhere.
    expect(await index(capped[0]!).lookup(capped[0]!)).toBeNull()
    expect(keys).toContain(capped[0])
    const state = await customer(`c:${sub}`).identityLinks()
    expect(state.links.filter((l) => l.identifierType === 'email')).toHaveLength(2)
    expect(state.conflicts).toEqual([expect.objectContaining({ identifierKey: capped[0], reason: 'cap' })])
  })

  it('lets the asserted customer id win over the customer an email points at (precedence)', async () => {
    const holder = `holder-${crypto.randomUUID()}`
    const address = `${holder}@example.com`
    await stitch(env, {
      customerId: holder,
      identifiers: [{ type: 'email', value: address }],
      assertedBy: 'admin',
    })
    const jwtUser = `jwt-${crypto.randomUUID()}`
    const r = await stitch(env, {
      customerId: jwtUser,
      identifiers: [{ type: 'email', value: address }],
      assertedBy: 'jwt',
    })
    expect(r.customerId).toBe(jwtUser)
    expect(r.conflicts.map((c) => c.reason)).toEqual(['conflict'])
  })

  it('prefers the CRM id over the email when they point at different customers', async () => {
    const crmOwner = `crm-owner-${crypto.randomUUID()}`
    const emailOwner = `email-owner-${crypto.randomUUID()}`
    const crm = `CRM-${crypto.randomUUID()}`
    const address = `${emailOwner}@example.com`
    await stitch(env, {
      customerId: crmOwner,
      identifiers: [{ type: 'crm_id', value: crm }],
      assertedBy: 'admin',
    })
    await stitch(env, {
      customerId: emailOwner,
      identifiers: [{ type: 'email', value: address }],
      assertedBy: 'admin',
    })
    const r = await stitch(env, {
      identifiers: [
        { type: 'email', value: address },
        { type: 'crm_id', value: crm },
      ],
      assertedBy: 'admin',
    })
    expect(r.customerId).toBe(crmOwner)
    expect(r.conflicts).toEqual([expect.objectContaining({ heldBy: `c:${emailOwner}`, reason: 'conflict' })])
  })
})

describe('finding a subject from any identifier (DSAR)', () => {
  it('resolves the same person, state and identifiers from the customer id, the email and the anonymous id', async () => {
    const { cookie, anonymousId } = await anonymousVisitor()
    const sub = `dsar-${crypto.randomUUID()}`
    const address = `${sub}@example.com`
    await whoami({ ...US_CA, cookie: `gh_id=${cookie}`, authorization: `Bearer ${await signToken(sub)}` })
    await stitch(env, {
      customerId: sub,
      identifiers: [{ type: 'email', value: address }],
      assertedBy: 'admin',
    })
    const email = (await identifierKey('email', address, pepper))!

    const expected = {
      customerId: sub,
      stateKeys: [`a:${anonymousId}`, `c:${sub}`].sort(),
      identifierKeys: [`anonymous_id:${anonymousId}`, `customer_id:${sub}`, email].sort(),
    }
    expect(await resolveSubject(env, { type: 'customer_id', value: sub })).toEqual(expected)
    expect(await resolveSubject(env, { type: 'email', value: address.toUpperCase() })).toEqual(expected)
    expect(await resolveSubject(env, { type: 'anonymous_id', value: anonymousId })).toEqual(expected)
  })

  it('erases an identifier from its index object', async () => {
    const sub = `erase-${crypto.randomUUID()}`
    const address = `${sub}@example.com`
    await stitch(env, {
      customerId: sub,
      identifiers: [{ type: 'email', value: address }],
      assertedBy: 'admin',
    })
    const email = (await identifierKey('email', address, pepper))!
    expect(await index(email).eraseIdentifier()).toMatchObject({ link: 1, conflicts: 0 })
    expect(await index(email).lookup(email)).toBeNull()
  })
})
