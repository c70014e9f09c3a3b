/**
 * Consent resolution: decoded CMP signals + the visitor's location + `rules/consent.yaml` -> the
 * one `Consent` of docs/architecture.md "Consent model", with a human-readable reason for every purpose and
 * the `signals` report of docs/api.md "GET /v1/consent". Pure: no Workers imports, no I/O, never throws
 * on decoded input; a signal that is invalid, expired or does not count here grants nothing.
 */
import type { Location } from '../context/location'
import type { ConsentRules, JurisdictionPolicy, SignalKind } from '../rules/concerns/consent'
import { US_STATE_SECTIONS } from '../rules/concerns/consent'
import { cmpName, cmpOpinion, reportCmp, type CmpDecoded, type CmpReport } from './cmp/opinion'
import { gppOptOut, isTcf, tcfGrants, uspOptOut } from './grants'
import { snapshotId } from './snapshot'
import { isoFromEpochMs } from './bits'
import { checkTcfValidity, type TcfValidityPolicy } from './tcf'
import {
  PURPOSES,
  type Consent,
  type ConsentSource,
  type GppSectionFields,
  type GppString,
  type Purpose,
  type Reported,
  type TcfReport,
  type TcfString,
  type UspString,
} from './types'

/**
 * One occurrence of a signal: where it was read, and what it decoded to (or why it did not).
 * `decoded` keeps what a string said when it decoded but failed a policy check (an expired TC
 * string), so the report can show it.
 */
export type Reading<T> = { from: string } & (
  { ok: true; value: T } | { ok: false; errors: string[]; decoded?: T }
)

/** Every signal found on a request, in preference order per kind (cookie before query). */
export interface DecodedSignals {
  tcf: Array<Reading<TcfString>>
  gpp: Array<Reading<GppString>>
  usp: Array<Reading<UspString>>
  /** Where GPC was asserted (`header:Sec-GPC`, `body:consent.gpc`); empty when it was not. */
  gpc: string[]
  /** CMP cookies found (OneTrust, Cookiebot, ...), in the order of the CMP table. */
  cmp?: CmpDecoded[]
}

export type ReportedGpp = Reported<
  Omit<GppString, 'sections'> & { sections: Record<string, GppSectionFields | Reported<TcfReport>> }
>

/** `signals` (docs/api.md): an absent signal is absent; an invalid one has `valid: false` and errors. */
export interface ReportedSignals {
  tcf?: Reported<TcfReport>
  gpp?: ReportedGpp
  usp?: Reported<UspString>
  /** Each CMP cookie found, by CMP name (`signals.cmp.onetrust`). */
  cmp?: Record<string, CmpReport>
}

export interface Resolution {
  consent: Consent
  signals: ReportedSignals
}

export interface Jurisdiction {
  id: string
  policy: Required<JurisdictionPolicy>
}

/** The jurisdiction and its policy for a location: first matching rule, else `OTHER` / the country. */
export function jurisdictionFor(location: Location, rules: ConsentRules): Jurisdiction {
  const { country, region } = location
  if (!country) return { id: 'OTHER', policy: withDefaults(rules.unknownLocation, null, null) }
  for (const j of rules.jurisdictions) {
    if (!j.countries.includes(country)) continue
    if (j.regions && !(region && j.regions.includes(region))) continue
    return { id: j.id, policy: withDefaults(j, country, region) }
  }
  return { id: country, policy: withDefaults(rules.elsewhere, country, region) }
}

function withDefaults(
  p: JurisdictionPolicy,
  country: string | null,
  region: string | null,
): Required<JurisdictionPolicy> {
  const signals: SignalKind[] =
    p.signals ?? (p.regime === 'opt-in' ? ['tcf', 'gpp', 'gpc', 'cmp'] : ['gpp', 'usp', 'gpc', 'cmp'])
  // usnat applies everywhere in the US; a state's own section only in that state.
  const state = country === 'US' && region ? US_STATE_SECTIONS[region] : undefined
  const gppSections = p.gppSections ?? (p.regime === 'opt-out' ? ['usnat', ...(state ? [state] : [])] : [])
  return { regime: p.regime, signals, gppSections }
}

/** The TCF validity policy the rules ask for. */
export function tcfValidityPolicy(rules: ConsentRules): TcfValidityPolicy {
  return {
    maxAgeMonths: rules.tcf.maxAgeMonths,
    requireDisclosedVendorsFrom: rules.tcf.disclosedVendorsRequiredFrom,
    policyVersionMinAfter: { date: '2023-09-30', min: 4 },
    maxFutureSkewMinutes: 24 * 60,
  }
}

