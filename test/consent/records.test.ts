/**
 * Consent records in CustomerState, through the real Worker: a subject's consent is recorded once
 * per change (with its source, version fields and a SHA-256 of the TC string, never the string),
 * shown in `GET /v1/me`, exported, erased with the subject and pruned by retention; and a request
 * that withdraws a purpose cancels the pending trigger timers needing it on that very request.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { ConsentEvidence } from '../../worker/consent/record'
import { createApp } from '../../worker/app'
import { appFetch, cookieClaims, idCookie, signToken } from '../identity/support'
import { ALL_PURPOSES, located, tcCookie } from './consent-support'

const app = createApp()
const stub = (key: string) => env.CUSTOMER.get(env.CUSTOMER.idFromName(key))

async function sha256(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** A request of an EU app user (JWT) whose CMP cookie holds `tc`, run to the end of its background work. */
async function visit(sub: string, tc: string | null, path = '/v1/consent', init: RequestInit = {}) {
  return appFetch(app, path, {
    ...init,
    headers: located('DE', undefined, {
      authorization: `Bearer ${await signToken(sub)}`,
      ...(tc ? { cookie: `euconsent-v2=${tc}` } : {}),
      ...(init.headers as Record<string, string>),
    }),
  })
}

const newSub = () => `consent-rec-${crypto.randomUUID()}`

describe('consent records', () => {
  it('records a subject’s consent once per change, with its source and a hash of the TC string, never the string', async () => {
    const sub = newSub()
    const all = tcCookie(ALL_PURPOSES)
    const storageOnly = tcCookie([1])
    await visit(sub, all)
    await visit(sub, all)
    await visit(sub, all)
    await visit(sub, storageOnly)
    const rows = await stub(`c:${sub}`).consentRecords()
    expect(rows).toHaveLength(2)
    const [latest, first] = rows
    expect(JSON.parse(first!.purposes)).toEqual({
      storage: true,
      measurement: true,
      personalization: true,
      advertising: true,
    })
    expect(JSON.parse(latest!.purposes)).toMatchObject({ storage: true, measurement: false })
    expect(first).toMatchObject({ jurisdiction: 'EU', regime: 'opt-in', gpc: 0 })
    const evidence = JSON.parse(first!.evidence) as ConsentEvidence[]
    expect(evidence).toEqual([
      expect.objectContaining({
        signal: 'tcf',
        from: 'cookie:euconsent-v2',
        sha256: await sha256(all),
        fields: expect.objectContaining({
          version: 2,
          policyVersion: expect.any(Number),
          cmpId: expect.any(Number),
        }),
      }),
    ])
    expect(JSON.stringify(rows)).not.toContain(all)
    expect(JSON.stringify(rows)).not.toContain(storageOnly)
  })

  it('writes nothing when the object is told the same consent again', async () => {
    const sub = newSub()
    await visit(sub, tcCookie(ALL_PURPOSES))
    const [row] = await stub(`c:${sub}`).consentRecords()
    const again = await stub(`c:${sub}`).noteConsent({
      fingerprint: row!.fingerprint,
      snapshotId: row!.snapshot_id,
      jurisdiction: 'EU',
      regime: 'opt-in',
      purposes: JSON.parse(row!.purposes),
      saleShareOptOut: false,
      gpc: false,
      evidence: [],
    })
    expect(again).toEqual({ recorded: false, timersCancelled: [] })
    expect(await stub(`c:${sub}`).consentRecords()).toHaveLength(1)
  })

  it('records a consent stated in an app’s body block, naming the body as its source', async () => {
    const sub = newSub()
    const tc = tcCookie(ALL_PURPOSES)
    const res = await visit(sub, null, '/v1/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [{ id: crypto.randomUUID(), type: 'product_view', ts: new Date().toISOString(), props: {} }],
        consent: { tcString: tc },
      }),
    })
    expect(res.status).toBe(202)
    const [row] = await stub(`c:${sub}`).consentRecords()
    expect(JSON.parse(row!.evidence)).toEqual([
      expect.objectContaining({ from: 'body:consent.tcString', sha256: await sha256(tc) }),
    ])
  })

  it('shows the records in GET /v1/me and the DSAR export, and erases them with the subject', async () => {
    const sub = newSub()
    const tc = tcCookie(ALL_PURPOSES)
    await visit(sub, tc)
    const me = (await (await visit(sub, tc, '/v1/me')).json()) as {
      state: Record<string, { consent_records?: unknown[] }>
    }
    expect(me.state[`c:${sub}`]?.consent_records).toHaveLength(1)
    expect((await stub(`c:${sub}`).exportAll()).consent_records).toHaveLength(1)

    await stub(`c:${sub}`).privacyErase('receipt-test', Date.now() + 86_400_000)
    expect(await stub(`c:${sub}`).consentRecords()).toEqual([])
    // An erased person is not recorded again by a late request.
    await visit(sub, tcCookie([1]))
    expect(await stub(`c:${sub}`).consentRecords()).toEqual([])
  })

  it('keeps records for the rules/privacy.yaml window (1095 days), longer than the default, then prunes them', async () => {
    const sub = newSub()
    await visit(sub, tcCookie(ALL_PURPOSES))
    const s = stub(`c:${sub}`)
    const day = 86_400_000
    expect(await s.runRetention(Date.now() + 400 * day)).not.toHaveProperty('consent_records')
    expect(await s.consentRecords()).toHaveLength(1)
    expect(await s.runRetention(Date.now() + 1100 * day)).toMatchObject({ consent_records: 1 })
    expect(await s.consentRecords()).toEqual([])
  })
})

