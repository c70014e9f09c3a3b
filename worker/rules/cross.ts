/**
 * Checks across rule files (a placement naming an audience defined elsewhere, ...). Each check
 * returns issues that point at the file and path of the offending value; `candidates` lets the
 * compiler suggest the nearest valid name. `pruneUnapproved` then compiles out variants that are
 * not approved, with warnings.
 */
import type { ConditionInput } from './concerns/audiences'
import type { ConcernName } from './concerns'
import { fieldCandidates, resolveField } from '../decide/fields'
import type { RuleSet } from './types'
import { stateRuleIssues } from './concerns/triggers'
import { metricIssues } from './concerns/experiments'
import { canonicalLocale } from '../decide/locale'
import { editDistance, nearest } from './suggest'

export interface CrossIssue {
  concern: ConcernName
  path: Array<string | number>
  message: string
  /** Valid names: the compiler suggests the nearest one to the value found at `path`. */
  candidates?: string[]
  suggestion?: string
  /** A warning is printed but does not stop the build (intent is plausible, e.g. a cap set up early). */
  severity?: 'warning'
  /** Where an earlier occurrence is (a duplicate's first): `{first}` in the message becomes its line. */
  firstAt?: Path
}

export type CrossCheck = (rules: Omit<RuleSet, 'version'>) => CrossIssue[]

type Path = Array<string | number>

/** Every reference and field test inside a condition, with its path. */
function walk(
  cond: ConditionInput,
  path: Path,
  visit: (kind: 'audience' | 'trait' | 'field', name: string, path: Path) => void,
): void {
  cond.all?.forEach((c, i) => walk(c, [...path, 'all', i], visit))
  cond.any?.forEach((c, i) => walk(c, [...path, 'any', i], visit))
  if (cond.not) walk(cond.not, [...path, 'not'], visit)
  if (cond.audience !== undefined) visit('audience', cond.audience, [...path, 'audience'])
  if (cond.trait !== undefined) visit('trait', cond.trait, [...path, 'trait'])
  if (cond.field !== undefined) visit('field', cond.field, [...path, 'field'])
}

/** Each condition in the rule set with the concern and path it sits at. */
function conditions(
  rules: Omit<RuleSet, 'version'>,
): Array<{ concern: ConcernName; path: Path; cond: ConditionInput }> {
  const out: Array<{ concern: ConcernName; path: Path; cond: ConditionInput }> = []
  for (const [n, t] of Object.entries(rules.audiences.traits))
    out.push({ concern: 'audiences', path: ['traits', n, 'when'], cond: t.when })
  for (const [n, a] of Object.entries(rules.audiences.audiences))
    out.push({ concern: 'audiences', path: ['audiences', n, 'when'], cond: a.when })
  for (const [g, c] of Object.entries(rules.placements.guards))
    out.push({ concern: 'placements', path: ['guards', g], cond: c })
  for (const [pn, p] of Object.entries(rules.placements.placements)) {
    p.rules.forEach((r, i) => {
      if (r.when)
        out.push({ concern: 'placements', path: ['placements', pn, 'rules', i, 'when'], cond: r.when })
    })
  }
  return out
}

/** Audience/trait references resolve; field names are known. */
const references: CrossCheck = (rules) => {
  const issues: CrossIssue[] = []
  const names = {
    audience: Object.keys(rules.audiences.audiences),
    trait: Object.keys(rules.audiences.traits),
  }
  for (const { concern, path, cond } of conditions(rules)) {
    walk(cond, path, (kind, name, at) => {
      if (kind === 'field') {
        const f = resolveField(name)
        if (!f.ok)
          issues.push({ concern, path: at, message: f.error.message, candidates: fieldCandidates(name) })
        return
      }
      if (!names[kind].includes(name)) {
        issues.push({
          concern,
          path: at,
          message: `unknown ${kind} "${name}"${names[kind].length ? `; ${kind}s are ${names[kind].join(', ')}` : `: no ${kind}s are defined`}`,
          candidates: names[kind],
        })
      }
    })
  }
  return issues
}

