/**
 * What one decoded signal says on its own: the Gatehouse purposes a valid TC string grants under
 * the rules' TCF mapping (vendor and publisher restrictions included), and the sale/share opinion
 * of GPP US sections and US Privacy values. Pure: no Workers imports. `resolve.ts` combines them.
 */
import type { ConsentRules } from '../rules/concerns/consent'
import { TCF_LI_FORBIDDEN } from '../rules/concerns/consent'
import type { Reading } from './resolve'
import { PURPOSES, type GppSectionFields, type GppString, type Purpose, type TcfString } from './types'

/** true when a GPP section is an embedded TC string (tcfeuv2) rather than a field record. */
export function isTcf(section: GppSectionFields | TcfString): section is TcfString {
  return (
    typeof (section as TcfString).purposeConsents === 'object' &&
    Array.isArray((section as TcfString).purposeConsents)
  )
}

/** USP / uspv1 `OptOutSale`: Y opted out, N not, anything else (`-`) says nothing. */
export function uspOptOut(v: unknown): boolean | null {
  return v === 'Y' ? true : v === 'N' ? false : null
}

export interface Grant {
  granted: boolean
  detail: string
}

/** What one valid TC string grants for each Gatehouse purpose, per the rules' TCF mapping. */
export function tcfGrants(tc: TcfString, rules: ConsentRules): Record<Purpose, Grant> {
  const publisher = rules.usePublisherTC && tc.publisherTC ? tc.publisherTC : null
  const consents = publisher ? publisher.purposeConsents : tc.purposeConsents
  const lis = publisher ? publisher.purposeLegitimateInterests : tc.purposeLegitimateInterests
  const vendor = rules.gvlVendorId
  const out = {} as Record<Purpose, Grant>
  for (const p of PURPOSES) {
    const m = rules.mapping.tcf[p]
    if (m.purposes.length === 0) {
      out[p] = { granted: false, detail: 'no TCF purpose is mapped' }
      continue
    }
    const ok: number[] = []
    const byLi: number[] = []
    const missing: string[] = []
    for (const id of m.purposes) {
      const restriction = vendor === null ? undefined : restrictionFor(tc, id, vendor)
      if (restriction === 0) {
        missing.push(`${id} (publisher restriction: not allowed for vendor ${vendor})`)
        continue
      }
      const hasConsent =
        restriction !== 2 && consents.includes(id) && (vendor === null || tc.vendorConsents.has(vendor))
      // TCF v2.2: LI bits for purposes 1 and 3-6 carry no meaning and must be ignored.
      const hasLi =
        restriction !== 1 &&
        (m.legitimateInterest || restriction === 2) &&
        !TCF_LI_FORBIDDEN.includes(id) &&
        lis.includes(id) &&
        (vendor === null || tc.vendorLegitimateInterests.has(vendor))
      if (hasConsent) ok.push(id)
      else if (hasLi) byLi.push(id)
      else if (consents.includes(id) && vendor !== null)
        missing.push(`${id} (no consent for vendor ${vendor})`)
      else missing.push(String(id))
    }
    const parts: string[] = []
    if (publisher) parts.push('PublisherTC segment used')
    if (ok.length) parts.push(`${plural('purpose', ok)} consented`)
    if (byLi.length) parts.push(`${plural('purpose', byLi)} by legitimate interest`)
    if (missing.length) parts.push(`${plural('purpose', missing)} not allowed`)
    out[p] = { granted: missing.length === 0, detail: parts.join('; ') }
  }
  return out
}

function restrictionFor(tc: TcfString, purposeId: number, vendor: number): 0 | 1 | 2 | undefined {
  for (const r of tc.publisherRestrictions) {
    if (r.purposeId === purposeId && r.vendors.has(vendor)) return r.restrictionType
  }
  return undefined
}

function plural(word: string, ids: Array<number | string>): string {
  return `${word}${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`
}

/** A GPP string's opinion on sale/share in this jurisdiction: null when no counted section is present. */
export function gppOptOut(
  r: Extract<Reading<GppString>, { ok: true }>,
  sections: string[],
  rules: ConsentRules,
): { optedOut: boolean | null; detail: string; gpc: string | null } {
  const found: string[] = []
  const hits: string[] = []
  let gpc: string | null = null
  for (const name of sections) {
    const s = r.value.sections[name]
    if (!s || isTcf(s)) continue
    found.push(name)
    for (const field of rules.mapping.optOut.gppFields) {
      // GPP US sections: 0 not applicable, 1 opted out, 2 did not opt out.
      if (s[field] === 1) hits.push(`${name} ${field}=1`)
    }
    if (s.Gpc === true && gpc === null) gpc = name
  }
  if (found.length === 0) return { optedOut: null, detail: '', gpc }
  const detail = hits.length
    ? `GPP string (${r.from}) ${hits.join(', ')}`
    : `GPP string (${r.from}) ${found.join(', ')} without opt-out`
  return { optedOut: hits.length > 0, detail, gpc }
}
