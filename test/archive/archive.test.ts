/**
 * The decision archive: the queue consumer writes every stored decision record to R2 as gzip NDJSON
 * under `dt=`/`hour=` partitions, the person's fields sealed under their CustomerState's key; a
 * redelivered batch adds no copy; an erased person's late records are not archived; retention drops
 * whole days past the window.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../worker/index'
import type { ArchivedDecision } from '../../worker/archive/layout'
import { dropExpiredArchive } from '../../worker/archive/retention'
import { deriveKeys, openFields, subjectTag } from '../../worker/archive/seal'
import { gunzipLines } from '../../worker/archive/write'
import type { DecisionRecord } from '../../worker/log/record'
import { writeTombstones } from '../../worker/privacy/tombstone'
import { decisionRecord } from '../admin/support'

async function consume(bodies: unknown[]) {
  const batch = createMessageBatch(
    'gatehouse-decisions',
    bodies.map((body, i) => ({
      id: `msg-${i}-${crypto.randomUUID()}`,
      timestamp: new Date(),
      attempts: 1,
      body,
    })),
  )
  const ctx = createExecutionContext()
  await worker.queue(batch, env, ctx)
  return getQueueResult(batch, ctx)
}

/** Every archived row under `prefix`, with the object key it came from. */
async function archived(prefix: string): Promise<Array<ArchivedDecision & { key: string }>> {
  const rows: Array<ArchivedDecision & { key: string }> = []
  const list = await env.ARCHIVE.list({ prefix })
  for (const o of list.objects) {
    const body = await env.ARCHIVE.get(o.key)
    for (const line of await gunzipLines(await body!.arrayBuffer()))
      rows.push({ ...(JSON.parse(line) as ArchivedDecision), key: o.key })
  }
  return rows
}

async function keysOf(stateKey: string) {
  const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey))
  return Promise.all((await stub.archiveKeys()).map((k) => deriveKeys(k.secret)))
}

/** A record at a unique day in 2031 (so no other test's records share its partitions). */
let day = 0
function at(hour: number, overrides: Partial<DecisionRecord> = {}, d = day): DecisionRecord {
  return decisionRecord({
    time: new Date(Date.UTC(2031, 0, 1 + d, hour, 17)).toISOString(),
    ...overrides,
  }) as DecisionRecord
}
const dayPrefix = (d: number) =>
  `decisions/dt=${new Date(Date.UTC(2031, 0, 1 + d)).toISOString().slice(0, 10)}/`

