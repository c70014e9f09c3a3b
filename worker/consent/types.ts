/**
 * The consent contract: what every CMP signal decodes to, and the one `Consent` each request
 * resolves to (docs/architecture.md "Consent model", docs/api.md "GET /v1/consent"). Types only, and the
 * `IdRanges` class they use.
 */
import type { DecodeReason } from './bits'
import type { IdRanges } from './ranges'

/**
 * Inclusive id ranges, sorted and merged, in one flat typed array (`./ranges`); serialised as
 * `[[1, 4], [10, 10]]`. Never expanded into id arrays.
 */
export { IdRanges } from './ranges'

/** Every decoder returns a Result; failures carry a tagged reason naming the field. */
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: DecodeError }

export interface DecodeError {
  /** Machine-readable reason, one of a closed list (`DecodeReason` in `./bits`). */
  reason: DecodeReason
  /** The field at fault, in the spec's naming (`Version`, `CmpId`, `VendorConsents.MaxVendorId`, ...). */
  field: string
  message: string
}

export interface PublisherRestriction {
  purposeId: number
  /** 0 not allowed, 1 require consent, 2 require legitimate interest (TCF spec). */
  restrictionType: 0 | 1 | 2
  vendors: IdRanges
}

export interface PublisherTC {
  purposeConsents: number[]
  purposeLegitimateInterests: number[]
  customPurposeConsents: number[]
  customPurposeLegitimateInterests: number[]
}

/**
 * A decoded TCF v2 TC string, in the shape of docs/api.md `signals.tcf` (without valid/errors) but for
 * its two dates, which are numbers here and ISO 8601 strings there (`TcfReport`).
 */
export interface TcfString {
  version: number
  /**
   * Created, in milliseconds since the Unix epoch (the string stores deciseconds). A number, as
   * `Date.getTime()` would give: the validity checks compute with it, and only the API report
   * formats it (formatting in the decoder was a sixth of a short string's decode).
   */
  created: number
  /** LastUpdated, in milliseconds since the Unix epoch. */
  lastUpdated: number
  cmpId: number
  cmpVersion: number
  consentScreen: number
  consentLanguage: string
  vendorListVersion: number
  policyVersion: number
  isServiceSpecific: boolean
  useNonStandardTexts: boolean
  specialFeatureOptIns: number[]
  purposeConsents: number[]
  purposeLegitimateInterests: number[]
  purposeOneTreatment: boolean
  publisherCountryCode: string
  vendorConsents: IdRanges
  vendorLegitimateInterests: IdRanges
  publisherRestrictions: PublisherRestriction[]
  /** null when the string has no DisclosedVendors segment. */
  disclosedVendors: IdRanges | null
  publisherTC: PublisherTC | null
}

/** docs/api.md `signals.tcf` (without valid/errors): a `TcfString` with its dates as ISO 8601 strings. */
export type TcfReport = Omit<TcfString, 'created' | 'lastUpdated'> & {
  created: string
  lastUpdated: string
}

/** One entry of a GPP `N-ArrayOfRanges(X,Y)` field (tcfcav1 `PubRestrictions`): key, type and its ids. */
export interface GppRangeEntry {
  key: number
  type: number
  ids: IdRanges
}

/** Field values of one GPP section, keyed by the GPP spec's field names (`SaleOptOut`, `Gpc`, ...). */
export type GppSectionFields = Record<
  string,
  number | boolean | string | number[] | IdRanges | GppRangeEntry[] | null
>

export interface GppString {
  version: number
  /** Section ids from the header, in order. */
  sectionIds: number[]
  /** Decoded sections by prefix (`usnat`, `usca`, `uspv1`, `tcfcav1`...). `tcfeuv2` holds a TcfString. */
  sections: Record<string, GppSectionFields | TcfString>
  /** Header section ids this decoder does not know: reported, never decoded, they grant nothing. */
  unknownSectionIds?: number[]
}

export interface UspString {
  version: number
  notice: 'Y' | 'N' | '-'
  optOutSale: 'Y' | 'N' | '-'
  lspaCovered: 'Y' | 'N' | '-'
}

/**
 * A signal as reported by `GET /v1/consent`: decoded fields when valid, errors when not, and the
 * decoded fields beside the errors when it decoded but failed a policy check (an expired TC string).
 */
export type Reported<T> =
  ({ valid: true; errors: [] } & T) | ({ valid: false; errors: string[] } & Partial<T>)

export type Purpose = 'storage' | 'measurement' | 'personalization' | 'advertising'
export const PURPOSES: readonly Purpose[] = ['storage', 'measurement', 'personalization', 'advertising']

export interface ConsentSource {
  signal: 'tcf' | 'gpp' | 'usp' | 'gpc' | 'cmp' | 'default'
  /**
   * Where it was read: `cookie:euconsent-v2`, `query:gdpr_consent`, `header:Sec-GPC`,
   * `body:consent.tcString`, `cookie:OptanonConsent` (a CMP cookie).
   */
  from: string
  valid: boolean
  /** true when it influenced the result. */
  used: boolean
}

/** The one resolved consent per request (docs/architecture.md "Consent model"). */
export interface Consent {
  purposes: Record<Purpose, boolean>
  saleShareOptOut: boolean
  gpc: boolean
  /** `EU`, `UK`, `CH`, `US-CA`, ..., `OTHER` (unknown location). */
  jurisdiction: string
  /** `opt-in` or `opt-out`, from the jurisdiction policy in rules/. */
  regime: 'opt-in' | 'opt-out'
  sources: ConsentSource[]
  reasons: string[]
  /** Content hash of the consent state, used as the snapshot id in decision records. */
  snapshotId: string
}
