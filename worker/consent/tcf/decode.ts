/**
 * TCF v2.2/v2.3 TC string decoder ("IAB Tech Lab - Consent string and vendor list formats v2",
 * section "TC String Format"). Reads the field tables in `fields.ts` over a `WordReader`; returns a
 * Result naming the field at fault, never throws, and is bounded by construction: the input length
 * is capped before decoding, every count is checked against the bits that remain before it is
 * used, and vendor sets stay ranges (at most one range per range entry, or per run of set bits).
 */
import {
  badCharacterAt,
  type DecodeFailure,
  decodeError,
  DEFAULT_MAX_LENGTH,
  isFailure,
  readDatetime,
} from '../bits'
import { readIntRanges, type RangeNames } from '../bits-ranges'
import { IdRanges } from '../ranges'
import type { DecodeResult, PublisherRestriction, TcfString } from '../types'
import {
  CORE,
  CORE_HEAD,
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
import { asciiBytes, decodeWords, idsOfBits, lettersOf, WordReader, wordsFor } from './words'

export interface DecodeTcOptions {
  /** Longest accepted TC string in characters, checked before decoding (default 8192). */
  maxLength?: number
}

// `segmentReader` returns READER loaded with the segment, or a DecodeFailure, told apart by
// identity. JIT: docs/performance.md "Engine notes", "Failures built off the hot path".
function notLoaded(r: WordReader | DecodeFailure): r is DecodeFailure {
  return r !== READER
}

// One byte and one word buffer for the whole isolate: decoding is synchronous and keeps no bits,
// so every string and segment reuses them instead of allocating (8 KB of base64url is 1,536 words).
const BYTES = new Uint8Array(DEFAULT_MAX_LENGTH)
const WORDS = new Int32Array(wordsFor(DEFAULT_MAX_LENGTH))
// Likewise one reader, loaded with each segment in turn.
const READER = new WordReader(WORDS, 0)

/** Core plus at most one of each later segment type (DisclosedVendors, AllowedVendors, PublisherTC). */
const MAX_SEGMENTS = 4

// Where each segment of the string being decoded ends (at its '.' or the end of the string).
const SEGMENT_ENDS = new Int32Array(MAX_SEGMENTS)

// Error field prefixes of each segment by position, built once rather than per decode.
const SEGMENT_LABELS = Array.from({ length: MAX_SEGMENTS }, (_, i) => (i === 0 ? 'Core' : `Segment[${i}]`))

// Spec names of a vendor Range section's fields, for errors.
const VENDOR_RANGE_NAMES: RangeNames = {
  numEntries: 'NumEntries',
  start: 'StartOrOnlyVendorId',
  end: 'EndVendorId',
}

// TCF v2.2 Policies (policy version 4, in force from 2023): legitimate interest is no longer a
// permitted legal basis for Purposes 3, 4, 5 and 6 (personalised advertising and content
// profiles and their selection). A set LI bit for them establishes nothing, so it is dropped
// here rather than trusted by whatever reads the result.
const CONSENT_ONLY_PURPOSES = [3, 4, 5, 6]

// The same purposes as bits of a 24-bit purposes field (id p is bit 24 - p from the right), so
// the core's LI field can be cleared of them before it is listed.
const CONSENT_ONLY_MASK = CONSENT_ONLY_PURPOSES.reduce(
  (m, p) => m | (1 << ((CORE_HEAD.widths[CORE.purposeLegitimateInterests] as number) - p)),
  0,
)

type FieldValue = number | boolean | string | number[] | IdRanges | PublisherRestriction[]

/**
 * Decodes a TC string (core segment, then '.'-separated DisclosedVendors / AllowedVendors /
 * PublisherTC segments in any order) into the docs/api.md `signals.tcf` shape. Structural problems are
 * errors; policy checks (age, service-specific, policy version...) are `checkTcfValidity`'s job.
 *
 * The `tcfeuv2` section of a GPP string is the same TC string ('.'-separated segments), so GPP
 * passes it here unchanged.
 *
 * @example decodeTcString('CQ...').ok
 */
export function decodeTcString(input: string, opts?: DecodeTcOptions): DecodeResult<TcfString> {
  const maxLength = opts?.maxLength ?? DEFAULT_MAX_LENGTH
  if (typeof input !== 'string') return decodeError('bad_type', 'TCString', 'TCString is not a string')
  if (input.length > maxLength) {
    return decodeError(
      'too_long',
      'TCString',
      `TCString is ${input.length} characters, the limit is ${maxLength}`,
    )
  }
  // Segments are read in place (no split): count them first, so that too many is refused before
  // anything is decoded, noting where each ends so that no '.' is searched for twice.
  let dots = 0
  for (let at = input.indexOf('.'); at >= 0; at = input.indexOf('.', at + 1)) {
    SEGMENT_ENDS[dots] = at
    if (++dots === MAX_SEGMENTS) {
      return decodeError(
        'too_many_segments',
        'TCString',
        `TCString has more than ${MAX_SEGMENTS} '.'-separated segments`,
      )
    }
  }

  // Past the default cap (a raised maxLength), buffers of the string's own size.
  const bytes = asciiBytes(input, input.length <= BYTES.length ? BYTES : new Uint8Array(input.length))
  const words = input.length <= DEFAULT_MAX_LENGTH ? WORDS : new Int32Array(wordsFor(input.length))

  SEGMENT_ENDS[dots] = input.length
  let end = SEGMENT_ENDS[0] as number
  const coreReader = segmentReader(input, bytes, 0, end, SEGMENT_LABELS[0] as string, words)
  if (notLoaded(coreReader)) return coreReader
  // The fast core reader handles every well-formed core head; anything else (truncated, not
  // version 2, a letter past 'Z') goes through the table, which names the field at fault.
  const core =
    readCore(coreReader) ?? readCoreByTable(coreReader.load(coreReader.words, coreReader.bitLength))
  if (!core.ok) return core
  const tc = core.value

  let seen = 0
  for (let i = 1; i <= dots; i++) {
    const start = end + 1
    end = SEGMENT_ENDS[i] as number
    const label = SEGMENT_LABELS[i] as string
    const r = segmentReader(input, bytes, start, end, label, words)
    if (notLoaded(r)) return r
    const type = r.readBits(SEGMENT_TYPE_BITS)
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
      if (isFailure(disclosed)) return disclosed
      tc.disclosedVendors = disclosed
    } else if (type === SegmentType.PublisherTC) {
      const pub = readFields(r, PUBLISHER_TC_FIELDS, 'PublisherTC')
      if (!pub.ok) return pub
      const p = pub.value
      tc.publisherTC = {
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
  return core
}

/**
 * A reader over the segment `input[start..end)` (`bytes` holds its characters), decoded into
 * `words`, or the base64url error naming `field`.
 */
function segmentReader(
  input: string,
  bytes: Uint8Array,
  start: number,
  end: number,
  field: string,
  words: Int32Array,
): WordReader | DecodeFailure {
  if (end === start) return decodeError('empty', field, `${field} is empty`)
  const bitLength = decodeWords(bytes, start, end, words)
  if (bitLength < 0) {
    const at = badCharacterAt(input, start, end) - start
    return decodeError('bad_base64', field, `${field} has a character outside base64url at position ${at}`)
  }
  return READER.load(words, bitLength)
}

// The core head's values by table position (`CORE`), filled by one loop per decode over the
// head's offsets and widths: decoding is synchronous, so one buffer serves the isolate.
const HEAD_OFFSETS = Int32Array.from(CORE_HEAD.offsets)
const HEAD_WIDTHS = Int32Array.from(CORE_HEAD.widths)
const HEAD = new Float64Array(HEAD_WIDTHS.length)
const LETTERS = {
  consentLanguage: (CORE_HEAD.widths[CORE.consentLanguage] as number) / 6,
  publisherCountryCode: (CORE_HEAD.widths[CORE.publisherCountryCode] as number) / 6,
}
// "Only version 2 has this layout": the Version field's `equals` in CORE_FIELDS (NaN, matching
// nothing, if it had none: every string would then go through the table walk).
const VERSION = CORE_FIELDS[CORE.version]?.equals?.value ?? NaN

/**
 * The core segment read straight through: every field of the fixed head (Version to PublisherCC)
 * in one loop over the offsets and widths `CORE_HEAD` takes from `CORE_FIELDS`, after one check
 * that the head fits, then the vendor and restriction sections. What the table walk
 * (`readCoreByTable`) does, without its per-field dispatch, bounds checks and values array;
 * decode.test.ts checks the two agree. Returns null, to hand over to the table walk, when the
 * head is not a well-formed version 2 head; section errors are returned as they are (the walk
 * uses the same section readers).
 */
export function readCore(r: WordReader): DecodeResult<TcfString> | null {
  if (r.bitLength < CORE_HEAD.length) return null
  const v = HEAD
  for (let i = 0; i < v.length; i++) v[i] = r.intAt(HEAD_OFFSETS[i] as number, HEAD_WIDTHS[i] as number)
  const consentLanguage = lettersOf(v[CORE.consentLanguage] as number, LETTERS.consentLanguage)
  const publisherCountryCode = lettersOf(v[CORE.publisherCountryCode] as number, LETTERS.publisherCountryCode)
  if (v[CORE.version] !== VERSION || consentLanguage === null || publisherCountryCode === null) return null
  // Deciseconds to milliseconds (exact: 36-bit counts times 100 stay far below 2^53).
  const created = (v[CORE.created] as number) * 100
  const lastUpdated = (v[CORE.lastUpdated] as number) * 100
  const bits = CORE_HEAD.widths
  r.pos = CORE_HEAD.length

  const vendorConsents = readVendorSection(r, 'VendorConsents')
  if (isFailure(vendorConsents)) return vendorConsents
  const vendorLegitimateInterests = readVendorSection(r, 'VendorLegitimateInterests')
  if (isFailure(vendorLegitimateInterests)) return vendorLegitimateInterests
  const publisherRestrictions = readRestrictions(r, 'PublisherRestrictions')
  if (isFailure(publisherRestrictions)) return publisherRestrictions
  return {
    ok: true,
    value: {
      version: VERSION,
      created,
      lastUpdated,
      cmpId: v[CORE.cmpId] as number,
      cmpVersion: v[CORE.cmpVersion] as number,
      consentScreen: v[CORE.consentScreen] as number,
      consentLanguage,
      vendorListVersion: v[CORE.vendorListVersion] as number,
      policyVersion: v[CORE.policyVersion] as number,
      isServiceSpecific: v[CORE.isServiceSpecific] === 1,
      useNonStandardTexts: v[CORE.useNonStandardTexts] === 1,
      specialFeatureOptIns: idsOfBits(
        v[CORE.specialFeatureOptIns] as number,
        bits[CORE.specialFeatureOptIns] as number,
      ),
      purposeConsents: idsOfBits(v[CORE.purposeConsents] as number, bits[CORE.purposeConsents] as number),
      // Listed without the consent-only purposes' bits (see CONSENT_ONLY_PURPOSES).
      purposeLegitimateInterests: idsOfBits(
        (v[CORE.purposeLegitimateInterests] as number) & ~CONSENT_ONLY_MASK,
        bits[CORE.purposeLegitimateInterests] as number,
      ),
      purposeOneTreatment: v[CORE.purposeOneTreatment] === 1,
      publisherCountryCode,
      vendorConsents,
      vendorLegitimateInterests,
      publisherRestrictions,
      disclosedVendors: null,
      publisherTC: null,
    },
  }
}

/**
 * The core segment read by walking `CORE_FIELDS`: the reference reading, used when `readCore`
 * hands over (it names the field at fault) and by the test that checks `readCore` against it.
 */
export function readCoreByTable(r: WordReader): DecodeResult<TcfString> {
  const core = readFields(r, CORE_FIELDS, '')
  if (!core.ok) return core
  const c = core.value
  return {
    ok: true,
    value: {
      // Values sit in table order; CORE maps each key to its position (fields.ts).
      version: c[CORE.version] as number,
      created: c[CORE.created] as number,
      lastUpdated: c[CORE.lastUpdated] as number,
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
      disclosedVendors: null,
      publisherTC: null,
    },
  }
}

/** A purposes list without the consent-only purposes (see CONSENT_ONLY_PURPOSES). */
function withoutConsentOnlyPurposes(purposes: number[]): number[] {
  const kept: number[] = []
  for (const p of purposes) if (!CONSENT_ONLY_PURPOSES.includes(p)) kept.push(p)
  return kept
}

/** Reads a table of fields, returning their values in table order (see `positions`). */
function readFields<K extends string>(
  r: WordReader,
  fields: readonly FieldSpec<K>[],
  prefix: string,
): DecodeResult<FieldValue[]> {
  const values: FieldValue[] = []
  for (const spec of fields) {
    if (spec.type === 'vendors' || spec.type === 'restrictions') {
      const name = fieldName(prefix, spec)
      const section = spec.type === 'vendors' ? readVendorSection(r, name) : readRestrictions(r, name)
      if (isFailure(section)) return section
      values.push(section)
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

// Error names are built only when something fails.
// JIT: docs/performance.md "Engine notes", "Failures built off the hot path".
function fieldName(prefix: string, spec: FieldSpec<string>): string {
  return prefix ? `${prefix}.${spec.name}` : spec.name
}

/** One small reader per fixed-width field type; null when the bits run out or a letter is not A-Z. */
function readScalar(r: WordReader, type: FieldType, bits: number): FieldValue | null {
  let value: FieldValue | null
  switch (type) {
    case 'int':
      value = r.readInt(bits)
      break
    case 'bool':
      value = r.readBool()
      break
    case 'datetime':
      value = readDatetime(r)
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
function readVendorSection(r: WordReader, section: string): IdRanges | DecodeFailure {
  const maxVendorId = r.readBits(VENDOR_SECTION.maxVendorIdBits)
  if (r.overrun) return vendorSectionError(r, section, 'MaxVendorId', maxVendorId)
  const isRangeEncoding = r.readBool()
  if (r.overrun) return vendorSectionError(r, section, 'IsRangeEncoding', maxVendorId)
  if (isRangeEncoding) {
    return readIntRanges(
      r,
      section,
      VENDOR_RANGE_NAMES,
      VENDOR_SECTION.numEntriesBits,
      VENDOR_SECTION.vendorIdBits,
      maxVendorId,
    )
  }
  if (maxVendorId > r.remaining) return vendorSectionError(r, section, 'BitField', maxVendorId)
  return r.readBitfieldRanges(maxVendorId)
}

function vendorSectionError(
  r: WordReader,
  section: string,
  field: string,
  maxVendorId: number,
): DecodeFailure {
  if (r.overrun)
    return decodeError('truncated', `${section}.${field}`, `${section}.${field} runs past the end`)
  return decodeError(
    'truncated',
    `${section}.${field}`,
    `${section}.MaxVendorId is ${maxVendorId} but only ${r.remaining} bits remain for the BitField`,
  )
}

// Restriction vendor ids have no MaxVendorId: any 16-bit id but 0.
const RESTRICTION_MAX_ID = 2 ** RESTRICTIONS.vendorIdBits - 1

// Where each purpose and type (key purposeId * 4 + restrictionType) sits in the output being
// built, valid only where SLOT_STAMPS holds the current call's stamp: no per-call table to
// allocate or clear. Float64 stamps stay exact for 2^53 calls. JIT: docs/performance.md "Engine
// notes", "Failures built off the hot path".
const SLOTS = new Uint16Array(2 ** (RESTRICTIONS.purposeIdBits + RESTRICTIONS.restrictionTypeBits))
const SLOT_STAMPS = new Float64Array(SLOTS.length)
let restrictionStamp = 0

/**
 * The Publisher Restrictions section: NumPubRestrictions entries of PurposeId, RestrictionType and
 * a range list of vendors. Entries for the same purpose and type are merged; entries without
 * vendors restrict nothing and are left out. Output sorted by purpose, then type (the order
 * encoders write, so usually as read).
 */
function readRestrictions(r: WordReader, section: string): PublisherRestriction[] | DecodeFailure {
  const count = r.readBits(RESTRICTIONS.numPubRestrictionsBits)
  if (r.overrun) return countError(section, 'runs past the end')
  const minEntryBits =
    RESTRICTIONS.purposeIdBits + RESTRICTIONS.restrictionTypeBits + RESTRICTIONS.numEntriesBits
  if (count * minEntryBits > r.remaining) {
    return countError(section, `is ${count} but only ${r.remaining} bits remain`)
  }
  const out: PublisherRestriction[] = []
  if (count === 0) return out
  // This call's stamp: a key's slot is only valid when stamped by this call (see SLOT_STAMPS).
  const stamp = ++restrictionStamp
  let lastKey = -1
  let sorted = true
  // The vendor sets of a purpose and type that appears more than once, by position in `out`,
  // united once at the end (uniting at every repeat would be quadratic on hostile input).
  let repeats: Array<IdRanges[] | undefined> | null = null
  for (let i = 0; i < count; i++) {
    const purposeId = r.readBits(RESTRICTIONS.purposeIdBits)
    const restrictionType = r.readBits(RESTRICTIONS.restrictionTypeBits)
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
    const vendors = readIntRanges(
      r,
      section,
      VENDOR_RANGE_NAMES,
      RESTRICTIONS.numEntriesBits,
      RESTRICTIONS.vendorIdBits,
      RESTRICTION_MAX_ID,
    )
    if (isFailure(vendors)) return vendors
    // An entry without vendors restricts nothing.
    if (vendors.count === 0) continue
    const key = purposeId * 4 + restrictionType
    if (SLOT_STAMPS[key] !== stamp) {
      SLOT_STAMPS[key] = stamp
      SLOTS[key] = out.length
      out.push({ purposeId, restrictionType: restrictionType as 0 | 1 | 2, vendors })
      if (key < lastKey) sorted = false
      lastKey = key
    } else {
      const slot = SLOTS[key] as number
      repeats ??= []
      const sets = (repeats[slot] ??= [(out[slot] as PublisherRestriction).vendors])
      sets.push(vendors)
    }
  }
  if (repeats) {
    for (let slot = 0; slot < repeats.length; slot++) {
      const sets = repeats[slot]
      if (sets) (out[slot] as PublisherRestriction).vendors = IdRanges.union(sets)
    }
  }
  if (!sorted) out.sort(byPurposeThenType)
  return out
}

function countError(section: string, detail: string): DecodeFailure {
  const field = `${section}.NumPubRestrictions`
  return decodeError('truncated', field, `${field} ${detail}`)
}

function byPurposeThenType(a: PublisherRestriction, b: PublisherRestriction): number {
  return a.purposeId - b.purposeId || a.restrictionType - b.restrictionType
}