describe('decision archive', () => {
  it('writes each record once, under the partition of its own time, with the person sealed', async () => {
    day = 1
    const cust = `cust-${crypto.randomUUID()}`
    const anon = `anon-${crypto.randomUUID()}`
    const records = [
      at(9, { customerId: cust, anonymousId: 'dev-1' }),
      at(9, { customerId: null, anonymousId: anon }),
      at(14, { customerId: cust, anonymousId: 'dev-1', placement: 'cart_banner' }),
    ]
    const result = await consume(records)
    expect(result.explicitAcks.length).toBe(3)
    expect(result.retryMessages).toEqual([])

    const rows = await archived(dayPrefix(1))
    expect(rows.map((r) => r.id).sort()).toEqual(records.map((r) => r.id).sort())
    expect(
      rows
        .filter((r) => r.key.includes('/hour=09/'))
        .map((r) => r.id)
        .sort(),
    ).toEqual([records[0]!.id, records[1]!.id].sort())
    expect(rows.find((r) => r.id === records[2]!.id)!.key).toMatch(
      /^decisions\/dt=2031-01-02\/hour=14\/[0-9a-f]{32}\.ndjson\.gz$/,
    )
    // Nothing that names the person is in clear in the archive.
    const text = JSON.stringify(rows)
    for (const secret of [cust, anon, 'dev-1', 'spring_returning matched']) expect(text).not.toContain(secret)
    const row = rows.find((r) => r.id === records[0]!.id)!
    expect(row).toMatchObject({
      placement: 'home_hero',
      variant: 'spring_sale',
      jurisdiction: 'EU',
      experimentId: 'hero_test',
      experimentArm: 'b',
      caps: null,
      trace: null,
    })

    // The customer's key opens their records (the customer's record carries the device id too);
    // the anonymous visitor's key opens theirs, and neither opens the other's.
    const [custKey] = await keysOf(`c:${cust}`)
    const [anonKey] = await keysOf(`a:${anon}`)
    expect(await openFields(custKey!, row.id, row.sealed)).toEqual({
      customerId: cust,
      anonymousId: 'dev-1',
      caps: records[0]!.caps,
      trace: records[0]!.trace,
    })
    expect(row.subject).toBe(await subjectTag(custKey!, row.id))
    const anonRow = rows.find((r) => r.id === records[1]!.id)!
    expect((await openFields(anonKey!, anonRow.id, anonRow.sealed))?.anonymousId).toBe(anon)
    expect(await openFields(custKey!, anonRow.id, anonRow.sealed)).toBeNull()
    // A sealed value moved to another row does not open (the record id is authenticated).
    expect(await openFields(custKey!, records[2]!.id, row.sealed)).toBeNull()
  })

  it('keeps a record that names nobody in clear, with no seal', async () => {
    day = 2
    const r = at(3, { customerId: null, anonymousId: null, identityBasis: 'ephemeral' })
    await consume([r])
    const [row] = await archived(dayPrefix(2))
    expect(row).toMatchObject({ id: r.id, subject: null, sealed: null, caps: r.caps, trace: r.trace })
  })

  it('adds no copy when a batch is redelivered, whole or regrouped', async () => {
    day = 3
    const records = [at(1), at(1), at(2)]
    await consume(records)
    const first = await archived(dayPrefix(3))
    expect(first.length).toBe(3)
    const again = await consume([records[1], records[0], records[2], records[2]])
    expect(again.explicitAcks.length).toBe(4)
    await consume([records[0], at(1)])
    const rows = await archived(dayPrefix(3))
    expect(rows.length).toBe(4)
    expect(new Set(rows.map((r) => r.id)).size).toBe(4)
  })

  it('does not archive the late records of an erased person', async () => {
    day = 4
    const cust = `cust-${crypto.randomUUID()}`
    await writeTombstones(env, [`c:${cust}`], 'rcpt-archive-test', 30, Date.now())
    const gone = at(5, { customerId: cust })
    const kept = at(5, { customerId: `cust-${crypto.randomUUID()}` })
    const result = await consume([gone, kept])
    expect(result.explicitAcks.length).toBe(2)
    expect((await archived(dayPrefix(4))).map((r) => r.id)).toEqual([kept.id])
  })

  it('does not archive a record whose subject object is an erased tombstone, and acks it', async () => {
    day = 5
    const cust = `cust-${crypto.randomUUID()}`
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName(`c:${cust}`))
    await stub.privacyErase('rcpt-object-only', Date.now() + 86_400_000)
    const r = at(6, { customerId: cust })
    const result = await consume([r])
    expect(result.explicitAcks.length).toBe(1)
    expect(await archived(dayPrefix(5))).toEqual([])
    expect(await stub.archiveKeys()).toEqual([])
  })

  it('retention drops whole days past the window and keeps the rest', async () => {
    const body = new Uint8Array([1])
    const now = Date.UTC(2030, 5, 10, 12)
    const keys = [
      'decisions/dt=2030-06-01/hour=00/a.ndjson.gz',
      'decisions/dt=2030-06-01/hour=23/b.ndjson.gz',
      'decisions/dt=2030-06-02/hour=23/c.ndjson.gz',
      'decisions/dt=2030-06-03/hour=00/d.ndjson.gz',
    ]
    for (const key of keys) await env.ARCHIVE.put(key, body)
    // 8 days before 2030-06-10T12:00 is 2030-06-02T12:00: June 1 is wholly out; June 2 is not (the
    // other tests' days, in 2031, are in this run's future).
    const result = await dropExpiredArchive(env.ARCHIVE, 8, now)
    expect(result).toEqual({ days: ['dt=2030-06-01'], objects: 2 })
    const left = (await env.ARCHIVE.list({ prefix: 'decisions/dt=2030-' })).objects.map((o) => o.key)
    expect(left).toEqual(keys.slice(2))
    expect(await dropExpiredArchive(env.ARCHIVE, 8, now)).toEqual({ days: [], objects: 0 })
  })
})
