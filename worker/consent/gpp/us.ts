/**
 * The decoder of the US sections of GPP (US National and the states; their field tables are
 * `us-tables.ts`): the core segment by its version's table, then the GPC or sensitive-data
 * sub-section, into the layout's object literal (`us-objects.ts`).
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
import { layoutKeys, US_SECTIONS, type UsSectionSpec } from './us-tables'

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
