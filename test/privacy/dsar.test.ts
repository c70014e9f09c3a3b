/**
 * DSAR export and erase across every store: a person seeded into CustomerState (every table),
 * IdentityIndex (linked by stitching), D1 decision records and identity conflicts; exported by
 * any of their identifiers; erased, then every store enumerated directly: nothing of them remains.
 */
import { createExecutionContext, createMessageBatch, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { identifierKey } from '../../worker/identity/keys'
import { stitch } from '../../worker/identity/stitch'
import worker from '../../worker/index'
import {
  eraseSubject,
  EraseIncompleteError,
  type EraseReceipt,
  type SubjectExport,
} from '../../worker/privacy/dsar'
import { resolveDsarSubject } from '../../worker/privacy/resolve'
import { isTombstoned } from '../../worker/privacy/tombstone'
import { bundledRules } from '../../worker/rules'
import { recordDeadLetter } from '../../worker/delivery/metrics'
import { adminToken, bearer, capturingApp, decisionRecord } from '../admin/support'
import { customerStub, d1Dump, fillEveryTable, identityStub, objectRows } from './support'

interface Seeded {
  customerId: string
  anonymousId: string
  email: string
  phone: string
  keys: { email: string; phone: string; customer: string; anonymous: string }
  decisionIds: string[]
  filled: string[]
}

async function seed(): Promise<Seeded> {
  const tag = crypto.randomUUID().slice(0, 8)
  const customerId = `cust-${tag}`
  const anonymousId = `anon-${tag}`
  const email = `Ann.Example+${tag}@Example.com`
  const phone = `+49 151 ${tag.replace(/\D/g, '').padEnd(8, '7').slice(0, 8)}`
  // Stitching links email, phone, customer id and anonymous id to c:<customerId> (real IdentityIndex objects).
  const stitched = await stitch(env, {
    customerId,
    anonymousId,
    identifiers: [
      { type: 'email', value: email },
      { type: 'phone', value: phone },
    ],
    assertedBy: 'jwt',
  })
  expect(stitched.fallback).toBeNull()
  // Another customer claims the same email: refused, and recorded in D1 identity_conflicts.
  await stitch(env, {
    customerId: `other-${tag}`,
    identifiers: [{ type: 'email', value: email }],
    assertedBy: 'admin',
  })
  // A row in every table of the customer's object and of the anonymous object written after login.
  const filled = await fillEveryTable(customerStub(`c:${customerId}`), tag)
  await fillEveryTable(customerStub(`a:${anonymousId}`), tag)
  // Decision records through the real consumer.
  const records = [
    decisionRecord({ customerId, anonymousId }),
    decisionRecord({ customerId: null, anonymousId, identityBasis: 'cookie', consentSnapshotId: 'cs-2' }),
  ]
  const batch = createMessageBatch(
    'gatehouse-decisions',
    records.map((body, i) => ({ id: `m-${tag}-${i}`, timestamp: new Date(), attempts: 1, body })),
  )
  await worker.queue(batch, env, createExecutionContext())
  // Trigger messages to the person that exhausted their retries, through the real dead-letter writer.
  for (const stateKey of [`c:${customerId}`, `a:${anonymousId}`]) {
    await recordDeadLetter(
      env.DB,
      {
        reason: 'http_500',
        attempts: 5,
        fire: {
          fireId: `cart_abandoned:${stateKey}-${tag}`,
          trigger: 'cart_abandoned',
          campaign: 'cart_recovery',
          channel: 'email',
          priority: 'high',
          stateKey,
          customerId: stateKey.startsWith('c:') ? customerId : null,
          firedAt: Date.now() - 60_000,
          startedBy: { eventId: `e-${tag}`, type: 'add_to_cart', at: Date.now() - 120_000 },
        },
      },
      `dl-${tag}-${stateKey.slice(0, 1)}`,
      Date.now(),
    )
  }
  const pepper = env.ID_PEPPER
  return {
    customerId,
    anonymousId,
    email,
    phone,
    keys: {
      email: (await identifierKey('email', email, pepper))!,
      phone: (await identifierKey('phone', phone, pepper))!,
      customer: `customer_id:${customerId}`,
      anonymous: `anonymous_id:${anonymousId}`,
    },
    decisionIds: records.map((r) => r.id),
    filled,
  }
}

const post = async (path: string, identifier: { type: string; value: string }, app = capturingApp()) => {
  const token = await adminToken({ sub: 'dpo-1', roles: ['privacy'] })
  return app.fetch(path, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify({ identifier }),
  })
}