const LABEL: Record<SignalKind, string> = {
  tcf: 'TCF string',
  gpp: 'GPP string',
  usp: 'US Privacy string',
  gpc: 'GPC',
  cmp: 'CMP cookie',
}

/**
 * Resolves decoded signals into one `Consent`.
 *
 * @example resolveDecoded({ tcf: [], gpp: [], usp: [], gpc: [] }, rules.consent, { country: 'DE', region: null, source: 'cf' }, new Date())
 *   // -> EU, opt-in, nothing granted, reason "EU is opt-in; no valid consent signal -> ..."
 */
export function resolveDecoded(
  signals: DecodedSignals,
  rules: ConsentRules,
  location: Location,
  now: Date,
): Resolution {
  const j = jurisdictionFor(location, rules)
  const { regime, signals: counted } = j.policy
  const head = `${j.id} is ${regime}`
  const reasons: string[] = []
  const sources: ConsentSource[] = []
  const validity = tcfValidityPolicy(rules)

  // TC strings are checked against policy here, not when decoded: expiry depends on `now`.
  const tcf = signals.tcf.map((r) => checkTcf(r, validity, now))
  const gpp = signals.gpp
  const usp = signals.usp
  const gppTcf = new Map<Reading<GppString>, Reading<TcfString>>()
  for (const r of gpp) {
    const section = r.ok ? r.value.sections.tcfeuv2 : undefined
    if (section && isTcf(section)) {
      gppTcf.set(r, checkTcf({ from: `${r.from}#tcfeuv2`, ok: true, value: section }, validity, now))
    }
  }

  const usedTcf = firstValid(tcf)
  const usedGpp = firstValid(gpp)
  const usedUsp = firstValid(usp)
  const cmp = signals.cmp ?? []
  const cmpCounts = counted.includes('cmp')

  // Every IAB reading by kind, for the invalid-signal reasons here and the sources at the end.
  const iab = [
    ['tcf', tcf],
    ['gpp', gpp],
    ['usp', usp],
  ] as const
  // Invalid signals are reported and ignored: they grant nothing and, so that an unresolved macro
  // in a link cannot wipe a valid cookie, they do not veto a valid signal either.
  for (const [kind, list] of iab) {
    for (const r of list as Array<Reading<unknown>>) {
      if (!r.ok) reasons.push(`${LABEL[kind]} (${r.from}) invalid: ${r.errors.join('; ')} -> grants nothing`)
    }
  }
  for (const r of gppTcf.values()) {
    if (!r.ok)
      reasons.push(`GPP tcfeuv2 section (${r.from}) invalid: ${r.errors.join('; ')} -> grants nothing`)
  }
  // CMP cookies: a malformed one grants nothing; one that does not count here is ignored; an
  // undecided one, or implied consent in an opt-in regime, is neither a grant nor a refusal.
  const cmpValid: Array<Extract<CmpDecoded, { ok: true }>> = []
  for (const d of cmp) {
    if (!d.ok) reasons.push(`${cmpName(d)} invalid: ${d.errors.join('; ')} -> grants nothing`)
    else if (!cmpCounts) reasons.push(`${cmpName(d)} does not count in ${j.id} -> ignored`)
    else cmpValid.push(d)
  }
  const cmpDeciders = cmpValid.filter((d) =>
    regime === 'opt-in' ? d.value.state === 'explicit' : d.value.state !== 'undecided',
  )
  const cmpUndecided = cmpValid.filter((d) => !cmpDeciders.includes(d))

  const purposes: Record<Purpose, boolean> = {
    storage: false,
    measurement: false,
    personalization: false,
    advertising: false,
  }
  let saleShareOptOut = false
  const used = new Set<Reading<unknown>>()

  if (regime === 'opt-in') {
    const carriers: Array<{
      name: string
      reading: Extract<Reading<TcfString>, { ok: true }>
      kind: 'tcf' | 'gpp'
    }> = []
    if (usedTcf && counted.includes('tcf'))
      carriers.push({ name: `TCF string (${usedTcf.from})`, reading: usedTcf, kind: 'tcf' })
    const embedded = usedGpp ? gppTcf.get(usedGpp) : undefined
    if (usedGpp && embedded?.ok && counted.includes('gpp')) {
      carriers.push({ name: `GPP tcfeuv2 section (${embedded.from})`, reading: embedded, kind: 'gpp' })
    }
    // What the TCF carriers say per purpose: `by` names the signal(s) and their detail.
    type Said = { granted: boolean; by: string; suffix: string }
    let iab: Record<Purpose, Said> | null = null
    if (carriers.length > 0) {
      let deciders = carriers
      if (carriers.length > 1) {
        const preferred =
          rules.conflicts === 'prefer-tcf' ? 'tcf' : rules.conflicts === 'prefer-gpp' ? 'gpp' : null
        if (preferred) {
          deciders = carriers.filter((c) => c.kind === preferred)
          reasons.push(
            `${head}; TCF string and GPP tcfeuv2 section both valid; conflicts: ${rules.conflicts} -> ${deciders[0]!.name} decides`,
          )
        }
      }
      const grants = deciders.map((c) => ({ c, g: tcfGrants(c.reading.value, rules) }))
      const byPurpose = {} as Record<Purpose, Said>
      iab = byPurpose
      for (const p of PURPOSES) {
        const deniers = grants.filter(({ g }) => !g[p].granted)
        if (deniers.length === 0) {
          const by = grants.map(({ c, g }) => `${c.name} valid; ${g[p].detail}`).join('; and ')
          byPurpose[p] = { granted: true, by, suffix: '' }
        } else {
          const { c, g } = deniers[0]!
          const conflict =
            grants.length > 1 && deniers.length < grants.length ? ' (conflicts: most-restrictive)' : ''
          byPurpose[p] = { granted: false, by: `${c.name} valid; ${g[p].detail}`, suffix: conflict }
        }
      }
      for (const { c } of grants) used.add(c.kind === 'tcf' ? usedTcf! : usedGpp!)
    }
    for (const d of cmpUndecided) {
      const why =
        d.value.state === 'undecided'
          ? 'undecided: no choice made yet'
          : `records ${d.value.state === 'implied' ? 'implied consent' : 'that the region needs no consent'}, which does not count in an opt-in regime`
      reasons.push(`${head}; ${cmpName(d)} ${why} -> grants nothing until the visitor decides`)
    }
    if (!iab && cmpDeciders.length === 0) {
      reasons.push(
        cmpUndecided.length > 0
          ? `${head}; consent undecided -> no storage, measurement, personalization or advertising until the visitor decides`
          : `${head}; no valid TCF consent signal -> no storage, measurement, personalization or advertising`,
      )
      sources.push({ signal: 'default', from: `rules:consent.${j.id}`, valid: true, used: true })
    } else {
      const mode = rules.cmp.conflicts
      for (const p of PURPOSES) {
        const outcome = (granted: boolean) => (granted ? p : `no ${p}`)
        const c = cmpDeciders.length ? cmpSays(cmpDeciders, p, rules) : null
        if (!c) {
          purposes[p] = iab![p].granted
          reasons.push(`${head}; ${iab![p].by} -> ${outcome(purposes[p])}${iab![p].suffix}`)
          continue
        }
        for (const d of c.used) used.add(d)
        if (!iab) {
          purposes[p] = c.granted
          reasons.push(`${head}; ${c.by} -> ${outcome(c.granted)}`)
        } else if (iab[p].granted === c.granted) {
          purposes[p] = c.granted
          reasons.push(`${head}; ${iab[p].by}; and ${c.by} -> ${outcome(c.granted)}${iab[p].suffix}`)
        } else {
          purposes[p] = mode === 'prefer-cmp' ? c.granted : mode === 'prefer-iab' ? iab[p].granted : false
          reasons.push(
            `${head}; ${iab[p].by}; but ${c.by}; cmp.conflicts: ${mode} -> ${outcome(purposes[p])}`,
          )
        }
      }
    }
  } else {
    for (const p of PURPOSES) purposes[p] = true
    reasons.push(
      `${head}; storage, measurement, personalization and advertising allowed unless the visitor opts out`,
    )
    sources.push({ signal: 'default', from: `rules:consent.${j.id}`, valid: true, used: true })
    if (usedTcf && counted.includes('tcf'))
      reasons.push(`TCF string (${usedTcf.from}) does not apply in opt-out ${j.id} -> ignored`)
    // A refusal recorded by the CMP (explicit or under its opt-out model) takes the purpose away.
    for (const d of cmpDeciders) {
      const g = cmpOpinion(d, rules)
      const refused = PURPOSES.filter((p) => g[p].verdict === 'refused' && purposes[p])
      for (const p of refused) {
        purposes[p] = false
        reasons.push(`${head}; ${cmpName(d)} ${g[p].detail} -> no ${p}`)
      }
      if (refused.length) used.add(d)
    }
  }

  // Opt-outs: GPP US sections, USP (standalone or GPP uspv1), GPC. They never grant anything.
  const optOuts: string[] = []
  const gppOpinion =
    usedGpp && counted.includes('gpp') ? gppOptOut(usedGpp, j.policy.gppSections, rules) : null
  const uspOpinions: Array<{ reading: Reading<unknown>; name: string; optedOut: boolean | null }> = []
  if (counted.includes('usp')) {
    if (usedUsp)
      uspOpinions.push({
        reading: usedUsp,
        name: `US Privacy string (${usedUsp.from})`,
        optedOut: uspOptOut(usedUsp.value.optOutSale),
      })
    const section = usedGpp?.value.sections.uspv1
    if (usedGpp && section && !isTcf(section)) {
      const v = section.OptOutSale
      uspOpinions.push({
        reading: usedGpp,
        name: `GPP uspv1 section (${usedGpp.from})`,
        optedOut: uspOptOut(v),
      })
    }
  }
  const gppSays = gppOpinion && gppOpinion.optedOut !== null ? gppOpinion : null
  const preferGpp = rules.conflicts === 'prefer-gpp' && gppSays !== null
  // A counted signal said "not opted out" while another opted out: the conflict rule decided.
  let disagreement = false
  if (gppSays) {
    used.add(usedGpp!)
    if (gppSays.optedOut) optOuts.push(`${gppSays.detail}`)
    else {
      disagreement = true
      reasons.push(`${gppSays.detail} -> not opted out`)
    }
  }
  for (const o of uspOpinions) {
    if (o.optedOut === null) continue
    if (preferGpp) {
      if (o.optedOut !== gppSays!.optedOut)
        reasons.push(`${o.name} disagrees with GPP; conflicts: prefer-gpp -> GPP decides`)
      continue
    }
    used.add(o.reading)
    if (o.optedOut) optOuts.push(`${o.name} optOutSale Y`)
    else {
      disagreement = true
      reasons.push(`${o.name} optOutSale N -> not opted out`)
    }
  }
  // A US signal that is present but unreadable may have carried an opt-out: in an opt-out regime,
  // ignoring it would grant what the visitor may have refused, so by default it counts as one.
  if (regime === 'opt-out' && rules.unreadableOptOut === 'opt-out') {
    for (const [kind, list, valid] of [
      ['gpp', gpp, usedGpp],
      ['usp', usp, usedUsp],
    ] as const) {
      const bad = (list as Array<Reading<unknown>>).find((r) => !r.ok)
      if (!counted.includes(kind) || valid || !bad) continue
      used.add(bad)
      optOuts.push(`${LABEL[kind]} (${bad.from}) unreadable, treated as an opt-out`)
    }
  }
  for (const d of cmpValid) {
    if (d.value.state === 'undecided') continue
    if (d.value.saleOptOut) {
      used.add(d)
      optOuts.push(`${cmpName(d)} sale of data refused`)
    }
  }
  const cmpGpc = cmpValid.filter((d) => d.value.gpc)
  if (counted.includes('gpc')) {
    for (const from of signals.gpc) optOuts.push(`GPC (${from})`)
    for (const d of cmpGpc) {
      used.add(d)
      optOuts.push(`GPC flag of ${cmpName(d)}`)
    }
    if (gppOpinion?.gpc) {
      used.add(usedGpp!)
      optOuts.push(`GPP ${gppOpinion.gpc} Gpc (${usedGpp!.from})`)
    }
  } else if (signals.gpc.length > 0) {
    reasons.push(`GPC (${signals.gpc[0]}) does not count in ${j.id} -> ignored`)
  }
  if (optOuts.length > 0) {
    saleShareOptOut = true
    const denied = rules.mapping.optOut.denies.filter((p) => purposes[p])
    for (const p of denied) purposes[p] = false
    const effect = denied.length ? `sale/share opted out, no ${denied.join(', no ')}` : 'sale/share opted out'
    const conflict = !disagreement
      ? ''
      : rules.conflicts === 'prefer-gpp'
        ? ' (GPC is never overruled)'
        : ' (conflicts: most-restrictive)'
    reasons.push(`${head}; ${optOuts.join(' and ')} -> ${effect}${conflict}`)
  }

  // Sources: every reading, valid or not, and whether it influenced the result.
  for (const [kind, list] of iab) {
    for (const r of list as Array<Reading<unknown>>) {
      sources.push({ signal: kind, from: r.from, valid: r.ok, used: used.has(r) })
    }
  }
  for (const from of signals.gpc)
    sources.push({ signal: 'gpc', from, valid: true, used: counted.includes('gpc') })
  for (const d of cmp) sources.push({ signal: 'cmp', from: d.from, valid: d.ok, used: used.has(d) })

  const consent: Omit<Consent, 'snapshotId'> = {
    purposes,
    saleShareOptOut,
    gpc: signals.gpc.length > 0 || cmpGpc.length > 0,
    jurisdiction: j.id,
    regime,
    sources,
    reasons,
  }
  return {
    consent: { ...consent, snapshotId: snapshotId(consent) },
    signals: report(tcf, gpp, usp, gppTcf, cmp, rules),
  }
}

