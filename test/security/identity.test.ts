/**
 * Attack catalogue, identity and self-service privacy (docs/identity.md "Trust model"): one row per
 * reproduction of the trust-boundaries review, run through the real Worker, Durable Objects and D1.
 * Each asserts that the victim's data is intact and that the attacker learns nothing.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { stitch } from '../../worker/identity/stitch'
import { adminToken, bearer } from '../admin/support'
import { gate, signToken, US_CA } from '../identity/support'
import {
  Browser,
  customerTombstoned,
  emailHolder,
  emailTombstoned,
  rowCounts,
  state,
  victim,
  type MeBody,
} from './browser'

describe('row 1: an anonymous browser asserts a customer’s identifier, then erases "itself"', () => {
  it.each([
    ['email', 'cookie'],
    ['email', 'header'],
    ['phone', 'cookie'],
    ['crm_id', 'cookie'],
  ] as const)('a %s asserted over the %s leaves the customer whole', async (type, via) => {
    const v = await victim()
    const phone = `+4930${Math.floor(1e7 + Math.random() * 9e7)}`
    const crm = `CRM-${crypto.randomUUID()}`
    // The victim's phone and CRM id, vouched for by the site's server.
    await stitch(env, {
      customerId: v.customerId,
      identifiers: [
        { type: 'phone', value: phone },
        { type: 'crm_id', value: crm },
      ],
      assertedBy: 'admin',
    })
    const before = await rowCounts(`c:${v.customerId}`)
    const value = { email: v.email, phone, crm_id: crm }[type]

    const attacker = new Browser(via)
    await attacker.fetch('/v1/identity')
    const res = await attacker.events([{ type: 'identify', props: { [type]: value } }])
    expect(res.status).toBe(202)
    const erase = await attacker.me('DELETE')
    expect(erase.status).toBe(200)

    expect(await customerTombstoned(v.customerId)).toBe(false)
    expect(await emailTombstoned(v.email)).toBe(false)
    expect(await emailHolder(v.email)).toBe(`c:${v.customerId}`)
    expect(await rowCounts(`c:${v.customerId}`)).toEqual(before)
    // The victim's own session still works and still sees their data.
    const mine = (await (await v.browser.me()).json()) as MeBody
    expect(mine.held).toBe(true)
    expect(Object.keys(mine.state)).toEqual([`c:${v.customerId}`])
  })
})

describe('row 2: a signed-in user asserts a guest’s email', () => {
  it('neither absorbs nor reads the guest’s history', async () => {
    // A guest whose email the site's server linked to their browser (a checkout as guest).
    const guest = new Browser()
    const guestId = (await (await guest.fetch('/v1/identity')).json()) as { anonymousId: string }
    const guestEmail = `guest-${crypto.randomUUID().slice(0, 8)}@shop.example`
    await guest.events([{ type: 'purchase', props: { sku: 'sofa', value: 1200 } }])
    await stitch(env, {
      anonymousId: guestId.anonymousId,
      identifiers: [{ type: 'email', value: guestEmail }],
      assertedBy: 'admin',
    })
    const guestState = `a:${guestId.anonymousId}`
    const before = await rowCounts(guestState)

    const attacker = await victim('attacker')
    const res = await attacker.browser.events([{ type: 'identify', props: { email: guestEmail } }])
    expect(res.status).toBe(202)

    expect(await rowCounts(guestState)).toEqual(before)
    expect(await emailHolder(guestEmail)).toBe(guestState)
    const seen = JSON.stringify(await (await attacker.browser.me()).json())
    expect(seen).not.toContain('sofa')
    expect(seen).not.toContain(guestId.anonymousId)
  })
})

describe('row 3: asserted identifiers neither inject events nor reveal who is known', () => {
  it('keeps the attacker’s events in the attacker’s state', async () => {
    const v = await victim()
    const before = await rowCounts(`c:${v.customerId}`)
    const attacker = new Browser()
    await attacker.fetch('/v1/identity')
    // Events first, so a merge of the attacker's state into the victim's would carry them over.
    await attacker.events([
      { type: 'add_to_cart', props: { sku: 'x' } },
      { type: 'product_view', props: { sku: 'y' } },
    ])
    const res = await attacker.events([{ type: 'identify', props: { email: v.email } }])
    expect(res.status).toBe(202)
    expect(await rowCounts(`c:${v.customerId}`)).toEqual(before)
    expect(attacker.claims()?.c).toBeNull()
  })

  it('answers a registered and an unknown email alike', async () => {
    const v = await victim()
    const answers = []
    for (const email of [v.email, `nobody-${crypto.randomUUID().slice(0, 8)}@shop.example`]) {
      const b = new Browser()
      await b.fetch('/v1/identity')
      const res = await b.events([{ type: 'identify', props: { email } }])
      answers.push({ status: res.status, body: await res.json(), claims: b.claims()?.c })
    }
    expect(answers[0]).toEqual(answers[1])
    expect(answers[0]!.body).toMatchObject({ identified: { attached: 1, invalid: 0, complete: true } })
  })
})

describe('row 4: a signed id that carries a customer is not proof of that customer', () => {
  it.each(['cookie', 'header'] as const)(
    'without the JWT, GET and DELETE /v1/me over the %s reach only the device’s anonymous state',
    async (via) => {
      const v = await victim()
      // The same browser after the site's session ended (a shared device), id kept.
      const device = new Browser(via)
      device.id = v.browser.id
      expect(device.claims()?.c).toBe(v.customerId)
      const before = await rowCounts(`c:${v.customerId}`)

      const read = (await (await device.me()).json()) as MeBody
      expect(read.identity.customerId).toBeNull()
      expect(Object.keys(read.state)).toEqual([`a:${device.claims()!.a}`])
      expect(JSON.stringify(read)).not.toContain('lamp-1')

      const erase = await device.me('DELETE')
      expect(erase.status).toBe(200)
      expect(await customerTombstoned(v.customerId)).toBe(false)
      expect(await rowCounts(`c:${v.customerId}`)).toEqual(before)
      expect(await emailHolder(v.email)).toBe(`c:${v.customerId}`)
    },
  )

  it('refuses an expired JWT with 401 and erases nothing', async () => {
    const v = await victim()
    const expired = await signToken(v.customerId, { expiresIn: -3600 })
    const res = await v.browser.fetch('/v1/me', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${expired}` },
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('content-type')).toMatch(/problem\+json/)
    expect(await customerTombstoned(v.customerId)).toBe(false)
  })

  it('with the customer’s JWT, DELETE /v1/me erases that customer everywhere', async () => {
    const v = await victim()
    const res = await v.browser.me('DELETE')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'completed' })
    expect(await customerTombstoned(v.customerId)).toBe(true)
    expect(await emailHolder(v.email)).toBeNull()
  })

  it('a customer who asserted someone else’s email and then erases themselves leaves that person’s email alone', async () => {
    const v = await victim()
    const attacker = await victim('attacker')
    await attacker.browser.events([{ type: 'identify', props: { email: v.email } }])
    expect((await attacker.browser.me('DELETE')).status).toBe(200)
    expect(await customerTombstoned(attacker.customerId)).toBe(true)
    expect(await emailTombstoned(v.email)).toBe(false)
    expect(await emailHolder(v.email)).toBe(`c:${v.customerId}`)
  })
})

describe('a DSAR for an identifier reaches the states where someone only asserted it', () => {
  it('removes the asserted email from the asserting state on erase, and nothing else of that state', async () => {
    const v = await victim()
    const other = new Browser()
    await other.fetch('/v1/identity')
    await other.events([{ type: 'identify', props: { email: v.email } }, { type: 'add_to_cart' }])
    const otherState = `a:${other.claims()!.a}`
    const links = async () => (await state(otherState).identityLinks()).links.map((l) => l.identifierType)
    expect(await links()).toEqual(['email'])
    const before = await rowCounts(otherState)

    const res = await gate('/admin/v1/subjects/erase', {
      method: 'POST',
      headers: {
        ...(bearer(await adminToken({ sub: 'dpo-1', roles: ['privacy'] })) as Record<string, string>),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ identifier: { type: 'email', value: v.email } }),
    })
    expect(res.status).toBe(200)
    expect(await customerTombstoned(v.customerId)).toBe(true)
    expect(await links()).toEqual([])
    expect(await rowCounts(otherState)).toEqual({ ...before, identity_links: 0 })
  })
})

describe('sign-out drops the customer binding', () => {
  it('gives the browser a new anonymous id that carries no customer', async () => {
    const v = await victim()
    const before = v.browser.claims()!
    v.browser.dropToken()
    const res = await v.browser.fetch('/v1/sign-out', { method: 'POST' })
    expect(res.status).toBe(200)
    const after = v.browser.claims()!
    expect(after.c).toBeNull()
    expect(after.a).not.toBe(before.a)
    const who = (await (await v.browser.fetch('/v1/identity')).json()) as { customerId: string | null }
    expect(who.customerId).toBeNull()
  })

  it('refuses a sign-out posted from another site and keeps the binding', async () => {
    const v = await victim()
    const before = v.browser.id
    const res = await v.browser.fetch('/v1/sign-out', {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
    })
    expect(res.status).toBe(403)
    expect(v.browser.id).toBe(before)
  })
})

describe('verified identifiers come only from the identity provider', () => {
  it('links an email the token vouches for, and not one it does not', async () => {
    const vouched = new Browser()
    await vouched.fetch('/v1/identity')
    const vouchedId = `vouched-${crypto.randomUUID().slice(0, 8)}`
    await vouched.signIn(vouchedId, `${vouchedId}@shop.example`)
    expect(await emailHolder(`${vouchedId}@shop.example`)).toBe(`c:${vouchedId}`)

    const b = new Browser()
    await b.fetch('/v1/identity')
    const customerId = `unverified-${crypto.randomUUID().slice(0, 8)}`
    const email = `${customerId}@shop.example`
    b.token = await signToken(customerId, { claims: { email, email_verified: false } })
    await b.fetch('/v1/identity')
    expect(await emailHolder(email)).toBeNull()
  })
})

describe('row 11: Origin null is not this site', () => {
  it.each(['null', 'https://evil.example', 'not a url'])(
    'refuses events posted with Origin %s',
    async (origin) => {
      const b = new Browser()
      await b.fetch('/v1/identity')
      const key = `a:${b.claims()!.a}`
      const res = await b.events([{ type: 'add_to_cart' }], { origin })
      expect(res.status).toBe(403)
      expect(res.headers.get('content-type')).toMatch(/problem\+json/)
      expect((await rowCounts(key)).events ?? 0).toBe(0)
    },
  )

  it('accepts the site’s own origin and apps that send none', async () => {
    const b = new Browser()
    await b.fetch('/v1/identity')
    expect((await b.events([{ type: 'add_to_cart' }], { origin: 'https://gate.test' })).status).toBe(202)
    expect((await b.events([{ type: 'add_to_cart' }])).status).toBe(202)
  })
})

describe('row 12: responses a shared cache may keep carry no visitor id', () => {
  it.each(['/v1/beacon.js', '/v1/beacon.js?v=x', '/v1/openapi.json', '/.well-known/gpc.json'])(
    '%s sets no cookie and no X-Gatehouse-Id',
    async (path) => {
      const res = await gate(path, { headers: US_CA })
      expect(res.status).toBe(200)
      expect(res.headers.get('cache-control') ?? '').toMatch(/public/)
      expect(res.headers.getSetCookie()).toEqual([])
      expect(res.headers.get('x-gatehouse-id')).toBeNull()
    },
  )

  it('still gives private responses their id', async () => {
    const res = await gate('/v1/identity', { headers: US_CA })
    expect(res.headers.getSetCookie().some((c) => c.startsWith('gh_id='))).toBe(true)
    expect(res.headers.get('x-gatehouse-id')).toBeTruthy()
  })
})
