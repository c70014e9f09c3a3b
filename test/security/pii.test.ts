/**
 * Attack row "raw emails and phone numbers are stored": under near-miss prop names
 * (`customer_email`, `tel`), in free text, and in `utm_term`/`utm_content`, which also went raw to
 * the origin in `X-Gatehouse-Touchpoint` and the URL. Through the real gateway and the demo
 * storefront's /echo route: nothing raw in the state, the origin's view, or the logs.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { pepperedHash } from '../../worker/identity/keys'
import { capturingApp } from '../admin/support'
import { US_CA } from '../identity/support'
import { gatewayWithIngestKey, ingestHeaders } from './ingest-key'

const EMAIL = 'victim.person+shop@example.org'
const PHONE = '+49 151 23456789'
const PHONE_DIGITS = '4915123456789'
const pepper = (env as { ID_PEPPER: string }).ID_PEPPER

async function stateDump(stateKey: string): Promise<string> {
  return runInDurableObject(env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey)), (_i, state) => {
    const tables = state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'",
      )
      .toArray()
      .map((t) => t.name)
    return JSON.stringify(tables.map((t) => state.storage.sql.exec(`SELECT * FROM "${t}"`).toArray()))
  })
}

function expectNoRaw(text: string) {
  expect(text).not.toContain(EMAIL)
  expect(text.toLowerCase()).not.toContain('victim.person')
  expect(text.replace(/\D/g, ' ')).not.toMatch(/151\s*23456789|4915123456789/)
}

describe('PII by value', () => {
  it('stores events with emails and phones under any name or in free text only as peppered keys', async () => {
    const app = capturingApp()
    const who = await app.fetch('/v1/identity', { headers: US_CA })
    const id = who.headers.get('x-gatehouse-id')!
    const { stateKey } = (await who.json()) as { stateKey: string }
    const res = await app.fetch('/v1/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...US_CA, 'x-gatehouse-id': id },
      body: JSON.stringify({
        events: [
          {
            id: crypto.randomUUID(),
            type: 'add_to_cart',
            ts: new Date().toISOString(),
            props: {
              sku: 'sku-1',
              customer_email: EMAIL,
              tel: PHONE,
              note: `ring ${PHONE} or write to ${EMAIL}`,
              gift: { to: [EMAIL] },
            },
          },
        ],
      }),
    })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ accepted: 1, stored: true })
    const dump = await stateDump(stateKey)
    expectNoRaw(dump)
    expect(dump).toContain(`email:${await pepperedHash(EMAIL.toLowerCase(), pepper)}`)
    expect(dump).toContain(`phone:${await pepperedHash(`+${PHONE_DIGITS}`, pepper)}`)
    expect(dump).toContain('sku-1')
    expectNoRaw(app.lines.join('\n'))
  })

  it('never forwards an email or phone in utm_term/utm_content to the origin, nor stores it', async () => {
    const app = capturingApp()
    const query = new URLSearchParams({
      utm_source: 'newsletter',
      utm_medium: 'email',
      utm_term: EMAIL,
      utm_content: `call ${PHONE}`,
      utm_campaign: 'spring',
    })
    const res = await app.fetch(`/echo?${query}`, { headers: US_CA })
    expect(res.status).toBe(200)
    const echo = (await res.json()) as { url: string; headers: Record<string, string> }
    const origin = JSON.stringify(echo)
    expectNoRaw(decodeURIComponent(origin.replace(/\+/g, ' ')))
    const tp = new URLSearchParams(echo.headers['x-gatehouse-touchpoint'])
    expect(tp.get('trm')).toBe(`email:${await pepperedHash(EMAIL.toLowerCase(), pepper)}`)
    expect(tp.get('cnt')).toBe(`call phone:${await pepperedHash(`+${PHONE_DIGITS}`, pepper)}`)
    expect(tp.get('cmp')).toBe('spring')
    const url = new URL(echo.url, 'http://origin')
    expect(url.searchParams.get('utm_term')).toBe(tp.get('trm'))
    expect(url.searchParams.get('utm_campaign')).toBe('spring')
    expectNoRaw(app.lines.join('\n'))
  })

  it('drops them instead when no pepper is configured', async () => {
    const app = capturingApp({ ID_PEPPER: undefined })
    const res = await app.fetch(`/echo?utm_term=${encodeURIComponent(EMAIL)}&utm_source=google`, {
      headers: US_CA,
    })
    const echo = (await res.json()) as { url: string; headers: Record<string, string> }
    expectNoRaw(decodeURIComponent(JSON.stringify(echo)))
    expect(new URL(echo.url, 'http://origin').searchParams.has('utm_term')).toBe(false)
    expect(new URLSearchParams(echo.headers['x-gatehouse-touchpoint']).get('src')).toBe('google')
  })

  it('scrubs server-ingested events and string attributes the same way', async () => {
    const gate = await gatewayWithIngestKey()
    const customerId = `pii-ingest-${crypto.randomUUID()}`
    const res = await gate('/v1/ingest/events', {
      method: 'POST',
      headers: ingestHeaders(),
      body: JSON.stringify({
        subject: { type: 'customer_id', value: customerId },
        source: 'pos',
        measurementConsent: true,
        attributes: { contact_note: `reach me at ${EMAIL}`, loyalty_tier: 'gold', mobile: PHONE },
        events: [
          {
            id: `pos-${crypto.randomUUID()}`,
            type: 'purchase',
            ts: new Date().toISOString(),
            props: { receipt_email: EMAIL, till: 'T-04' },
          },
        ],
      }),
    })
    expect(res.status).toBe(202)
    const dump = await stateDump(`c:${customerId}`)
    expectNoRaw(dump)
    expect(dump).toContain('gold')
    expect(dump).toContain('T-04')
    expect(dump).toContain(`email:${await pepperedHash(EMAIL.toLowerCase(), pepper)}`)
  })
})