/** Audiences and traits must not refer to themselves, directly or through others. */
const cycles: CrossCheck = (rules) => {
  const issues: CrossIssue[] = []
  const defs = new Map<string, { path: Path; cond: ConditionInput }>()
  for (const [n, t] of Object.entries(rules.audiences.traits))
    defs.set(`trait:${n}`, { path: ['traits', n, 'when'], cond: t.when })
  for (const [n, a] of Object.entries(rules.audiences.audiences))
    defs.set(`audience:${n}`, { path: ['audiences', n, 'when'], cond: a.when })
  const edges = new Map<string, Array<{ to: string; path: Path }>>()
  for (const [key, d] of defs) {
    const out: Array<{ to: string; path: Path }> = []
    walk(d.cond, d.path, (kind, name, at) => {
      if (kind !== 'field' && defs.has(`${kind}:${name}`)) out.push({ to: `${kind}:${name}`, path: at })
    })
    edges.set(key, out)
  }
  const state = new Map<string, 'active' | 'done'>()
  const reported = new Set<string>()
  const visit = (key: string, chain: string[]): void => {
    state.set(key, 'active')
    for (const e of edges.get(key) ?? []) {
      if (state.get(e.to) === 'active') {
        const cycle = [...chain.slice(chain.indexOf(e.to)), key, e.to].map((k) => k.replace(':', ' '))
        const id = [...new Set(cycle)].sort().join('|')
        if (!reported.has(id)) {
          reported.add(id)
          issues.push({
            concern: 'audiences',
            path: e.path,
            message: `reference cycle: ${cycle.join(' -> ')}`,
          })
        }
      } else if (!state.has(e.to)) visit(e.to, [...chain, key])
    }
    state.set(key, 'done')
  }
  for (const key of defs.keys()) if (!state.has(key)) visit(key, [])
  return issues
}

/** Variants, fallbacks, experiments and pages named in placements.yaml exist. */
const placementNames: CrossCheck = (rules) => {
  const issues: CrossIssue[] = []
  const placements = rules.placements.placements
  const experiments = rules.experiments.experiments
  for (const [pn, p] of Object.entries(placements)) {
    const variants = Object.keys(p.variants)
    if (!p.variants[p.fallback]) {
      issues.push({
        concern: 'placements',
        path: ['placements', pn, 'fallback'],
        message: `unknown fallback variant "${p.fallback}"; variants of ${pn} are ${variants.join(', ')}`,
        candidates: variants,
      })
    }
    p.rules.forEach((r, i) => {
      const first = p.rules.findIndex((o) => o.id === r.id)
      if (first !== i) {
        issues.push({
          concern: 'placements',
          path: ['placements', pn, 'rules', i, 'id'],
          message: `duplicate rule id "${r.id}" (first used at {first}): rule ids must differ within a placement, since decisions say rule:<id>`,
          firstAt: ['placements', pn, 'rules', first, 'id'],
        })
      }
      if (r.variant !== undefined && !p.variants[r.variant]) {
        issues.push({
          concern: 'placements',
          path: ['placements', pn, 'rules', i, 'variant'],
          message: `unknown variant "${r.variant}"; variants of ${pn} are ${variants.join(', ')}`,
          candidates: variants,
        })
      }
      if (r.experiment !== undefined) {
        const e = experiments[r.experiment]
        if (!e) {
          issues.push({
            concern: 'placements',
            path: ['placements', pn, 'rules', i, 'experiment'],
            message: `unknown experiment "${r.experiment}"`,
            candidates: Object.keys(experiments),
          })
        } else if (e.placement !== pn) {
          issues.push({
            concern: 'placements',
            path: ['placements', pn, 'rules', i, 'experiment'],
            message: `experiment "${r.experiment}" is for placement "${e.placement}", not "${pn}"`,
          })
        }
      }
    })
  }
  for (const [page, names] of Object.entries(rules.placements.pages)) {
    names.forEach((n, i) => {
      if (!placements[n]) {
        issues.push({
          concern: 'placements',
          path: ['pages', page, i],
          message: `unknown placement "${n}"`,
          candidates: Object.keys(placements),
        })
      }
    })
  }
  return issues
}

