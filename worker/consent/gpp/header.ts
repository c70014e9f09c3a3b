/**
 * The GPP v1 header (GPP Consent String Specification, "Header Encoding"): Type Int(6) = 3,
 * Version Int(6) = 1, Sections Range(Fibonacci). Bounded before expansion: NumEntries is checked
 * against the remaining bits, Fibonacci codes are capped at 48 bits, and every entry's ids are
 * checked against the id and count caps before they are added (a range 1..2^40 costs nothing).
 */
import { type DecodeFailure, decodeError } from '../bits'
import { fibonacciError } from '../bits-ranges'
import type { DecodeResult } from '../types'
import { checkPadding, segmentError } from './fields'
import { SEGMENT, type SegmentReader } from './reader'

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
  const sectionIds = decodeGppHeaderIds(text, text.length, maxSections, maxLength)
  return Array.isArray(sectionIds) ? { ok: true, value: { version: GPP_VERSION, sectionIds } } : sectionIds
}

/**
 * `decodeGppHeader` without the Result and header objects (only Version 1 is accepted, so the
 * section ids are all there is to return) for the header `text[0..end)`, the start of a GPP
 * string: the section ids, or the same failure.
 */
export function decodeGppHeaderIds(
  text: string,
  end: number,
  maxSections: number,
  maxLength: number,
): number[] | DecodeFailure {
  const r = SEGMENT
  // A '.' ends a segment for `load`, but the header is one segment: it is a bad character here.
  if (r.load(text, 0, end) !== end) return segmentError(text.slice(0, end), 'header', maxLength)
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
  const sectionIds = readSectionIds(r, maxSections)
  if (!Array.isArray(sectionIds)) return sectionIds
  return checkPadding(r, 'header') ?? sectionIds
}

const SECTIONS = 'header.Sections'
const NUM_ENTRIES = `${SECTIONS}.NumEntries`
const START = `${SECTIONS}.StartOrOnlyId`
const END = `${SECTIONS}.EndId`

/**
 * "Range (Fibonacci)" read straight into the ordered list of section ids: NumEntries Int(12), then
 * per entry IsRange, a Fibonacci offset from the previous id to the start, and for a range a
 * Fibonacci length to its end. Unlike `readFibonacciRanges` (`../bits-ranges`, merged ranges)
 * the header needs the ids in order, so this checks every id against MAX_SECTION_ID and the
 * running count against `maxSections` before adding an entry's ids: a range 1..2^30 fails on its
 * end, never expands.
 */
function readSectionIds(r: SegmentReader, maxSections: number): number[] | DecodeFailure {
  const count = r.readInt(12)
  if (r.overrun) return decodeError('truncated', NUM_ENTRIES, `${NUM_ENTRIES} runs past the end`)
  // Each entry needs IsRange plus a Fibonacci code of at least 2 bits.
  if (count * 3 > r.remaining) {
    return decodeError(
      'truncated',
      NUM_ENTRIES,
      `${NUM_ENTRIES} is ${count} but only ${r.remaining} bits remain (3 per entry at least)`,
    )
  }
  const ids: number[] = []
  let last = 0
  for (let i = 0; i < count; i++) {
    const isRange = r.readBool()
    const offset = r.readFibonacci()
    if (offset < 0) return fibonacciError(r, START)
    const start = last + offset
    if (start > MAX_SECTION_ID) {
      return decodeError('out_of_range', START, `${START} ${start} is above ${MAX_SECTION_ID}`)
    }
    let end = start
    if (isRange) {
      const length = r.readFibonacci()
      if (length < 0) return fibonacciError(r, END)
      end = start + length
      if (end > MAX_SECTION_ID)
        return decodeError('out_of_range', END, `${END} ${end} is above ${MAX_SECTION_ID}`)
    }
    if (ids.length + (end - start + 1) > maxSections) {
      return decodeError(
        'too_many_sections',
        SECTIONS,
        `${SECTIONS} lists more than ${maxSections} sections (entry ${i + 1} ends at ${end})`,
      )
    }
    for (let id = start; id <= end; id++) ids.push(id)
    last = end
  }
  return ids
}
