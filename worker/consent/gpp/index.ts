/**
 * IAB Global Privacy Platform strings, v1 (GPP Consent String Specification): the header, then
 * one '~'-separated section per header id, in header order. Decodes tcfeuv2 (via the TCF
 * decoder), tcfcav1, uspv1, usnat v1/v2 and every US state section; reports section ids it does
 * not know without decoding them (they grant nothing). Pure TypeScript, never throws, bounded by
 * construction: input length, section count and every range are capped before work is done.
 */
import { decodeError } from '../bits'
import { decodeTcString } from '../tcf'
import type { DecodeResult, GppSectionFields, GppString, TcfString } from '../types'
import { decodeUspString, uspFlag } from '../usp'
import { decodeGppHeaderIds, GPP_VERSION } from './header'
import { decodeTcfCaSection } from './tcfca'
import { usSectionDecoder } from './us'
import { US_SECTIONS } from './us-tables'

/** Default cap on a GPP string in characters, checked before anything else (16 KB). */
export const DEFAULT_GPP_MAX_LENGTH = 16_384
/** At most this many sections in one string (the registry defines 27 ids). */
export const MAX_GPP_SECTIONS = 64

export interface GppDecodeOptions {
  /** Longest accepted GPP string in characters (default 16 KB). */
  maxLength?: number
}

/** Decodes the section body `text[start..end)` (between '~' separators, never empty). */
type SectionDecoder = (
  text: string,
  start: number,
  end: number,
  maxLength: number,
) => DecodeResult<GppSectionFields | TcfString>

interface SectionEntry {
  name: string
  decode: SectionDecoder
}

/** Section id -> prefix and decoder (Sections/Section Information.md). */
export const GPP_SECTIONS: ReadonlyMap<number, SectionEntry> = new Map<number, SectionEntry>([
  [2, { name: 'tcfeuv2', decode: decodeTcfEuSection }],
  [5, { name: 'tcfcav1', decode: decodeTcfCaSection }],
  [6, { name: 'uspv1', decode: decodeUspSection }],
  ...US_SECTIONS.map((spec): [number, SectionEntry] => [
    spec.id,
    { name: spec.name, decode: usSectionDecoder(spec) },
  ]),
])

// The same entries indexed by id: an array load per section instead of a Map lookup.
const SECTIONS_BY_ID: ReadonlyArray<SectionEntry | undefined> = Array.from(
  { length: Math.max(...GPP_SECTIONS.keys()) + 1 },
  (_, id) => GPP_SECTIONS.get(id),
)

/**
 * Decodes a GPP string. Fails (naming the field, e.g. `header.Sections`, `usnat.SaleOptOut`) when
 * the header or any known section is malformed, or when the number of sections differs from the
 * header's. Unknown section ids are listed in `unknownSectionIds` and not decoded.
 *
 * @example
 * decodeGppString('DBABLA~BVQqAAAAAgA.QA')
 * // { ok: true, value: { version: 1, sectionIds: [7], sections: { usnat: { Version: 1, ..., Gpc: false } } } }
 */
