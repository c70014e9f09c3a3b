import { env } from 'cloudflare:workers'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { Consent } from '../../worker/consent/types'
import { context } from '../../worker/context'
import { decideForRequest, decisionService } from '../../worker/decide/service'
import type { AppEnv } from '../../worker/env'
import type { DecisionRecord } from '../../worker/log/record'
import { bundledRules } from '../../worker/rules'

const consent: Consent = {
  purposes: { storage: true, measurement: true, personalization: true, advertising: false },
  saleShareOptOut: false,
  gpc: false,
  jurisdiction: 'EU',
  regime: 'opt-in',
  sources: [],
  reasons: [],
  snapshotId: 'snap-123',
}

// A minimal pipeline: the context stage, then a handler standing in for consent and identity.
const app = new Hono<AppEnv>().use('*', context()).get('/', async (c) => {
  c.set('consent', consent)
  c.set('identity', {
    basis: 'cookie',
    anonymousId: 'anon-records-000001',
    customerId: null,
    unitId: 'anon-records-000001',
    stateKey: null,
  })
  await decideForRequest(c, decisionService(bundledRules), {
    placements: ['home_hero', 'product_banner'],
    channel: 'api',
  })
  return c.json(c.var.decisionRecords)
})

describe('decision records', () => {
  it('pushes one DecisionRecord per decision, with consent snapshot, pseudonymous ids, rules version and trace', async () => {
    const res = await app.fetch(
      new Request('http://gate.test/', { headers: { 'accept-language': 'de' } }),
      env,
    )
    const records = (await res.json()) as DecisionRecord[]
    expect(records).toHaveLength(2)
    for (const r of records) {
      expect(r).toMatchObject({
        channel: 'api',
        rulesVersion: bundledRules.version,
        consentSnapshotId: 'snap-123',
        consent: { jurisdiction: 'EU', purposes: consent.purposes, saleShareOptOut: false },
        identityBasis: 'cookie',
        customerId: null,
        anonymousId: 'anon-records-000001',
        caps: null,
      })
      expect(r.id).toMatch(/^[0-9a-f-]{36}$/)
      expect(r.trace.at(-1)).toMatch(/^=> /)
    }
    expect(records.map((r) => r.placement)).toEqual(['home_hero', 'product_banner'])
    // No customer state (stateKey null): the hero cannot see purchase history, and the
    // experiment assigns this visitor (or the holdout holds them out).
    expect(records[0]!.reason).toMatch(/^(rule:hero_test|holdout)$/)
  })
})
