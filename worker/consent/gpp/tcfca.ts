/**
 * GPP section 5, `tcfcav1`: IAB Canada TCF (Sections/Canada "IAB Canada TCF Technical
 * Specification"). A core sub-section, then optional sub-sections in any order, each opening with
 * SubsectionType Int(3): 1 = Disclosed Vendors, 3 = Publisher Purposes. Vendor lists stay
 * `IdRanges`. Fields absent from the string are reported as null.
 */
import { decodeError } from '../bits'
import type { DecodeResult, GppSectionFields } from '../types'
import {
  builderFor,
  buildSection,
  checkPadding,
  compileTable,
  countSegments,
  discard,
  int,
  isGenericBuilder,
  readFields,
  segmentError,
  segmentText,
  VALUES,
} from './fields'
import type { Build, CompiledTable, FieldTable } from './fields'
import { SEGMENT } from './reader'

// "Core sub-section", in order. Version is checked separately (only 1 is defined).
const CORE: FieldTable = [
  ['Created', { type: 'datetime' }],
  ['LastUpdated', { type: 'datetime' }],
  ['CmpId', int(12)],
  ['CmpVersion', int(12)],
  ['ConsentScreen', int(6)],
  ['ConsentLanguage', { type: 'string', chars: 2 }],
  ['VendorListVersion', int(12)],
  ['TcfPolicyVersion', int(6)],
  ['UseNonStandardStacks', { type: 'bool' }],
  ['SpecialFeatureExpressConsent', { type: 'bitfield', bits: 12 }],
  ['PurposesExpressConsent', { type: 'bitfield', bits: 24 }],
  ['PurposesImpliedConsent', { type: 'bitfield', bits: 24 }],
  ['VendorExpressConsent', { type: 'optimizedRange' }],
  ['VendorImpliedConsent', { type: 'optimizedRange' }],
  ['PubRestrictions', { type: 'arrayOfRanges', keyBits: 6, typeBits: 2 }],
]

// "Disclosed Vendors Sub-section" (after SubsectionType = 1).
const DISCLOSED_VENDORS: FieldTable = [['DisclosedVendors', { type: 'optimizedRange' }]]

// "Publisher Purposes Sub-section" (after SubsectionType = 3).
const PUBLISHER_PURPOSES: FieldTable = [
  ['PubPurposesExpressConsent', { type: 'bitfield', bits: 24 }],
  ['PubPurposesImpliedConsent', { type: 'bitfield', bits: 24 }],
  ['NumCustomPurposes', int(6)],
  ['CustomPurposesExpressConsent', { type: 'bitfieldOf', lengthField: 'NumCustomPurposes' }],
  ['CustomPurposesImpliedConsent', { type: 'bitfieldOf', lengthField: 'NumCustomPurposes' }],
]

const NAME = 'tcfcav1'

// Output positions: Version, the core, then each sub-section's fields (null while absent).
const KEYS = ['Version', ...[...CORE, ...DISCLOSED_VENDORS, ...PUBLISHER_PURPOSES].map(([name]) => name)]
const CORE_AT = 1
const DISCLOSED_VENDORS_AT = CORE_AT + CORE.length
const PUBLISHER_PURPOSES_AT = DISCLOSED_VENDORS_AT + DISCLOSED_VENDORS.length

// Flattened once per isolate for `readFields`.
const CORE_COMPILED = compileTable(CORE, NAME)
const SUBSECTIONS: Record<number, { fields: CompiledTable; at: number }> = {
  1: { fields: compileTable(DISCLOSED_VENDORS, NAME), at: DISCLOSED_VENDORS_AT },
  3: { fields: compileTable(PUBLISHER_PURPOSES, NAME), at: PUBLISHER_PURPOSES_AT },
}

