/**
 * GPP section 5, `tcfcav1`: IAB Canada TCF (Sections/Canada "IAB Canada TCF Technical
 * Specification"). A core sub-section, then optional sub-sections in any order, each opening with
 * SubsectionType Int(3): 1 = Disclosed Vendors, 3 = Publisher Purposes. Vendor lists stay
 * `IdRanges`. Fields absent from the string are reported as null.
 */
import { BitReader, decodeError } from '../bits'
import type { DecodeResult, GppSectionFields } from '../types'
import { checkPadding, compileTable, int, readFields, segmentReader, splitSegments } from './fields'
import type { CompiledTable, FieldTable } from './fields'

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

// Flattened once per isolate for `readFields`.
const CORE_COMPILED = compileTable(CORE)
const SUBSECTIONS: Record<number, CompiledTable> = {
  1: compileTable(DISCLOSED_VENDORS),
  3: compileTable(PUBLISHER_PURPOSES),
}
// Every output key in spec order, null until read: a section always has the same keys (absent
// sub-sections stay null), and decoding fills a copy of this shape instead of growing an object.
const SHAPE: GppSectionFields = Object.fromEntries(
  [['Version'], ...CORE, ...DISCLOSED_VENDORS, ...PUBLISHER_PURPOSES].map(([name]) => [name, null]),
)

const NAME = 'tcfcav1'
const SUBSECTION_TYPE = `${NAME}.SubsectionType`

/** Decodes a tcfcav1 section body: `core[.subsection[.subsection]]`. */
export function decodeTcfCaSection(body: string, maxLength: number): DecodeResult<GppSectionFields> {
  const segments = splitSegments(body, 3)
  if (segments === null) {
    return decodeError('unexpected_segment', NAME, `${NAME} has more than two sub-sections`)
  }
  const r = segmentReader(segments[0] as string, NAME, maxLength)
  if (!(r instanceof BitReader)) return r
  const version = r.readInt(6)
  if (r.overrun) return decodeError('truncated', `${NAME}.Version`, `${NAME}.Version runs past the end`)
  if (version !== 1) {
    return decodeError('bad_version', `${NAME}.Version`, `${NAME}.Version is ${version}, only 1 is defined`)
  }
  const out: GppSectionFields = { ...SHAPE, Version: 1 }
  const failed = readFields(r, CORE_COMPILED, NAME, out) ?? checkPadding(r, NAME)
  if (failed) return failed

  let seen = 0 // bit per SubsectionType already read
  for (let i = 1; i < segments.length; i++) {
    const field = SUBSECTION_TYPE
    const s = segmentReader(segments[i] as string, field, maxLength)
    if (!(s instanceof BitReader)) return s
    const type = s.readInt(3)
    if (s.overrun) return decodeError('truncated', field, `${field} runs past the end`)
    const table = SUBSECTIONS[type]
    if (!table) return decodeError('unknown_subsection', field, `${field} ${type} is not 1 or 3`)
    if ((seen & (1 << type)) !== 0) {
      return decodeError('duplicate_subsection', field, `${field} ${type} appears twice`)
    }
    seen |= 1 << type
    const bad = readFields(s, table, NAME, out) ?? checkPadding(s, field)
    if (bad) return bad
  }
  return { ok: true, value: out }
}
