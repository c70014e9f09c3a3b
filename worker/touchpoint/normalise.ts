/**
 * The touchpoint normaliser: a visit's URL and referrer -> one Touchpoint in the taxonomy of
 * rules/utm.yaml. Pure (no Workers imports), so it runs in Node for benchmarks and property tests.
 *
 * - UTM values are NFKC-normalised, trimmed, inner whitespace collapsed and lower-cased; source and
 *   medium are then looked up by name or alias; anything else becomes `(other)` and the field is
 *   listed in `unmapped` (reports stay clean, the miss is counted).
 * - Click ids are recognised case-insensitively. They are kept only with advertising consent; without
 *   it their parameter names are returned in `strip` so the origin never sees them.
 * - Without UTM parameters, a click id implies its source/medium, else an external referrer implies
 *   its source (search engines -> organic, social sites -> social; unknown sites -> `(other)`/referral).
 */
import type { UtmRules } from '../rules/concerns/utm'
import type { Touchpoint } from './types'

const OTHER = '(other)'

export interface NormaliseInput {
  url: URL
  /** The `Referer` header, if any. */
  referrer: string | null
  /** Advertising consent: click ids are kept only with it. */
  advertising: boolean
  /** ms since epoch. */
  now: number
}

export interface NormaliseOutput {
  /** null when the visit carries no campaign data, no click id and no external referrer. */
  touchpoint: Touchpoint | null
  /** Query parameter names (as sent) to remove from the URL the origin receives. */
  strip: string[]
  /** Query parameter names (as sent) captured here: UTM parameters and click ids (for a clean-URL redirect). */
  captured: string[]
  /** Values that fell outside the taxonomy. */
  unmapped: Array<{ field: 'source' | 'medium'; value: string }>
}

interface Taxonomy {
  sources: Map<string, string>
  mediums: Map<string, string>
  referrers: Array<{ pattern: string; wildcardTld: boolean; source: string; medium: string }>
  internal: Array<{ pattern: string; wildcardTld: boolean }>
  clickIds: Map<string, { param: string; source: string | null; medium: string | null }>
  freeText: UtmRules['freeText']
}

const UTM_FIELDS = ['source', 'medium', 'campaign', 'term', 'content'] as const
const MAX_CLICK_ID_LENGTH = 512
// Control characters never belong in a report label.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g

const compiled = new WeakMap<UtmRules, Taxonomy>()

/** Builds the lookup tables for a rule set once (cached per rules object). */
function taxonomy(rules: UtmRules): Taxonomy {
  let t = compiled.get(rules)
  if (t) return t
  const sources = new Map<string, string>()
  const referrers: Taxonomy['referrers'] = []
  for (const [name, s] of Object.entries(rules.sources)) {
    for (const a of [name, ...s.aliases]) sources.set(a, name)
    for (const r of s.referrers) referrers.push({ ...pattern(r), source: name, medium: s.referrerMedium })
  }
  const mediums = new Map<string, string>()
  for (const [name, m] of Object.entries(rules.mediums))
    for (const a of [name, ...m.aliases]) mediums.set(a, name)
  const clickIds = new Map(rules.clickIds.map((c) => [c.param.toLowerCase(), c]))
  t = {
    sources,
    mediums,
    referrers,
    internal: rules.internalHosts.map(pattern),
    clickIds,
    freeText: rules.freeText,
  }
  compiled.set(rules, t)
  return t
}

function pattern(p: string): { pattern: string; wildcardTld: boolean } {
  return p.endsWith('.*')
    ? { pattern: p.slice(0, -2), wildcardTld: true }
    : { pattern: p, wildcardTld: false }
}

function hostMatches(host: string, p: { pattern: string; wildcardTld: boolean }): boolean {
  if (p.wildcardTld) return host.startsWith(p.pattern + '.') || host.includes('.' + p.pattern + '.')
  return host === p.pattern || host.endsWith('.' + p.pattern)
}

/** Lower-case label form: NFKC, no control characters, trimmed, whitespace collapsed. */
export function normaliseLabel(raw: string): string {
  return raw.normalize('NFKC').replace(CONTROL, ' ').trim().replace(/\s+/g, ' ').toLowerCase()
}

/** Looks a source or medium up by name or alias; host-like values (`https://www.facebook.com/x`) by host. */
function lookup(table: Map<string, string>, raw: string): string | null {
  const v = normaliseLabel(raw)
  const direct = table.get(v)
  if (direct) return direct
  let host = v
  if (/^https?:\/\//.test(v)) {
    try {
      host = new URL(v).hostname
    } catch {
      return null
    }
  }
  host = host.replace(/\/.*$/, '')
  return table.get(host) ?? table.get(host.replace(/^www\./, '')) ?? null
}

