/**
 * From CMP readings to what resolution needs: each CMP's mapping (the standard one with the rules'
 * overrides), what its cookie says for each purpose, the words reasons use, and the
 * `signals.cmp.<name>` report of `GET /v1/consent`. Pure: no Workers imports.
 */
import type { ConsentRules } from '../../rules/concerns/consent'
import type { Purpose } from '../types'
import { cmpGrants, type CmpGrant, type CmpMapping, type CmpVerdict } from './grants'
import { CMP_BY_NAME } from './index'
import type { CmpReading, CmpState } from './types'

/** One CMP cookie found on a request: where, which CMP, and what it decoded to (or why not). */
export type CmpDecoded = { from: string; cmp: string } & (
  { ok: true; value: CmpReading } | { ok: false; errors: string[] }
)

/** docs/api.md "GET /v1/consent": `signals.cmp.<name>`. */
export interface CmpReport {
  valid: boolean
  errors: string[]
  /** Where it was read: `cookie:OptanonConsent`. */
  from: string
  state?: CmpState
  /** The categories the cookie states, as it states them (true accepted, false refused). */
  categories?: Record<string, boolean>
  /** What the categories mapped to, per Gatehouse purpose. */
  mapped?: Record<Purpose, CmpVerdict>
  gpc?: boolean
  saleOptOut?: boolean
  fields?: CmpReading['fields']
}

const mappings = new WeakMap<ConsentRules, Map<string, CmpMapping>>()

/** The category -> purposes mapping for one CMP: its standard one, overridden by the rules. */
export function cmpMapping(rules: ConsentRules, name: string): CmpMapping {
  let byName = mappings.get(rules)
  if (!byName) mappings.set(rules, (byName = new Map()))
  let m = byName.get(name)
  if (!m) {
    const overrides = (rules.cmp.categories as Record<string, CmpMapping | undefined>)[name] ?? {}
    m = { ...(CMP_BY_NAME.get(name)?.standard ?? {}), ...overrides }
    byName.set(name, m)
  }
  return m
}

/** `OneTrust (cookie:OptanonConsent)`: how reasons name a CMP cookie. */
export function cmpName(d: CmpDecoded): string {
  return `${CMP_BY_NAME.get(d.cmp)?.label ?? d.cmp} (${d.from})`
}

// Readings are shared through the decoding cache, so their verdicts are too: one computation per
// distinct cookie and mapping, not one per purpose per request.
const opinions = new WeakMap<CmpReading, { mapping: CmpMapping; grants: Record<Purpose, CmpGrant> }>()

/** What one valid CMP reading says for each purpose under the rules' mapping. */
export function cmpOpinion(
  d: Extract<CmpDecoded, { ok: true }>,
  rules: ConsentRules,
): Record<Purpose, CmpGrant> {
  const mapping = cmpMapping(rules, d.cmp)
  const hit = opinions.get(d.value)
  if (hit && hit.mapping === mapping) return hit.grants
  const grants = cmpGrants(d.value, mapping)
  opinions.set(d.value, { mapping, grants })
  return grants
}

export function reportCmp(d: CmpDecoded, rules: ConsentRules): CmpReport {
  if (!d.ok) return { valid: false, errors: d.errors, from: d.from }
  const grants = cmpOpinion(d, rules)
  const mapped = {} as Record<Purpose, CmpVerdict>
  for (const [p, g] of Object.entries(grants) as Array<[Purpose, CmpGrant]>) mapped[p] = g.verdict
  const r = d.value
  return {
    valid: true,
    errors: [],
    from: d.from,
    state: r.state,
    categories: { ...r.categories },
    mapped,
    gpc: r.gpc,
    saleOptOut: r.saleOptOut,
    fields: r.fields,
  }
}