// The section's object as one literal (checked against KEYS by `builderFor`; see `fields.ts`).
const BUILD: Build = builderFor(KEYS, [
  (v) => ({
    Version: v[0],
    Created: v[1],
    LastUpdated: v[2],
    CmpId: v[3],
    CmpVersion: v[4],
    ConsentScreen: v[5],
    ConsentLanguage: v[6],
    VendorListVersion: v[7],
    TcfPolicyVersion: v[8],
    UseNonStandardStacks: v[9],
    SpecialFeatureExpressConsent: v[10],
    PurposesExpressConsent: v[11],
    PurposesImpliedConsent: v[12],
    VendorExpressConsent: v[13],
    VendorImpliedConsent: v[14],
    PubRestrictions: v[15],
    DisclosedVendors: v[16],
    PubPurposesExpressConsent: v[17],
    PubPurposesImpliedConsent: v[18],
    NumCustomPurposes: v[19],
    CustomPurposesExpressConsent: v[20],
    CustomPurposesImpliedConsent: v[21],
  }),
])

/** Used by tests: whether the section's object is built by its literal, not the generic builder. */
export const TCFCA_BUILT_BY_LITERAL = !isGenericBuilder(BUILD)

const SUBSECTION_TYPE = `${NAME}.SubsectionType`
const MAX_SEGMENTS = 3

/** Decodes a tcfcav1 section body, `text[start..end)`: `core[.subsection[.subsection]]`. */
export function decodeTcfCaSection(
  text: string,
  start: number,
  end: number,
  maxLength: number,
): DecodeResult<GppSectionFields> {
  const result = decodeSegments(text, start, end, maxLength)
  // More than three segments is the first thing wrong with a body, whatever else is.
  if (!result.ok && countSegments(text, start, end, MAX_SEGMENTS) > MAX_SEGMENTS) {
    return decodeError('unexpected_segment', NAME, `${NAME} has more than two sub-sections`)
  }
  return result
}

function decodeSegments(
  text: string,
  start: number,
  end: number,
  maxLength: number,
): DecodeResult<GppSectionFields> {
  const r = SEGMENT
  let stop = r.load(text, start, end)
  if (stop < 0) return segmentError(segmentText(text, start, end), NAME, maxLength)
  const version = r.readInt(6)
  if (r.overrun) return decodeError('truncated', `${NAME}.Version`, `${NAME}.Version runs past the end`)
  if (version !== 1) {
    return decodeError('bad_version', `${NAME}.Version`, `${NAME}.Version is ${version}, only 1 is defined`)
  }
  VALUES[0] = 1
  const failed = readFields(r, CORE_COMPILED, VALUES, CORE_AT) ?? checkPadding(r, NAME)
  if (failed) return discard(failed)
  for (let i = DISCLOSED_VENDORS_AT; i < KEYS.length; i++) VALUES[i] = null

  let seen = 0 // bit per SubsectionType already read
  for (let segment = 2; stop < end; segment++) {
    const field = SUBSECTION_TYPE
    if (segment > MAX_SEGMENTS) {
      return discard(decodeError('unexpected_segment', NAME, `${NAME} has more than two sub-sections`))
    }
    const from = stop + 1
    stop = r.load(text, from, end)
    if (stop < 0) return discard(segmentError(segmentText(text, from, end), field, maxLength))
    const type = r.readInt(3)
    if (r.overrun) return discard(decodeError('truncated', field, `${field} runs past the end`))
    const sub = SUBSECTIONS[type]
    if (!sub) return discard(decodeError('unknown_subsection', field, `${field} ${type} is not 1 or 3`))
    if ((seen & (1 << type)) !== 0) {
      return discard(decodeError('duplicate_subsection', field, `${field} ${type} appears twice`))
    }
    seen |= 1 << type
    const bad = readFields(r, sub.fields, VALUES, sub.at) ?? checkPadding(r, field)
    if (bad) return discard(bad)
  }
  return { ok: true, value: buildSection(BUILD, KEYS.length) }
}
