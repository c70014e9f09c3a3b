/**
 * Sample visitors generated from a rule set, for `rules:diff`: one per jurisdiction (as a first
 * visit: nothing granted where consent is opt-in, everything where it is opt-out) and one per
 * audience, built to satisfy the audience's condition (consented, known customer). Pure.
 *
 * The audience solver covers the condition language's common shapes (all, any: its first branch,
 * audience and trait references, eq/in/gt/gte/lt/lte/between/exists on the visitor fields); a
 * condition it cannot satisfy (not, regex, ne, schedule) is left out, so the visitor may miss the
 * audience. The diff still runs both rule sets on it: the visitor is a sample, not a proof.
 */
import type { ConditionInput } from './concerns/audiences'
import type { RuleSet } from './types'

export interface SampleVisitor {
  /** Where the visitor came from: `examples/visitors/x.json`, `jurisdiction:EU`, `audience:vip`. */
  name: string
  visitor: Record<string, unknown>
}

type Draft = Record<string, unknown>

const ALL_GRANTED = { storage: true, measurement: true, personalization: true, advertising: true }

/** One visitor per jurisdiction and one per audience of `rules`, in rule-file order. */
export function generatedVisitors(rules: Pick<RuleSet, 'consent' | 'audiences'>): SampleVisitor[] {
  const out: SampleVisitor[] = []
  for (const j of rules.consent.jurisdictions) {
    const country = j.countries[0]
    if (!country) continue
    const region = 'regions' in j && Array.isArray(j.regions) ? (j.regions[0] ?? null) : null
    out.push({
      name: `jurisdiction:${j.id}`,
      visitor: {
        description: `first visit from ${j.id} (${j.regime})`,
        location: { country, region },
        jurisdiction: j.id,
        ...(j.regime === 'opt-in' ? {} : { consent: ALL_GRANTED }),
        identity: { anonymousId: `sample-${j.id.toLowerCase()}` },
      },
    })
  }
  for (const [id, audience] of Object.entries(rules.audiences.audiences)) {
    const draft: Draft = {
      description: `member of audience ${id}`,
      consent: ALL_GRANTED,
      identity: { customerId: `sample-${id}` },
    }
    satisfy(audience.when as ConditionInput, draft, rules, 0)
    out.push({ name: `audience:${id}`, visitor: draft })
  }
  return out
}

function satisfy(c: ConditionInput, v: Draft, rules: Pick<RuleSet, 'audiences'>, depth: number): void {
  // References can chain; a cycle is a compile error, but stay safe on any input.
  if (depth > 16) return
  if (c.all) for (const part of c.all) satisfy(part, v, rules, depth + 1)
  else if (c.any?.[0]) satisfy(c.any[0], v, rules, depth + 1)
  else if (c.audience) {
    const a = rules.audiences.audiences[c.audience]
    if (a) satisfy(a.when as ConditionInput, v, rules, depth + 1)
  } else if (c.trait) {
    const t = rules.audiences.traits[c.trait]
    if (t) satisfy(t.when as ConditionInput, v, rules, depth + 1)
  } else if (c.field) {
    const value = witness(c)
    if (value !== undefined) assign(v, c.field, value)
  }
}

/** A value that passes the condition's operator, or undefined when there is no simple one. */
function witness(c: ConditionInput): string | number | boolean | undefined {
  if (c.eq !== undefined) return c.eq
  if (c.in?.length) return c.in[0]
  if (c.between) return c.between[0]
  const low = c.gte ?? (c.gt !== undefined ? c.gt + 1 : undefined)
  const high = c.lte ?? (c.lt !== undefined ? c.lt - 1 : undefined)
  if (low !== undefined && high !== undefined) return low <= high ? low : undefined
  if (low !== undefined) return low
  if (high !== undefined) return Math.max(0, high)
  if (c.exists === true) return 'yes'
  return undefined
}

function assign(v: Draft, field: string, value: string | number | boolean): void {
  const sub = (key: string): Draft => (v[key] ??= {}) as Draft
  const [head, second, third] = field.split('.')
  switch (head) {
    case 'geo':
      if (second === 'country' || second === 'region') sub('location')[second] = value
      else if (second === 'jurisdiction') v.jurisdiction = value
      return
    case 'device':
      if (second === 'type') v.device = value
      return
    case 'locale':
      if (second === undefined) v.locale = value
      return
    case 'touchpoint':
      if (second && second !== 'present') sub('touchpoint')[second] = value
      return
    case 'page':
      if (second === 'path') v.page = value
      return
    case 'intent':
      v.intent = Math.min(1, Number(value))
      return
    case 'customer':
      if (second) sub('attributes')[second] = value
      return
    case 'context':
      if (second) sub('context')[second] = value
      return
    case 'events': {
      if (!second) return
      const e = (sub('events')[second] ??= { count: 1 }) as { count: number; lastSeen?: string }
      if (third === 'count') e.count = Math.max(0, Math.round(Number(value)))
      if (third === 'daysSince') e.lastSeen = `${Math.max(0, Math.round(Number(value)))}d`
      return
    }
    default:
      return
  }
}
