/**
 * The decision engine: the compiled rule set turned into closures once per isolate
 * (`compileEngine`), and one decision per placement (`decidePlacement`). Pure: no Workers APIs, so
 * the same code runs in the Worker, in `rules:explain` and in the benchmarks. It never throws at
 * request time; every decision carries its reason and the trace that led to it.
 */
import { StatePart } from '../../durable-objects/customer/contract'
import type { RuleSet } from '../rules/types'
import type { ConditionInput } from '../rules/concerns/audiences'
import { bucketPrefixed, hashPrefix, pickWeighted, type HashPrefix, type HashVersion } from './bucket'
import { thompsonPick } from './bandit'
import { compileCondition, conditionLibrary, memoGeneration, type Compiled, type Scope } from './condition'
import type { BanditStatsReader, DecisionContext, PurposeFlags } from './context'
import { parseDuration } from './duration'
import { pickLocale } from './locale'
import { inSchedule, type Schedule } from './schedule'

export type Purpose = keyof PurposeFlags

/** Why a decision is what it is (`reason` in docs/api.md "POST /v1/decide"). */
export type Reason =
  `rule:${string}` | 'holdout' | 'cap' | 'consent' | 'freshness' | 'compliance' | 'schedule' | 'fallback'

export interface ExperimentAssignment {
  id: string
  arm: string
  holdout: boolean
}

export interface EngineDecision {
  placement: string
  variant: string
  content: Record<string, unknown>
  /** The locale whose content was used (`de`, `default`), or null when the variant has none. */
  locale: string | null
  reason: Reason
  /** Why the fallback variant was shown (`no_match`, `state_unavailable`, `consent`, ...); null when a rule chose. */
  fallback: string | null
  experiment: ExperimentAssignment | null
  rulesVersion: string
  trace: string[]
  /** Conditions that could not be evaluated (evaluated as false); the caller logs them. */
  errors: string[]
  /** Set when showing this variant must first reserve caps in customer state. */
  reserve: { campaign: string | null; tags: string[] } | null
}

interface CompiledVariant {
  id: string
  /** Counted against caps: has a campaign or tags (and is not the fallback). */
  capped: boolean
  requires: Purpose[]
  compliance: Array<{ name: string; test: Compiled['test'] }>
  schedule: Schedule | null
  maxAgeMs: number | null
  campaign: string | null
  tags: string[]
  content: Record<string, Record<string, unknown>>
  contentKey: string | null
  /** Visitor locale -> the content locale it resolves to (few distinct locales; filled on use). */
  localeCache: Map<string, string | null>
  /** The last visitor locale asked for and its answer: most traffic repeats one locale. */
  lastWanted: string | null
  lastLocale: string | null
}

interface CompiledExperiment {
  id: string
  status: 'running' | 'paused' | 'ended'
  control: string
  arms: string[]
  weights: number[]
  seed: string
  hashVersion: HashVersion
  traffic: number
  layer: { id: string; seed: string; start: number; end: number } | null
  requires: Purpose[]
  bandit: { rebalanceMs: number } | null
  /** `<seed>:<key>:` prefixes, encoded once (arm, traffic, layer). */
  prefixes: { arm: HashPrefix; traffic: HashPrefix; layer: HashPrefix | null }
}

interface CompiledRule {
  id: string
  /** The rule's variant, resolved at compile time (null for an experiment rule or an undeployed variant). */
  target: CompiledVariant | null
  /** Per experiment arm (same order as the experiment's arms): variant, assignment and trace lines. */
  arms: Array<{
    variant: CompiledVariant | null
    assignment: ExperimentAssignment
    line: string
    shown: string
  }>
  /** Trace line when the rule's own variant is shown. */
  shown: string
  /** `rule:<id>`, built once. */
  reason: `rule:${string}`
  /** Trace line, built once. */
  noMatch: string
  when: Compiled | null
  variant: string | null
  experiment: CompiledExperiment | null
}

