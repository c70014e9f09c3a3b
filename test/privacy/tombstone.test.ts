/**
 * An erased subject is not re-created by a late event with an old id (DSAR tombstones): after an
 * admin DSAR erase or `DELETE /v1/me`, late events, page views, logins, ingestion and direct writes
 * with the old cookie, customer id or anonymous id store nothing. Every store is enumerated
 * afterwards: the customer and anonymous objects hold only their tombstone, the identity objects
 * nothing, D1 no row naming the person.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import { identifierKey } from '../../worker/identity/keys'
import { cookieKeyRing, signAnonymousToken } from '../../worker/identity/cookie'
import { adminToken, bearer } from '../admin/support'
import { appFetch, cookieClaims, idCookie, signToken, US_CA, type IdentityBody } from '../identity/support'
import { customerStub, d1Dump, identityStub, objectRows } from './support'

const app = createApp()
const send = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
  appFetch(app, path, init)

function postEvent(cookie: string, e: { type: string; props: Record<string, unknown> }) {
  return send('/v1/events', {
    method: 'POST',
    headers: { ...US_CA, cookie: `gh_id=${cookie}`, 'content-type': 'application/json' },
    body: JSON.stringify({ events: [{ id: crypto.randomUUID(), ts: new Date().toISOString(), ...e }] }),
  })
}

function postEvents(cookie: string, types: string[] = ['add_to_cart']) {
  return send('/v1/events', {
    method: 'POST',
    headers: { ...US_CA, cookie: `gh_id=${cookie}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      events: types.map((type) => ({
        id: crypto.randomUUID(),
        type,
        ts: new Date(Date.now() - 1000).toISOString(),
        props: { sku: 'sku-1' },
      })),
    }),
  })
}

async function identify(headers: Record<string, string>): Promise<{ res: Response; body: IdentityBody }> {
  const res = await send('/v1/identity', { headers: { ...US_CA, ...headers } })
  return { res, body: (await res.json()) as IdentityBody }
}

/** A consented visitor with events, who then logs in (stitching absorbs the anonymous state). */
async function customerWithHistory() {
  const first = await identify({})
  const anonCookie = idCookie(first.res)!.value
  const anonymousId = first.body.anonymousId
  expect((await postEvents(anonCookie, ['product_view', 'add_to_cart'])).status).toBe(202)
  const customerId = `erased-${crypto.randomUUID().slice(0, 8)}`
  const email = `${customerId}@shop.example`
  // The identity provider vouches for their email: the login links it (peppered) to them.
  const token = await signToken(customerId, { claims: { email, email_verified: true } })
  const login = await identify({ cookie: `gh_id=${anonCookie}`, authorization: `Bearer ${token}` })
  expect(login.body).toMatchObject({ basis: 'jwt', customerId, anonymousId })
  const customerCookie = idCookie(login.res)!.value
  expect(cookieClaims(customerCookie).c).toBe(customerId)
  // The same email asserted in an `identify` event is already theirs.
  const identified = await postEvent(customerCookie, { type: 'identify', props: { email } })
  expect(await identified.json()).toMatchObject({ identified: { attached: 1, complete: true } })
  const held = (await customerStub(`c:${customerId}`).exportAll()) as Record<string, unknown[]>
  expect(held.events!.length).toBeGreaterThanOrEqual(2)
  const emailKey = (await identifierKey('email', email, env.ID_PEPPER))!
  expect(await identityStub(emailKey).lookup(emailKey)).toMatchObject({ stateKey: `c:${customerId}` })
  return { anonymousId, customerId, anonCookie, customerCookie, token, email, emailKey }
}

