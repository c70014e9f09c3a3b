/**
 * `rules:diff`: what changes between two compiled rule sets before the new one goes live. Which
 * placements, audiences, experiments, caps and triggers were added, removed or changed (and which
 * fields), which decisions change for a corpus of sample visitors (old -> new, with reasons), and
 * which changes move traffic in a running experiment (that invalidates its results unless someone
 * acknowledges it). Pure: the script reads the rule sets from git; a console can call this too.
 */
import { compileEngine, type Engine } from '../decide/engine'
import { explainVisitor, type Explanation } from '../decide/explain'
import type { SampleVisitor } from './diff-visitors'
import type { RuleSet } from './types'

export type Section = 'placements' | 'audiences' | 'experiments' | 'caps' | 'triggers'

export interface RuleChange {
  section: Section | 'other'
  /** Entity id; for `other`, the rule file's concern (`consent`, `site`, ...). */
  id: string
  kind: 'added' | 'removed' | 'changed'
  /** The top-level fields that differ (for `changed`). */
  fields: string[]
}

export interface DecisionChange {
  visitor: string
  placement: string
  old: DecisionSummary
  new: DecisionSummary
  /** The first step of the new decision's trace that the old one did not take (null: none). */
  because: string | null
}

export interface DecisionSummary {
  variant: string
  reason: string
  experiment: string | null
}

export interface TrafficMove {
  experiment: string
  why: string
  acknowledged: boolean
}

export interface RulesDiff {
  oldVersion: string
  newVersion: string
  changes: RuleChange[]
  decisions: DecisionChange[]
  visitors: number
  traffic: TrafficMove[]
}

export interface DiffOptions {
  visitors: SampleVisitor[]
  /** Experiments whose traffic move is acknowledged (`--ack <experiment>`). */
  ack?: string[]
  /** When a sample visitor without its own `time` visits (ms since epoch). */
  at: number
}

const SECTIONS: Array<[Section, (r: RuleSet) => Record<string, unknown>]> = [
  ['placements', (r) => r.placements.placements],
  [
    'audiences',
    (r) => ({
      ...Object.fromEntries(Object.entries(r.audiences.traits).map(([k, v]) => [`trait:${k}`, v])),
      ...r.audiences.audiences,
    }),
  ],
  ['experiments', (r) => r.experiments.experiments],
  ['caps', (r) => byId(r.caps.caps)],
  ['triggers', (r) => byId(r.triggers.triggers)],
]

const ENTITY_KEYS: Record<Section, string[]> = {
  placements: ['placements'],
  audiences: ['audiences', 'traits'],
  experiments: ['experiments'],
  caps: ['caps'],
  triggers: ['triggers'],
}

/** Compares two rule sets; `next` is the candidate that would go live. */
export function diffRules(old: RuleSet, next: RuleSet, opts: DiffOptions): RulesDiff {
  const changes = ruleChanges(old, next)
  const oldEngine = compileEngine(old)
  const newEngine = compileEngine(next)
  const decisions: DecisionChange[] = []
  // Structural reasons first: they say what to undo; sample visitors catch the rest.
  const moved = experimentMoves(old, next)
  for (const sample of opts.visitors) {
    const visitor = { ...sample.visitor, time: sample.visitor.time ?? new Date(opts.at).toISOString() }
    const before = explainAll(oldEngine, visitor)
    const after = explainAll(newEngine, visitor)
    if (!before || !after) continue
    for (const [placement, o] of before) {
      const n = after.get(placement)
      if (!n) continue
      const os = summary(o)
      const ns = summary(n)
      if (os.variant !== ns.variant || os.reason !== ns.reason || os.experiment !== ns.experiment) {
        const because = n.trace.find((line) => !o.trace.includes(line)) ?? null
        decisions.push({ visitor: sample.name, placement, old: os, new: ns, because })
      }
      // A visitor who leaves or enters a running experiment's arm was moved, whatever the change.
      const was = o.experiment
      const now = n.experiment
      if (was && running(old, was.id) && !moved.has(was.id) && (now?.id !== was.id || now.arm !== was.arm))
        moved.set(was.id, `sample visitor ${sample.name} leaves arm ${was.arm}`)
      if (now && running(old, now.id) && !moved.has(now.id) && was?.id !== now.id)
        moved.set(now.id, `sample visitor ${sample.name} enters arm ${now.arm}`)
    }
  }
  const ack = new Set(opts.ack ?? [])
  const traffic = [...moved]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([experiment, why]) => ({ experiment, why, acknowledged: ack.has(experiment) }))
  return {
    oldVersion: old.version,
    newVersion: next.version,
    changes,
    decisions,
    visitors: opts.visitors.length,
    traffic,
  }
}