/** Asserts that no store holds anything of the person any more. */
async function expectNothingLeft(s: Seeded): Promise<void> {
  for (const stateKey of [`c:${s.customerId}`, `a:${s.anonymousId}`]) {
    const tables = await objectRows(customerStub(stateKey))
    for (const [table, rows] of Object.entries(tables)) {
      if (table === '_cf_KV') {
        // Only the tombstone, which names no one.
        expect(rows.map((r) => r.key)).toEqual(['privacy:tombstone'])
        expect(JSON.stringify(rows)).not.toContain(s.customerId)
        continue
      }
      expect({ stateKey, table, rows }).toEqual({ stateKey, table, rows: [] })
    }
  }
  for (const key of Object.values(s.keys)) {
    const tables = await objectRows(identityStub(key))
    for (const [table, rows] of Object.entries(tables))
      expect({ key, table, rows }).toEqual({ key, table, rows: [] })
  }
  const d1 = await d1Dump()
  const needles = [
    s.customerId,
    s.anonymousId,
    s.keys.email,
    s.keys.phone,
    s.email,
    s.email.toLowerCase(),
    s.phone,
  ]
  for (const [table, text] of Object.entries(d1)) {
    for (const needle of needles)
      expect({ table, found: text.includes(needle) }).toEqual({ table, found: false })
  }
}

describe('DSAR export', () => {
  it.each(['customer_id', 'email', 'phone', 'anonymous_id'] as const)(
    'exports every kind of data held when asked by %s',
    async (type) => {
      const s = await seed()
      const value = {
        customer_id: s.customerId,
        email: s.email,
        phone: s.phone,
        anonymous_id: s.anonymousId,
      }[type]
      const app = capturingApp()
      const res = await post('/admin/v1/subjects/export', { type, value }, app)
      expect(res.status).toBe(200)
      const doc = (await res.json()) as SubjectExport
      expect(doc.subject).toMatch(/^sub_[0-9a-f]{32}$/)
      expect(doc.receiptId).toMatch(/^rcpt_/)

      // Every table of the customer's object, row for row as the object holds it, but its archive
      // keys: a key handed out would survive the erase meant to destroy it.
      const { archive_keys: keys, ...direct } = (await customerStub(
        `c:${s.customerId}`,
      ).exportAll()) as Record<string, unknown[]>
      expect(keys).toBeDefined()
      const exported = doc.customerState[`c:${s.customerId}`]!
      expect(exported.archive_keys).toBeUndefined()
      expect(Object.keys(exported).sort()).toEqual(Object.keys(direct).sort())
      for (const [table, rows] of Object.entries(direct)) {
        expect(exported[table]).toHaveLength(rows.length)
      }
      expect(s.filled.length).toBeGreaterThan(3)
      for (const table of s.filled) {
        if (table === 'due_items' || table === 'archive_keys') continue
        expect(exported[table]!.length).toBeGreaterThan(0)
      }
      expect(doc.customerState[`a:${s.anonymousId}`]).toBeDefined()
      // Identity links: every identifier's IdentityIndex row.
      for (const key of Object.values(s.keys)) expect(doc.identityIndex[key]!.link ?? []).toHaveLength(1)
      expect(doc.identityConflicts.length).toBeGreaterThan(0)
      expect(doc.triggerDeadLetters.map((d) => d.state_key).sort()).toEqual(
        [`a:${s.anonymousId}`, `c:${s.customerId}`].sort(),
      )
      // Decision records, consent history and experiment assignments derived from them.
      expect(doc.decisions.map((d: { id: string }) => d.id).sort()).toEqual([...s.decisionIds].sort())
      expect(
        doc.consentHistory.map((c: { consentSnapshotId: string }) => c.consentSnapshotId).sort(),
      ).toEqual(['cs-1', 'cs-2'])
      expect(doc.experimentAssignments).toEqual([
        expect.objectContaining({ experiment: 'hero_test', arm: 'b' }),
      ])
      // Raw email and phone are never stored, so they cannot appear in the export either.
      const text = JSON.stringify(doc)
      expect(text).not.toContain(s.email.toLowerCase())
      expect(text).not.toContain(s.phone)
      expect(app.lines.join('\n')).not.toContain(s.email.toLowerCase())
    },
  )

  it('answers a malformed identifier with 400 naming the field', async () => {
    for (const [identifier, path] of [
      [{ type: 'passport', value: 'x' }, 'identifier.type'],
      [{ type: 'email', value: 'not-an-email' }, 'identifier.value'],
      [{ type: 'phone', value: '12345' }, 'identifier.value'],
      [{ type: 'customer_id', value: '' }, 'identifier.value'],
    ] as const) {
      const res = await post('/admin/v1/subjects/export', identifier)
      expect(res.status).toBe(400)
      expect(((await res.json()) as { errors: Array<{ path: string }> }).errors[0]!.path).toBe(path)
    }
  })
})

