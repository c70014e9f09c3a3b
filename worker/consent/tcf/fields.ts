/**
 * The TC string layout as data: every field of each segment in spec order, with its width and
 * type, named as the spec names it ("IAB Tech Lab - Consent string and vendor list formats v2",
 * section "TC String Format"; TCF v2.2/v2.3). The decoder walks these tables; no bit offsets are
 * counted by hand anywhere else.
 */
import type { DecodeReason } from '../bits'
import type { PublisherTC, TcfString } from '../types'

/**
 * How a field is read. `int` and `bool` are plain; `datetime` is 36-bit deciseconds; `letters`
 * is 6-bit A-Z letters (`bits / 6` of them); `bitfield` is a fixed-width set of 1-based ids;
 * `vendors` is a vendor section (MaxVendorId, IsRangeEncoding, BitField or Range section);
 * `restrictions` is the Publisher Restrictions section.
 */
export type FieldType = 'int' | 'bool' | 'datetime' | 'letters' | 'bitfield' | 'vendors' | 'restrictions'

export interface FieldSpec<K extends string> {
  /** The spec's field name, used in errors (`CmpId`, `VendorConsents.MaxVendorId`, ...). */
  name: string
  /** Where the value goes in the decoded output. */
  key: K
  type: FieldType
  /**
   * Width in bits, or the key of an earlier `int` field holding it (PublisherTC custom purposes).
   * 0 for `vendors` and `restrictions`, whose length comes from their own counts.
   */
  bits: number | K
  /** The only accepted value, and the reason reported otherwise (the core's Version). */
  equals?: { value: number; reason: DecodeReason }
}

// Core segment, "TC String Format" table. The core has no SegmentType: it is always first.
export const CORE_FIELDS: readonly FieldSpec<keyof TcfString>[] = [
  // Only version 2 has this layout: anything else is rejected before reading further.
  { name: 'Version', key: 'version', type: 'int', bits: 6, equals: { value: 2, reason: 'bad_version' } },
  { name: 'Created', key: 'created', type: 'datetime', bits: 36 },
  { name: 'LastUpdated', key: 'lastUpdated', type: 'datetime', bits: 36 },
  { name: 'CmpId', key: 'cmpId', type: 'int', bits: 12 },
  { name: 'CmpVersion', key: 'cmpVersion', type: 'int', bits: 12 },
  { name: 'ConsentScreen', key: 'consentScreen', type: 'int', bits: 6 },
  { name: 'ConsentLanguage', key: 'consentLanguage', type: 'letters', bits: 12 },
  { name: 'VendorListVersion', key: 'vendorListVersion', type: 'int', bits: 12 },
  { name: 'TcfPolicyVersion', key: 'policyVersion', type: 'int', bits: 6 },
  { name: 'IsServiceSpecific', key: 'isServiceSpecific', type: 'bool', bits: 1 },
  { name: 'UseNonStandardTexts', key: 'useNonStandardTexts', type: 'bool', bits: 1 },
  { name: 'SpecialFeatureOptIns', key: 'specialFeatureOptIns', type: 'bitfield', bits: 12 },
  { name: 'PurposesConsent', key: 'purposeConsents', type: 'bitfield', bits: 24 },
  { name: 'PurposesLITransparency', key: 'purposeLegitimateInterests', type: 'bitfield', bits: 24 },
  { name: 'PurposeOneTreatment', key: 'purposeOneTreatment', type: 'bool', bits: 1 },
  { name: 'PublisherCC', key: 'publisherCountryCode', type: 'letters', bits: 12 },
  { name: 'VendorConsents', key: 'vendorConsents', type: 'vendors', bits: 0 },
  { name: 'VendorLegitimateInterests', key: 'vendorLegitimateInterests', type: 'vendors', bits: 0 },
  { name: 'PublisherRestrictions', key: 'publisherRestrictions', type: 'restrictions', bits: 0 },
]

/** Position of each field in its table: decoders read values into an array in table order. */
export function positions<K extends string>(fields: readonly FieldSpec<K>[]): Readonly<Record<K, number>> {
  return Object.fromEntries(fields.map((f, i) => [f.key, i])) as Record<K, number>
}

export const CORE = positions(CORE_FIELDS)

/**
 * The fixed-width fields a table opens with (up to its first field sized by a count or by a
 * section of its own), by table position: each one's bit offset and width, and their total length.
 */
export function fixedHead<K extends string>(
  fields: readonly FieldSpec<K>[],
): { offsets: readonly number[]; widths: readonly number[]; length: number } {
  const offsets: number[] = []
  const widths: number[] = []
  let length = 0
  for (const f of fields) {
    if (typeof f.bits !== 'number' || f.bits === 0) break
    offsets.push(length)
    widths.push(f.bits)
    length += f.bits
  }
  return { offsets, widths, length }
}

/** The core's fixed head (Version to PublisherCC, 213 bits), for the decoder's straight-line reader. */
export const CORE_HEAD = fixedHead(CORE_FIELDS)

/** PublisherTC keys plus the count that sizes the custom purpose bitfields. */
export type PublisherTcKey = keyof PublisherTC | 'numCustomPurposes'

// Publisher Purposes Transparency and Consent segment (SegmentType 3), after its SegmentType.
export const PUBLISHER_TC_FIELDS: readonly FieldSpec<PublisherTcKey>[] = [
  { name: 'PubPurposesConsent', key: 'purposeConsents', type: 'bitfield', bits: 24 },
  { name: 'PubPurposesLITransparency', key: 'purposeLegitimateInterests', type: 'bitfield', bits: 24 },
  { name: 'NumCustomPurposes', key: 'numCustomPurposes', type: 'int', bits: 6 },
  {
    name: 'CustomPurposesConsent',
    key: 'customPurposeConsents',
    type: 'bitfield',
    bits: 'numCustomPurposes',
  },
  {
    name: 'CustomPurposesLITransparency',
    key: 'customPurposeLegitimateInterests',
    type: 'bitfield',
    bits: 'numCustomPurposes',
  },
]

export const PUBLISHER_TC = positions(PUBLISHER_TC_FIELDS)

/** Width of the SegmentType that opens every segment after the core. */
export const SEGMENT_TYPE_BITS = 3

/** SegmentType values ("TC String Format", segment types). */
export const SegmentType = {
  DisclosedVendors: 1,
  /** Deprecated since TCF v2.2: accepted and ignored. */
  AllowedVendors: 2,
  PublisherTC: 3,
} as const

// Vendor section ("Vendor Consent Section" and the identical LI / DisclosedVendors layouts).
export const VENDOR_SECTION = {
  maxVendorIdBits: 16,
  isRangeEncodingBits: 1,
  numEntriesBits: 12,
  vendorIdBits: 16,
} as const

// "Publisher Restrictions Section".
export const RESTRICTIONS = {
  numPubRestrictionsBits: 12,
  purposeIdBits: 6,
  restrictionTypeBits: 2,
  numEntriesBits: 12,
  vendorIdBits: 16,
} as const