export interface CompiledPlacement {
  name: string
  fallback: CompiledVariant
  variants: Map<string, CompiledVariant>
  rules: CompiledRule[]
  /**
   * The parts of customer state (StatePart flags) its rules, compliance guards and capped
   * variants read; the caller reads those first. 0: no state call at all.
   */
  state: number
  holdout: number
  holdoutPrefix: HashPrefix
  maxAgeMs: number
}

export interface Engine {
  version: string
  placements: Map<string, CompiledPlacement>
  experiments: Map<string, CompiledExperiment>
  holdout: { percent: number; seed: string; requires: Purpose[]; prefix: HashPrefix }
  pages: Array<{ pattern: string; prefix: boolean; placements: string[] }>
  localeFallbacks: Record<string, string[]>
  defaultLocale: string
  stateBudgetMs: number
  stats: { cacheTtlMs: number; flushMs: number }
  /** Problems found while compiling (impossible conditions); they evaluate to false. */
  problems: string[]
}

const DAY = 86_400_000

/** Compiles the rule set into closures. Call once per isolate and reuse. */
export function compileEngine(
  rules: Pick<RuleSet, 'version' | 'audiences' | 'placements' | 'experiments'>,
): Engine {
  const problems: string[] = []
  const lib = conditionLibrary(
    { audience: rules.audiences.audiences, trait: rules.audiences.traits },
    problems,
  )
  const globalMaxAge = parseDuration(rules.placements.freshness.maxAttributeAge) ?? 90 * DAY
  const guards = {
    regulated: compileCondition(rules.placements.guards.regulated, lib, 'guards.regulated', problems),
    age_restricted: compileCondition(
      rules.placements.guards.age_restricted,
      lib,
      'guards.age_restricted',
      problems,
    ),
  }

  // Layers: each experiment in a layer owns a contiguous range of it, in declaration order.
  const layerOffsets = new Map<string, number>()
  const experiments = new Map<string, CompiledExperiment>()
  for (const [id, e] of Object.entries(rules.experiments.experiments)) {
    let layer: CompiledExperiment['layer'] = null
    if (e.layer) {
      const start = layerOffsets.get(e.layer) ?? 0
      const end = Math.min(1, start + e.traffic / 100)
      layerOffsets.set(e.layer, end)
      layer = { id: e.layer, seed: rules.experiments.layers[e.layer]?.seed ?? e.layer, start, end }
    }
    experiments.set(id, {
      id,
      status: e.status,
      control: e.control,
      arms: e.arms.map((a) => a.variant),
      weights: e.arms.map((a) => a.weight),
      seed: e.seed ?? id,
      hashVersion: e.hashVersion,
      traffic: e.traffic,
      layer,
      requires: [...e.requires],
      bandit: e.bandit ? { rebalanceMs: parseDuration(e.bandit.rebalance) ?? 3_600_000 } : null,
      prefixes: {
        arm: hashPrefix(e.hashVersion, e.seed ?? id, id),
        traffic: hashPrefix(e.hashVersion, e.seed ?? id, `traffic:${id}`),
        layer: layer ? hashPrefix(e.hashVersion, layer.seed, `layer:${layer.id}`) : null,
      },
    })
  }

  const placements = new Map<string, CompiledPlacement>()
  for (const [name, p] of Object.entries(rules.placements.placements)) {
    const maxAgeMs = p.maxAttributeAge ? (parseDuration(p.maxAttributeAge) ?? globalMaxAge) : globalMaxAge
    const variants = new Map<string, CompiledVariant>()
    let capped = false
    for (const [id, v] of Object.entries(p.variants)) {
      const isFallback = id === p.fallback
      if (!isFallback && (v.campaign || v.tags.length > 0)) capped = true
      variants.set(id, {
        id,
        capped: !isFallback && (v.campaign !== undefined || v.tags.length > 0),
        requires: [...(v.requires ?? (isFallback ? [] : ['personalization']))],
        compliance: v.compliance.map((g) => ({ name: g, test: guards[g].test })),
        schedule: (v.schedule as Schedule | undefined) ?? null,
        maxAgeMs: v.maxAttributeAge ? parseDuration(v.maxAttributeAge) : null,
        campaign: v.campaign ?? null,
        tags: [...v.tags],
        content: frozenContent(v.content as Record<string, Record<string, unknown>>, v.contentKey ?? null),
        contentKey: v.contentKey ?? null,
        localeCache: new Map(),
        lastWanted: null,
        lastLocale: null,
      })
    }
    const compiledRules: CompiledRule[] = p.rules.map((r, i) => {
      // An experiment's audience targets every rule that runs it: the rule applies to that audience only.
      const audience = r.experiment ? rules.experiments.experiments[r.experiment]?.audience : undefined
      const when: ConditionInput | undefined =
        audience === undefined ? r.when : r.when ? { all: [r.when, { audience }] } : { audience }
      return {
        id: r.id,
        target: r.variant ? (variants.get(r.variant) ?? null) : null,
        arms: (r.experiment ? (experiments.get(r.experiment)?.arms ?? []) : []).map((arm) => ({
          variant: variants.get(arm) ?? null,
          assignment: Object.freeze({ id: r.experiment!, arm, holdout: false }),
          line: `rule ${r.id}: experiment ${r.experiment} arm ${arm}`,
          shown: `=> ${arm} (rule:${r.id})`,
        })),
        shown: `=> ${r.variant} (rule:${r.id})`,
        reason: `rule:${r.id}` as const,
        noMatch: `rule ${r.id}: no match`,
        when: when ? compileCondition(when, lib, `placements.${name}.rules[${i}]`, problems) : null,
        variant: r.variant ?? null,
        experiment: r.experiment ? (experiments.get(r.experiment) ?? null) : null,
      }
    })
    let state = capped ? StatePart.suppressions : 0
    for (const v of variants.values())
      for (const g of v.compliance)
        state |= (g.name === 'regulated' ? guards.regulated : guards.age_restricted).state
    for (const r of compiledRules) state |= r.when?.state ?? 0
    const fallback =
      variants.get(p.fallback) ??
      // Only reachable with a rule set that skipped the compiler: show nothing rather than throw.
      emptyVariant(p.fallback, problems, name)
    placements.set(name, {
      name,
      fallback,
      variants,
      rules: compiledRules,
      state,
      holdout: rules.experiments.placementHoldouts[name] ?? 0,
      holdoutPrefix: hashPrefix(1, rules.experiments.holdout.seed, `holdout:${name}`),
      maxAgeMs,
    })
  }

  return {
    version: rules.version,
    placements,
    experiments,
    holdout: {
      ...rules.experiments.holdout,
      requires: [...rules.experiments.holdout.requires],
      prefix: hashPrefix(1, rules.experiments.holdout.seed, 'holdout'),
    },
    pages: Object.entries(rules.placements.pages).map(([pattern, names]) => ({
      pattern: pattern.endsWith('*') ? pattern.slice(0, -1) : pattern,
      prefix: pattern.endsWith('*'),
      placements: names,
    })),
    localeFallbacks: rules.placements.locales.fallbacks,
    defaultLocale: rules.placements.locales.default,
    stateBudgetMs: rules.placements.state.budgetMs,
    stats: {
      cacheTtlMs: rules.experiments.stats.cacheTtlSeconds * 1000,
      flushMs: rules.experiments.stats.flushSeconds * 1000,
    },
    problems,
  }
}

