/**
 * The subject's own routes: `GET /v1/me` shows what the gateway holds about the caller and why
 * they saw their recent decisions; `DELETE /v1/me` erases them and returns a receipt. A visitor
 * the gateway keeps nothing for gets an honest empty answer.
 */
import { createExecutionContext, createMessageBatch } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { importJWK, SignJWT, type JWK } from 'jose'
import { describe, expect, it } from 'vitest'
import worker from '../../worker/index'
import type { EraseReceipt } from '../../worker/privacy/dsar'
import { decisionRecord } from '../admin/support'
import { customerStub, fillEveryTable, identityStub, objectRows } from './support'

// California is opt-out: storage is allowed, so the gateway keeps an anonymous id and state.
const US_CA = { 'x-gatehouse-country': 'US', 'x-gatehouse-region': 'CA' }
const EU = { 'x-gatehouse-country': 'DE' }

async function visitor(): Promise<{ token: string; anonymousId: string }> {
  const res = await exports.default.fetch('http://gate.test/v1/identity', { headers: US_CA })
  const body = (await res.json()) as { anonymousId: string; stateKey: string }
  return { token: res.headers.get('x-gatehouse-id')!, anonymousId: body.anonymousId }
}

const me = (headers: Record<string, string>, method = 'GET') =>
  exports.default.fetch('http://gate.test/v1/me', { method, headers })

interface MeBody {
  held: boolean
  detail?: string
  identity: { basis: string; anonymousId?: string }
  state: Record<string, Record<string, unknown[]>>
  decisions: Array<{
    placement: string
    variant: string | null
    why: { reason: string; rulesVersion: string; trace: string[] }
  }>
}

describe('GET /v1/me', () => {
  it('gives a visitor without storage consent an honest empty answer', async () => {
    const res = await me(EU)
    expect(res.status).toBe(200)
    const body = (await res.json()) as MeBody
    expect(body).toMatchObject({ held: false, state: {}, decisions: [] })
    expect(body.detail).toMatch(/no state/)
    const del = await me(EU, 'DELETE')
    expect(del.status).toBe(200)
    expect(await del.json()).toMatchObject({ receiptId: null, stores: {} })
  })

  it('says honestly that nothing is stored yet for a new visitor', async () => {
    const v = await visitor()
    const body = (await (await me({ ...US_CA, 'x-gatehouse-id': v.token })).json()) as MeBody
    expect(body.held).toBe(false)
    expect(body.decisions).toEqual([])
  })

  it('shows the caller’s state and, for each recent decision, why they saw it', async () => {
    const v = await visitor()
    await fillEveryTable(customerStub(`a:${v.anonymousId}`), 'me')
    const record = decisionRecord({
      customerId: null,
      anonymousId: v.anonymousId,
      identityBasis: 'header',
      reason: 'rule:spring_returning',
      trace: ['rule:vip skipped: audience vip not matched', 'rule:spring_returning matched'],
    })
    await worker.queue(
      createMessageBatch('gatehouse-decisions', [
        { id: 'me-1', timestamp: new Date(), attempts: 1, body: record },
      ]),
      env,
      createExecutionContext(),
    )
    const res = await me({ ...US_CA, 'x-gatehouse-id': v.token })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toContain('no-store')
    const body = (await res.json()) as MeBody
    expect(body.held).toBe(true)
    expect(body.identity).toMatchObject({ basis: 'header', anonymousId: v.anonymousId })
    // Every table but the archive keys (never handed out: docs/privacy.md "Decision archive").
    const { archive_keys: _keys, ...direct } = await customerStub(`a:${v.anonymousId}`).exportAll()
    expect(Object.keys(body.state[`a:${v.anonymousId}`]!).sort()).toEqual(Object.keys(direct).sort())
    expect(body.decisions).toEqual([
      {
        time: record.time,
        placement: record.placement,
        variant: record.variant,
        why: expect.objectContaining({
          reason: 'rule:spring_returning',
          rulesVersion: record.rulesVersion,
          trace: record.trace,
          consent: record.consent,
          experiment: record.experiment,
        }),
      },
    ])
  })
})

