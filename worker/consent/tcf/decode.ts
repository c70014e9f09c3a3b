/**
 * TCF v2.2/v2.3 TC string decoder ("IAB Tech Lab - Consent string and vendor list formats v2",
 * section "TC String Format"). Walks the field tables in `fields.ts` over a `BitReader`; returns a
 * Result naming the field at fault, never throws, and is bounded by construction: the input length
 * is capped before decoding, every count is checked against the bits that remain before it is
 * used, and vendor sets stay ranges (at most one range per range entry, or per run of set bits).
 */
import {
  BitReader,
  decodeBase64Url,
  decodeError,
  DEFAULT_MAX_LENGTH,
  mergeRanges,
  readRangeList,
} from '../bits'
import type { DecodeResult, IdRanges, PublisherRestriction, PublisherTC, TcfString } from '../types'
import {
  CORE,
  CORE_FIELDS,
  PUBLISHER_TC,
  type FieldSpec,
  type FieldType,
  PUBLISHER_TC_FIELDS,
  RESTRICTIONS,
  SEGMENT_TYPE_BITS,
  SegmentType,
  VENDOR_SECTION,
} from './fields'

export interface DecodeTcOptions {
  /** Longest accepted TC string in characters, checked before decoding (default 8192). */
  maxLength?: number
}

// One decode buffer for the whole isolate: decoding is synchronous and keeps no bytes, so each
// segment reuses it instead of allocating (8 KB of base64url is 6 KB of bytes).
const SCRATCH = new Uint8Array(Math.ceil((DEFAULT_MAX_LENGTH * 6) / 8))

/** Core plus at most one of each later segment type (DisclosedVendors, AllowedVendors, PublisherTC). */
const MAX_SEGMENTS = 4

// Spec names of a vendor Range section's fields, for errors.
const VENDOR_RANGE_NAMES = { numEntries: 'NumEntries', start: 'StartOrOnlyVendorId', end: 'EndVendorId' }

type FieldValue = number | boolean | string | number[] | IdRanges | PublisherRestriction[]

/**
 * Decodes a TC string (core segment, then '.'-separated DisclosedVendors / AllowedVendors /
 * PublisherTC segments in any order) into the API.md `signals.tcf` shape. Structural problems are
 * errors; policy checks (age, service-specific, policy version...) are `checkTcfValidity`'s job.
 *
 * The `tcfeuv2` section of a GPP string is the same TC string ('.'-separated segments), so GPP
 * passes it here unchanged.
 *
 * @example decodeTcString('CQ...').ok
 */
export function decodeTcString(input: string, opts: DecodeTcOptions = {}): DecodeResult<TcfString> {
  const maxLength = opts.maxLength ?? DEFAULT_MAX_LENGTH
  if (typeof input !== 'string') return decodeError('bad_type', 'TCString', 'TCString is not a string')
  if (input.length > maxLength) {
    return decodeError(
      'too_long',
      'TCString',
      `TCString is ${input.length} characters, the limit is ${maxLength}`,
    )
  }
  const segments = splitSegments(input)
  if (segments === null) {
    return decodeError(
      'too_many_segments',
      'TCString',
      `TCString has more than ${MAX_SEGMENTS} '.'-separated segments`,
    )
  }

  const coreBits = decodeBase64Url(segments[0] as string, { maxLength, field: 'Core', scratch: SCRATCH })
  if (!coreBits.ok) return coreBits
  const core = readFields(BitReader.of(coreBits.value), CORE_FIELDS, '')
  if (!core.ok) return core
  const c = core.value

  let disclosedVendors: IdRanges | null = null
  let publisherTC: PublisherTC | null = null
  let seen = 0
  for (let i = 1; i < segments.length; i++) {
    const label = `Segment[${i}]`
    const bits = decodeBase64Url(segments[i] as string, { maxLength, field: label, scratch: SCRATCH })
    if (!bits.ok) return bits
    const r = BitReader.of(bits.value)
    const type = r.readInt(SEGMENT_TYPE_BITS)
    if (r.overrun)
      return decodeError('truncated', `${label}.SegmentType`, `${label}.SegmentType runs past the end`)
    if (seen & (1 << type)) {
      return decodeError(
        'duplicate_segment',
        `${label}.SegmentType`,
        `SegmentType ${type} appears more than once`,
      )
    }
    seen |= 1 << type
    if (type === SegmentType.DisclosedVendors) {
      const disclosed = readVendorSection(r, 'DisclosedVendors')
      if (!disclosed.ok) return disclosed
      disclosedVendors = disclosed.value
    } else if (type === SegmentType.PublisherTC) {
      const pub = readFields(r, PUBLISHER_TC_FIELDS, 'PublisherTC')
      if (!pub.ok) return pub
      const p = pub.value
      publisherTC = {
        purposeConsents: p[PUBLISHER_TC.purposeConsents] as number[],
        purposeLegitimateInterests: withoutConsentOnlyPurposes(
          p[PUBLISHER_TC.purposeLegitimateInterests] as number[],
        ),
        customPurposeConsents: p[PUBLISHER_TC.customPurposeConsents] as number[],
        customPurposeLegitimateInterests: p[PUBLISHER_TC.customPurposeLegitimateInterests] as number[],
      }
    } else if (type !== SegmentType.AllowedVendors) {
      // AllowedVendors (2) is deprecated since v2.2 and ignored; 0 (core) cannot repeat, 4-7 are
      // undefined. An unknown segment makes the string invalid: it grants nothing.
      return decodeError(
        'unknown_segment',
        `${label}.SegmentType`,
        `SegmentType ${type} is not a TC string segment`,
      )
    }
  }

  return {
    ok: true,
    value: {
      // Values sit in table order; CORE maps each key to its position (fields.ts).
      version: c[CORE.version] as number,
      created: c[CORE.created] as string,
      lastUpdated: c[CORE.lastUpdated] as string,
      cmpId: c[CORE.cmpId] as number,
      cmpVersion: c[CORE.cmpVersion] as number,
      consentScreen: c[CORE.consentScreen] as number,
      consentLanguage: c[CORE.consentLanguage] as string,
      vendorListVersion: c[CORE.vendorListVersion] as number,
      policyVersion: c[CORE.policyVersion] as number,
      isServiceSpecific: c[CORE.isServiceSpecific] as boolean,
      useNonStandardTexts: c[CORE.useNonStandardTexts] as boolean,
      specialFeatureOptIns: c[CORE.specialFeatureOptIns] as number[],
      purposeConsents: c[CORE.purposeConsents] as number[],
      purposeLegitimateInterests: withoutConsentOnlyPurposes(c[CORE.purposeLegitimateInterests] as number[]),
      purposeOneTreatment: c[CORE.purposeOneTreatment] as boolean,
      publisherCountryCode: c[CORE.publisherCountryCode] as string,
      vendorConsents: c[CORE.vendorConsents] as IdRanges,
      vendorLegitimateInterests: c[CORE.vendorLegitimateInterests] as IdRanges,
      publisherRestrictions: c[CORE.publisherRestrictions] as PublisherRestriction[],
      disclosedVendors,
      publisherTC,
    },
  }
}