/** Added, removed and changed entities per section, then other rule files that changed. */
export function ruleChanges(old: RuleSet, next: RuleSet): RuleChange[] {
  const out: RuleChange[] = []
  for (const [section, read] of SECTIONS) {
    const a = read(old)
    const b = read(next)
    for (const id of Object.keys(a)) {
      if (!(id in b)) out.push({ section, id, kind: 'removed', fields: [] })
      else {
        const fields = changedFields(a[id], b[id])
        if (fields.length) out.push({ section, id, kind: 'changed', fields })
      }
    }
    for (const id of Object.keys(b)) if (!(id in a)) out.push({ section, id, kind: 'added', fields: [] })
  }
  // Fields of the five files outside their entities (experiments.holdout, caps.quietHours, ...),
  // then the other rule files.
  for (const concern of Object.keys(next) as Array<keyof RuleSet>) {
    if (concern === 'version') continue
    const entities = ENTITY_KEYS[concern as Section] ?? []
    const fields = changedFields(old[concern], next[concern]).filter((f) => !entities.includes(f))
    if (fields.length) out.push({ section: 'other', id: concern, kind: 'changed', fields })
  }
  return out
}

/** Changes to running experiments that move visitors between arms or in and out of them. */
function experimentMoves(old: RuleSet, next: RuleSet): Map<string, string> {
  const out = new Map<string, string>()
  const holdout = changedFields(old.experiments.holdout, next.experiments.holdout)
  for (const [id, e] of Object.entries(old.experiments.experiments)) {
    if (e.status !== 'running') continue
    const n = next.experiments.experiments[id]
    if (!n) {
      out.set(id, 'removed while running')
      continue
    }
    const fields = changedFields(e, n).filter((f) => f !== 'description')
    if (fields.length) {
      out.set(id, `${fields.join(', ')} changed while running`)
      continue
    }
    if (e.layer && changedFields(old.experiments.layers[e.layer], next.experiments.layers[e.layer]).length) {
      out.set(id, `layer ${e.layer} changed while running`)
      continue
    }
    if (holdout.length) {
      out.set(id, `global holdout ${holdout.join(', ')} changed`)
      continue
    }
    if (old.experiments.placementHoldouts[e.placement] !== next.experiments.placementHoldouts[e.placement]) {
      out.set(id, `holdout of placement ${e.placement} changed`)
      continue
    }
    // Rules up to the experiment's own decide who reaches it.
    const before = rulesUpTo(old, e.placement, id)
    const after = rulesUpTo(next, e.placement, id)
    if (canonical(before) !== canonical(after)) {
      out.set(id, `rules of placement ${e.placement} before the experiment changed who reaches it`)
      continue
    }
    const names = referenced(old, before)
    const changed = [...names].filter((n) => canonical(definition(old, n)) !== canonical(definition(next, n)))
    if (changed.length)
      out.set(id, `${changed.join(', ')} changed: the rules before the experiment decide who reaches it`)
  }
  return out
}

function rulesUpTo(r: RuleSet, placement: string, experiment: string): unknown[] {
  const rules = r.placements.placements[placement]?.rules ?? []
  const at = rules.findIndex((x) => 'experiment' in x && x.experiment === experiment)
  return at < 0 ? rules : rules.slice(0, at + 1)
}