export function decodeGppString(input: string, opts?: GppDecodeOptions): DecodeResult<GppString> {
  // No `opts = {}` default: that would allocate an object on every call without options.
  const maxLength = opts?.maxLength ?? DEFAULT_GPP_MAX_LENGTH
  if (typeof input !== 'string') return decodeError('bad_type', 'gpp', 'the GPP string is not a string')
  if (input.length === 0) return decodeError('empty', 'gpp', 'the GPP string is empty')
  if (input.length > maxLength) {
    return decodeError(
      'too_long',
      'gpp',
      `the GPP string is ${input.length} characters, the limit is ${maxLength}`,
    )
  }
  // Count the '~' separators first (stopping past the cap): the section count is checked before
  // the header is read. Sections are then read in place, as ranges of `input`.
  const headerEnd = input.indexOf('~')
  let bodies = 0
  for (let at = headerEnd; at !== -1; at = input.indexOf('~', at + 1)) {
    if (bodies === MAX_GPP_SECTIONS) {
      return decodeError(
        'too_many_sections',
        'gpp',
        `the GPP string has more than ${MAX_GPP_SECTIONS} sections`,
      )
    }
    bodies++
  }
  const sectionIds = decodeGppHeaderIds(
    input,
    headerEnd === -1 ? input.length : headerEnd,
    MAX_GPP_SECTIONS,
    maxLength,
  )
  if (!Array.isArray(sectionIds)) return sectionIds
  if (sectionIds.length !== bodies) {
    return decodeError(
      'section_count_mismatch',
      'header.Sections',
      `header.Sections lists ${sectionIds.length} sections but the string has ${bodies}`,
    )
  }
  const sections: GppString['sections'] = {}
  // Allocated only when a string carries an id this decoder does not know.
  let unknownSectionIds: number[] | null = null
  let end = headerEnd
  for (let i = 0; i < sectionIds.length; i++) {
    const id = sectionIds[i] as number
    const start = end + 1
    end = input.indexOf('~', start)
    if (end === -1) end = input.length
    const entry = SECTIONS_BY_ID[id]
    if (!entry) {
      if (unknownSectionIds === null) unknownSectionIds = []
      unknownSectionIds.push(id)
      continue
    }
    if (start === end) {
      return decodeError('empty', entry.name, `section ${entry.name} (id ${id}) is empty`)
    }
    const decoded = entry.decode(input, start, end, maxLength)
    if (!decoded.ok) return decoded
    sections[entry.name] = decoded.value
  }
  const value: GppString = { version: GPP_VERSION, sectionIds, sections }
  if (unknownSectionIds !== null) value.unknownSectionIds = unknownSectionIds
  return { ok: true, value }
}

/**
 * Compares a `gpp_sid` list (the "applicable section ids" sent beside the string) with the
 * header's section ids. Every id in one but not the other is an error; an empty result means they
 * match.
 *
 * @example checkGppSid(gpp, [7]) // [] when the header lists exactly section 7
 */
export function checkGppSid(gpp: GppString, sid: number[]): string[] {
  const errors: string[] = []
  const inHeader = new Set(gpp.sectionIds)
  const inSid = new Set(sid)
  for (const id of inSid) {
    if (!inHeader.has(id)) errors.push(`gpp_sid lists section ${id}, which the GPP header does not contain`)
  }
  for (const id of gpp.sectionIds) {
    if (!inSid.has(id)) errors.push(`the GPP header contains section ${id}, which gpp_sid does not list`)
  }
  return errors
}

// tcfeuv2 is the TC string itself, segments separated by '.' (GPPExtension: IAB Europe TCF).
function decodeTcfEuSection(
  text: string,
  start: number,
  end: number,
  maxLength: number,
): DecodeResult<TcfString> {
  const decoded = decodeTcString(text.slice(start, end), { maxLength })
  if (decoded.ok) return decoded
  const field = `tcfeuv2.${decoded.error.field}`
  return decodeError(decoded.error.reason, field, `tcfeuv2: ${decoded.error.message}`)
}

// uspv1 is the 4-character US Privacy string (GPPExtension: IAB Privacy's US Privacy).
function decodeUspSection(text: string, start: number, end: number): DecodeResult<GppSectionFields> {
  // Read in place when valid; otherwise `decodeUspString` names the position at fault.
  if (end - start === 4 && text.charCodeAt(start) === 49) {
    const notice = uspFlag(text.charCodeAt(start + 1))
    const optOutSale = uspFlag(text.charCodeAt(start + 2))
    const lspaCovered = uspFlag(text.charCodeAt(start + 3))
    if (notice !== null && optOutSale !== null && lspaCovered !== null) {
      return {
        ok: true,
        value: { Version: 1, Notice: notice, OptOutSale: optOutSale, LspaCovered: lspaCovered },
      }
    }
  }
  const decoded = decodeUspString(text.slice(start, end))
  if (!decoded.ok) {
    const field = `uspv1.${decoded.error.field}`
    return decodeError(decoded.error.reason, field, `uspv1: ${decoded.error.message}`)
  }
  const { version, notice, optOutSale, lspaCovered } = decoded.value
  return {
    ok: true,
    value: { Version: version, Notice: notice, OptOutSale: optOutSale, LspaCovered: lspaCovered },
  }
}
