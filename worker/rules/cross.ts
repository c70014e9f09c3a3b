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
    const ids = new Set<string>()
    p.rules.forEach((r, i) => {
      if (ids.has(r.id)) {
        issues.push({
          concern: 'placements',
          path: ['placements', pn, 'rules', i, 'id'],
          message: `duplicate rule id "${r.id}"`,
        })
      }
      ids.add(r.id)
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
          message: `arm "${a.variant}" listed twice`,
        })
      }
      seen.add(a.variant)
    })
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

export const crossChecks: CrossCheck[] = [
  capsThatCountNothing,
  references,
  cycles,
  placementNames,
  experimentNames,
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