/** Audiences (`audience x`) and traits (`trait x`) that conditions refer to, transitively. */
function referenced(r: RuleSet, roots: unknown): Set<string> {
  const out = new Set<string>()
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk)
    else if (isRecord(node)) {
      for (const kind of ['audience', 'trait'] as const) {
        const name = node[kind]
        if (typeof name === 'string' && !out.has(`${kind} ${name}`)) {
          out.add(`${kind} ${name}`)
          walk(definition(r, `${kind} ${name}`))
        }
      }
      Object.values(node).forEach(walk)
    }
  }
  walk(roots)
  return out
}

function definition(r: RuleSet, ref: string): unknown {
  const [kind, name] = ref.split(' ') as [string, string]
  return kind === 'audience' ? r.audiences.audiences[name] : r.audiences.traits[name]
}

function explainAll(engine: Engine, visitor: unknown): Map<string, Explanation['placements'][number]> | null {
  const r = explainVisitor(engine, visitor)
  if (!r.ok) return null
  return new Map(r.value.placements.map((p) => [p.placement, p]))
}

function summary(p: Explanation['placements'][number]): DecisionSummary {
  const e = p.experiment
  return {
    variant: p.variant,
    reason: p.reason,
    experiment: e ? `${e.id}:${e.arm}${e.holdout ? ' (holdout)' : ''}` : null,
  }
}

function running(r: RuleSet, experiment: string): boolean {
  return r.experiments.experiments[experiment]?.status === 'running'
}

function byId<T extends { id: string }>(items: T[]): Record<string, T> {
  return Object.fromEntries(items.map((x) => [x.id, x]))
}

/** The top-level keys whose values differ (both sides as JSON). */
function changedFields(a: unknown, b: unknown): string[] {
  if (!isRecord(a) || !isRecord(b)) return JSON.stringify(a) === JSON.stringify(b) ? [] : ['(value)']
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])]
  return keys.filter((k) => canonical(a[k]) !== canonical(b[k]))
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x)
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (isRecord(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`
  return JSON.stringify(v) ?? 'undefined'
}

/** The report for a terminal: changes, then decisions, then traffic moves. */
export function formatDiff(d: RulesDiff): string {
  const lines = [`rules ${d.oldVersion} -> ${d.newVersion}`]
  if (d.oldVersion === d.newVersion) {
    lines.push('no change: the compiled rule set is the same')
    return lines.join('\n')
  }
  lines.push('', 'changed rules:')
  for (const c of d.changes) {
    const what = c.section === 'other' ? `${c.id}.yaml` : `${c.section.replace(/s$/, '')} ${c.id}`
    lines.push(`  ${c.kind} ${what}${c.fields.length ? `: ${c.fields.join(', ')}` : ''}`)
  }
  if (d.changes.length === 0) lines.push('  (none)')
  lines.push('', `decisions that change (${d.decisions.length} across ${d.visitors} sample visitors):`)
  for (const x of d.decisions) {
    lines.push(`  ${x.visitor} ${x.placement}: ${show(x.old)} -> ${show(x.new)}`)
    if (x.because) lines.push(`    because: ${x.because}`)
  }
  if (d.decisions.length === 0) lines.push('  (none)')
  if (d.traffic.length) {
    lines.push('', 'traffic moves in running experiments:')
    for (const t of d.traffic) {
      lines.push(`  ${t.experiment}: ${t.why}${t.acknowledged ? ' (acknowledged)' : ''}`)
    }
    const open = d.traffic.filter((t) => !t.acknowledged)
    if (open.length) {
      lines.push(
        '',
        `this invalidates running experiments: acknowledge with ${open.map((t) => `--ack ${t.experiment}`).join(' ')}`,
      )
    }
  }
  return lines.join('\n')
}

function show(s: DecisionSummary): string {
  return `${s.variant} [${s.reason}${s.experiment ? `, ${s.experiment}` : ''}]`
}

/** True when the diff may go live without an acknowledgement. */
export function diffAccepted(d: RulesDiff): boolean {
  return d.traffic.every((t) => t.acknowledged)
}