/** Nothing of the person in their objects (the tombstone aside), their identity objects or D1. */
async function expectNothingOf(p: {
  customerId?: string
  anonymousId: string
  emailKey?: string
}): Promise<void> {
  const stateKeys = [`a:${p.anonymousId}`, ...(p.customerId ? [`c:${p.customerId}`] : [])]
  for (const stateKey of stateKeys) {
    for (const [table, rows] of Object.entries(await objectRows(customerStub(stateKey)))) {
      if (table === '_cf_KV') {
        expect(rows.map((r) => r.key)).toEqual(['privacy:tombstone'])
        continue
      }
      expect({ stateKey, table, rows }).toEqual({ stateKey, table, rows: [] })
    }
    expect(await customerStub(stateKey).privacyStatus()).toMatchObject({ tombstoned: true })
  }
  const identifierKeys = [
    `anonymous_id:${p.anonymousId}`,
    ...(p.customerId ? [`customer_id:${p.customerId}`] : []),
  ]
  if (p.emailKey) identifierKeys.push(p.emailKey)
  for (const key of identifierKeys) {
    for (const [table, rows] of Object.entries(await objectRows(identityStub(key))))
      expect({ key, table, rows }).toEqual({ key, table, rows: [] })
  }
  for (const [table, text] of Object.entries(await d1Dump())) {
    for (const needle of [p.anonymousId, ...(p.customerId ? [p.customerId] : [])])
      expect({ table, found: text.includes(needle) }).toEqual({ table, found: false })
  }
}

