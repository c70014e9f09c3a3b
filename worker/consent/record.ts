/**
 * Consent records (GDPR Art. 7(1): the controller must be able to demonstrate consent), the pure
 * part: what a request's resolved consent proves, as the record CustomerState keeps when it
 * changes. The record names the signals that decided (kind, where read, CMP, their version
 * fields) and carries a SHA-256 of each raw string or cookie value, never the value itself: the
 * site can later show that a TC string it holds is the one the visitor presented. The
 * fingerprint tells records apart cheaply on every request (64-bit FNV-1a, synchronous); the
 * SHA-256 is computed only when a record is sent. Pure: no Workers imports.
 */
import type { ReportedSignals } from './resolve'
import type { ConsentInput } from './signals'
import { fnv1a64 } from './snapshot'
import type { Consent, ConsentSource, Purpose } from './types'

/** One signal behind a recorded consent. */
export interface ConsentEvidence {
  signal: ConsentSource['signal']
  /** Where it was read: `cookie:euconsent-v2`, `body:consent.tcString`, `cookie:OptanonConsent`. */
  from: string
  /** The CMP whose cookie it was (`onetrust`), for CMP cookies. */
  cmp?: string
  /** Version and time fields the signal carries (TCF `cmpId`, `policyVersion`, `lastUpdated`, ...). */
  fields: Record<string, string | number | boolean>
  /** Lower-case hex SHA-256 of the raw string or cookie value it was read from. */
  sha256?: string
}

/** What CustomerState records (`noteConsent`), minus the time it adds itself. */
export interface ConsentRecordInput {
  /** Tells this consent state and its evidence apart from the last recorded one. */
  fingerprint: string
  snapshotId: string
  jurisdiction: string
  regime: 'opt-in' | 'opt-out'
  purposes: Record<Purpose, boolean>
  saleShareOptOut: boolean
  gpc: boolean
  evidence: ConsentEvidence[]
}

/**
 * Whether a consent is worth a record: the visitor expressed something (a signal other than the
 * jurisdiction's default was used), or a purpose is not granted (a withdrawal may have happened,
 * and the timers it stops must be cancelled). A visitor with no signal in an opt-out regime, with
 * every purpose granted by default, has made no choice to prove.
 */
export function worthRecording(consent: Consent): boolean {
  return (
    consent.sources.some((s) => s.used && s.signal !== 'default') ||
    Object.values(consent.purposes).some((granted) => !granted)
  )
}

/** A record before its raw values are hashed: `raw` never leaves the request. */
export interface ConsentRecordPlan {
  fingerprint: string
  record: Omit<ConsentRecordInput, 'evidence'>
  evidence: Array<{ evidence: Omit<ConsentEvidence, 'sha256'>; raw: string | null }>
}

// TCF fields that date and version a consent (TCF v2.2 "TC String Format", core segment).
const TCF_FIELDS = [
  'version',
  'cmpId',
  'cmpVersion',
  'consentScreen',
  'consentLanguage',
  'vendorListVersion',
  'policyVersion',
  'isServiceSpecific',
  'created',
  'lastUpdated',
] as const

/**
 * The record a resolved consent stands for, from the signals that were used.
 *
 * @example planConsentRecord(consent, consentEvidence(consent)).fingerprint // '9c3e...'
 */
export function planConsentRecord(
  consent: Consent,
  found: { input?: ConsentInput; signals: ReportedSignals },
): ConsentRecordPlan {
  const evidence: ConsentRecordPlan['evidence'] = []
  for (const s of consent.sources) {
    if (!s.used) continue
    evidence.push({ evidence: evidenceOf(s, found.signals), raw: rawOf(s, found.input) })
  }
  const fingerprint = fnv1a64(
    JSON.stringify([consent.snapshotId, evidence.map((e) => [e.evidence.from, e.raw])]),
  )
  return {
    fingerprint,
    record: {
      fingerprint,
      snapshotId: consent.snapshotId,
      jurisdiction: consent.jurisdiction,
      regime: consent.regime,
      purposes: { ...consent.purposes },
      saleShareOptOut: consent.saleShareOptOut,
      gpc: consent.gpc,
    },
    evidence,
  }
}

function evidenceOf(s: ConsentSource, signals: ReportedSignals): Omit<ConsentEvidence, 'sha256'> {
  const fields: ConsentEvidence['fields'] = {}
  const out: Omit<ConsentEvidence, 'sha256'> = { signal: s.signal, from: s.from, fields }
  if (s.signal === 'tcf' && signals.tcf?.valid) {
    for (const k of TCF_FIELDS) {
      const v = signals.tcf[k]
      if (v !== undefined) fields[k] = v
    }
  } else if (s.signal === 'gpp' && signals.gpp?.valid) {
    fields.version = signals.gpp.version
    fields.sectionIds = signals.gpp.sectionIds.join(',')
  } else if (s.signal === 'usp' && signals.usp?.valid) {
    const { version, notice, optOutSale, lspaCovered } = signals.usp
    Object.assign(fields, { version, notice, optOutSale, lspaCovered })
  } else if (s.signal === 'cmp') {
    const found = Object.entries(signals.cmp ?? {}).find(([, r]) => r.from === s.from)
    if (found) {
      const [cmp, r] = found
      out.cmp = cmp
      if (r.state) fields.state = r.state
      Object.assign(fields, r.fields ?? {})
    }
  }
  return out
}

/** The raw value a source was read from, found again in the request's input; null when none. */
function rawOf(s: ConsentSource, input: ConsentInput | undefined): string | null {
  if (!input) return null
  if (s.signal === 'tcf' || s.signal === 'gpp' || s.signal === 'usp') {
    const direct = input[s.signal].find((r) => r.from === s.from)
    if (direct) return direct.value
  }
  // A CMP cookie (`cookie:OptanonConsent`) or a TC string inside one (`cookie:CookieConsent#iab2`).
  const m = /^cookie:([^#*]+)(#.*)?$/.exec(s.from)
  return m ? (input.cookies?.get(m[1]!) ?? null) : null
}