function freeText(raw: string, t: Taxonomy): string | null {
  let v = raw.normalize('NFKC').replace(CONTROL, ' ').trim().replace(/\s+/g, ' ')
  if (t.freeText.lowercase) v = v.toLowerCase()
  v = v.slice(0, t.freeText.maxLength)
  return v || null
}

/** Normalises one visit. Never throws. */
export function normaliseTouchpoint(input: NormaliseInput, rules: UtmRules): NormaliseOutput {
  const t = taxonomy(rules)
  const raw: Partial<Record<(typeof UTM_FIELDS)[number], string>> = {}
  const captured: string[] = []
  const strip: string[] = []
  const clickIds: Record<string, string> = {}
  let implied: { source: string | null; medium: string | null } | null = null

  for (const [name, value] of input.url.searchParams) {
    const lower = name.toLowerCase()
    if (lower.startsWith('utm_')) {
      captured.push(name)
      const field = lower.slice(4) as (typeof UTM_FIELDS)[number]
      // First non-empty occurrence wins, as analytics tools read them.
      if ((UTM_FIELDS as readonly string[]).includes(field) && raw[field] === undefined && value.trim())
        raw[field] = value
      continue
    }
    const click = t.clickIds.get(lower)
    if (!click) continue
    captured.push(name)
    if (!value.trim()) continue
    implied ??= { source: click.source, medium: click.medium }
    if (input.advertising) clickIds[click.param] ??= value.slice(0, MAX_CLICK_ID_LENGTH)
    else strip.push(name)
  }

  const unmapped: NormaliseOutput['unmapped'] = []
  const unmappedFields: Touchpoint['unmapped'] = []
  const mapped = (field: 'source' | 'medium', table: Map<string, string>): string | null => {
    const value = raw[field]
    if (value === undefined) return null
    const hit = lookup(table, value)
    if (hit) return hit
    unmapped.push({ field, value })
    unmappedFields.push(field)
    return OTHER
  }
  let source = mapped('source', t.sources)
  let medium = mapped('medium', t.mediums)
  const referrerHost = externalReferrer(input.referrer, input.url.hostname, t)

  if (source === null && medium === null && implied) {
    source = implied.source
    medium = implied.medium
  } else if (source === null && medium === null && referrerHost !== null) {
    const hit = t.referrers.find((r) => hostMatches(referrerHost.replace(/^www\./, ''), r))
    source = hit ? hit.source : OTHER
    medium = hit ? hit.medium : 'referral'
  }

  const campaign = raw.campaign === undefined ? null : freeText(raw.campaign, t)
  const term = raw.term === undefined ? null : freeText(raw.term, t)
  const content = raw.content === undefined ? null : freeText(raw.content, t)
  const anything =
    source !== null ||
    medium !== null ||
    campaign !== null ||
    term !== null ||
    content !== null ||
    implied !== null

  return {
    touchpoint: anything
      ? {
          source,
          medium,
          campaign,
          term,
          content,
          clickIds,
          referrerHost,
          landingPath: input.url.pathname,
          at: input.now,
          unmapped: unmappedFields,
        }
      : null,
    strip,
    captured,
    unmapped,
  }
}

/** The referrer's host when it is another site (not this host, not an internal host), else null. */
function externalReferrer(referrer: string | null, requestHost: string, t: Taxonomy): string | null {
  if (!referrer) return null
  let host: string
  try {
    const u = new URL(referrer)
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null
    host = u.hostname.toLowerCase()
  } catch {
    return null
  }
  const bare = (h: string) => h.toLowerCase().replace(/^www\./, '')
  if (bare(host) === bare(requestHost)) return null
  if (t.internal.some((p) => hostMatches(bare(host), p) || hostMatches(host, p))) return null
  return host
}

/**
 * The compact `X-Gatehouse-Touchpoint` header for the origin: form-urlencoded (WHATWG URL
 * "application/x-www-form-urlencoded serializer"), version first, absent fields omitted, click ids by
 * name only (their values stay in the URL when consent allows):
 *
 *   v=1&src=facebook&med=paid_social&cmp=spring+sale&ref=l.facebook.com&clk=fbclid&at=1763891000000
 */
export function touchpointHeader(tp: Touchpoint): string {
  const p = new URLSearchParams({ v: '1' })
  if (tp.source !== null) p.set('src', tp.source)
  if (tp.medium !== null) p.set('med', tp.medium)
  if (tp.campaign !== null) p.set('cmp', tp.campaign)
  if (tp.term !== null) p.set('trm', tp.term)
  if (tp.content !== null) p.set('cnt', tp.content)
  if (tp.referrerHost !== null) p.set('ref', tp.referrerHost)
  const clk = Object.keys(tp.clickIds)
  if (clk.length) p.set('clk', clk.join(','))
  if (tp.unmapped.length) p.set('unm', tp.unmapped.join(','))
  p.set('at', String(tp.at))
  return p.toString()
}