describe('tombstones: an erased subject is not re-created', () => {
  it('refuses late events, page views, logins, ingestion and direct writes after an admin erase', async () => {
    const p = await customerWithHistory()
    const erase = await send('/admin/v1/subjects/erase', {
      method: 'POST',
      headers: {
        ...bearer(await adminToken({ sub: 'dpo-1', roles: ['privacy'] })),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ identifier: { type: 'customer_id', value: p.customerId } }),
    })
    expect(erase.status).toBe(200)

    // Late events with the logged-in cookie and with the cookie from before login: accepted (the
    // client stops retrying), not stored, never a 5xx.
    for (const cookie of [p.customerCookie, p.anonCookie]) {
      const late = await postEvents(cookie)
      expect(late.status).toBe(202)
      expect(await late.json()).toMatchObject({ stored: false, reason: 'subject_erased' })
    }
    // A page view with the old cookie (recorded in the background by the gateway).
    const page = await send('/', {
      headers: { ...US_CA, cookie: `gh_id=${p.anonCookie}`, accept: 'text/html' },
    })
    expect(page.status).toBe(200)
    // A login with the old anonymous cookie: stitching finds the tombstones and a new id is issued.
    const relogin = await identify({ cookie: `gh_id=${p.anonCookie}`, authorization: `Bearer ${p.token}` })
    expect(relogin.res.status).toBe(200)
    expect(relogin.body.anonymousId).not.toBe(p.anonymousId)
    expect(cookieClaims(idCookie(relogin.res)!.value).a).toBe(relogin.body.anonymousId)
    // Someone else's browser asserts the erased email: it is not linked again.
    const stranger = idCookie((await identify({})).res)!.value
    const assert = await postEvent(stranger, { type: 'identify', props: { email: p.email } })
    expect(assert.status).toBe(202)
    expect(await identityStub(p.emailKey).lookup(p.emailKey)).toBeNull()
    // Offline events for the erased customer from a server.
    const ingest = await send('/v1/ingest/events', {
      method: 'POST',
      headers: {
        ...bearer(await adminToken({ sub: 'pos', roles: ['ingest'] })),
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        subject: { type: 'customer_id', value: p.customerId },
        source: 'pos',
        attributes: { tier: 'gold' },
        events: [{ id: crypto.randomUUID(), type: 'purchase', ts: new Date().toISOString(), props: {} }],
      }),
    })
    expect(ingest.status).toBe(202)
    expect(await ingest.json()).toMatchObject({ stored: false, reason: 'subject_erased' })

    // Every write RPC, called directly with an old id, refuses.
    for (const stateKey of [`c:${p.customerId}`, `a:${p.anonymousId}`]) {
      const stub = customerStub(stateKey)
      const now = Date.now()
      expect(
        await stub.recordEvents({
          stateKey,
          source: 'web',
          purposes: { storage: true, measurement: true, personalization: true, advertising: false },
          events: [{ id: crypto.randomUUID(), type: 'add_to_cart', ts: now, props: {} }],
        }),
      ).toMatchObject({ stored: 0, minimal: 0, erased: true, timersStarted: [] })
      expect(await stub.setAttributes([{ name: 'tier', value: 'gold', source: 'crm', at: now }])).toEqual({
        written: [],
      })
      expect(
        await stub.reserve([
          { decisionId: 'd1', placement: 'home_hero', campaign: 'x', channel: 'web', tags: [], now },
        ]),
      ).toEqual([{ allowed: false, reason: 'erased', caps: [] }])
      expect(
        await stub.recordTouchpoint({
          source: 'google',
          medium: 'cpc',
          campaign: 'late',
          term: null,
          content: null,
          clickIds: {},
          referrerHost: null,
          landingPath: '/',
          at: now,
          unmapped: [],
        }),
      ).toEqual({ recorded: false, id: null })
      expect(await stub.restoreTimers()).toEqual({ restored: [] })
      await stub.unlinkIdentifier({ identifierKey: 'email:x', heldBy: 'c:other', assertedBy: 'event' })
      expect(
        await stub.linkIdentifiers({
          candidates: [{ identifierKey: `anonymous_id:${p.anonymousId}`, identifierType: 'anonymous_id' }],
          assertedBy: 'jwt',
          maxIdentifiers: 25,
          maxAnonymousIds: 200,
          now,
        }),
      ).toEqual({ accepted: [], already: [], refused: [], erased: true })
      expect(await stub.absorb('a:someone-else', { events: [{ id: 'e', type: 'x', ts: now }] })).toEqual({
        absorbed: false,
        rows: 0,
        erased: true,
      })
    }

    await expectNothingOf(p)
  })

  it('expires the cookie on DELETE /v1/me and stores nothing from a late event or page view with it', async () => {
    const first = await identify({})
    const cookie = idCookie(first.res)!.value
    const anonymousId = first.body.anonymousId
    expect((await postEvents(cookie)).status).toBe(202)
    const del = await send('/v1/me', { method: 'DELETE', headers: { ...US_CA, cookie: `gh_id=${cookie}` } })
    expect(del.status).toBe(200)
    expect(await del.json()).toMatchObject({ status: 'completed' })
    // The browser is told to drop the erased id.
    const expired = idCookie(del)
    expect(expired?.value).toBe('')
    expect(expired?.attributes.get('max-age')).toBe('0')

    // A browser that kept the cookie anyway.
    const late = await postEvents(cookie, ['add_to_cart', 'product_view'])
    expect(late.status).toBe(202)
    expect(await late.json()).toMatchObject({ stored: false, reason: 'subject_erased' })
    const page = await send('/', { headers: { ...US_CA, cookie: `gh_id=${cookie}`, accept: 'text/html' } })
    expect(page.status).toBe(200)
    await expectNothingOf({ anonymousId })
  })

  it('issues a new anonymous id when an erased id comes back on a cookie due for renewal, and keeps a live one', async () => {
    const ring = await cookieKeyRing(env.COOKIE_KEYS)
    const now = Math.floor(Date.now() / 1000)
    const weekOld = now - 8 * 86_400
    const cookieFor = (anonymousId: string) =>
      signAnonymousToken(ring, { anonymousId, customerId: null, issuedAt: weekOld, expiresAt: now + 86_400 })

    const first = await identify({})
    const erasedId = first.body.anonymousId
    await postEvents(idCookie(first.res)!.value)
    const del = await send('/v1/me', {
      method: 'DELETE',
      headers: { ...US_CA, cookie: `gh_id=${idCookie(first.res)!.value}` },
    })
    expect(del.status).toBe(200)

    const renewed = await identify({ cookie: `gh_id=${await cookieFor(erasedId)}` })
    expect(renewed.body.anonymousId).not.toBe(erasedId)
    expect(cookieClaims(idCookie(renewed.res)!.value).a).toBe(renewed.body.anonymousId)

    // A live id due for renewal keeps its id (renewed, not replaced).
    const liveId = crypto.randomUUID()
    const live = await identify({ cookie: `gh_id=${await cookieFor(liveId)}` })
    expect(live.body.anonymousId).toBe(liveId)
    expect(cookieClaims(idCookie(live.res)!.value)).toMatchObject({ a: liveId })
  })
})
