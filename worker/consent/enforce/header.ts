/**
 * The one header that tells the origin what the gateway resolved: `X-Gatehouse-Consent`.
 *
 *   X-Gatehouse-Consent: j=EU;r=in;s=1;m=0;p=0;a=0;sso=0;gpc=0;v=3f2a9c0d1b4e5f60
 *
 * j jurisdiction, r regime (in/out), s m p a the purposes storage, measurement, personalization,
 * advertising (1 allowed), sso sale/share opt-out, gpc Global Privacy Control seen, v snapshot id.
 * Pure: no Workers imports.
 */
import type { Consent } from '../types'

export const CONSENT_HEADER = 'x-gatehouse-consent'

const bit = (v: boolean) => (v ? '1' : '0')

export function consentHeaderValue(consent: Consent): string {
  const p = consent.purposes
  return [
    `j=${consent.jurisdiction}`,
    `r=${consent.regime === 'opt-in' ? 'in' : 'out'}`,
    `s=${bit(p.storage)}`,
    `m=${bit(p.measurement)}`,
    `p=${bit(p.personalization)}`,
    `a=${bit(p.advertising)}`,
    `sso=${bit(consent.saleShareOptOut)}`,
    `gpc=${bit(consent.gpc)}`,
    `v=${consent.snapshotId}`,
  ].join(';')
}

/** Parses the header back (for origins written in TypeScript, and for tests); null when malformed. */
export function parseConsentHeader(value: string): Record<string, string> | null {
  const out: Record<string, string> = {}
  for (const part of value.split(';')) {
    const eq = part.indexOf('=')
    if (eq <= 0) return null
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
  }
  return out
}
