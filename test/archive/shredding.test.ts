/**
 * Crypto-shredding the decision archive: a DSAR export opens the person's archived records with
 * their keys; a DSAR erase destroys the keys (the receipt says so), after which the same files,
 * unchanged, hold nothing any remaining key opens for that person, while everyone else's records
 * still open.
 */
import { createExecutionContext, createMessageBatch } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../worker/index'
import type { ArchivedDecision } from '../../worker/archive/layout'
import { deriveKeys, openFields } from '../../worker/archive/seal'
import { gunzipLines } from '../../worker/archive/write'
import type { DecisionRecord } from '../../worker/log/record'
import type { EraseReceipt, SubjectExport } from '../../worker/privacy/dsar'
import { adminToken, bearer, capturingApp, decisionRecord } from '../admin/support'

const customer = (stateKey: string) => env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey))

async function consume(records: DecisionRecord[]) {
  const batch = createMessageBatch(
    'gatehouse-decisions',
    records.map((body, i) => ({
      id: `msg-${i}-${crypto.randomUUID()}`,
      timestamp: new Date(),
      attempts: 1,
      body,
    })),
  )
  await worker.queue(batch, env, createExecutionContext())
}

async function dsar(action: 'export' | 'erase', customerId: string) {
  const token = await adminToken({ sub: 'dpo-1', roles: ['privacy'] })
  const res = await capturingApp().fetch(`/admin/v1/subjects/${action}`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify({ identifier: { type: 'customer_id', value: customerId } }),
  })
  expect(res.status).toBe(200)
  return res.json()
}

/** Every archive object under `prefix`: key -> bytes (hex) and rows. */
async function snapshot(prefix: string) {
  const out = new Map<string, { hex: string; rows: ArchivedDecision[] }>()
  for (const o of (await env.ARCHIVE.list({ prefix })).objects) {
    const bytes = await (await env.ARCHIVE.get(o.key))!.arrayBuffer()
    const rows = (await gunzipLines(bytes)).map((l) => JSON.parse(l) as ArchivedDecision)
    out.set(o.key, { hex: [...new Uint8Array(bytes)].map((b) => b.toString(16)).join(''), rows })
  }
  return out
}

const at = (hour: number, customerId: string, overrides: Partial<DecisionRecord> = {}) =>
  decisionRecord({
    time: new Date(Date.UTC(2032, 2, 14, hour, 5)).toISOString(),
    customerId,
    anonymousId: `dev-of-${customerId}`,
    ...overrides,
  }) as DecisionRecord

describe('crypto-shredding the decision archive', () => {
  it('exports what the key opens; after erase the unchanged files open for nobody but the others', async () => {
    const gone = `cust-${crypto.randomUUID()}`
    const kept = `cust-${crypto.randomUUID()}`
    const mine = [at(8, gone), at(9, gone, { placement: 'cart_banner' })]
    const theirs = [at(8, kept), at(9, kept)]
    await consume([mine[0]!, theirs[0]!, mine[1]!, theirs[1]!])

    const doc = (await dsar('export', gone)) as SubjectExport
    expect(doc.decisionArchive.complete).toBe(true)
    expect(doc.decisionArchive.records.map((r) => r.id).sort()).toEqual(mine.map((r) => r.id).sort())
    const exported = doc.decisionArchive.records.find((r) => r.id === mine[1]!.id)!
    expect(exported).toMatchObject({
      customerId: gone,
      anonymousId: `dev-of-${gone}`,
      placement: 'cart_banner',
      trace: mine[1]!.trace,
      partition: 'decisions/dt=2032-03-14/hour=09/',
    })
    // The export never carries the keys themselves.
    expect(JSON.stringify(doc)).not.toContain('archive_keys')

    const prefix = 'decisions/dt=2032-03-14/'
    const before = await snapshot(prefix)
    const receipt = (await dsar('erase', gone)) as EraseReceipt
    expect(receipt.status).toBe('completed')
    expect(receipt.stores.decisionArchive).toBe(1)
    expect(receipt.cryptoShredded).toEqual({
      store: 'decisionArchive',
      keysDestroyed: 1,
      archivedRecords: 'unreadable',
    })

    // The files are not rewritten: same objects, same bytes.
    const after = await snapshot(prefix)
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort())
    for (const [key, { hex }] of after) expect(hex).toBe(before.get(key)!.hex)

    // The erased person's object holds no key any more; the other person's key still opens their
    // rows and none of the erased person's.
    expect(await customer(`c:${gone}`).archiveKeys()).toEqual([])
    const keptKeys = await Promise.all(
      (await customer(`c:${kept}`).archiveKeys()).map((k) => deriveKeys(k.secret)),
    )
    expect(keptKeys.length).toBe(1)
    const rows = [...after.values()].flatMap((o) => o.rows)
    const mineRows = rows.filter((r) => mine.some((m) => m.id === r.id))
    expect(mineRows.length).toBe(2)
    for (const r of mineRows) {
      expect(JSON.stringify(r)).not.toContain(gone)
      expect(await openFields(keptKeys[0]!, r.id, r.sealed)).toBeNull()
    }
    for (const r of rows.filter((x) => theirs.some((t) => t.id === x.id)))
      expect((await openFields(keptKeys[0]!, r.id, r.sealed))?.customerId).toBe(kept)

    // The other person's export still finds theirs.
    const other = (await dsar('export', kept)) as SubjectExport
    expect(other.decisionArchive.records.map((r) => r.id).sort()).toEqual(theirs.map((r) => r.id).sort())
  })

  it('keeps an anonymous visitor’s keys with the customer who absorbs their state at login', async () => {
    const anon = `a:anon-${crypto.randomUUID()}`
    const cust = `c:cust-${crypto.randomUUID()}`
    const anonKey = await customer(anon).archiveKey()
    const custKey = await customer(cust).archiveKey()
    await customer(cust).absorb(anon, await customer(anon).exportAll())
    expect((await customer(cust).archiveKeys()).map((k) => k.kid).sort()).toEqual(
      [anonKey!.kid, custKey!.kid].sort(),
    )
    // The same key is answered again: one key per person, not one per batch.
    expect((await customer(cust).archiveKey())!.kid).toBe((await customer(cust).archiveKeys()).at(-1)!.kid)
  })

  it('bounds the export scan and says when it stopped short', async () => {
    const who = `cust-${crypto.randomUUID()}`
    await consume([at(20, who)])
    await consume([at(21, who)])
    const stub = customer(`c:${who}`)
    const keys = await Promise.all((await stub.archiveKeys()).map((k) => deriveKeys(k.secret)))
    const { readSubjectArchive } = await import('../../worker/archive/read')
    const one = await readSubjectArchive(env.ARCHIVE, keys, 1)
    expect(one).toMatchObject({ objectsRead: 1, complete: false })
    // Newest first: the one object read is the later hour's.
    expect(one.records.map((r) => r.partition)).toEqual(['decisions/dt=2032-03-14/hour=21/'])
  })
})
