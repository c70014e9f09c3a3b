import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { ExperimentState } from '../../durable-objects/experiment'
import { ExperimentStats } from '../../worker/decide/stats'
import { gatewayWithIngestKey, ingestHeaders, rulesWithBandit } from '../security/ingest-key'

describe('ExperimentState', () => {
  it('adds exposures and conversions per arm, once per batch id', async () => {
    const stub = env.EXPERIMENT.get(env.EXPERIMENT.idFromName('exp-state-1'))
    const batch = {
      id: 'b1',
      deltas: [
        { arm: 'x', exposures: 10, conversions: 1 },
        { arm: 'y', exposures: 5, conversions: 0 },
      ],
    }
    expect(await stub.record(batch)).toEqual({ applied: true })
    // A retried flush (same id) is not counted twice.
    expect(await stub.record(batch)).toEqual({ applied: false })
    await stub.record({ id: 'b2', deltas: [{ arm: 'x', exposures: 1, conversions: 1 }] })
    expect((await stub.stats()).arms).toEqual({
      x: { exposures: 11, conversions: 2 },
      y: { exposures: 5, conversions: 0 },
    })
    await runInDurableObject(stub, async (instance: ExperimentState, state) => {
      expect(instance).toBeInstanceOf(ExperimentState)
      const rows = state.storage.sql.exec('SELECT id FROM batches ORDER BY id').toArray()
      expect(rows).toEqual([{ id: 'b1' }, { id: 'b2' }])
    })
  })

  it('ignores batches with negative or fractional counts', async () => {
    const stub = env.EXPERIMENT.get(env.EXPERIMENT.idFromName('exp-state-2'))
    expect(await stub.record({ id: 'bad', deltas: [{ arm: 'x', exposures: -1, conversions: 0 }] })).toEqual({
      applied: false,
    })
    expect(await stub.record({ id: 'bad2', deltas: [{ arm: 'x', exposures: 1.5, conversions: 0 }] })).toEqual(
      { applied: false },
    )
    expect((await stub.stats()).arms).toEqual({})
  })

  it('receives batched counts from an isolate and serves them back through the per-isolate cache', async () => {
    const stats = new ExperimentStats({ cacheTtlMs: 60_000, flushMs: 60_000 })
    for (let i = 0; i < 25; i++) stats.count('exp-state-3', 'a', 'exposure')
    stats.count('exp-state-3', 'a', 'conversion', 3)
    stats.count('exp-state-3', 'b', 'exposure')
    // Within the flush interval nothing is sent; counts stay in the batch until it has passed.
    await stats.flush(env.EXPERIMENT, { now: 1 })
    expect(stats.unsent()['exp-state-3']!.a).toEqual({ exposures: 25, conversions: 3 })
    await stats.flush(env.EXPERIMENT, { now: 60_001 })
    expect(stats.unsent()).toEqual({})
    const pending: Promise<unknown>[] = []
    const read = stats.reader(env.EXPERIMENT, (p) => pending.push(p))
    // A cold cache answers at once (priors) and refreshes in the background.
    expect(read('exp-state-3')).toBeUndefined()
    await Promise.all(pending)
    expect(read('exp-state-3')).toEqual({
      a: { exposures: 25, conversions: 3 },
      b: { exposures: 1, conversions: 0 },
    })
  })

  it("counts conversions reported through the API into the experiment's object, once per id", async () => {
    const bandit = `state_bandit_${crypto.randomUUID().slice(0, 8)}`
    const gate = await gatewayWithIngestKey(rulesWithBandit(bandit))
    const stub = env.EXPERIMENT.get(env.EXPERIMENT.idFromName(bandit))
    const before = (await stub.stats()).arms.bundle_offer?.conversions ?? 0
    const id = `order-${crypto.randomUUID()}`
    const send = () =>
      gate('/v1/decide/conversions', {
        method: 'POST',
        headers: ingestHeaders(),
        body: JSON.stringify({ conversions: [{ id, experiment: bandit, arm: 'bundle_offer' }] }),
      })
    const res = await send()
    expect(res.status).toBe(202)
    expect(await res.json()).toEqual({ accepted: 1, counted: 1, duplicates: 0 })
    expect((await stub.stats()).arms.bundle_offer!.conversions).toBe(before + 1)
    // The server retries after a lost answer: the id was counted, so nothing moves.
    expect(await (await send()).json()).toEqual({ accepted: 1, counted: 0, duplicates: 1 })
    expect((await stub.stats()).arms.bundle_offer!.conversions).toBe(before + 1)
  })

  it('rejects a conversion for an arm the experiment does not have', async () => {
    const gate = await gatewayWithIngestKey()
    const res = await gate('/v1/decide/conversions', {
      method: 'POST',
      headers: ingestHeaders(),
      body: JSON.stringify({
        conversions: [
          { id: 'order-00000001', experiment: 'upsell_bandti', arm: 'x' },
          { id: 'order-00000002', experiment: 'upsell_bandit', arm: 'x' },
        ],
      }),
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({
      errors: [
        {
          path: 'conversions.0.experiment',
          message: 'unknown experiment "upsell_bandti" (did you mean "upsell_bandit"?)',
        },
        { path: 'conversions.1.arm' },
      ],
    })
  })
})
