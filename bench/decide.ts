/**
 * Decision cost per placement: Gatehouse's compiled evaluator against the GrowthBook SDK
 * (`@growthbook/growthbook`, GrowthBookClient, the server-side multi-user API) evaluating an
 * equivalent feature set (the demo storefront's three placements: audience rules with nested
 * conditions, an A/B test and a second experiment), in one run, on the same visitors.
 * Then compile time and bundle growth for a generated 500-placement rule set.
 *
 *   npx tsx bench/decide.ts
 */
import { gzipSync } from 'node:zlib'
import { GrowthBookClient } from '@growthbook/growthbook'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { visitorContext, visitorSchema } from '../worker/decide/explain'
import { compileEngine, decidePlacement } from '../worker/decide/engine'
import type { DecisionContext } from '../worker/decide/context'
import { compileRules } from '../worker/rules/compile'

const root = new URL('..', import.meta.url).pathname
const files: Record<string, string> = {}
for (const f of readdirSync(join(root, 'rules')))
  if (f.endsWith('.yaml')) files[f] = readFileSync(join(root, 'rules', f), 'utf8')
const compiled = compileRules(files)
if (!compiled.ok) throw new Error('rules/ does not compile')
const rules = compiled.ruleset
// The equivalent set for the comparison: the example rules without what the GrowthBook feature
// set below has no counterpart for (the global and per-placement holdouts, and the bandit, which
// becomes the plain 50/50 test GrowthBook runs). The full example set is timed separately.
const equivalent = structuredClone(rules)
equivalent.experiments.holdout.percent = 0
equivalent.experiments.placementHoldouts = {}
delete equivalent.experiments.experiments.upsell_bandit!.bandit
const engine = compileEngine(equivalent)
const fullEngine = compileEngine(rules)
const PLACEMENTS = ['home_hero', 'product_banner', 'cart_upsell']

// --- the same visitors for both -------------------------------------------------------------
const COUNTRIES = ['DE', 'AT', 'CH', 'FR', 'US', 'GB']
const N_VISITORS = 1000
const NOW = Date.parse('2026-03-10T10:30:00Z')
interface Synthetic {
  id: string
  country: string
  device: 'mobile' | 'desktop'
  purchases: number
  daysSincePurchase: number
  tier: string
  campaign: string | null
  addToCart: number
  intent: number
}
const visitors: Synthetic[] = Array.from({ length: N_VISITORS }, (_, i) => ({
  id: `visitor-${i}-0000000000`,
  country: COUNTRIES[i % COUNTRIES.length]!,
  device: i % 3 === 0 ? 'mobile' : 'desktop',
  purchases: i % 4,
  daysSincePurchase: (i * 7) % 200,
  tier: ['bronze', 'gold', 'platinum', 'silver'][i % 4]!,
  campaign: i % 10 === 0 ? 'wine_week' : null,
  addToCart: i % 5 === 0 ? 1 : 0,
  intent: (i % 10) / 10,
}))

const contexts: DecisionContext[] = visitors.map((v) =>
  visitorContext(
    visitorSchema.parse({
      time: new Date(NOW).toISOString(),
      location: { country: v.country },
      device: v.device,
      locale: 'de-AT',
      consent: { storage: true, measurement: true, personalization: true, advertising: true },
      identity: { anonymousId: v.id },
      attributes: { tier: { value: v.tier, age: '3d' } },
      events: {
        purchase: { count: v.purchases, lastSeen: `${v.daysSincePurchase}d` },
        add_to_cart: { count: v.addToCart, lastSeen: '5m' },
      },
      intent: v.intent,
      touchpoint: v.campaign ? { campaign: v.campaign } : null,
    }),
  ),
)

// --- the equivalent GrowthBook features ------------------------------------------------------
const features = {
  home_hero: {
    defaultValue: 'default_hero',
    rules: [
      {
        id: 'spring_returning',
        condition: {
          country: { $in: ['DE', 'AT', 'CH'] },
          purchases: { $gte: 1 },
          daysSincePurchase: { $lte: 90 },
        },
        force: 'spring_sale',
      },
      {
        id: 'hero_test',
        key: 'hero_test',
        variations: ['default_hero', 'free_shipping'],
        weights: [0.5, 0.5],
        coverage: 1,
        hashAttribute: 'id',
        hashVersion: 2,
      },
    ],
  },
  product_banner: {
    defaultValue: 'standard_banner',
    rules: [
      { id: 'vip', condition: { tier: { $in: ['gold', 'platinum'] } }, force: 'vip_banner' },
      { id: 'wine', condition: { campaign: 'wine_week', age_verified: true }, force: 'wine_offer' },
    ],
  },
  cart_upsell: {
    defaultValue: 'no_upsell',
    rules: [
      {
        id: 'express',
        condition: {
          $and: [
            { $or: [{ addToCart: { $gte: 1 } }, { intent: { $gte: 0.7 } }] },
            { device: { $in: ['mobile', 'desktop', 'tablet'] } },
          ],
        },
        force: 'weekday_express',
      },
      {
        id: 'upsell',
        key: 'upsell_test',
        variations: ['no_upsell', 'bundle_offer'],
        weights: [0.5, 0.5],
        coverage: 1,
        hashAttribute: 'id',
        hashVersion: 2,
      },
    ],
  },
}
const gb = new GrowthBookClient().initSync({ payload: { features } as never })
const userContexts = visitors.map((v) => ({
  attributes: {
    id: v.id,
    country: v.country,
    device: v.device,
    purchases: v.purchases,
    daysSincePurchase: v.daysSincePurchase,
    tier: v.tier,
    campaign: v.campaign,
    addToCart: v.addToCart,
    intent: v.intent,
  },
}))

