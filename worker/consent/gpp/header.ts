/**
 * The GPP v1 header (GPP Consent String Specification, "Header Encoding"): Type Int(6) = 3,
 * Version Int(6) = 1, Sections Range(Fibonacci). Bounded before expansion: NumEntries is checked
 * against the remaining bits, ranges are read as ranges, and the number of section ids they
 * cover is capped before any id list is built (a range 1..2^40 costs nothing).
 */
import { decodeError, rangesCount, readRangeList } from '../bits'
import type { DecodeResult } from '../types'
import { checkPadding, segmentReader } from './fields'

/** "Fixed to 3 as GPP Header field". */
export const GPP_HEADER_TYPE = 3
export const GPP_VERSION = 1
/** Largest section id accepted in the header (the registry is at 27; ids are Fibonacci offsets). */
export const MAX_SECTION_ID = 4095

export interface GppHeader {
  version: number
  /** Section ids in header order (strictly increasing: Fibonacci offsets are >= 1). */
  sectionIds: number[]
}

/**
 * Decodes the header text (before the first '~').
 *
 * @example decodeGppHeader('DBABMA', 64, 16384) // { ok: true, value: { version: 1, sectionIds: [2] } }
 */
export function decodeGppHeader(
  text: string,
  maxSections: number,
  maxLength: number,
): DecodeResult<GppHeader> {
  const reader = segmentReader(text, 'header', maxLength)
  if (!reader.ok) return reader
  const r = reader.value
  const type = r.readInt(6)
  if (r.overrun) return decodeError('truncated', 'header.Type', 'header.Type runs past the end')
  if (type !== GPP_HEADER_TYPE) {
    return decodeError('bad_type', 'header.Type', `header.Type is ${type}, a GPP header has 3`)
  }
  const version = r.readInt(6)
  if (r.overrun) return decodeError('truncated', 'header.Version', 'header.Version runs past the end')
  if (version !== GPP_VERSION) {
    return decodeError('bad_version', 'header.Version', `header.Version is ${version}, only 1 is defined`)
  }
  const ranges = readRangeList(r, {
    field: 'header.Sections',
    encoding: 'fibonacci',
    maxId: MAX_SECTION_ID,
  })
  if (!ranges.ok) return ranges
  const count = rangesCount(ranges.value)
  if (count > maxSections) {
    return decodeError(
      'too_many_sections',
      'header.Sections',
      `header.Sections lists ${count} sections, the limit is ${maxSections}`,
    )
  }
  const padding = checkPadding(r, 'header')
  if (padding) return padding
  const sectionIds: number[] = []
  for (const [start, end] of ranges.value) for (let id = start; id <= end; id++) sectionIds.push(id)
  return { ok: true, value: { version, sectionIds } }
}
