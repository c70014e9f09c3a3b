/**
 * The decision log: records queued by the decide stage reach D1 through the consumer (batched,
 * idempotent by record id, retried on failure, never dropped) and operators query them by
 * customer, placement, rules version and time range, paged.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import worker from '../../worker/index'
import { retryDelaySeconds } from '../../worker/log/consumer'
import type { DecisionRecord } from '../../worker/log/record'
import { writeTombstones } from '../../worker/privacy/tombstone'
import { adminToken, bearer, capturingApp, decisionRecord } from './support'

function batchOf(bodies: unknown[], attempts = 1) {
  return createMessageBatch(
    'gatehouse-decisions',
    bodies.map((body, i) => ({
      id: `msg-${i}-${crypto.randomUUID()}`,
      timestamp: new Date(),
      attempts,
      body,
    })),
  )
}

async function consume(bodies: unknown[], attempts = 1) {
  const batch = batchOf(bodies, attempts)
  const ctx = createExecutionContext()
  await worker.queue(batch, env, ctx)
  return getQueueResult(batch, ctx)
}

async function stored(id: string) {
  return env.DB.prepare('SELECT * FROM decision_log WHERE id = ?').bind(id).first<Record<string, unknown>>()
}

describe('decision log consumer', () => {
  it('stores a batch of records and acknowledges each message', async () => {
    const records = [decisionRecord(), decisionRecord({ placement: 'cart_banner' })]
    const result = await consume(records)
    expect(result.explicitAcks.length).toBe(2)
    expect(result.retryMessages).toEqual([])
    for (const r of records) {
      const row = await stored(r.id)
      expect(row).toMatchObject({
        id: r.id,
        placement: r.placement,
        rules_version: r.rulesVersion,
        customer_id: 'cust-1',
      })
      expect(JSON.parse(row!.trace as string)).toEqual(r.trace)
    }
  })

  it('stores a redelivered record once (idempotent by record id)', async () => {
    const r = decisionRecord()
    await consume([r])
    const again = await consume([r, r])
    expect(again.explicitAcks.length).toBe(2)
    const { n } = (await env.DB.prepare('SELECT COUNT(*) AS n FROM decision_log WHERE id = ?')
      .bind(r.id)
      .first<{ n: number }>())!
    expect(n).toBe(1)
  })

  it('retries every message while D1 cannot take the rows, and stores them once it can', async () => {
    const records = [decisionRecord(), decisionRecord()]
    await env.DB.exec('ALTER TABLE decision_log RENAME TO decision_log_away')
    let result
    try {
      result = await consume(records, 3)
    } finally {
      await env.DB.exec('ALTER TABLE decision_log_away RENAME TO decision_log')
    }
    expect(result.explicitAcks).toEqual([])
    expect(result.retryMessages.length).toBe(2)
    expect(await stored(records[0]!.id)).toBeNull()
    // Redelivery once D1 is back: nothing was lost.
    const second = await consume(records, 4)
    expect(second.explicitAcks.length).toBe(2)
    expect(await stored(records[0]!.id)).not.toBeNull()
    expect(await stored(records[1]!.id)).not.toBeNull()
  })

  it.each([
    { attempts: 1, delay: 2 },
    { attempts: 3, delay: 8 },
    { attempts: 9, delay: 512 },
    { attempts: 30, delay: 600 },
  ])('backs off a retried message by $delay s after $attempts attempts', ({ attempts, delay }) => {
    expect(retryDelaySeconds(attempts)).toBe(delay)
  })

  it('acknowledges a malformed message without storing it and keeps the valid ones', async () => {
    const good = decisionRecord()
    const result = await consume([{ not: 'a record' }, good, { ...decisionRecord(), time: 'yesterday' }])
    expect(result.explicitAcks.length).toBe(3)
    expect(await stored(good.id)).not.toBeNull()
  })

  it('does not re-create an erased subject from a late decision record', async () => {
    await writeTombstones(env, ['c:cust-erased'], 'rcpt_test', 30)
    const late = decisionRecord({ customerId: 'cust-erased', anonymousId: null })
    const result = await consume([late])
    expect(result.explicitAcks.length).toBe(1)
    expect(await stored(late.id)).toBeNull()
  })

  it('receives records sent to the real DECISIONS queue', async () => {
    const r = decisionRecord({ placement: 'queued_placement' })
    await env.DECISIONS.send(r)
    let row = null
    for (let i = 0; i < 60 && !row; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      row = await stored(r.id)
    }
    expect(row).toMatchObject({ id: r.id, placement: 'queued_placement' })
  })
})

describe('GET /admin/v1/decisions', () => {
  const customer = `cust-query-${crypto.randomUUID().slice(0, 8)}`
  const records: DecisionRecord[] = []
  let token: string

  beforeAll(async () => {
    for (let i = 0; i < 5; i++) {
      records.push(
        decisionRecord({
          customerId: customer,
          anonymousId: `anon-${customer}`,
          time: new Date(Date.UTC(2026, 9, 1 + i, 12)).toISOString(),
          placement: i % 2 === 0 ? 'home_hero' : 'pdp_banner',
          rulesVersion: i < 3 ? 'sha256:v-old' : 'sha256:v-new',
        }),
      )
    }
    await consume(records)
    token = await adminToken({ roles: ['analyst'] })
  })

  const get = async (query: string) => {
    const res = await capturingApp().fetch(`/admin/v1/decisions?${query}`, { headers: bearer(token) })
    return {
      res,
      body: (await res.json()) as {
        decisions: DecisionRecord[]
        nextCursor: string | null
        errors?: unknown
      },
    }
  }

  it('filters by customer, newest first, with every field needed to replay the decision', async () => {
    const { res, body } = await get(`customerId=${customer}`)
    expect(res.status).toBe(200)
    expect(body.decisions.map((d) => d.id)).toEqual([...records].reverse().map((r) => r.id))
    expect(body.decisions[0]).toMatchObject({
      ...records[4],
      consent: records[4]!.consent,
      experiment: records[4]!.experiment,
      trace: records[4]!.trace,
    })
  })

  it.each([
    { query: 'placement=pdp_banner', expected: [3, 1] },
    { query: 'rulesVersion=sha256:v-new', expected: [4, 3] },
    { query: 'from=2026-10-02T00:00:00Z&to=2026-10-04T00:00:00Z', expected: [2, 1] },
    { query: 'placement=home_hero&rulesVersion=sha256:v-old', expected: [2, 0] },
  ])('filters by $query', async ({ query, expected }) => {
    const { body } = await get(`customerId=${customer}&${query}`)
    expect(body.decisions.map((d) => d.id)).toEqual(expected.map((i) => records[i]!.id))
  })

  it('pages with an opaque cursor until the last page', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const { body } = await get(`customerId=${customer}&limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      seen.push(...body.decisions.map((d) => d.id))
      cursor = body.nextCursor
      pages++
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual([...records].reverse().map((r) => r.id))
  })

  it('finds decisions by anonymous id', async () => {
    const { body } = await get(`anonymousId=anon-${customer}&limit=1`)
    expect(body.decisions.map((d) => d.id)).toEqual([records[4]!.id])
  })

  it.each([
    { query: 'limit=0', field: 'limit' },
    { query: 'limit=501', field: 'limit' },
    { query: 'limit=ten', field: 'limit' },
    { query: 'from=last-week', field: 'from' },
    { query: 'to=2026-13-45', field: 'to' },
    { query: 'from=2026-10-05&to=2026-10-01', field: 'to' },
    { query: 'cursor=not-a-cursor', field: 'cursor' },
    { query: 'customer_id=x', field: 'customer_id' },
    { query: 'placement=', field: 'placement' },
    { query: 'placement=a&placement=b', field: 'placement' },
  ])('answers $query with 400 naming $field', async ({ query, field }) => {
    const { res, body } = await get(query)
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: field })]))
  })

  it('returns one record by id for replay, and 404 for an unknown id', async () => {
    const app = capturingApp()
    const res = await app.fetch(`/admin/v1/decisions/${records[0]!.id}`, { headers: bearer(token) })
    expect(await res.json()).toMatchObject({ id: records[0]!.id, reason: records[0]!.reason })
    expect((await app.fetch('/admin/v1/decisions/nope', { headers: bearer(token) })).status).toBe(404)
  })
})
