/**
 * The US sections of GPP: US National (usnat, id 7, versions 1 and 2) and every state section
 * (ids 8-27), each as a field table taken from the IAB GPP section specifications
 * (`Sections/US-National`, `Sections/US-States/<XX>`) and cross-checked against the field
 * definitions of the IAB reference encoder (`@iabgpp/cmpapi` 3.2.0 `encoder/segment/Us*Segment`).
 *
 * A section is a core segment, optionally followed by '.' and one sub-section:
 * - GPC sub-section (most states, "GPC Sub-section"): SubsectionType Int(2) = 1, Gpc Boolean.
 *   Reported as `Gpc`: true / false, or null when the sub-section is absent.
 * - Sensitive Data Consents sub-section (usin, usky, usri): SensitiveDataProcessing
 *   N-Bitfield(2,8), reported as `SensitiveDataProcessing` (null when absent).
 */
import type { DecodeResult, GppSectionFields } from '../types'
import { decodeError } from '../bits'
import {
  builderFor,
  buildSection,
  checkPadding,
  compileTable,
  countSegments,
  discard,
  INT2,
  INT2_YES_NO,
  int2List,
  isGenericBuilder,
  readFields,
  readInt2Fields,
  segmentError,
  segmentText,
  VALUES,
} from './fields'
import type { Build, CompiledTable, FieldTable } from './fields'
import { SEGMENT } from './reader'
import { US_BUILDERS } from './us-objects'

export interface UsSectionSpec {
  id: number
  name: string
  /** The first field, Int(6), that selects the layout: `Version`, or `MspaVersion` (usmd, usin, usky, usri). */
  versionField: 'Version' | 'MspaVersion'
  /** Core fields after the version field, per known version. */
  versions: Record<number, FieldTable>
  subsection: 'gpc' | 'sensitive' | null
}

const MSPA: FieldTable = [
  ['MspaCoveredTransaction', INT2_YES_NO],
  ['MspaOptOutOptionMode', INT2],
  ['MspaServiceProviderMode', INT2],
]

// The common opt-out state layout: notices, opt-outs, sensitive data, child consents, then
// optionally AdditionalDataProcessingConsent, then the MSPA fields.
function stateTable(opts: {
  notice: 'SharingNotice' | 'ProcessingNotice'
  sensitiveNotice?: 'SensitiveDataProcessingOptOutNotice' | 'SensitiveDataOptOutNotice'
  sensitive: number
  /** 1: KnownChildSensitiveDataConsents is Int(2); more: N-Bitfield(2, n). */
  child: number
  additional: boolean
}): FieldTable {
  return [
    [opts.notice, INT2],
    ['SaleOptOutNotice', INT2],
    ['TargetedAdvertisingOptOutNotice', INT2],
    ...(opts.sensitiveNotice ? ([[opts.sensitiveNotice, INT2]] as FieldTable) : []),
    ['SaleOptOut', INT2],
    ['TargetedAdvertisingOptOut', INT2],
    ['SensitiveDataProcessing', int2List(opts.sensitive)],
    ['KnownChildSensitiveDataConsents', opts.child === 1 ? INT2 : int2List(opts.child)],
    ...(opts.additional ? ([['AdditionalDataProcessingConsent', INT2]] as FieldTable) : []),
    ...MSPA,
  ]
}

// US National, "Core Segment". Version 2 (the DE/IA/NE/NH/NJ/TN release) widened
// SensitiveDataProcessing from 12 to 16 categories and KnownChildSensitiveDataConsents from 2
// to 3; the layout is chosen by the Version field, not by the string's length.
function usnatTable(sensitive: number, child: number): FieldTable {
  return [
    ['SharingNotice', INT2],
    ['SaleOptOutNotice', INT2],
    ['SharingOptOutNotice', INT2],
    ['TargetedAdvertisingOptOutNotice', INT2],
    ['SensitiveDataProcessingOptOutNotice', INT2],
    ['SensitiveDataLimitUseNotice', INT2],
    ['SaleOptOut', INT2],
    ['SharingOptOut', INT2],
    ['TargetedAdvertisingOptOut', INT2],
    ['SensitiveDataProcessing', int2List(sensitive)],
    ['KnownChildSensitiveDataConsents', int2List(child)],
    ['PersonalDataConsents', INT2],
    ...MSPA,
  ]
}