/** Experiments name real placements, variants and layers; layers are not over-allocated. */
const experimentNames: CrossCheck = (rules) => {
  const issues: CrossIssue[] = []
  const placements = rules.placements.placements
  const layerUse = new Map<string, number>()
  for (const [id, e] of Object.entries(rules.experiments.experiments)) {
    const p = placements[e.placement]
    if (!p) {
      issues.push({
        concern: 'experiments',
        path: ['experiments', id, 'placement'],
        message: `unknown placement "${e.placement}"`,
        candidates: Object.keys(placements),
      })
      continue
    }
    const audiences = Object.keys(rules.audiences.audiences)
    if (e.audience !== undefined && !audiences.includes(e.audience)) {
      issues.push({
        concern: 'experiments',
        path: ['experiments', id, 'audience'],
        message: `unknown audience "${e.audience}"${audiences.length ? `; audiences are ${audiences.join(', ')}` : ': no audiences are defined'}`,
        candidates: audiences,
      })
    }
    const variants = Object.keys(p.variants)
    if (!p.variants[e.control]) {
      issues.push({
        concern: 'experiments',
        path: ['experiments', id, 'control'],
        message: `unknown variant "${e.control}" of placement ${e.placement}`,
        candidates: variants,
      })
    }
    const seen = new Set<string>()
    e.arms.forEach((a, i) => {
      if (!p.variants[a.variant]) {
        issues.push({
          concern: 'experiments',
          path: ['experiments', id, 'arms', i, 'variant'],
          message: `unknown variant "${a.variant}" of placement ${e.placement}`,
          candidates: variants,
        })
      }
      if (seen.has(a.variant)) {
        issues.push({
          concern: 'experiments',
          path: ['experiments', id, 'arms', i, 'variant'],
          message: `arm "${a.variant}" listed twice (first at {first}): give each variant one arm and set its weight`,
          firstAt: ['experiments', id, 'arms', e.arms.findIndex((o) => o.variant === a.variant)],
        })
      }
      seen.add(a.variant)
    })
    const total = e.arms.reduce((n, a) => n + a.weight, 0)
    // Equal weights left at their default (1) mean an even split: the usual way to write one.
    if (!e.bandit && total > 0 && Math.abs(total - 100) > 1e-9 && !e.arms.every((a) => a.weight === 1)) {
      issues.push({
        concern: 'experiments',
        path: ['experiments', id, 'arms'],
        message: `arm weights add up to ${total}, not 100; they are relative, so the split is ${e.arms
          .map((a) => `${a.variant} ${Math.round((a.weight / total) * 1000) / 10}%`)
          .join(', ')}: write weights that add up to 100 if that is not what you meant`,
        severity: 'warning',
      })
    }
    if (e.arms.length === 1) {
      issues.push({
        concern: 'experiments',
        path: ['experiments', id, 'arms'],
        message: `experiment ${id} has one arm (${e.arms[0]!.variant}): everyone enrolled sees it, so nothing is compared; add an arm (usually the control, ${e.control})`,
        severity: 'warning',
      })
    }
    if (!e.bandit && e.arms.every((a) => a.weight === 0)) {
      issues.push({
        concern: 'experiments',
        path: ['experiments', id, 'arms'],
        message: 'every arm has weight 0',
      })
    }
    if (e.layer !== undefined) {
      if (!rules.experiments.layers[e.layer]) {
        issues.push({
          concern: 'experiments',
          path: ['experiments', id, 'layer'],
          message: `unknown layer "${e.layer}"`,
          candidates: Object.keys(rules.experiments.layers),
        })
      }
      const used = (layerUse.get(e.layer) ?? 0) + e.traffic
      layerUse.set(e.layer, used)
      if (used > 100 + 1e-9) {
        issues.push({
          concern: 'experiments',
          path: ['experiments', id, 'traffic'],
          message: `layer "${e.layer}" is over-allocated: its experiments take ${used}% (at most 100%)`,
        })
      }
    }
  }
  for (const pn of Object.keys(rules.experiments.placementHoldouts)) {
    if (!placements[pn]) {
      issues.push({
        concern: 'experiments',
        path: ['placementHoldouts', pn],
        message: `unknown placement "${pn}" in placementHoldouts`,
        suggestion: undefined,
        candidates: Object.keys(placements),
      })
    }
  }
  return issues
}