/** Per-locale content, frozen (decisions share it), with the content key folded in. */
function frozenContent(
  content: Record<string, Record<string, unknown>>,
  contentKey: string | null,
): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  for (const [locale, body] of Object.entries(content)) {
    out[locale] = deepFreeze(contentKey ? { contentKey, ...body } : { ...body })
  }
  if (contentKey && !out.default) out.default = deepFreeze({ contentKey })
  return out
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v)
  }
  return value
}

function emptyVariant(id: string, problems: string[], placement: string): CompiledVariant {
  problems.push(`placement ${placement}: fallback variant "${id}" is missing`)
  return {
    id,
    capped: false,
    requires: [],
    compliance: [],
    schedule: null,
    maxAgeMs: null,
    campaign: null,
    tags: [],
    content: {},
    contentKey: null,
    localeCache: new Map(),
    lastWanted: null,
    lastLocale: null,
  }
}

/** The placements a page path decides, from `pages` in placements.yaml (exact paths beat prefixes). */
export function placementsForPath(engine: Engine, path: string): string[] {
  let best: { len: number; placements: string[] } | null = null
  for (const page of engine.pages) {
    const hit = page.prefix ? path.startsWith(page.pattern) : path === page.pattern
    if (!hit) continue
    const len = page.prefix ? page.pattern.length : Infinity
    if (!best || len > best.len) best = { len, placements: page.placements }
  }
  return best?.placements ?? []
}

