/**
 * Resolution table: one JSON row per jurisdiction and signal mix (resolve-cases.json), run through
 * the pure resolver with decoded values built here; a bug report becomes a new row.
 */
import { describe, expect, it } from 'vitest'
import { IdRanges } from '../../worker/consent/ranges'
import {
  jurisdictionFor,
  resolveDecoded,
  type DecodedSignals,
  type Reading,
} from '../../worker/consent/resolve'
import { fnv1a64 } from '../../worker/consent/snapshot'
import type {
  GppSectionFields,
  GppString,
  PublisherRestriction,
  Purpose,
  TcfString,
  UspString,
} from '../../worker/consent/types'
import { consentSchema, type ConsentRules } from '../../worker/rules/concerns/consent'
import { bundledRules } from '../../worker/rules'
import { compileRules } from '../../worker/rules/compile'
import cases from './resolve-cases.json'

export const NOW = new Date('2026-11-23T12:00:00.000Z')
const DAY = 86_400_000

/** A decoded, valid, service-specific TC string `ageDays` old; fields overridden by `over`. */
export function tcString(over: Partial<TcfString> = {}, ageDays = 30): TcfString {
  const t = NOW.getTime() - ageDays * DAY
  return {
    version: 2,
    created: t,
    lastUpdated: t,
    cmpId: 300,
    cmpVersion: 1,
    consentScreen: 1,
    consentLanguage: 'EN',
    vendorListVersion: 100,
    policyVersion: 5,
    isServiceSpecific: true,
    useNonStandardTexts: false,
    specialFeatureOptIns: [],
    purposeConsents: [],
    purposeLegitimateInterests: [],
    purposeOneTreatment: false,
    publisherCountryCode: 'DE',
    vendorConsents: IdRanges.empty,
    vendorLegitimateInterests: IdRanges.empty,
    publisherRestrictions: [],
    disclosedVendors: IdRanges.from([[1, 10]]),
    publisherTC: null,
    ...over,
  }
}

const SECTION_IDS: Record<string, number> = { tcfeuv2: 2, uspv1: 6, usnat: 7, usca: 8, usva: 9, usco: 10 }

type Pairs = Array<[number, number]>

/** A TC string as the rows write it: the docs/api.md wire form, id sets as `[start, end]` pairs. */
type WireTcf = Partial<
  Omit<
    TcfString,
    'vendorConsents' | 'vendorLegitimateInterests' | 'disclosedVendors' | 'publisherRestrictions'
  >
> & {
  vendorConsents?: Pairs
  vendorLegitimateInterests?: Pairs
  disclosedVendors?: Pairs | null
  publisherRestrictions?: Array<Omit<PublisherRestriction, 'vendors'> & { vendors: Pairs }>
}

/** A row's TC string fields with their id sets as the decoder returns them. */
function fromWire(tc: WireTcf = {}): Partial<TcfString> {
  const { vendorConsents, vendorLegitimateInterests, disclosedVendors, publisherRestrictions, ...rest } = tc
  const out: Partial<TcfString> = rest
  if (vendorConsents) out.vendorConsents = IdRanges.from(vendorConsents)
  if (vendorLegitimateInterests) out.vendorLegitimateInterests = IdRanges.from(vendorLegitimateInterests)
  if (disclosedVendors !== undefined)
    out.disclosedVendors = disclosedVendors && IdRanges.from(disclosedVendors)
  if (publisherRestrictions) {
    out.publisherRestrictions = publisherRestrictions.map((r) => ({
      ...r,
      vendors: IdRanges.from(r.vendors),
    }))
  }
  return out
}

interface Row {
  name: string
  location: { country: string | null; region?: string | null }
  rules?: Record<string, unknown>
  signals?: {
    tcf?: Array<{ from: string; tc?: WireTcf; ageDays?: number; errors?: string[] }>
    gpp?: Array<{
      from: string
      sections?: Record<string, GppSectionFields>
      tcfeuv2?: WireTcf
      errors?: string[]
    }>
    usp?: Array<{ from: string; usp?: string; errors?: string[] }>
    gpc?: string[]
  }
  expect: {
    jurisdiction?: string
    regime?: string
    saleShareOptOut?: boolean
    gpc?: boolean
    purposes?: Record<Purpose, boolean>
    reasons?: string[]
    sources?: unknown[]
  }
}

function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base
  if (Array.isArray(over) || over === null || typeof over !== 'object') return over
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) }
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v)
  return out
}

/** The bundled consent rules with a row's overrides, validated like rules/consent.yaml is. */
export function consentRules(over?: Record<string, unknown>): ConsentRules {
  return consentSchema.parse(merge(bundledRules.consent, over))
}

function fail<T>(from: string, errors: string[]): Reading<T> {
  return { from, ok: false, errors }
}

function decoded(row: Row): DecodedSignals {
  const s = row.signals ?? {}
  return {
    tcf: (s.tcf ?? []).map((t) =>
      t.errors
        ? fail<TcfString>(t.from, t.errors)
        : { from: t.from, ok: true, value: tcString(fromWire(t.tc), t.ageDays) },
    ),
    gpp: (s.gpp ?? []).map((g): Reading<GppString> => {
      if (g.errors) return fail(g.from, g.errors)
      const sections: GppString['sections'] = { ...(g.sections ?? {}) }
      if (g.tcfeuv2) sections.tcfeuv2 = tcString(fromWire(g.tcfeuv2))
      const sectionIds = Object.keys(sections).map((n) => SECTION_IDS[n] ?? 0)
      return { from: g.from, ok: true, value: { version: 1, sectionIds, sections } }
    }),
    usp: (s.usp ?? []).map((u): Reading<UspString> => {
      if (u.errors || !u.usp) return fail(u.from, u.errors ?? ['empty'])
      const [, notice, optOutSale, lspaCovered] = u.usp as unknown as Array<'Y' | 'N' | '-'>
      return {
        from: u.from,
        ok: true,
        value: { version: 1, notice: notice!, optOutSale: optOutSale!, lspaCovered: lspaCovered! },
      }
    }),
    gpc: s.gpc ?? [],
  }
}

