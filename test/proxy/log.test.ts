/**
 * The `log` stage: one JSON access line per request without personal data, and decision records
 * queued after the response, retried when the queue fails, never lost silently.
 */
import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { DecisionRecord } from '../../worker/log/record'
import { DecisionRecordBatcher, sendDecisionRecords } from '../../worker/log'
import { decisionSendCounters } from '../../worker/log/counters'
import { createLogger } from '../../worker/lib/log'
import { PAGE, testGateway } from './support'

function record(id: string): DecisionRecord {
  return {
    id,
    time: new Date().toISOString(),
    requestId: 'req-12345678',
    channel: 'page',
    placement: 'home_hero',
    variant: 'default',
    reason: 'fallback',
    fallback: null,
    rulesVersion: 'sha256:test',
    consentSnapshotId: 'c1',
    consent: { jurisdiction: 'EU', purposes: { personalization: true }, saleShareOptOut: false },
    identityBasis: 'ephemeral',
    customerId: null,
    anonymousId: 'anon-1',
    experiment: null,
    caps: null,
    trace: [],
  }
}

/** The real DECISIONS queue behind a switch that makes the first `failures` sends fail. */
function flakyQueue(failures: number): { queue: Queue; calls: () => number; sent: () => unknown[] } {
  let calls = 0
  const sent: unknown[] = []
  const queue = {
    async send() {
      throw new Error('not used')
    },
    async sendBatch(messages: Iterable<MessageSendRequest>) {
      calls++
      if (calls <= failures) throw new Error('queue temporarily unavailable')
      const list = [...messages]
      await env.DECISIONS.sendBatch(list)
      sent.push(...list.map((m) => m.body))
    },
  } as unknown as Queue
  return { queue, calls: () => calls, sent: () => sent }
}

describe('access log', () => {
  it('writes one JSON line per request with the path but no query string, IP or cookies', async () => {
    const gw = testGateway()
    const res = await gw.fetch('/product/lamp?email=ann%40example.com&gclid=abc', {
      headers: { ...PAGE, 'cf-connecting-ip': '203.0.113.7', cookie: 'session=secret-session' },
    })
    await res.text()
    const access = gw.lines.filter((l) => l.event === 'request')
    expect(access).toHaveLength(1)
    expect(access[0]).toMatchObject({
      level: 'info',
      method: 'GET',
      path: '/product/lamp',
      status: 200,
      route: 'proxy',
    })
    expect(access[0]!.requestId).toBe(res.headers.get('x-request-id'))
    const text = JSON.stringify(gw.lines)
    for (const secret of ['ann', 'example.com', 'gclid', '203.0.113.7', 'secret-session'])
      expect(text).not.toContain(secret)
  })

  it('notes in the access line when a fallback was served', async () => {
    const gw = testGateway({ env: { ORIGIN_TIMEOUT_MS: '300' } })
    await (await gw.fetch('/slow?ms=1500', { headers: PAGE })).text()
    expect(gw.lines.find((l) => l.event === 'request')).toMatchObject({
      status: 503,
      fallback: 'fallback-page',
    })
  })
})