export interface DecideOptions {
  banditStats?: BanditStatsReader
}

// Shared default: a `= {}` default would allocate an object on every call.
const NO_OPTIONS: DecideOptions = Object.freeze({})

/** Decides one placement for one visitor. Returns null for a placement the rule set does not have. */
export function decidePlacement(
  engine: Engine,
  name: string,
  ctx: DecisionContext,
  opts: DecideOptions = NO_OPTIONS,
): EngineDecision | null {
  const p = engine.placements.get(name)
  if (!p) return null
  const trace: string[] = []
  // No closures on this hot path: bundlers that keep function names (wrangler's esbuild does)
  // pay a defineProperty for every closure created per call.
  if (p.state !== 0 && ctx.state === 'unavailable') {
    trace.push('customer state did not answer within its time budget')
    return finish(engine, name, ctx, trace, null, p.fallback, 'fallback', 'state_unavailable', null)
  }

  const unit = ctx.identity.basis !== 'ephemeral' ? ctx.identity.unitId : null

  if (unit && engine.holdout.percent > 0 && hasAll(ctx, engine.holdout.requires)) {
    if (bucketPrefixed(engine.holdout.prefix, unit) * 100 < engine.holdout.percent) {
      trace.push(`in the global holdout (${engine.holdout.percent}%)`)
      return finish(engine, name, ctx, trace, null, p.fallback, 'holdout', 'holdout', {
        id: 'holdout',
        arm: 'holdout',
        holdout: true,
      })
    }
  }
  if (unit && p.holdout > 0 && hasAll(ctx, engine.holdout.requires)) {
    if (bucketPrefixed(p.holdoutPrefix, unit) * 100 < p.holdout) {
      trace.push(`in the holdout of ${name} (${p.holdout}%)`)
      return finish(engine, name, ctx, trace, null, p.fallback, 'holdout', 'holdout', {
        id: `holdout:${name}`,
        arm: 'holdout',
        holdout: true,
      })
    }
  }

  const state = typeof ctx.state === 'object' ? ctx.state : null
  let firstBlock: Exclude<Reason, `rule:${string}`> | null = null
  let staleSeen = false

  // One scope for the whole placement (fewer allocations); the freshness limit and stale list are per rule.
  // Its memo is shared by the rules, so an audience used by several rules is evaluated once.
  // Audience results are memoised by generation (no Map per decision); see `Scope.gen`.
  const scope: Scope = {
    ctx,
    trace,
    maxAgeMs: p.maxAgeMs,
    stale: null,
    memo: null,
    errors: null,
    gen: memoGeneration(),
  }
  for (const rule of p.rules) {
    const target = rule.target
    const maxAgeMs = target?.maxAgeMs ?? p.maxAgeMs
    if (maxAgeMs !== scope.maxAgeMs) {
      // Audience results depend on the freshness limit: a different limit starts a fresh memo.
      scope.maxAgeMs = maxAgeMs
      scope.gen = memoGeneration()
    }
    scope.stale = null
    const matched = rule.when ? rule.when.test(scope) : true
    // The predicate may have filled the stale list (TypeScript cannot see through the call).
    const stale = scope.stale as string[] | null
    if (stale !== null) {
      staleSeen = true
      trace.push(`rule ${rule.id}: ignored stale ${stale.map((a) => `customer.${a}`).join(', ')}`)
    }
    if (!matched) {
      trace.push(rule.noMatch)
      continue
    }
    let variant = target
    let experiment: ExperimentAssignment | null = null
    let shown = rule.shown
    if (rule.experiment) {
      const e = rule.experiment
      if (e.status !== 'running') {
        trace.push(`rule ${rule.id}: experiment ${e.id} is ${e.status}`)
        continue
      }
      if (!unit || !hasAll(ctx, e.requires)) {
        trace.push(
          `rule ${rule.id}: experiment ${e.id} not bucketed: ${!unit ? 'no stable visitor id' : `needs ${e.requires.join(', ')} consent`}`,
        )
        const control = p.variants.get(e.control)
        const blocked = control ? guardBlock(control, ctx, state, trace) : 'fallback'
        if (control && !blocked)
          return finish(engine, name, ctx, trace, scope.errors, control, 'consent', null, null)
        return finish(engine, name, ctx, trace, scope.errors, p.fallback, 'consent', 'consent', null)
      }
      const armIndex = assignArmIndex(e, unit, ctx.now, opts.banditStats)
      const arm = armIndex >= 0 ? rule.arms[armIndex] : undefined
      if (!arm) {
        trace.push(`rule ${rule.id}: not enrolled in experiment ${e.id}`)
        continue
      }
      trace.push(arm.line)
      experiment = arm.assignment
      variant = arm.variant
      shown = arm.shown
    }
    if (!variant) {
      trace.push(`rule ${rule.id}: its variant is not deployed`)
      continue
    }
    const blocked = guardBlock(variant, ctx, state, trace)
    if (blocked) {
      firstBlock ??= blocked
      continue
    }
    if (variant.capped) {
      if (!state) {
        trace.push(`variant ${variant.id}: capped, but there is no customer state to count against`)
        firstBlock ??= 'cap'
        continue
      }
      return finish(
        engine,
        name,
        ctx,
        trace,
        scope.errors,
        variant,
        rule.reason,
        null,
        experiment,
        { campaign: variant.campaign, tags: variant.tags },
        shown,
      )
    }
    return finish(engine, name, ctx, trace, scope.errors, variant, rule.reason, null, experiment, null, shown)
  }

  if (firstBlock)
    return finish(engine, name, ctx, trace, scope.errors, p.fallback, firstBlock, firstBlock, null)
  if (staleSeen)
    return finish(engine, name, ctx, trace, scope.errors, p.fallback, 'freshness', 'freshness', null)
  trace.push('no rule applied')
  return finish(engine, name, ctx, trace, scope.errors, p.fallback, 'fallback', 'no_match', null)
}

