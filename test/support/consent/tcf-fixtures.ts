/**
 * TC strings for tests and benchmarks, written bit by bit from the same field tables the decoder
 * reads (worker/consent/tcf/fields.ts), with raw access to every count and id so tests can build
 * strings no real encoder would produce (hostile NumEntries, backwards ranges, truncations).
 */
import { CORE_FIELDS, PUBLISHER_TC_FIELDS, SEGMENT_TYPE_BITS } from '../../../worker/consent/tcf/fields'
import type { TcfString } from '../../../worker/consent/types'
import { bitfield, int, toBase64Url } from './bit-strings'

export { bitfield, int, toBase64Url } from './bit-strings'

/** Vendor section with BitField encoding. */
export function vendorBitfield(maxVendorId: number, ids: readonly number[]): string {
  return int(maxVendorId, 16) + '0' + bitfield(ids, maxVendorId)
}

/** One range entry: a single id, or [start, end]. */
export type RangeEntry = number | [number, number]

/** Range entries (NumEntries may be overridden to lie about the count). */
export function rangeEntries(entries: readonly RangeEntry[], numEntries = entries.length): string {
  let bits = int(numEntries, 12)
  for (const e of entries)
    bits += typeof e === 'number' ? '0' + int(e, 16) : '1' + int(e[0], 16) + int(e[1], 16)
  return bits
}

/** Vendor section with Range encoding. */
export function vendorRanges(
  maxVendorId: number,
  entries: readonly RangeEntry[],
  numEntries?: number,
): string {
  return int(maxVendorId, 16) + '1' + rangeEntries(entries, numEntries)
}

export interface RestrictionEntry {
  purposeId: number
  restrictionType: number
  entries: RangeEntry[]
}

/** Publisher Restrictions section. */
export function restrictions(list: readonly RestrictionEntry[], numPubRestrictions = list.length): string {
  let bits = int(numPubRestrictions, 12)
  for (const r of list) bits += int(r.purposeId, 6) + int(r.restrictionType, 2) + rangeEntries(r.entries)
  return bits
}

/** A core segment's values: the decoded fields, with the vendor sections as raw bits. */
export interface CoreValues extends Omit<
  TcfString,
  | 'vendorConsents'
  | 'vendorLegitimateInterests'
  | 'publisherRestrictions'
  | 'disclosedVendors'
  | 'publisherTC'
> {
  /** Raw section bits. */
  vendorConsents: string
  vendorLegitimateInterests: string
  publisherRestrictions: string
}

export const DEFAULT_CORE: CoreValues = {
  version: 2,
  created: Date.parse('2026-06-03T00:00:00.000Z'),
  lastUpdated: Date.parse('2026-06-03T00:00:00.000Z'),
  cmpId: 880,
  cmpVersion: 0,
  consentScreen: 0,
  consentLanguage: 'EN',
  vendorListVersion: 48,
  policyVersion: 5,
  isServiceSpecific: true,
  useNonStandardTexts: false,
  specialFeatureOptIns: [],
  purposeConsents: [1, 2],
  purposeLegitimateInterests: [],
  purposeOneTreatment: false,
  publisherCountryCode: 'DE',
  vendorConsents: vendorRanges(4, [[1, 4]]),
  vendorLegitimateInterests: vendorBitfield(0, []),
  publisherRestrictions: restrictions([]),
}

type FieldValue = number | boolean | string | number[]

function encodeField(type: string, bits: number, value: FieldValue): string {
  switch (type) {
    case 'int':
      return int(value as number, bits)
    case 'bool':
      return value ? '1' : '0'
    case 'datetime':
      return int(Math.round((value as number) / 100), bits)
    case 'letters':
      return [...(value as string)].map((ch) => int(ch.charCodeAt(0) - 65, 6)).join('')
    case 'bitfield':
      return bitfield(value as number[], bits)
    default:
      return value as string
  }
}

/** Core segment bits, walking the decoder's own field table. */
export function coreBits(values: Partial<CoreValues> = {}): string {
  const all = { ...DEFAULT_CORE, ...values } as unknown as Record<string, FieldValue>
  return CORE_FIELDS.map((f) => encodeField(f.type, f.bits as number, all[f.key] as FieldValue)).join('')
}

/** A DisclosedVendors (1) or AllowedVendors (2) segment over raw section bits. */
export function vendorsSegment(segmentType: 1 | 2, sectionBits: string): string {
  return int(segmentType, SEGMENT_TYPE_BITS) + sectionBits
}

export interface PublisherTcValues {
  purposeConsents: number[]
  purposeLegitimateInterests: number[]
  numCustomPurposes: number
  customPurposeConsents: number[]
  customPurposeLegitimateInterests: number[]
}

/** A PublisherTC (3) segment, walking the decoder's field table. */
export function publisherTcSegment(values: PublisherTcValues): string {
  const all = values as unknown as Record<string, FieldValue>
  return (
    int(3, SEGMENT_TYPE_BITS) +
    PUBLISHER_TC_FIELDS.map((f) =>
      encodeField(
        f.type,
        typeof f.bits === 'number' ? f.bits : values.numCustomPurposes,
        all[f.key] as FieldValue,
      ),
    ).join('')
  )
}

/** A whole TC string from segment bit strings, core first. */
export function tcString(...segments: string[]): string {
  return segments.map((bits) => toBase64Url(bits)).join('.')
}