describe('consent resolution table', () => {
  it.each(cases as Row[])('$name', (row) => {
    const location = {
      country: row.location.country,
      region: row.location.region ?? null,
      source: 'override' as const,
    }
    const { consent } = resolveDecoded(decoded(row), consentRules(row.rules), location, NOW)
    const { reasons, sources, ...fields } = row.expect
    expect(consent).toMatchObject(fields)
    for (const r of reasons ?? []) {
      expect(
        consent.reasons.some((line) => line.includes(r)),
        `a reason containing "${r}" in\n${consent.reasons.join('\n')}`,
      ).toBe(true)
    }
    if (sources) expect(consent.sources).toEqual(expect.arrayContaining(sources))
    expect(consent.snapshotId).toMatch(/^[0-9a-f]{16}$/)
  })
})

describe('resolution details', () => {
  const eu = { country: 'DE', region: null, source: 'cf' as const }
  const none: DecodedSignals = { tcf: [], gpp: [], usp: [], gpc: [] }

  it('lists the 30 EU/EEA countries, UK and CH as opt-in by default', () => {
    const rules = consentRules()
    const euRule = rules.jurisdictions.find((j) => j.id === 'EU')!
    expect(euRule.countries).toHaveLength(30)
    for (const c of [...euRule.countries, 'GB', 'CH']) {
      expect(jurisdictionFor({ country: c, region: null, source: 'cf' }, rules).policy.regime).toBe('opt-in')
    }
  })

  it('gives the same snapshot id to the same state and a different one when a purpose changes', () => {
    const rules = consentRules()
    const granted = {
      ...none,
      tcf: [{ from: 'cookie:euconsent-v2', ok: true as const, value: tcString({ purposeConsents: [1] }) }],
    }
    const a = resolveDecoded(none, rules, eu, NOW).consent.snapshotId
    const b = resolveDecoded(none, rules, eu, NOW).consent.snapshotId
    const c = resolveDecoded(granted, rules, eu, NOW).consent.snapshotId
    expect(a).toBe(b)
    expect(c).not.toBe(a)
  })

  it('computes 64-bit FNV-1a exactly (published test vectors)', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325')
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c')
    expect(fnv1a64('foobar')).toBe('85944171f73967e8')
    // Non-ASCII text is hashed as UTF-8 bytes.
    expect(fnv1a64('café → ü')).toBe('c6c5296189e9b8e2')
  })

  it('finds ids in vendor ranges without expanding them', () => {
    const ranges = IdRanges.from([
      [1, 4],
      [10, 10],
      [100, 65535],
    ])
    expect([1, 4, 10, 100, 65535].every((id) => ranges.has(id))).toBe(true)
    expect([0, 5, 9, 11, 99].some((id) => ranges.has(id))).toBe(false)
  })

  it('reports an expired TC string as invalid with its errors and what it said, and a valid one with its fields', () => {
    const rules = consentRules()
    const expired = resolveDecoded(
      {
        ...none,
        tcf: [{ from: 'cookie:euconsent-v2', ok: true, value: tcString({ purposeConsents: [1] }, 500) }],
      },
      rules,
      eu,
      NOW,
    )
    // An operator asking "why was everything blocked" sees the decoded string beside the errors.
    expect(expired.signals.tcf).toMatchObject({
      valid: false,
      errors: [expect.stringContaining('more than 13 months old')],
      cmpId: 300,
      purposeConsents: [1],
      lastUpdated: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
    expect(expired.consent.purposes.storage).toBe(false)
    const fresh = resolveDecoded(
      {
        ...none,
        tcf: [{ from: 'cookie:euconsent-v2', ok: true, value: tcString({ purposeConsents: [1, 2] }) }],
      },
      rules,
      eu,
      NOW,
    )
    expect(fresh.signals.tcf).toMatchObject({ valid: true, errors: [], cmpId: 300, purposeConsents: [1, 2] })
  })

  it('points at a mistyped GPP section in rules/consent.yaml and suggests the right one', () => {
    const yaml =
      'jurisdictions:\n  - { id: US-CA, countries: [US], regions: [CA], regime: opt-out, gppSections: [usnat, uscal] }\n'
    const result = compileRules({ 'consent.yaml': yaml })
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.errors[0]).toMatchObject({ file: 'consent.yaml', line: 2, suggestion: 'usca' })
  })

  it('refuses a jurisdiction listed twice', () => {
    const result = consentSchema.safeParse({
      jurisdictions: [
        { id: 'EU', countries: ['DE'], regime: 'opt-in' },
        { id: 'EU', countries: ['FR'], regime: 'opt-in' },
      ],
    })
    expect(result.success).toBe(false)
    expect(result.error!.issues[0]!.message).toBe('jurisdiction "EU" is listed twice')
  })

  it('rejects a legitimate-interest mapping for purposes the TCF reserves to consent', () => {
    const result = consentSchema.safeParse({
      mapping: { tcf: { advertising: { purposes: [2, 3], legitimateInterest: true } } },
    })
    expect(result.success).toBe(false)
    expect(JSON.stringify(result.error?.issues)).toContain('TCF purpose 3 can only be based on consent')
  })
})