describe('DSAR erase', () => {
  it('erases the person from every store by email and returns a receipt with counts per store', async () => {
    const s = await seed()
    const app = capturingApp()
    const res = await post('/admin/v1/subjects/erase', { type: 'email', value: s.email }, app)
    expect(res.status).toBe(200)
    const receipt = (await res.json()) as EraseReceipt
    expect(receipt).toMatchObject({ status: 'completed', remaining: [], requestedBy: 'dpo-1' })
    expect(receipt.subject).toMatch(/^sub_[0-9a-f]{32}$/)
    expect(receipt.stores.customerState).toBeGreaterThan(s.filled.length)
    expect(receipt.stores.identityIndex).toBeGreaterThanOrEqual(4)
    expect(receipt.stores.identityConflicts).toBeGreaterThanOrEqual(1)
    expect(receipt.stores.decisionLog).toBe(2)
    expect(receipt.stores.triggerDeadLetters).toBe(2)
    expect(receipt.stores.tombstones).toBeGreaterThanOrEqual(6)

    await expectNothingLeft(s)

    // The receipt holds up: stored, retrievable, naming no one.
    const token = await adminToken({ roles: ['privacy'] })
    const stored = await app.fetch(`/admin/v1/subjects/receipts/${receipt.receiptId}`, {
      headers: bearer(token),
    })
    expect(await stored.json()).toMatchObject({
      receiptId: receipt.receiptId,
      status: 'completed',
      stores: receipt.stores,
    })

    // Tombstones: a late event or decision with an old id does not re-create the person.
    expect(await isTombstoned(env, `c:${s.customerId}`)).toBe(true)
    expect(await isTombstoned(env, s.keys.email)).toBe(true)
    expect(await customerStub(`c:${s.customerId}`).privacyStatus()).toMatchObject({ tombstoned: true })
    const late = decisionRecord({ customerId: s.customerId, anonymousId: null })
    await worker.queue(
      createMessageBatch('gatehouse-decisions', [
        { id: 'late', timestamp: new Date(), attempts: 1, body: late },
      ]),
      env,
      createExecutionContext(),
    )
    expect(await env.DB.prepare('SELECT 1 FROM decision_log WHERE id = ?').bind(late.id).first()).toBeNull()

    // No raw email or phone in any log line of the whole operation.
    const log = app.lines.join('\n')
    for (const raw of [s.email, s.email.toLowerCase(), s.phone, s.phone.replace(/\s/g, '')])
      expect(log).not.toContain(raw)
  })

  it('is idempotent: erasing again completes with nothing more to remove', async () => {
    const s = await seed()
    const first = (await (
      await post('/admin/v1/subjects/erase', { type: 'customer_id', value: s.customerId })
    ).json()) as EraseReceipt
    const second = await post('/admin/v1/subjects/erase', { type: 'phone', value: s.phone })
    expect(second.status).toBe(200)
    const r2 = (await second.json()) as EraseReceipt
    expect(r2.status).toBe('completed')
    expect(r2.stores.decisionLog).toBe(0)
    expect(r2.stores.identityConflicts).toBe(0)
    expect(first.subject).toBe(r2.subject)
    await expectNothingLeft(s)
  })

  it('completes on retry after a store was unavailable mid-way, on the same receipt', async () => {
    const s = await seed()
    const subject = await resolveDsarSubject(env, { type: 'email', value: s.email })
    // The email's IdentityIndex object is busy (blocked) for longer than the erase's time budget.
    const busy = runInDurableObject(identityStub(s.keys.email), (_i, state) =>
      state.blockConcurrencyWhile(() => new Promise<void>((resolve) => setTimeout(resolve, 1500))),
    )
    await new Promise((resolve) => setTimeout(resolve, 50))
    let incomplete: EraseIncompleteError | null = null
    try {
      await eraseSubject(env, subject, {
        retention: bundledRules.privacy.retention,
        requestedBy: 'dpo-1',
        budgetMs: 300,
      })
    } catch (error) {
      incomplete = error as EraseIncompleteError
    }
    expect(incomplete).toBeInstanceOf(EraseIncompleteError)
    const partial = incomplete!.receipt
    expect(partial.status).toBe('in_progress')
    expect(Object.keys(partial.stores).sort()).toEqual(['customerState', 'decisionArchive', 'tombstones'])
    expect(partial.remaining).toEqual([
      'identityIndex',
      'identityConflicts',
      'decisionLog',
      'triggerDeadLetters',
    ])
    // The partial state is real: decision records are still there.
    expect(
      await env.DB.prepare('SELECT 1 FROM decision_log WHERE id = ?').bind(s.decisionIds[0]).first(),
    ).not.toBeNull()

    await busy
    // The operator retries the same request; it resumes the receipt and completes the rest.
    const res = await post('/admin/v1/subjects/erase', { type: 'email', value: s.email })
    expect(res.status).toBe(200)
    const done = (await res.json()) as EraseReceipt
    expect(done.receiptId).toBe(partial.receiptId)
    expect(done.status).toBe('completed')
    expect(done.stores.customerState).toBe(partial.stores.customerState)
    expect(done.stores.decisionLog).toBe(2)
    await expectNothingLeft(s)
  })

  it('answers 503 problem+json with the in-progress receipt when a store is busy, and the same request completes it', async () => {
    const s = await seed()
    const app = capturingApp({ PRIVACY_STORE_BUDGET_MS: '300' })
    const busy = runInDurableObject(identityStub(s.keys.phone), (_i, state) =>
      state.blockConcurrencyWhile(() => new Promise<void>((resolve) => setTimeout(resolve, 1500))),
    )
    await new Promise((resolve) => setTimeout(resolve, 50))
    const res = await post('/admin/v1/subjects/erase', { type: 'customer_id', value: s.customerId }, app)
    expect(res.status).toBe(503)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('retry-after')).toBe('10')
    const problem = (await res.json()) as { store: string; receipt: EraseReceipt }
    expect(problem.store).toBe('identityIndex')
    expect(problem.receipt).toMatchObject({
      status: 'in_progress',
      remaining: ['identityIndex', 'identityConflicts', 'decisionLog', 'triggerDeadLetters'],
    })
    await busy
    const retried = await post('/admin/v1/subjects/erase', { type: 'customer_id', value: s.customerId }, app)
    expect(retried.status).toBe(200)
    expect(await retried.json()).toMatchObject({ receiptId: problem.receipt.receiptId, status: 'completed' })
    await expectNothingLeft(s)
  })

  it('names the unavailable store and keeps the receipt in progress, and the retry completes it', async () => {
    const s = await seed()
    const subject = await resolveDsarSubject(env, { type: 'customer_id', value: s.customerId })
    const busy = runInDurableObject(customerStub(`a:${s.anonymousId}`), (_i, state) =>
      state.blockConcurrencyWhile(() => new Promise<void>((resolve) => setTimeout(resolve, 1500))),
    )
    await new Promise((resolve) => setTimeout(resolve, 50))
    const first = await eraseSubject(env, subject, {
      retention: bundledRules.privacy.retention,
      requestedBy: 'dpo-1',
      budgetMs: 300,
    }).catch((e: unknown) => e)
    expect(first).toBeInstanceOf(EraseIncompleteError)
    // The first store to reach the busy object is the archive's key shredding (before customerState).
    expect((first as EraseIncompleteError).store).toBe('decisionArchive')
    await busy
    const res = await post('/admin/v1/subjects/erase', { type: 'customer_id', value: s.customerId })
    expect(res.status).toBe(200)
    expect(((await res.json()) as EraseReceipt).receiptId).toBe(
      (first as EraseIncompleteError).receipt.receiptId,
    )
    await expectNothingLeft(s)
  })
})