describe('the transparency loop, end to end', () => {
  it('shows a visitor why they saw what /v1/decide gave them, from the decision log the queue filled', async () => {
    const v = await visitor()
    const decide = await exports.default.fetch('http://gate.test/v1/decide', {
      method: 'POST',
      headers: { ...US_CA, 'x-gatehouse-id': v.token, 'content-type': 'application/json' },
      body: JSON.stringify({ placements: ['home_hero'], context: { url: 'https://shop.example/' } }),
    })
    expect(decide.status).toBe(200)
    const decided = (await decide.json()) as {
      rulesVersion: string
      decisions: Array<{ placement: string; variant: string | null; reason: string }>
    }
    const given = decided.decisions.find((d) => d.placement === 'home_hero')!

    // The record travels log stage -> DECISIONS queue -> consumer -> D1, off the request path.
    let body: MeBody | null = null
    for (let i = 0; i < 50 && !body?.decisions.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      body = (await (await me({ ...US_CA, 'x-gatehouse-id': v.token })).json()) as MeBody
    }
    expect(body!.decisions).toEqual([
      expect.objectContaining({
        placement: 'home_hero',
        variant: given.variant,
        why: expect.objectContaining({ reason: given.reason, rulesVersion: decided.rulesVersion }),
      }),
    ])
    expect(Array.isArray(body!.decisions[0]!.why.trace)).toBe(true)
  })
})

describe('DELETE /v1/me', () => {
  it('erases the caller from every store and returns a receipt; afterwards nothing is held', async () => {
    const v = await visitor()
    await fillEveryTable(customerStub(`a:${v.anonymousId}`), 'del')
    const record = decisionRecord({ customerId: null, anonymousId: v.anonymousId })
    await worker.queue(
      createMessageBatch('gatehouse-decisions', [
        { id: 'me-2', timestamp: new Date(), attempts: 1, body: record },
      ]),
      env,
      createExecutionContext(),
    )
    const res = await me({ ...US_CA, 'x-gatehouse-id': v.token }, 'DELETE')
    expect(res.status).toBe(200)
    const receipt = (await res.json()) as EraseReceipt
    expect(receipt).toMatchObject({ status: 'completed', requestedBy: 'self' })
    expect(receipt.stores.decisionLog).toBe(1)
    expect(receipt.stores.customerState).toBeGreaterThan(0)

    const rows = await objectRows(customerStub(`a:${v.anonymousId}`))
    for (const [table, list] of Object.entries(rows))
      if (table !== '_cf_KV') expect({ table, list }).toEqual({ table, list: [] })
    expect(
      await env.DB.prepare('SELECT 1 FROM decision_log WHERE anonymous_id = ?').bind(v.anonymousId).first(),
    ).toBeNull()

    const after = (await (await me({ ...US_CA, 'x-gatehouse-id': v.token })).json()) as MeBody
    expect(after).toMatchObject({ held: false, decisions: [] })
  })
})

describe('/v1/me for a signed-in customer', () => {
  // A customer JWT from the identity tests' local IdP (JWKS server started by vitest.config.ts).
  async function customerToken(sub: string): Promise<string> {
    const base = (env as unknown as { TEST_JWKS_BASE: string }).TEST_JWKS_BASE
    const { keys } = (await (await fetch(`${base}/keys`)).json()) as { keys: Array<JWK & { kid: string }> }
    const ec = keys.find((k) => k.kid === 'ec-1')!
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: ec.kid })
      .setSubject(sub)
      .setIssuer(env.JWT_ISSUER!)
      .setAudience(env.JWT_AUDIENCE!)
      .setExpirationTime('5m')
      .sign(await importJWK(ec, 'ES256'))
  }

  it('shows the customer’s state and erases everything linked to them on DELETE', async () => {
    const customerId = `me-cust-${crypto.randomUUID().slice(0, 8)}`
    const headers = { ...US_CA, authorization: `Bearer ${await customerToken(customerId)}` }
    await fillEveryTable(customerStub(`c:${customerId}`), 'jwt')
    const shown = (await (await me(headers)).json()) as MeBody & { identity: { customerId: string } }
    expect(shown.identity).toMatchObject({ basis: 'jwt', customerId })
    expect(shown.held).toBe(true)
    expect(Object.keys(shown.state)).toContain(`c:${customerId}`)

    const res = await me(headers, 'DELETE')
    expect(res.status).toBe(200)
    const receipt = (await res.json()) as EraseReceipt
    expect(receipt).toMatchObject({ status: 'completed', requestedBy: 'self' })
    expect(receipt.stores.customerState).toBeGreaterThan(0)
    const rows = await objectRows(customerStub(`c:${customerId}`))
    for (const [table, list] of Object.entries(rows))
      if (table !== '_cf_KV') expect({ table, list }).toEqual({ table, list: [] })
    const index = await objectRows(identityStub(`customer_id:${customerId}`))
    for (const [table, list] of Object.entries(index)) expect({ table, list }).toEqual({ table, list: [] })
  })
})
