/**
 * The record of processing (GDPR Art. 30) is generated from rules/: controller, purposes,
 * categories, recipients (trigger webhooks included), processors, transfers, retention. JSON by
 * default; Markdown on request.
 */
import { describe, expect, it } from 'vitest'
import type { RecordOfProcessing } from '../../worker/privacy/processing'
import { bundledRules, type RuleSet } from '../../worker/rules'
import { adminToken, bearer, capturingApp } from './support'

const get = async (path: string, headers: Record<string, string> = {}, rules?: RuleSet) => {
  const token = await adminToken({ roles: ['marketer'] })
  return capturingApp({}, rules ? { rules } : {}).fetch(path, { headers: { ...bearer(token), ...headers } })
}

describe('GET /admin/v1/record-of-processing', () => {
  it('returns JSON built from rules/privacy.yaml and rules/triggers.yaml', async () => {
    const res = await get('/admin/v1/record-of-processing')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('application/json')
    const rec = (await res.json()) as RecordOfProcessing
    expect(rec.rulesVersion).toBe(bundledRules.version)
    expect(rec.controller).toEqual(bundledRules.privacy.controller)
    expect(rec.purposes.map((p) => p.id)).toEqual(bundledRules.privacy.purposes.map((p) => p.id))
    expect(rec.purposes.every((p) => p.legalBasis)).toBe(true)
    const retention = Object.fromEntries(rec.retention.map((r) => [r.store, r.days]))
    expect(retention['decision log (D1 decision_log)']).toBe(bundledRules.privacy.retention.decisionLog)
    expect(retention['customer state (Durable Objects)']).toBe(
      bundledRules.privacy.retention.customerState.default,
    )
    // Each trigger webhook channel is a recipient.
    const channels = Object.keys(
      (bundledRules.triggers as { delivery?: { webhooks?: Record<string, unknown> } }).delivery?.webhooks ??
        {},
    )
    expect(channels.length).toBeGreaterThan(0)
    for (const channel of channels) {
      expect(rec.recipients.some((r) => r.name.startsWith(`${channel} webhook`))).toBe(true)
    }
    expect(rec.processors.length).toBeGreaterThan(0)
  })

  it.each([
    {
      how: 'Accept: text/markdown',
      path: '/admin/v1/record-of-processing',
      headers: { accept: 'text/markdown' },
    },
    {
      how: '?format=md',
      path: '/admin/v1/record-of-processing?format=md',
      headers: {} as Record<string, string>,
    },
  ])('returns Markdown with $how', async ({ path, headers }) => {
    const res = await get(path, headers)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/markdown')
    const md = await res.text()
    expect(md).toContain('# Record of processing activities (GDPR Art. 30)')
    expect(md).toContain(bundledRules.privacy.controller.name)
    expect(md).toContain('## Retention')
    expect(md).toMatch(/\| decision log \(D1 decision_log\) \| \d+ \|/)
  })

  it('reflects the rule set in force (transfers and recipients edited by the privacy team)', async () => {
    const rules: RuleSet = {
      ...bundledRules,
      privacy: {
        ...bundledRules.privacy,
        transfers: [{ country: 'US', safeguard: 'EU-US Data Privacy Framework' }],
        recipients: [
          {
            name: 'Acme CRM',
            purpose: 'Customer service',
            dataCategories: ['pseudonymous_ids'],
            country: 'IE',
          },
        ],
      },
    }
    const rec = (await (await get('/admin/v1/record-of-processing', {}, rules)).json()) as RecordOfProcessing
    expect(rec.transfers).toEqual([{ country: 'US', safeguard: 'EU-US Data Privacy Framework' }])
    expect(rec.recipients[0]).toMatchObject({ name: 'Acme CRM', country: 'IE' })
  })

  it('answers an unknown format with 400 naming the field', async () => {
    const res = await get('/admin/v1/record-of-processing?format=pdf')
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ errors: [{ path: 'format' }] })
  })
})