function ascending(a: number, b: number): number {
  return a - b
}

/** Splits on '.', or returns null past MAX_SEGMENTS (without splitting a string of dots first). */
function splitSegments(input: string): string[] | null {
  const out: string[] = []
  let start = 0
  for (;;) {
    const dot = input.indexOf('.', start)
    if (out.length === MAX_SEGMENTS) return null
    if (dot < 0) {
      out.push(input.slice(start))
      return out
    }
    out.push(input.slice(start, dot))
    start = dot + 1
  }
}

// TCF v2.2 Policies (policy version 4, in force from 2023): legitimate interest is no longer a
// permitted legal basis for Purposes 3, 4, 5 and 6 (personalised advertising and content
// profiles and their selection). A set LI bit for them establishes nothing, so it is dropped
// here rather than trusted by whatever reads the result.
function withoutConsentOnlyPurposes(purposes: number[]): number[] {
  const kept: number[] = []
  for (const p of purposes) if (p < 3 || p > 6) kept.push(p)
  return kept
}

/** Reads a table of fields, returning their values in table order (see `positions`). */
function readFields<K extends string>(
  r: BitReader,
  fields: readonly FieldSpec<K>[],
  prefix: string,
): DecodeResult<FieldValue[]> {
  const values: FieldValue[] = []
  for (const spec of fields) {
    if (spec.type === 'vendors' || spec.type === 'restrictions') {
      const name = fieldName(prefix, spec)
      const section = spec.type === 'vendors' ? readVendorSection(r, name) : readRestrictions(r, name)
      if (!section.ok) return section
      values.push(section.value)
      continue
    }
    // A width named by key refers to an earlier int field (NumCustomPurposes).
    const bits = typeof spec.bits === 'number' ? spec.bits : (values[positionOf(fields, spec.bits)] as number)
    const value = readScalar(r, spec.type, bits)
    if (value === null) {
      const name = fieldName(prefix, spec)
      return r.overrun
        ? decodeError('truncated', name, `${name} runs past the end of the segment`)
        : decodeError('out_of_range', name, `${name} has a letter outside A-Z`)
    }
    if (spec.equals && value !== spec.equals.value) {
      const name = fieldName(prefix, spec)
      return decodeError(
        spec.equals.reason,
        name,
        `${name} is ${String(value)}, only ${spec.equals.value} is supported`,
      )
    }
    values.push(value)
  }
  return { ok: true, value: values }
}

function positionOf<K extends string>(fields: readonly FieldSpec<K>[], key: K): number {
  for (let i = 0; i < fields.length; i++) if ((fields[i] as FieldSpec<K>).key === key) return i
  return -1
}

// Error names are built only when something fails: building one per field showed up in profiles.
function fieldName(prefix: string, spec: FieldSpec<string>): string {
  return prefix ? `${prefix}.${spec.name}` : spec.name
}

