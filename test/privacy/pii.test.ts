/**
 * No raw PII anywhere the gateway writes: a person identified by email and phone is stitched,
 * decided for, exported by email and erased by phone through the admin API; every log line of
 * those requests and every row of every D1 table is then scanned for the raw email and phone.
 */
import { createExecutionContext, createMessageBatch } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { stitch } from '../../worker/identity/stitch'
import worker from '../../worker/index'
import { adminToken, bearer, capturingApp, decisionRecord } from '../admin/support'
import { d1Dump } from './support'

describe('no raw PII in logs or D1', () => {
  it('keeps the raw email and phone out of every log line and every D1 row', async () => {
    const tag = crypto.randomUUID().slice(0, 8)
    const email = `Grace.Hopper+${tag}@Example.org`
    const phone = '+44 20 7946 0' + String(Math.floor(Math.random() * 900) + 100)
    const customerId = `cust-pii-${tag}`
    const raw = [email, email.toLowerCase(), phone, phone.replace(/\s/g, ''), `Grace.Hopper+${tag}`]

    await stitch(env, {
      customerId,
      identifiers: [
        { type: 'email', value: email },
        { type: 'phone', value: phone },
      ],
      assertedBy: 'jwt',
    })
    await stitch(env, {
      customerId: `rival-${tag}`,
      identifiers: [{ type: 'email', value: email }],
      assertedBy: 'admin',
    })
    await worker.queue(
      createMessageBatch('gatehouse-decisions', [
        { id: `pii-${tag}`, timestamp: new Date(), attempts: 1, body: decisionRecord({ customerId }) },
      ]),
      env,
      createExecutionContext(),
    )

    const app = capturingApp()
    const token = await adminToken({ sub: 'dpo-pii', roles: ['privacy'] })
    const call = (path: string, identifier: unknown) =>
      app.fetch(path, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify({ identifier }),
      })
    expect((await call('/admin/v1/subjects/export', { type: 'email', value: email })).status).toBe(200)
    // Before erasure too: what is stored holds only peppered keys.
    const before = await d1Dump()
    expect((await call('/admin/v1/subjects/erase', { type: 'phone', value: phone })).status).toBe(200)
    // A bad request carrying an email in the wrong field must not leak it either.
    expect(
      (await call('/admin/v1/subjects/erase', { type: 'customer_id', value: '', note: email })).status,
    ).toBe(400)
    expect((await call('/admin/v1/subjects/export', { type: 'phone', value: email })).status).toBe(400)
    const after = await d1Dump()

    expect(app.lines.length).toBeGreaterThan(5)
    for (const line of app.lines)
      for (const r of raw) expect({ line, leaked: line.includes(r) }).toEqual({ line, leaked: false })
    for (const dump of [before, after]) {
      expect(Object.keys(dump)).toEqual(
        expect.arrayContaining(['decision_log', 'admin_audit', 'dsar_receipts', 'tombstones']),
      )
      for (const [table, text] of Object.entries(dump)) {
        for (const r of raw) expect({ table, leaked: text.includes(r) }).toEqual({ table, leaked: false })
      }
    }
  })
})