describe('decision records', () => {
  it('queues the request decision records to DECISIONS after the response', async () => {
    const sends: number[] = []
    const queue = {
      async sendBatch(messages: Iterable<MessageSendRequest>) {
        const list = [...messages]
        sends.push(list.length)
        await env.DECISIONS.sendBatch(list)
      },
    } as unknown as Queue
    const gw = testGateway({
      env: { DECISIONS: queue },
      stage: (c) => c.var.decisionRecords.push(record('d-1'), record('d-2')),
    })
    const res = await gw.fetch('/product/lamp', { headers: PAGE })
    expect(res.status).toBe(200)
    await res.text()
    expect(sends).toEqual([2])
    expect(gw.lines.find((l) => l.event === 'request')).toMatchObject({ decisions: 2 })
  })

  it('sends the records of concurrent requests together, none lost or repeated', async () => {
    const sent: string[][] = []
    const queue = {
      async sendBatch(messages: Iterable<MessageSendRequest>) {
        const list = [...messages]
        sent.push(list.map((m) => (m.body as DecisionRecord).id))
        await env.DECISIONS.sendBatch(list)
      },
    } as unknown as Queue
    let n = 0
    const gw = testGateway({
      env: { DECISIONS: queue },
      stage: (c) => {
        const i = n++
        c.get('decisionRecords').push(record(`c-${i}-a`), record(`c-${i}-b`))
      },
    })
    // Each fetch waits for its own waitUntil work only: the window's first request sends for all.
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => gw.fetch('/product/lamp', { headers: PAGE })),
    )
    await Promise.all(responses.map((r) => r.text()))
    expect(sent.length).toBeLessThan(8)
    expect(sent.flat().sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => [`c-${i}-a`, `c-${i}-b`])
        .flat()
        .sort(),
    )
  })

  it('sends a window at once when it reaches the queue batch limit', async () => {
    const batcher = new DecisionRecordBatcher(200)
    const sends: number[] = []
    const send = async (batch: DecisionRecord[]) => (sends.push(batch.length), 0)
    const leader = batcher.add([record('w-1')], send)
    expect(leader).not.toBeNull()
    expect(batcher.add([record('w-2')], send)).toBeNull()
    await batcher.add(
      Array.from({ length: 98 }, (_, i) => record(`w-${i + 3}`)),
      send,
    )
    expect(sends).toEqual([100])
    // The leader's window then ends with nothing left to send.
    await leader
    expect(sends).toEqual([100])
  })

  it('retries a failing queue with backoff until the records are sent', async () => {
    const flaky = flakyQueue(2)
    const lines: string[] = []
    const lost = await sendDecisionRecords(
      flaky.queue,
      [record('r-1')],
      createLogger({}, (_l, line) => lines.push(line)),
      {
        attempts: 4,
        backoffMs: 1,
      },
    )
    expect(lost).toBe(0)
    expect(flaky.calls()).toBe(3)
    expect(flaky.sent()).toEqual([record('r-1')].map((r) => ({ ...r, time: expect.any(String) })))
    expect(lines.filter((l) => l.includes('decision_records_retry'))).toHaveLength(2)
  })

  it('reports records it could not send by id and counts them in /v1/health, never dropping them silently', async () => {
    const flaky = flakyQueue(99)
    const lines: string[] = []
    const before = decisionSendCounters()
    const lost = await sendDecisionRecords(
      flaky.queue,
      [record('x-1'), record('x-2')],
      createLogger({}, (_l, line) => lines.push(line)),
      { attempts: 3, backoffMs: 1 },
    )
    expect(lost).toBe(2)
    expect(flaky.calls()).toBe(3)
    const error = JSON.parse(lines.find((l) => l.includes('decision_records_lost'))!)
    expect(error).toMatchObject({ level: 'error', count: 2, recordIds: ['x-1', 'x-2'] })
    // The health route counts them (this isolate's counters).
    const health = (await (await exports.default.fetch('http://gate.test/v1/health')).json()) as {
      decisionRecords: { lost: number; retried: number }
    }
    expect(health.decisionRecords.lost).toBeGreaterThanOrEqual(before.lost + 2)
    expect(health.decisionRecords.retried).toBeGreaterThanOrEqual(before.retried + 2)
  })

  it('splits more than 100 records into batches the queue accepts', async () => {
    const flaky = flakyQueue(0)
    const records = Array.from({ length: 230 }, (_, i) => record(`b-${i}`))
    const lost = await sendDecisionRecords(
      flaky.queue,
      records,
      createLogger({}, () => {}),
      { attempts: 1, backoffMs: 1 },
    )
    expect(lost).toBe(0)
    expect(flaky.calls()).toBe(3)
    expect(flaky.sent()).toHaveLength(230)
  })
})