/** One small reader per fixed-width field type; null when the bits run out or a letter is not A-Z. */
function readScalar(r: BitReader, type: FieldType, bits: number): FieldValue | null {
  let value: FieldValue | null
  switch (type) {
    case 'int':
      value = r.readInt(bits)
      break
    case 'bool':
      value = r.readBool()
      break
    case 'datetime':
      value = r.readDatetime()
      break
    case 'bitfield':
      value = r.readBitfield(bits)
      break
    case 'letters':
      value = r.readString6(bits / 6)
      break
    default:
      value = null
  }
  return r.overrun ? null : value
}

/**
 * A vendor section: MaxVendorId, IsRangeEncoding, then a MaxVendorId-bit BitField or a Range
 * section whose ids must lie in 1..MaxVendorId ("Vendor Consent Section"; the LI and
 * DisclosedVendors sections share the layout).
 */
function readVendorSection(r: BitReader, section: string): DecodeResult<IdRanges> {
  const maxVendorId = r.readInt(VENDOR_SECTION.maxVendorIdBits)
  if (r.overrun)
    return decodeError('truncated', `${section}.MaxVendorId`, `${section}.MaxVendorId runs past the end`)
  const isRangeEncoding = r.readBool()
  if (r.overrun) {
    return decodeError(
      'truncated',
      `${section}.IsRangeEncoding`,
      `${section}.IsRangeEncoding runs past the end`,
    )
  }
  if (!isRangeEncoding) {
    if (maxVendorId > r.remaining) {
      return decodeError(
        'truncated',
        `${section}.BitField`,
        `${section}.MaxVendorId is ${maxVendorId} but only ${r.remaining} bits remain for the BitField`,
      )
    }
    return { ok: true, value: r.readBitfieldRanges(maxVendorId) }
  }
  return readRangeList(r, {
    field: section,
    countBits: VENDOR_SECTION.numEntriesBits,
    idBits: VENDOR_SECTION.vendorIdBits,
    maxId: maxVendorId,
    names: VENDOR_RANGE_NAMES,
  })
}

/**
 * The Publisher Restrictions section: NumPubRestrictions entries of PurposeId, RestrictionType and
 * a range list of vendors. Entries for the same purpose and type are merged; entries without
 * vendors restrict nothing and are left out. Output sorted by purpose, then type.
 */
function readRestrictions(r: BitReader, section: string): DecodeResult<PublisherRestriction[]> {
  const countField = `${section}.NumPubRestrictions`
  const count = r.readInt(RESTRICTIONS.numPubRestrictionsBits)
  if (r.overrun) return decodeError('truncated', countField, `${countField} runs past the end`)
  const minEntryBits =
    RESTRICTIONS.purposeIdBits + RESTRICTIONS.restrictionTypeBits + RESTRICTIONS.numEntriesBits
  if (count * minEntryBits > r.remaining) {
    return decodeError(
      'truncated',
      countField,
      `${countField} is ${count} but only ${r.remaining} bits remain`,
    )
  }
  if (count === 0) return { ok: true, value: [] }
  const rangeSpec = {
    field: section,
    countBits: RESTRICTIONS.numEntriesBits,
    idBits: RESTRICTIONS.vendorIdBits,
    names: VENDOR_RANGE_NAMES,
  }
  // key = purposeId * 4 + restrictionType
  const byKey = new Map<number, IdRanges>()
  for (let i = 0; i < count; i++) {
    const purposeId = r.readInt(RESTRICTIONS.purposeIdBits)
    const restrictionType = r.readInt(RESTRICTIONS.restrictionTypeBits)
    if (r.overrun)
      return decodeError('truncated', `${section}.PurposeId`, `${section} entry ${i + 1} runs past the end`)
    if (purposeId === 0)
      return decodeError('out_of_range', `${section}.PurposeId`, `${section}.PurposeId 0 is not a purpose`)
    // RestrictionType 3 is "UNDEFINED (not used)" in the spec.
    if (restrictionType === 3) {
      return decodeError(
        'out_of_range',
        `${section}.RestrictionType`,
        `${section}.RestrictionType 3 is undefined`,
      )
    }
    const vendors = readRangeList(r, rangeSpec)
    if (!vendors.ok) return vendors
    const key = purposeId * 4 + restrictionType
    const before = byKey.get(key)
    // Appending in place: concat would copy the list once per entry (quadratic on hostile input).
    if (before) for (const range of vendors.value) before.push(range)
    else byKey.set(key, vendors.value)
  }
  const out: PublisherRestriction[] = []
  for (const key of [...byKey.keys()].sort(ascending)) {
    const vendors = mergeRanges(byKey.get(key) as IdRanges)
    if (vendors.length === 0) continue
    out.push({ purposeId: key >> 2, restrictionType: (key & 3) as 0 | 1 | 2, vendors })
  }
  return { ok: true, value: out }
}
