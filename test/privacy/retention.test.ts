/**
 * Retention: D1 rows older than the windows in rules/privacy.yaml are gone after the scheduled
 * run; rows in each CustomerState object older than their table's window are gone after its
 * `retention` alarm, which re-arms itself. Both are idempotent.
 */
import {
  createExecutionContext,
  createScheduledController,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { timeColumn } from '../../durable-objects/customer/privacy'
import worker from '../../worker/index'
import { bundledRules } from '../../worker/rules'
import { customerStub, fillEveryTable } from './support'

const DAY = 86_400_000
const retention = bundledRules.privacy.retention

async function runScheduled(): Promise<void> {
  const ctx = createExecutionContext()
  await worker.scheduled(
    createScheduledController({ scheduledTime: Date.now(), cron: '17 3 * * *' }),
    env,
    ctx,
  )
  await waitOnExecutionContext(ctx)
}

async function insertDecision(id: string, at: number): Promise<void> {
  await env.DB.prepare(
    `INSERT INTO decision_log (id, at, time, request_id, channel, placement, variant, reason, fallback, rules_version,
      consent_snapshot_id, consent, identity_basis, customer_id, anonymous_id, experiment, caps, trace, stored_at)
     VALUES (?, ?, ?, 'r', 'api', 'home_hero', 'a', 'rule:x', NULL, 'v', 'cs', '{}', 'jwt', 'cust-ret', NULL, NULL, NULL, '[]', ?)`,
  )
    .bind(id, at, new Date(at).toISOString(), at)
    .run()
}

const exists = async (table: string, column: string, id: string) =>
  (await env.DB.prepare(`SELECT 1 FROM ${table} WHERE ${column} = ?`).bind(id).first()) !== null

describe('D1 retention (scheduled handler)', () => {
  it('deletes decision records, audit entries, completed receipts, identity conflicts and tombstones past their windows', async () => {
    const now = Date.now()
    await insertDecision('ret-old', now - (retention.decisionLog + 1) * DAY)
    await insertDecision('ret-new', now - (retention.decisionLog - 1) * DAY)
    const audit = env.DB.prepare(
      `INSERT INTO admin_audit (id, at, actor, roles, action, outcome, status, request_id) VALUES (?, ?, 'a', '[]', 'GET x', 'allowed', 200, 'r')`,
    )
    await audit.bind('audit-old', now - (retention.adminAudit + 1) * DAY).run()
    await audit.bind('audit-new', now - DAY).run()
    const receipt = env.DB.prepare(
      `INSERT INTO dsar_receipts (receipt_id, kind, subject, status, requested_by, requested_at, completed_at) VALUES (?, 'erase', 'sub_x', ?, 'dpo', ?, ?)`,
    )
    const old = now - (retention.dsarReceipts + 1) * DAY
    await receipt.bind('rcpt-old', 'completed', old, old).run()
    await receipt.bind('rcpt-old-open', 'in_progress', old, null).run()
    const tomb = env.DB.prepare(
      'INSERT INTO tombstones (digest, receipt_id, erased_at, expires_at) VALUES (?, ?, ?, ?)',
    )
    await tomb.bind('tomb-expired', 'rcpt-old', old, now - 1).run()
    await tomb.bind('tomb-live', 'rcpt-old', now, now + DAY).run()
    const conflict = env.DB.prepare(
      `INSERT INTO identity_conflicts (id, identifier_key, identifier_type, held_by, claimed_by, asserted_by, at, resolved_at)
       VALUES (?, 'email:ab12', 'email', 'c:held', 'c:claimant', 'event', ?, ?)`,
    )
    const stale = now - (retention.identityConflicts + 1) * DAY
    await conflict.bind('conflict-old-open', stale, null).run()
    await conflict.bind('conflict-old-resolved', stale, stale + DAY).run()
    await conflict.bind('conflict-new', now - (retention.identityConflicts - 1) * DAY, null).run()

    await runScheduled()

    expect(await exists('decision_log', 'id', 'ret-old')).toBe(false)
    expect(await exists('decision_log', 'id', 'ret-new')).toBe(true)
    expect(await exists('admin_audit', 'id', 'audit-old')).toBe(false)
    expect(await exists('admin_audit', 'id', 'audit-new')).toBe(true)
    expect(await exists('dsar_receipts', 'receipt_id', 'rcpt-old')).toBe(false)
    // An erase still in progress holds what is left to erase: never deleted by retention.
    expect(await exists('dsar_receipts', 'receipt_id', 'rcpt-old-open')).toBe(true)
    expect(await exists('tombstones', 'digest', 'tomb-expired')).toBe(false)
    expect(await exists('tombstones', 'digest', 'tomb-live')).toBe(true)
    expect(await exists('identity_conflicts', 'id', 'conflict-old-open')).toBe(false)
    expect(await exists('identity_conflicts', 'id', 'conflict-old-resolved')).toBe(false)
    expect(await exists('identity_conflicts', 'id', 'conflict-new')).toBe(true)

    // Idempotent: a second run deletes nothing more.
    await runScheduled()
    expect(await exists('decision_log', 'id', 'ret-new')).toBe(true)
  })
})

describe('CustomerState retention (alarm)', () => {
  it('deletes rows older than each table’s window when the retention alarm runs, and re-arms', async () => {
    const stateKey = `c:retention-${crypto.randomUUID().slice(0, 8)}`
    const stub = customerStub(stateKey)
    const now = Date.now()
    const eventsWindow = retention.customerState.tables.events ?? retention.customerState.default
    // Older than the events window but within the default: only tables with a shorter window lose it.
    await fillEveryTable(stub, 'mid', now - (eventsWindow + 5) * DAY)
    // Older than every window, the longer per-table ones (consent records) included.
    const longest = Math.max(
      retention.customerState.default,
      ...Object.values(retention.customerState.tables),
    )
    await fillEveryTable(stub, 'old', now - (longest + 5) * DAY)
    await fillEveryTable(stub, 'new', now - DAY)
    // A fresh instance of the object (as after eviction) arms retention because it holds data.
    await runInDurableObject(stub, (_i, state) => state.abort('restart')).catch(() => undefined)
    const fresh = customerStub(stateKey)
    const armed = await runInDurableObject(fresh, (_i, state) =>
      state.storage.sql
        .exec<{ due_at: number }>("SELECT due_at FROM due_items WHERE id = 'privacy:retention'")
        .toArray(),
    )
    expect(armed).toHaveLength(1)
    expect(armed[0]!.due_at).toBeGreaterThan(now + DAY - 60_000)

    // A day passes: the item is due.
    await runInDurableObject(fresh, (_i, state) => {
      state.storage.sql.exec("UPDATE due_items SET due_at = ? WHERE id = 'privacy:retention'", Date.now() - 1)
    })
    expect(await runDurableObjectAlarm(fresh)).toBe(true)

    const after = await runInDurableObject(fresh, (_i, state) => {
      const sql = state.storage.sql
      const tables = sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%'",
        )
        .toArray()
        .map((r) => r.name)
      return tables.map((t) => ({
        table: t,
        timed: timeColumn(sql, t) !== null,
        rows: JSON.stringify(sql.exec(`SELECT * FROM "${t}"`).toArray()),
      }))
    })
    const timed = after.filter((t) => t.timed)
    expect(timed.map((t) => t.table)).toEqual(expect.arrayContaining(['events', 'absorbed']))
    // Identity links outlive the window (they are how a DSAR reaches the person's other identifiers).
    const links = after.find((t) => t.table === 'identity_links')!
    expect(links.timed).toBe(false)
    expect(links.rows).toContain('old-')
    for (const t of timed) {
      expect({ table: t.table, old: t.rows.includes('old-') }).toEqual({ table: t.table, old: false })
      expect({
        table: t.table,
        recent: t.rows.includes('new-') || !after.find((x) => x.table === t.table),
      }).toEqual({
        table: t.table,
        recent: true,
      })
    }
    const events = after.find((t) => t.table === 'events')!
    expect(events.rows).not.toContain('mid-')
    // Tables on the default window keep rows between the events window and the default.
    const defaultTables = timed.filter((t) => !(t.table in retention.customerState.tables))
    expect(defaultTables.some((t) => t.rows.includes('mid-'))).toBe(true)

    // Re-armed for the next pass.
    const rearmed = await runInDurableObject(fresh, (_i, state) =>
      state.storage.sql
        .exec<{ due_at: number }>("SELECT due_at FROM due_items WHERE id = 'privacy:retention'")
        .toArray(),
    )
    expect(rearmed).toHaveLength(1)
    expect(rearmed[0]!.due_at).toBeGreaterThan(Date.now() + DAY - 60_000)
  })

  it('leaves an object that holds nothing without a retention alarm', async () => {
    const stub = customerStub(`c:empty-${crypto.randomUUID().slice(0, 8)}`)
    expect(await stub.counts()).toBeDefined()
    const due = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec("SELECT 1 FROM due_items WHERE id = 'privacy:retention'").toArray(),
    )
    expect(due).toEqual([])
    expect(await runDurableObjectAlarm(stub)).toBe(false)
  })
})