describe('withdrawal acts at once', () => {
  const pending = (key: string) =>
    runInDurableObject(stub(key), (_i, state) =>
      state.storage.sql
        .exec<{ id: string }>("SELECT id FROM due_items WHERE kind = 'trigger_fire'")
        .toArray()
        .map((r) => r.id),
    )

  it('cancels a pending cart-abandonment timer on the request that withdraws measurement, with no event', async () => {
    const sub = newSub()
    const all = tcCookie(ALL_PURPOSES)
    const started = await visit(sub, all, '/v1/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [{ id: crypto.randomUUID(), type: 'add_to_cart', ts: new Date().toISOString(), props: {} }],
      }),
    })
    expect(await started.json()).toMatchObject({ stored: true })
    expect(await pending(`c:${sub}`)).toEqual(['trigger:cart_abandoned'])

    // The same person rejects measurement in the CMP; the next request is a plain read.
    await visit(sub, tcCookie([1]))
    expect(await pending(`c:${sub}`)).toEqual([])
  })

  it('leaves the timer running when the new consent still covers the trigger', async () => {
    const sub = newSub()
    await visit(sub, tcCookie(ALL_PURPOSES), '/v1/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [{ id: crypto.randomUUID(), type: 'add_to_cart', ts: new Date().toISOString(), props: {} }],
      }),
    })
    // Advertising withdrawn (purposes 2-4 and 7-10 kept): cart reminders need measurement only.
    await visit(sub, tcCookie([1, 7, 8, 9, 10]))
    expect(await pending(`c:${sub}`)).toEqual(['trigger:cart_abandoned'])
    expect(await stub(`c:${sub}`).consentRecords()).toHaveLength(2)
  })

  it('reaches a web visitor’s own state on the request that withdraws storage, while their signed id is still presented', async () => {
    const all = tcCookie(ALL_PURPOSES)
    const first = await appFetch(app, '/v1/consent', {
      headers: located('DE', undefined, { cookie: `euconsent-v2=${all}` }),
    })
    const id = idCookie(first)!
    const key = `a:${cookieClaims(id.value).a}`
    const jar = `gh_id=${id.value}; euconsent-v2=${all}`
    const cart = await appFetch(app, '/v1/events', {
      method: 'POST',
      headers: located('DE', undefined, { cookie: jar, 'content-type': 'application/json' }),
      body: JSON.stringify({
        events: [{ id: crypto.randomUUID(), type: 'add_to_cart', ts: new Date().toISOString(), props: {} }],
      }),
    })
    expect(await cart.json()).toMatchObject({ stored: true })
    expect(await pending(key)).toEqual(['trigger:cart_abandoned'])

    // "Reject all" in the CMP: no purpose at all, storage included. The id cookie is expired on
    // this response, and this request is the last one that can prove the device.
    const reject = await appFetch(app, '/v1/consent', {
      headers: located('DE', undefined, { cookie: `gh_id=${id.value}; euconsent-v2=${tcCookie([])}` }),
    })
    expect(idCookie(reject)?.attributes.get('max-age')).toBe('0')
    expect(await pending(key)).toEqual([])
    const [latest] = await stub(key).consentRecords()
    expect(JSON.parse(latest!.purposes)).toEqual({
      storage: false,
      measurement: false,
      personalization: false,
      advertising: false,
    })
  })

  it('reaches no state from an id cookie that does not verify', async () => {
    const forged = `v1.rsa-1.${btoa(JSON.stringify({ a: 'forged-device', c: null, iat: 1, exp: 9e9 }))}.sig`
    const res = await appFetch(app, '/v1/consent', {
      headers: located('DE', undefined, { cookie: `gh_id=${forged}; euconsent-v2=${tcCookie([])}` }),
    })
    expect(res.status).toBe(200)
    expect(await stub('a:forged-device').consentRecords()).toEqual([])
  })
})