function checkTcf(r: Reading<TcfString>, policy: TcfValidityPolicy, now: Date): Reading<TcfString> {
  if (!r.ok) return r
  const errors = checkTcfValidity(r.value, policy, now)
  return errors.length ? { from: r.from, ok: false, errors, decoded: r.value } : r
}

function firstValid<T>(list: Array<Reading<T>>): Extract<Reading<T>, { ok: true }> | undefined {
  return list.find((r): r is Extract<Reading<T>, { ok: true }> => r.ok)
}

function report(
  tcf: Array<Reading<TcfString>>,
  gpp: Array<Reading<GppString>>,
  usp: Array<Reading<UspString>>,
  gppTcf: Map<Reading<GppString>, Reading<TcfString>>,
  cmp: CmpDecoded[],
  rules: ConsentRules,
): ReportedSignals {
  const out: ReportedSignals = {}
  const t = firstValid(tcf) ?? tcf[0]
  if (t) out.tcf = reportedTcf(t)
  const g = firstValid(gpp) ?? gpp[0]
  if (g) {
    if (g.ok) {
      // A tcfeuv2 section is reported like `signals.tcf`, with its own validity (docs/api.md).
      const sections: Record<string, GppSectionFields | Reported<TcfReport>> = {}
      for (const [name, fields] of Object.entries(g.value.sections)) {
        const embedded = name === 'tcfeuv2' ? gppTcf.get(g) : undefined
        sections[name] = embedded ? reportedTcf(embedded) : (fields as GppSectionFields)
      }
      out.gpp = { valid: true, errors: [], ...g.value, sections }
    } else out.gpp = { valid: false, errors: g.errors }
  }
  const u = firstValid(usp) ?? usp[0]
  if (u) out.usp = reported(u)
  if (cmp.length) {
    out.cmp = {}
    for (const d of cmp) out.cmp[d.cmp] = reportCmp(d, rules)
  }
  return out
}