function hasAll(ctx: DecisionContext, purposes: readonly Purpose[]): boolean {
  const granted = ctx.consent.purposes
  for (let i = 0; i < purposes.length; i++) {
    const p = purposes[i]
    // Property reads by name, not by computed key: this stays monomorphic and cheap.
    if (
      p === 'personalization'
        ? !granted.personalization
        : p === 'measurement'
          ? !granted.measurement
          : p === 'storage'
            ? !granted.storage
            : !granted.advertising
    )
      return false
  }
  return true
}

function finish(
  engine: Engine,
  placement: string,
  ctx: DecisionContext,
  trace: string[],
  errors: string[] | null,
  v: CompiledVariant,
  reason: Reason,
  fallback: string | null,
  experiment: ExperimentAssignment | null,
  reserve: EngineDecision['reserve'] = null,
  line: string | null = null,
): EngineDecision {
  const wanted = ctx.locale ?? engine.defaultLocale
  let locale: string | null | undefined
  if (wanted === v.lastWanted) locale = v.lastLocale
  else {
    locale = v.localeCache.get(wanted)
    if (locale === undefined) {
      locale = pickLocale(wanted, v.content, engine.localeFallbacks)
      if (v.localeCache.size < 256) v.localeCache.set(wanted, locale)
    }
    v.lastWanted = wanted
    v.lastLocale = locale
  }
  trace.push(line ?? (fallback ? `=> ${v.id} (${reason}, fallback: ${fallback})` : `=> ${v.id} (${reason})`))
  return {
    placement,
    variant: v.id,
    // Content objects are frozen at compile time and shared between decisions.
    content: locale ? v.content[locale]! : EMPTY,
    locale,
    reason,
    fallback,
    experiment,
    rulesVersion: engine.version,
    trace,
    errors: errors ?? NO_ERRORS,
    reserve,
  }
}