// The 2025 sections (MD, IN, KY, RI) open with the MSPA fields and fold the two MSPA modes into
// one MspaMode (0 n/a, 1 opt-out option mode, 2 service provider mode).
function mspaFirstTable(child: boolean): FieldTable {
  return [
    ['MspaCoveredTransaction', INT2_YES_NO],
    ['MspaMode', INT2],
    ['ProcessingNotice', INT2],
    ['SaleOptOutNotice', INT2],
    ['TargetedAdvertisingOptOutNotice', INT2],
    ['SaleOptOut', INT2],
    ['TargetedAdvertisingOptOut', INT2],
    ...(child ? ([['KnownChildSensitiveDataConsents', INT2]] as FieldTable) : []),
    ['AdditionalDataProcessingConsent', INT2],
  ]
}

const v1 = (table: FieldTable): Record<number, FieldTable> => ({ 1: table })

/** Every US section by GPP section id (Sections/Section Information.md). */
export const US_SECTIONS: readonly UsSectionSpec[] = [
  {
    id: 7,
    name: 'usnat',
    versionField: 'Version',
    versions: { 1: usnatTable(12, 2), 2: usnatTable(16, 3) },
    subsection: 'gpc',
  },
  {
    id: 8,
    name: 'usca',
    versionField: 'Version',
    versions: v1([
      ['SaleOptOutNotice', INT2],
      ['SharingOptOutNotice', INT2],
      ['SensitiveDataLimitUseNotice', INT2],
      ['SaleOptOut', INT2],
      ['SharingOptOut', INT2],
      ['SensitiveDataProcessing', int2List(9)],
      ['KnownChildSensitiveDataConsents', int2List(2)],
      ['PersonalDataConsents', INT2],
      ...MSPA,
    ]),
    subsection: 'gpc',
  },
  {
    id: 9,
    name: 'usva',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'SharingNotice', sensitive: 8, child: 1, additional: false })),
    subsection: null,
  },
  {
    id: 10,
    name: 'usco',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'SharingNotice', sensitive: 7, child: 1, additional: false })),
    subsection: 'gpc',
  },
  {
    id: 11,
    name: 'usut',
    versionField: 'Version',
    versions: v1(
      stateTable({
        notice: 'SharingNotice',
        sensitiveNotice: 'SensitiveDataProcessingOptOutNotice',
        sensitive: 8,
        child: 1,
        additional: false,
      }),
    ),
    subsection: null,
  },
  {
    id: 12,
    name: 'usct',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'SharingNotice', sensitive: 8, child: 3, additional: false })),
    subsection: 'gpc',
  },
  {
    id: 13,
    name: 'usfl',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'ProcessingNotice', sensitive: 8, child: 3, additional: true })),
    subsection: null,
  },
  {
    id: 14,
    name: 'usmt',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'SharingNotice', sensitive: 8, child: 3, additional: true })),
    subsection: 'gpc',
  },
  {
    id: 15,
    name: 'usor',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'ProcessingNotice', sensitive: 11, child: 3, additional: true })),
    subsection: 'gpc',
  },
  {
    id: 16,
    name: 'ustx',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'ProcessingNotice', sensitive: 8, child: 1, additional: true })),
    subsection: 'gpc',
  },
  {
    id: 17,
    name: 'usde',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'ProcessingNotice', sensitive: 9, child: 5, additional: true })),
    subsection: 'gpc',
  },
  {
    id: 18,
    name: 'usia',
    versionField: 'Version',
    versions: v1(
      stateTable({
        notice: 'ProcessingNotice',
        sensitiveNotice: 'SensitiveDataOptOutNotice',
        sensitive: 8,
        child: 1,
        additional: false,
      }),
    ),
    subsection: 'gpc',
  },
  {
    id: 19,
    name: 'usne',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'ProcessingNotice', sensitive: 8, child: 1, additional: true })),
    subsection: 'gpc',
  },
  {
    id: 20,
    name: 'usnh',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'ProcessingNotice', sensitive: 8, child: 3, additional: true })),
    subsection: 'gpc',
  },
  {
    id: 21,
    name: 'usnj',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'ProcessingNotice', sensitive: 10, child: 5, additional: true })),
    subsection: 'gpc',
  },
  {
    id: 22,
    name: 'ustn',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'ProcessingNotice', sensitive: 8, child: 1, additional: true })),
    subsection: 'gpc',
  },
  {
    id: 23,
    name: 'usmn',
    versionField: 'Version',
    versions: v1(stateTable({ notice: 'ProcessingNotice', sensitive: 8, child: 1, additional: true })),
    subsection: 'gpc',
  },
  {
    id: 24,
    name: 'usmd',
    versionField: 'MspaVersion',
    versions: v1(mspaFirstTable(false)),
    subsection: 'gpc',
  },
  {
    id: 25,
    name: 'usin',
    versionField: 'MspaVersion',
    versions: v1(mspaFirstTable(true)),
    subsection: 'sensitive',
  },
  {
    id: 26,
    name: 'usky',
    versionField: 'MspaVersion',
    versions: v1(mspaFirstTable(true)),
    subsection: 'sensitive',
  },
  {
    id: 27,
    name: 'usri',
    versionField: 'MspaVersion',
    versions: v1(mspaFirstTable(true)),
    subsection: 'sensitive',
  },
]