// --- timing ----------------------------------------------------------------------------------
// The machine is shared, so the two sides run in alternating blocks and each keeps its fastest
// block: background load hits both alike and the ratio stays meaningful.
let sink = 0
function measure(label: string, blocks: number, perBlock: number, fn: (i: number) => void): number {
  let best = Infinity
  for (let i = 0; i < 20_000; i++) fn(i) // warm-up: let the JIT settle
  for (let b = 0; b < blocks; b++) {
    const start = performance.now()
    for (let i = 0; i < perBlock; i++) fn(b * perBlock + i)
    best = Math.min(best, ((performance.now() - start) * 1e6) / perBlock / PLACEMENTS.length)
  }
  void label
  return best
}

const ourDecision = (i: number): void => {
  const ctx = contexts[i % N_VISITORS]!
  for (const p of PLACEMENTS) sink += decidePlacement(engine, p, ctx)!.trace.length
}
const theirDecision = (i: number): void => {
  const uc = userContexts[i % N_VISITORS]!
  for (const p of PLACEMENTS) sink += String(gb.evalFeature(p, uc).value).length
}
const BLOCKS = 30
const PER_BLOCK = 10_000
console.log(
  `decision cost, ${PLACEMENTS.length} placements per visitor, ${N_VISITORS} visitors, best of ${BLOCKS} alternating blocks of ${PER_BLOCK}\n`,
)
let ours = Infinity
let theirs = Infinity
for (let round = 0; round < 3; round++) {
  ours = Math.min(ours, measure('gatehouse', BLOCKS / 3, PER_BLOCK, ourDecision))
  theirs = Math.min(theirs, measure('growthbook', BLOCKS / 3, PER_BLOCK, theirDecision))
}
console.log(`gatehouse decidePlacement                 ${ours.toFixed(0).padStart(7)} ns per placement`)
console.log(`growthbook GrowthBookClient.evalFeature   ${theirs.toFixed(0).padStart(7)} ns per placement`)
console.log(`\nratio: gatehouse is ${(theirs / ours).toFixed(1)}x faster per placement (target >= 5x)\n`)
const full = measure('full', 5, PER_BLOCK, (i) => {
  const ctx = contexts[i % N_VISITORS]!
  for (const p of PLACEMENTS) sink += decidePlacement(fullEngine, p, ctx)!.trace.length
})
console.log(
  `gatehouse, full example set (holdouts + bandit) ${full.toFixed(0).padStart(7)} ns per placement\n`,
)

// --- 500 placements: compile time and bundle growth -------------------------------------------
function generated(n: number): Record<string, string> {
  const aud = ['audiences:']
  const pl = ['placements:']
  const ex = ['experiments:']
  for (let i = 0; i < n; i++) {
    aud.push(
      `  aud_${i}:`,
      `    when:`,
      `      all:`,
      `        - { field: geo.country, in: [DE, AT, CH, FR] }`,
      `        - any: [{ field: events.purchase.count, gte: ${i % 5} }, { field: customer.tier, eq: gold, maxAge: 30d }]`,
    )
    pl.push(
      `  placement_${i}:`,
      `    fallback: base`,
      `    variants:`,
      `      base: { status: approved, requires: [], content: { default: { html: '<p>Base ${i}</p>' }, de: { html: '<p>Basis ${i}</p>' } } }`,
      `      promo: { status: approved, content: { default: { html: '<p>Promo ${i}</p>' }, de-AT: { html: '<p>Aktion ${i}</p>' } } }`,
      `      test_b: { status: approved, content: { default: { html: '<p>B ${i}</p>' } } }`,
      `    rules:`,
      `      - { id: r_${i}, when: { audience: aud_${i} }, variant: promo }`,
      `      - { id: t_${i}, experiment: exp_${i} }`,
    )
    ex.push(
      `  exp_${i}: { placement: placement_${i}, control: base, arms: [{ variant: base }, { variant: test_b }] }`,
    )
  }
  return {
    'audiences.yaml': aud.join('\n'),
    'placements.yaml': pl.join('\n'),
    'experiments.yaml': ex.join('\n'),
  }
}

const big = generated(500)
const t0 = performance.now()
const bigCompiled = compileRules(big)
const t1 = performance.now()
if (!bigCompiled.ok)
  throw new Error(
    bigCompiled.errors
      .slice(0, 3)
      .map((e) => e.message)
      .join('\n'),
  )
const bigEngine = compileEngine(bigCompiled.ruleset)
const t2 = performance.now()
const baseJson = JSON.stringify(rules)
const bigJson = JSON.stringify({ ...rules, ...bigCompiled.ruleset, site: rules.site })
const growth = bigJson.length - baseJson.length
const growthGz = gzipSync(bigJson).length - gzipSync(baseJson).length
const bigTime = measure('gatehouse, 500-placement set', 5, PER_BLOCK, (i) => {
  const ctx = contexts[i % N_VISITORS]!
  for (let k = 0; k < PLACEMENTS.length; k++)
    sink += decidePlacement(bigEngine, `placement_${(i * 3 + k) % 500}`, ctx)!.trace.length
})
console.log(`500 placements: build-time compile (YAML -> validated JSON) ${(t1 - t0).toFixed(0)} ms`)
console.log(`500 placements: per-isolate compile (JSON -> closures)     ${(t2 - t1).toFixed(1)} ms`)
console.log(
  `500 placements: bundle growth ${(growth / 1024).toFixed(0)} KiB raw, ${(growthGz / 1024).toFixed(0)} KiB gzip`,
)
console.log(`(per-placement cost in the 500 set: ${bigTime.toFixed(0)} ns)`)
if (sink === 42) console.log('')