const EMPTY: Record<string, unknown> = Object.freeze({})
const NO_ERRORS: string[] = Object.freeze([]) as unknown as string[]

/** The guard that stops `v` from being shown, or null. Order: schedule, consent, compliance, suppression. */
function guardBlock(
  v: CompiledVariant,
  ctx: DecisionContext,
  state: Exclude<DecisionContext['state'], 'unavailable'>,
  trace: string[],
): 'schedule' | 'consent' | 'compliance' | 'cap' | null {
  if (v.schedule) {
    let ok: ReturnType<typeof inSchedule>
    try {
      ok = inSchedule(v.schedule, ctx.now)
    } catch {
      ok = { ok: false, reason: 'hours' }
    }
    if (!ok.ok) {
      trace.push(`variant ${v.id}: outside its schedule (${ok.reason})`)
      return 'schedule'
    }
  }
  if (!hasAll(ctx, v.requires)) {
    trace.push(`variant ${v.id}: needs ${v.requires.join(', ')} consent`)
    return 'consent'
  }
  for (const g of v.compliance) {
    const scope: Scope = {
      ctx,
      trace,
      maxAgeMs: v.maxAgeMs ?? Infinity,
      stale: null,
      memo: null,
      errors: null,
    }
    if (!g.test(scope)) {
      trace.push(`variant ${v.id}: ${g.name} and the visitor lacks the explicit attribute`)
      return 'compliance'
    }
  }
  if (v.campaign && state?.suppressedCampaigns.includes(v.campaign)) {
    trace.push(`variant ${v.id}: campaign ${v.campaign} suppressed for this visitor`)
    return 'cap'
  }
  return null
}

/** The arm for `unit`, or null when the unit falls outside the experiment's traffic or layer range. */
export function assignArm(
  e: CompiledExperiment,
  unit: string,
  now: number,
  stats?: BanditStatsReader,
): string | null {
  const i = assignArmIndex(e, unit, now, stats)
  return i >= 0 ? e.arms[i]! : null
}

/** Index into `e.arms` for `unit`, or -1 when the unit is not enrolled. */
function assignArmIndex(e: CompiledExperiment, unit: string, now: number, stats?: BanditStatsReader): number {
  if (e.layer && e.prefixes.layer) {
    const u = bucketPrefixed(e.prefixes.layer, unit)
    if (u < e.layer.start || u >= e.layer.end) return -1
  } else if (e.traffic < 100 && bucketPrefixed(e.prefixes.traffic, unit) * 100 >= e.traffic) {
    return -1
  }
  if (e.bandit) {
    const epoch = Math.floor(now / e.bandit.rebalanceMs)
    return thompsonPick(e.arms, stats?.(e.id), `${e.seed}:${e.id}:${unit}:${epoch}`)
  }
  return pickWeighted(bucketPrefixed(e.prefixes.arm, unit), e.weights)
}

/**
 * Turns a decision into its placement's fallback (after the fact: a cap reservation was refused,
 * or customer state did not answer in time), keeping the trace.
 */
export function toFallback(
  engine: Engine,
  d: EngineDecision,
  locale: string | null,
  reason: Exclude<Reason, `rule:${string}`>,
  cause: string,
  note: string,
): EngineDecision {
  const p = engine.placements.get(d.placement)
  if (!p) return d
  const v = p.fallback
  const picked = pickLocale(locale ?? engine.defaultLocale, v.content, engine.localeFallbacks)
  return {
    ...d,
    variant: v.id,
    content: picked ? v.content[picked]! : EMPTY,
    locale: picked,
    reason,
    fallback: cause,
    experiment: null,
    trace: [...d.trace, note, `=> ${v.id} (${reason}, fallback: ${cause})`],
    reserve: null,
  }
}