// The Sensitive Data Consents sub-section (usin, usky, usri), compiled per section.
const SENSITIVE_SUBSECTION: FieldTable = [['SensitiveDataProcessing', int2List(8)]]

/** Decodes one section body, `text[start..end)` (the text between '~' separators). */
export type UsSectionDecoder = (
  text: string,
  start: number,
  end: number,
  maxLength: number,
) => DecodeResult<GppSectionFields>

interface Layout {
  /** The core fields after the version field, flattened for `readFields`. */
  fields: CompiledTable
  /** The sensitive-data sub-section's table, null for sections without one. */
  sensitive: CompiledTable | null
  /** Position of the sub-section's value (`Gpc`, `SensitiveDataProcessing`), -1 when none. */
  sub: number
  /** Positions used: version, core fields, sub-section. */
  count: number
  /** The section's object literal (see `us-objects.ts`). */
  build: Build
}

/** Output keys of one section version: version field, core fields, then the sub-section's field. */
function layoutKeys(spec: UsSectionSpec, table: FieldTable): string[] {
  const keys = [spec.versionField, ...table.map(([name]) => name)]
  if (spec.subsection === 'gpc') keys.push('Gpc')
  if (spec.subsection === 'sensitive') keys.push('SensitiveDataProcessing')
  return keys
}

/**
 * The decoder of one US section, its layouts (one per version) built when the module loads.
 *
 * @example usSectionDecoder(usnatSpec)('BVQqAAAAAgA.QA', 0, 14, 16384) // { ok: true, value: { Version: 1, ..., Gpc: false } }
 */
export function usSectionDecoder(spec: UsSectionSpec): UsSectionDecoder {
  const prefix = spec.name
  const section: UsSection = {
    spec,
    layouts: Array.from({ length: 64 }, () => undefined),
    versionField: `${prefix}.${spec.versionField}`,
    subField: spec.subsection === 'gpc' ? `${prefix}.Gpc` : `${prefix}.SensitiveDataProcessing`,
    typeField: `${prefix}.SubsectionType`,
  }
  for (const [version, table] of Object.entries(spec.versions)) {
    const keys = layoutKeys(spec, table)
    section.layouts[Number(version)] = {
      fields: compileTable(table, spec.name),
      sensitive: spec.subsection === 'sensitive' ? compileTable(SENSITIVE_SUBSECTION, spec.name) : null,
      sub: spec.subsection === null ? -1 : keys.length - 1,
      count: keys.length,
      build: builderFor(keys, US_BUILDERS),
    }
  }
  return (text, start, end, maxLength) => decodeUsSection(section, text, start, end, maxLength)
}