/**
 * A cap whose selectors match nothing the rules can deliver counts nothing, silently: a placement
 * cap on a placement with no capped variant (only variants with a campaign or tags are counted),
 * a tag or campaign that no trigger (messages) or variant (impressions) carries.
 */
const capsThatCountNothing: CrossCheck = (rules) => {
  const issues: CrossIssue[] = []
  const variants = Object.entries(rules.placements.placements).flatMap(([pn, p]) =>
    Object.entries(p.variants)
      .filter(([id]) => id !== p.fallback)
      .map(([, v]) => ({ placement: pn, campaign: v.campaign, tags: v.tags })),
  )
  const delivered = {
    messages: rules.triggers.triggers.map((t) => ({
      placement: undefined,
      campaign: t.campaign,
      tags: t.tags,
    })),
    impressions: variants.filter((v) => v.campaign !== undefined || v.tags.length > 0),
  }
  const what = { messages: 'trigger', impressions: 'capped variant (one with a campaign or tags)' }
  rules.caps.caps.forEach((cap, i) => {
    const pool = delivered[cap.counts]
    const warn = (field: string, message: string, candidates: string[]) =>
      issues.push({
        concern: 'caps',
        path: ['caps', i, field],
        message,
        candidates: [...new Set(candidates)],
        severity: 'warning',
      })
    if (
      cap.placement !== undefined &&
      cap.placement !== '*' &&
      !pool.some((d) => d.placement === cap.placement)
    ) {
      warn(
        'placement',
        `cap "${cap.id}" counts placement "${cap.placement}", but it has no ${what.impressions}, so it counts nothing: give the variants to cap a campaign or tags`,
        Object.keys(rules.placements.placements),
      )
    }
    if (
      cap.campaign !== undefined &&
      cap.campaign !== '*' &&
      !pool.some((d) => d.campaign === cap.campaign)
    ) {
      warn(
        'campaign',
        `cap "${cap.id}" counts ${cap.counts} of campaign "${cap.campaign}", but no ${what[cap.counts]} has that campaign, so it counts nothing`,
        pool.flatMap((d) => (d.campaign ? [d.campaign] : [])),
      )
    }
    if (cap.tag !== undefined && cap.tag !== '*' && !pool.some((d) => d.tags.includes(cap.tag!))) {
      const tags = [...new Set(pool.flatMap((d) => d.tags))]
      warn(
        'tag',
        `cap "${cap.id}" counts ${cap.counts} tagged "${cap.tag}", but no ${what[cap.counts]} carries that tag, so it counts nothing${tags.length ? `; tags in use are ${tags.join(', ')}` : ''}`,
        tags,
      )
    }
  })
  return issues
}

/**
 * Content a visitor can actually get: locale keys written as BCP 47 tags (`en-US`, not `en_US`),
 * a `default` every fallback chain ends in, and approved variants that carry something to show.
 */
const contentReach: CrossCheck = (rules) => {
  const issues: CrossIssue[] = []
  const localeKey = (key: string, path: Path) => {
    if (key === 'default' || canonicalLocale(key) === key) return
    const fixed = canonicalLocale(key)
    issues.push({
      concern: 'placements',
      path,
      message: `"${key}" is not a locale: write a language, then an optional region, with a hyphen (de, de-AT, en-US)`,
      ...(fixed ? { suggestion: fixed } : {}),
    })
  }
  for (const [pn, p] of Object.entries(rules.placements.placements)) {
    for (const [vid, v] of Object.entries(p.variants)) {
      const keys = Object.keys(v.content)
      for (const k of keys) localeKey(k, ['placements', pn, 'variants', vid, 'content', k])
      if (v.status !== 'approved') continue
      // A fallback may be empty on purpose ("show nothing"); any other variant is meant to show something.
      if (keys.length === 0 && v.contentKey === undefined && vid !== p.fallback) {
        issues.push({
          concern: 'placements',
          path: ['placements', pn, 'variants', vid],
          message: `variant "${vid}" is approved but has no content and no contentKey: web slots show nothing and apps get only its id; add content: { default: { html: ... } }`,
          severity: 'warning',
        })
      } else if (keys.length > 0 && !keys.includes('default')) {
        issues.push({
          concern: 'placements',
          path: ['placements', pn, 'variants', vid, 'content'],
          message: `variant "${vid}" has content for ${keys.join(', ')} only: every other visitor's locale falls back to "default", which is missing, so they get no content; add default: { ... }`,
        })
      }
    }
  }
  for (const [k, list] of Object.entries(rules.placements.locales.fallbacks)) {
    localeKey(k, ['locales', 'fallbacks', k])
    list.forEach((l, i) => localeKey(l, ['locales', 'fallbacks', k, i]))
  }
  return issues
}

