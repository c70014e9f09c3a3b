/**
 * The US sections of GPP as data: US National (usnat, id 7, versions 1 and 2) and every state
 * section (ids 8-27), each a field table taken from the IAB GPP section specifications
 * (`Sections/US-National`, `Sections/US-States/<XX>`) and cross-checked against the field
 * definitions of the IAB reference encoder (`@iabgpp/cmpapi` 3.2.0 `encoder/segment/Us*Segment`).
 * The decoder (`us.ts`) reads them; `scripts/us-objects.ts` writes each layout's output object
 * (`us-objects.ts`) from them.
 *
 * A section is a core segment, optionally followed by '.' and one sub-section:
 * - GPC sub-section (most states, "GPC Sub-section"): SubsectionType Int(2) = 1, Gpc Boolean.
 *   Reported as `Gpc`: true / false, or null when the sub-section is absent.
 * - Sensitive Data Consents sub-section (usin, usky, usri): SensitiveDataProcessing
 *   N-Bitfield(2,8), reported as `SensitiveDataProcessing` (null when absent).
 */
import { type FieldTable, INT2, INT2_YES_NO, int2List } from './fields'

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

// A state section of the common opt-out layout, or of the 2025 MSPA-first one: version 1 only.
function state(
  id: number,
  name: string,
  subsection: UsSectionSpec['subsection'],
  layout: Parameters<typeof stateTable>[0],
): UsSectionSpec {
  return { id, name, versionField: 'Version', versions: v1(stateTable(layout)), subsection }
}

function mspaFirst(
  id: number,
  name: string,
  subsection: UsSectionSpec['subsection'],
  child: boolean,
): UsSectionSpec {
  return { id, name, versionField: 'MspaVersion', versions: v1(mspaFirstTable(child)), subsection }
}

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
  state(9, 'usva', null, { notice: 'SharingNotice', sensitive: 8, child: 1, additional: false }),
  state(10, 'usco', 'gpc', { notice: 'SharingNotice', sensitive: 7, child: 1, additional: false }),
  state(11, 'usut', null, {
    notice: 'SharingNotice',
    sensitiveNotice: 'SensitiveDataProcessingOptOutNotice',
    sensitive: 8,
    child: 1,
    additional: false,
  }),
  state(12, 'usct', 'gpc', { notice: 'SharingNotice', sensitive: 8, child: 3, additional: false }),
  state(13, 'usfl', null, { notice: 'ProcessingNotice', sensitive: 8, child: 3, additional: true }),
  state(14, 'usmt', 'gpc', { notice: 'SharingNotice', sensitive: 8, child: 3, additional: true }),
  state(15, 'usor', 'gpc', { notice: 'ProcessingNotice', sensitive: 11, child: 3, additional: true }),
  state(16, 'ustx', 'gpc', { notice: 'ProcessingNotice', sensitive: 8, child: 1, additional: true }),
  state(17, 'usde', 'gpc', { notice: 'ProcessingNotice', sensitive: 9, child: 5, additional: true }),
  state(18, 'usia', 'gpc', {
    notice: 'ProcessingNotice',
    sensitiveNotice: 'SensitiveDataOptOutNotice',
    sensitive: 8,
    child: 1,
    additional: false,
  }),
  state(19, 'usne', 'gpc', { notice: 'ProcessingNotice', sensitive: 8, child: 1, additional: true }),
  state(20, 'usnh', 'gpc', { notice: 'ProcessingNotice', sensitive: 8, child: 3, additional: true }),
  state(21, 'usnj', 'gpc', { notice: 'ProcessingNotice', sensitive: 10, child: 5, additional: true }),
  state(22, 'ustn', 'gpc', { notice: 'ProcessingNotice', sensitive: 8, child: 1, additional: true }),
  state(23, 'usmn', 'gpc', { notice: 'ProcessingNotice', sensitive: 8, child: 1, additional: true }),
  mspaFirst(24, 'usmd', 'gpc', false),
  mspaFirst(25, 'usin', 'sensitive', true),
  mspaFirst(26, 'usky', 'sensitive', true),
  mspaFirst(27, 'usri', 'sensitive', true),
]

/** Output keys of one section version: version field, core fields, then the sub-section's field. */
export function layoutKeys(spec: UsSectionSpec, table: FieldTable): string[] {
  const keys = [spec.versionField, ...table.map(([name]) => name)]
  if (spec.subsection === 'gpc') keys.push('Gpc')
  if (spec.subsection === 'sensitive') keys.push('SensitiveDataProcessing')
  return keys
}

/** Used by tests and docs: the core fields of a section version, version field first. */
export function coreFieldNames(spec: UsSectionSpec, version: number): string[] {
  return [spec.versionField, ...(spec.versions[version] ?? []).map(([name]) => name)]
}