// A section's spec, layouts and the field names its errors use, built once.
interface UsSection {
  spec: UsSectionSpec
  /** Indexed by the version field's value (Int(6): 0..63). */
  layouts: Array<Layout | undefined>
  versionField: string
  /** The sub-section's field (`<name>.Gpc` or `<name>.SensitiveDataProcessing`). */
  subField: string
  typeField: string
}

/** Used by tests: every US layout whose output object is built by the generic builder. */
export function layoutsWithoutLiteral(): string[] {
  return US_SECTIONS.flatMap((spec) =>
    Object.entries(spec.versions)
      .filter(([, table]) => isGenericBuilder(builderFor(layoutKeys(spec, table), US_BUILDERS)))
      .map(([version]) => `${spec.name} v${version}`),
  )
}

function decodeUsSection(
  section: UsSection,
  text: string,
  start: number,
  end: number,
  maxLength: number,
): DecodeResult<GppSectionFields> {
  const { spec, versionField, subField, typeField } = section
  const prefix = spec.name
  const r = SEGMENT
  // `core[.sub]`: the core loads up to the first '.'; a second '.' fails before anything is read.
  const stop = r.load(text, start, end)
  if (stop < 0 || (stop < end && countSegments(text, stop + 1, end, 1) > 1)) {
    if (countSegments(text, start, end, 2) > 2) {
      return decodeError('unexpected_segment', prefix, `${prefix} has more than one sub-section`)
    }
    return segmentError(segmentText(text, start, end), prefix, maxLength)
  }
  const version = r.readInt(6)
  const layout = r.overrun ? undefined : section.layouts[version]
  if (!layout) {
    if (r.overrun) return decodeError('truncated', versionField, `${versionField} runs past the end`)
    const known = Object.keys(spec.versions).join(', ')
    return decodeError('bad_version', versionField, `${versionField} is ${version}, known: ${known}`)
  }
  VALUES[0] = version
  const failed =
    (readInt2Fields(r, layout.fields, VALUES, 1) ? null : readFields(r, layout.fields, VALUES, 1)) ??
    checkPadding(r, prefix)
  if (failed) return discard(failed)
  if (stop === end) {
    if (layout.sub >= 0) VALUES[layout.sub] = null
    return { ok: true, value: buildSection(layout.build, layout.count) }
  }
  if (spec.subsection === null) {
    return discard(decodeError('unexpected_segment', prefix, `${prefix} defines no sub-section`))
  }
  if (r.load(text, stop + 1, end) < 0) {
    return discard(segmentError(text.slice(stop + 1, end), subField, maxLength))
  }
  if (spec.subsection === 'gpc') {
    // "SubsectionType: 0 Core, 1 GPC": a second core or an unknown type is not a GPC sub-section.
    const type = r.readInt(2)
    if (r.overrun) return discard(decodeError('truncated', typeField, `${typeField} runs past the end`))
    if (type !== 1) {
      return discard(
        decodeError(
          'unknown_subsection',
          typeField,
          `${typeField} is ${type}, only 1 (GPC) may follow the core`,
        ),
      )
    }
    const gpc = r.readBool()
    if (r.overrun) return discard(decodeError('truncated', subField, `${subField} runs past the end`))
    VALUES[layout.sub] = gpc
  } else if (layout.sensitive !== null && !readInt2Fields(r, layout.sensitive, VALUES, layout.sub)) {
    const bad = readFields(r, layout.sensitive, VALUES, layout.sub)
    if (bad) return discard(bad)
  }
  const badPadding = checkPadding(r, subField)
  return badPadding ? discard(badPadding) : { ok: true, value: buildSection(layout.build, layout.count) }
}

/** Used by tests and docs: the core fields of a section version, version field first. */
export function coreFieldNames(spec: UsSectionSpec, version: number): string[] {
  return [spec.versionField, ...(spec.versions[version] ?? []).map(([name]) => name)]
}