/** `geo.country` compares with upper-case two-letter ISO 3166-1 codes (`DE`), as the edge reports them. */
const countryCodes: CrossCheck = (rules) => {
  const issues: CrossIssue[] = []
  const visit = (c: ConditionInput, concern: ConcernName, path: Path) => {
    c.all?.forEach((x, i) => visit(x, concern, [...path, 'all', i]))
    c.any?.forEach((x, i) => visit(x, concern, [...path, 'any', i]))
    if (c.not) visit(c.not, concern, [...path, 'not'])
    if (c.field !== 'geo.country') return
    for (const op of ['eq', 'ne', 'in', 'nin'] as const) {
      const v = c[op]
      const values = Array.isArray(v) ? v : v === undefined ? [] : [v]
      values.forEach((code, i) => {
        if (typeof code === 'string' && /^[A-Z]{2}$/.test(code)) return
        const at = Array.isArray(v) ? [...path, op, i] : [...path, op]
        const text = String(code)
        issues.push({
          concern,
          path: at,
          message: /^[a-zA-Z]{3}$/.test(text)
            ? `"${text}" is a three-letter code; geo.country uses two-letter ISO 3166-1 codes such as DE, AT, US`
            : `"${text}" is not a country code; geo.country uses upper-case two-letter ISO 3166-1 codes such as DE, AT, US`,
          ...(/^[a-z]{2}$/.test(text) ? { suggestion: text.toUpperCase() } : {}),
        })
      })
    }
  }
  for (const { concern, path, cond } of conditions(rules)) visit(cond, concern, path)
  return issues
}

/** Event types the gateway and its beacon record themselves (worker/events). */
const BUILT_IN_EVENTS = ['page_view', 'dwell', 'scroll', 'form_abandon']

/**
 * An event name written once, in `on`, `cancelOn`, `onlyAfter` or `excludeIfSeen`, that is close to
 * another known name is almost surely a typo (`purchse`): the trigger would wait for an event that
 * never comes. A name used nowhere else and close to nothing is a custom event, and is accepted.
 */
const eventNames: CrossCheck = (rules) => {
  const issues: CrossIssue[] = []
  const uses = new Map<string, number>()
  const use = (t: string) => uses.set(t, (uses.get(t) ?? 0) + 1)
  BUILT_IN_EVENTS.forEach(use)
  rules.caps.suppressions.forEach((s) => use(s.on))
  for (const e of Object.values(rules.experiments.experiments)) if (e.bandit) use(e.bandit.conversion)
  for (const { cond } of conditions(rules))
    walk(cond, [], (kind, name) => {
      const m = kind === 'field' ? /^events\.([^.]+)\./.exec(name) : null
      if (m) use(m[1]!)
    })
  const refs: Array<{ name: string; path: Path }> = []
  rules.triggers.triggers.forEach((t, i) => {
    refs.push({ name: t.on, path: ['triggers', i, 'on'] })
    for (const key of ['cancelOn', 'onlyAfter', 'excludeIfSeen'] as const)
      t[key].forEach((n, j) => refs.push({ name: n, path: ['triggers', i, key, j] }))
  })
  refs.forEach((r) => use(r.name))
  for (const r of refs) {
    if (uses.get(r.name) !== 1) continue
    const others = [...uses.keys()].filter((n) => n !== r.name)
    const hint = nearest(r.name, others)
    // Only a near miss (one or two letters off) is taken for a typo; anything further is a custom event.
    if (!hint || editDistance(r.name, hint, 2) > 2) continue
    issues.push({
      concern: 'triggers',
      path: r.path,
      message: `event "${r.name}" is not used by any other rule, trigger or built-in event type (${BUILT_IN_EVENTS.join(', ')}), so it may never arrive`,
      suggestion: hint,
      severity: 'warning',
    })
  }
  return issues
}