/**
 * What the CMP cookies that decide say for one purpose: granted only when every one grants it
 * (two CMPs' cookies on one site disagree only when one is stale, so the stricter wins).
 */
function cmpSays(
  deciders: Array<Extract<CmpDecoded, { ok: true }>>,
  p: Purpose,
  rules: ConsentRules,
): { granted: boolean; by: string; used: CmpDecoded[] } | null {
  const said = deciders.map((d) => ({ d, g: cmpOpinion(d, rules)[p] }))
  // A cookie that states no category mapped to this purpose neither grants nor refuses it.
  const stated = said.filter(({ g }) => g.verdict !== 'unstated')
  if (stated.length === 0) {
    const { d, g } = said[0]!
    return { granted: false, by: `${cmpName(d)} ${g.detail}`, used: [] }
  }
  const refusing = stated.find(({ g }) => g.verdict === 'refused')
  if (refusing)
    return { granted: false, by: `${cmpName(refusing.d)} ${refusing.g.detail}`, used: [refusing.d] }
  return {
    granted: true,
    by: stated.map(({ d, g }) => `${cmpName(d)} ${g.detail}`).join('; and '),
    used: stated.map(({ d }) => d),
  }
}

function reported<T>(r: Reading<T>): Reported<T> {
  return r.ok ? ({ valid: true, errors: [], ...r.value } as Reported<T>) : { valid: false, errors: r.errors }
}

/** A TC string as docs/api.md reports it: its dates as ISO 8601 strings. */
function reportedTcf(r: Reading<TcfString>): Reported<TcfReport> {
  // A string that decoded but failed a policy check: what it said, beside why it does not count.
  if (!r.ok && r.decoded)
    return {
      ...r.decoded,
      created: isoFromEpochMs(r.decoded.created),
      lastUpdated: isoFromEpochMs(r.decoded.lastUpdated),
      valid: false,
      errors: r.errors,
    }
  if (!r.ok) return { valid: false, errors: r.errors }
  const tc = r.value
  return {
    valid: true,
    errors: [],
    ...tc,
    created: isoFromEpochMs(tc.created),
    lastUpdated: isoFromEpochMs(tc.lastUpdated),
  }
}
