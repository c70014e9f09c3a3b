/**
 * Bandits learn from `POST /v1/events`: a conversion event carrying the experiment and arm the
 * visitor was shown counts one conversion for that arm in ExperimentState (the same counts
 * `POST /v1/decide/conversions` feeds), once per event id, and nothing else counts.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { decisionService } from '../../worker/decide/service'
import { banditConversions } from '../../worker/events/conversions'
import { bundledRules, type RuleSet } from '../../worker/rules'
import { event, eventsApp } from './harness'

const BANDIT = 'upsell_bandit'
const conversionType = bundledRules.experiments.experiments[BANDIT]!.bandit!.conversion

async function armStats(experiment: string) {
  return (await env.EXPERIMENT.get(env.EXPERIMENT.idFromName(experiment)).stats()).arms
}

/** Posts the events as a consented visitor, then sends the isolate's batched counts. */
async function post(rules: RuleSet, events: unknown[], purposes = { storage: true, measurement: true }) {
  const res = await eventsApp({ purposes, stateKey: `a:conv-${crypto.randomUUID()}` }, { rules }).post({
    events,
  })
  await decisionService(rules).stats.flush(env.EXPERIMENT, { force: true })
  return res
}

describe('bandit conversions from events', () => {
  it('counts a conversion event carrying experiment and arm for that arm, once per event id', async () => {
    // A rule set of its own: its batched counts are not mixed with other tests'.
    const rules: RuleSet = { ...bundledRules }
    const before = await armStats(BANDIT)
    const purchase = event({ type: conversionType, props: { experiment: BANDIT, arm: 'bundle_offer' } })
    expect((await post(rules, [purchase])).status).toBe(202)
    const after = await armStats(BANDIT)
    expect(after.bundle_offer?.conversions).toBe((before.bundle_offer?.conversions ?? 0) + 1)
    expect(after.no_upsell?.conversions ?? 0).toBe(before.no_upsell?.conversions ?? 0)
    // No exposure is invented: exposures come from decisions only.
    expect(after.bundle_offer?.exposures ?? 0).toBe(before.bundle_offer?.exposures ?? 0)

    // The client retries the same batch (same ids): the state reports duplicates, nothing is counted again.
    const app = eventsApp(
      { purposes: { storage: true, measurement: true }, stateKey: 'a:conv-retry' },
      { rules },
    )
    await app.post({ events: [purchase] })
    await decisionService(rules).stats.flush(env.EXPERIMENT, { force: true })
    const once = await armStats(BANDIT)
    await app.post({ events: [purchase] })
    await decisionService(rules).stats.flush(env.EXPERIMENT, { force: true })
    expect((await armStats(BANDIT)).bundle_offer?.conversions).toBe(once.bundle_offer?.conversions)
  })

  it.each([
    ['another event type', { type: 'page_view', props: { experiment: BANDIT, arm: 'bundle_offer' } }],
    [
      'an arm the experiment does not have',
      { type: conversionType, props: { experiment: BANDIT, arm: 'nope' } },
    ],
    [
      'an unknown experiment',
      { type: conversionType, props: { experiment: 'no_such', arm: 'bundle_offer' } },
    ],
    [
      'an A/B experiment (no conversion event)',
      { type: conversionType, props: { experiment: 'hero_test', arm: 'free_shipping' } },
    ],
    ['no arm', { type: conversionType, props: { experiment: BANDIT } }],
  ])('counts nothing for %s', async (_name, over) => {
    const rules: RuleSet = { ...bundledRules }
    const before = await armStats(over.props.experiment)
    expect((await post(rules, [event(over)])).status).toBe(202)
    expect(await armStats(over.props.experiment)).toEqual(before)
    expect(decisionService(rules).stats.unsent()).toEqual({})
  })

  it('counts nothing without measurement consent', async () => {
    const rules: RuleSet = { ...bundledRules }
    const before = await armStats(BANDIT)
    const purchase = event({ type: conversionType, props: { experiment: BANDIT, arm: 'no_upsell' } })
    expect((await post(rules, [purchase], { storage: true, measurement: false })).status).toBe(202)
    expect(await armStats(BANDIT)).toEqual(before)
  })

  it('reads experiment ids as own rule keys only', () => {
    const e = { type: conversionType, props: { experiment: 'constructor', arm: 'x' } }
    expect(banditConversions(bundledRules.experiments, [e])).toEqual([])
  })
})