export const crossChecks: CrossCheck[] = [
  contentReach,
  countryCodes,
  eventNames,
  capsThatCountNothing,
  references,
  cycles,
  placementNames,
  experimentNames,
  (rules) => metricIssues(rules.experiments).map((i) => ({ concern: 'experiments' as const, ...i })),
  // caps.yaml + triggers.yaml (caps and triggers)
  (rules) => stateRuleIssues(rules),
]

export interface Pruned {
  rules: Omit<RuleSet, 'version'>
  warnings: CrossIssue[]
}

/**
 * Only approved variants deploy: others are removed, with the rules and experiment arms that
 * name them; each removal is a warning. A fallback that is not approved is an error (a placement
 * must always have something to show), returned in `errors`.
 */
export function pruneUnapproved(rules: Omit<RuleSet, 'version'>): Pruned & { errors: CrossIssue[] } {
  const warnings: CrossIssue[] = []
  const errors: CrossIssue[] = []
  const out = structuredClone(rules)
  const removed = new Map<string, Set<string>>()
  for (const [pn, p] of Object.entries(out.placements.placements)) {
    const gone = new Set<string>()
    for (const [vid, v] of Object.entries(p.variants)) {
      if (v.status === 'approved') continue
      if (vid === p.fallback) {
        errors.push({
          concern: 'placements',
          path: ['placements', pn, 'variants', vid, 'status'],
          message: `the fallback variant "${vid}" is ${v.status}; a fallback must be approved`,
        })
        continue
      }
      gone.add(vid)
      warnings.push({
        concern: 'placements',
        path: ['placements', pn, 'variants', vid, 'status'],
        message: `variant "${vid}" is ${v.status}, not approved: compiled out`,
      })
      delete p.variants[vid]
    }
    removed.set(pn, gone)
    const kept = p.rules.filter((r, i) => {
      if (r.variant && gone.has(r.variant)) {
        warnings.push({
          concern: 'placements',
          path: ['placements', pn, 'rules', i, 'variant'],
          message: `rule "${r.id}" shows unapproved variant "${r.variant}": compiled out`,
        })
        return false
      }
      return true
    })
    p.rules = kept
  }
  for (const [id, e] of Object.entries(out.experiments.experiments)) {
    const gone = removed.get(e.placement)
    if (!gone || gone.size === 0) continue
    if (gone.has(e.control)) {
      errors.push({
        concern: 'experiments',
        path: ['experiments', id, 'control'],
        message: `the control "${e.control}" of experiment ${id} is not approved`,
      })
    }
    const arms = e.arms.filter((a) => !gone.has(a.variant))
    if (arms.length !== e.arms.length) {
      warnings.push({
        concern: 'experiments',
        path: ['experiments', id, 'arms'],
        message: `arms ${e.arms
          .filter((a) => gone.has(a.variant))
          .map((a) => a.variant)
          .join(', ')} of experiment ${id} are not approved: compiled out`,
      })
    }
    if (arms.length === 1 && e.arms.length > 1) {
      errors.push({
        concern: 'experiments',
        path: ['experiments', id, 'arms'],
        message: `experiment ${id} has one approved arm left (${arms[0]!.variant}): it would show that variant to everyone enrolled and compare nothing; approve another arm or set status: ended`,
      })
    }
    if (arms.length === 0) {
      errors.push({
        concern: 'experiments',
        path: ['experiments', id, 'arms'],
        message: `experiment ${id} has no approved arm`,
      })
    }
    e.arms = arms
  }
  return { rules: out, warnings, errors }
}
