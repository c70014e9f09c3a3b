/**
 * Table-driven reading of GPP section fields (GPP Consent String Specification, "Section
 * Encoding" data types): a section segment is a list of `[FieldName, FieldType]` rows read in
 * order by one small function per type, so no decoder counts bit offsets by hand. Reads from the
 * shared `SegmentReader` (`./reader`) into a list of values by position, from which each section
 * builds its output object in one step (`builderFor`). Never throws; every failure names the
 * field as `<section>.<FieldName>`.
 */
import { decodeBase64Url, type DecodeFailure, decodeError, isFailure, readIsoDatetime } from '../bits'
import { readFibonacciRanges } from '../bits-ranges'
import type { GppRangeEntry, GppSectionFields, IdRanges } from '../types'
import type { SegmentReader } from './reader'

export type FieldType =
  /** Int(bits); values outside min..max are `out_of_range`. */
  | { type: 'int'; bits: number; min: number; max: number; count: number }
  | { type: 'bool' }
  /** N-Bitfield(bits, count): `count` integers of `bits` each, every one within min..max. */
  | { type: 'intList'; bits: number; min: number; max: number; count: number }
  /** Bitfield(bits): the 1-based ids whose bit is set. */
  | { type: 'bitfield'; bits: number }
  /** Bitfield whose length is the value of an earlier Int field (tcfcav1 custom purposes). */
  | { type: 'bitfieldOf'; lengthField: string }
  /** String(chars): 6-bit letters A..Z. */
  | { type: 'string'; chars: number }
  /** Datetime: 36-bit deciseconds since the epoch, reported as ISO 8601. */
  | { type: 'datetime' }
  /** OptimizedRange, as the IAB encoders lay it out (see `readOptimizedRange`). */
  | { type: 'optimizedRange' }
  /** N-ArrayOfRanges(keyBits, typeBits) with OptimizedRange ids. */
  | { type: 'arrayOfRanges'; keyBits: number; typeBits: number }

export type FieldTable = ReadonlyArray<readonly [name: string, type: FieldType]>

// Int rows are built only here: each has its bounds, and a count of 1 like an N-Bitfield's.
function intField(bits: number, min = 0, max = 2 ** bits - 1): FieldType {
  return { type: 'int', bits, min, max, count: 1 }
}

/** Int(bits), any value. */
export const int = (bits: number): FieldType => intField(bits)
/** Int(2) with the usual GPP meaning 0 = not applicable, 1 = yes / opted out, 2 = no. */
export const INT2: FieldType = intField(2, 0, 2)
/** Int(2) where only 1 (yes) and 2 (no) are defined, e.g. `MspaCoveredTransaction`. */
export const INT2_YES_NO: FieldType = intField(2, 1, 2)
/** N-Bitfield(2, n) of 0 = not applicable, 1 = no consent / opted out, 2 = consent / did not opt out. */
export const int2List = (count: number): FieldType => ({ type: 'intList', bits: 2, min: 0, max: 2, count })

/** One decoded field value. */
export type FieldValue = GppSectionFields[string]

/** The most fields a section has, Version and sub-sections included (tcfcav1: 22). */
export const MAX_FIELDS = 24
type Tuple<N extends number, T extends FieldValue[] = []> = T['length'] extends N
  ? T
  : Tuple<N, [...T, FieldValue]>
/** A section's field values by output position (Version first), before its object is built. */
export type Values = Tuple<typeof MAX_FIELDS>

/**
 * The values list every GPP decoder fills, one section at a time, and clears after building the
 * section's object (`buildSection`): nothing it held outlives the call.
 */
export const VALUES: Values = Array.from({ length: MAX_FIELDS }, () => null) as Values

/** Builds a section's output object from its values by position. */
export type Build = (v: Values) => GppSectionFields

// The builders `builderFor` made because no literal fitted.
const GENERIC_BUILDERS = new WeakSet<Build>()

/**
 * Picks, for a section layout whose output keys are `keys` (in order), the builder among
 * `candidates` that writes exactly those keys in that order, each from its own position; checked
 * here, when the module loads, by building from the positions themselves. A layout that no
 * candidate fits gets a generic builder (same object, built key by key, several times slower).
 * Why literals: docs/performance.md "Engine notes", "Object literals".
 */
export function builderFor(keys: readonly string[], candidates: readonly Build[]): Build {
  const positions = Array.from({ length: MAX_FIELDS }, (_, i) => i) as Values
  for (const build of candidates) {
    const probe = build(positions)
    const built = Object.keys(probe)
    if (built.length === keys.length && built.every((key, i) => key === keys[i] && probe[key] === i)) {
      return build
    }
  }
  const generic: Build = (v) => {
    const out: GppSectionFields = {}
    for (let i = 0; i < keys.length; i++) out[keys[i] as string] = v[i] ?? null
    return out
  }
  GENERIC_BUILDERS.add(generic)
  return generic
}

/** Whether `build` is the generic fallback of `builderFor` (tests require a literal for every layout). */
export function isGenericBuilder(build: Build): boolean {
  return GENERIC_BUILDERS.has(build)
}

/** Builds the section object from `VALUES` and clears the `count` positions it used. */
export function buildSection(build: Build, count: number): GppSectionFields {
  const out = build(VALUES)
  for (let i = 0; i < count; i++) VALUES[i] = null
  return out
}

/** Drops the values a failed section had read (nothing of it is built) and returns `failure`. */
export function discard(failure: DecodeFailure): DecodeFailure {
  VALUES.fill(null)
  return failure
}

/**
 * A FieldTable flattened once per isolate into parallel arrays, so the per-request loop reads
 * small integers from typed arrays instead of loading and switching on each row's type object.
 */
export interface CompiledTable {
  /** Each row's field as errors name it, `<section>.<FieldName>` (built once, not per failure). */
  readonly fields: readonly string[]
  /** KIND_* per row. */
  readonly kinds: Uint8Array
  /** Int / N-Bitfield widths, bounds and counts; Bitfield(bits) and String(chars) keep their
   *  size in `bits`, N-ArrayOfRanges its Key and Type widths in `bits` and `counts`. */
  readonly bits: Uint16Array
  readonly min: Float64Array
  readonly max: Float64Array
  readonly counts: Uint16Array
  /** For `bitfieldOf` rows, the row holding the length (-1 for others). */
  readonly lengthRows: Int8Array
  /** Total width when every row is a 2-bit Int or N-Bitfield (the US tables), else -1. */
  readonly int2Bits: number
  /** Per 2-bit row, bit v set when the value v is out of range (INT2: 0b1000, 1..2: 0b1001). */
  readonly invalid: Uint8Array
}

// Row kinds. Int, Boolean and N-Bitfield are read inline by `readFields`, the rest by `readOther`;
// both switch on these numbers. JIT: docs/performance.md "Engine notes", "Kind numbers, not row objects".
const KIND_INT = 0
const KIND_BOOL = 1
const KIND_INT_LIST = 2
const KIND_BITFIELD = 3
const KIND_BITFIELD_OF = 4
const KIND_STRING = 5
const KIND_DATETIME = 6
const KIND_OPTIMIZED_RANGE = 7
const KIND_ARRAY_OF_RANGES = 8

const KINDS: Record<FieldType['type'], number> = {
  int: KIND_INT,
  bool: KIND_BOOL,
  intList: KIND_INT_LIST,
  bitfield: KIND_BITFIELD,
  bitfieldOf: KIND_BITFIELD_OF,
  string: KIND_STRING,
  datetime: KIND_DATETIME,
  optimizedRange: KIND_OPTIMIZED_RANGE,
  arrayOfRanges: KIND_ARRAY_OF_RANGES,
}

/**
 * Flattens `table` of section `prefix` for `readFields`; call once when the module loads, never
 * per request.
 */
export function compileTable(table: FieldTable, prefix: string): CompiledTable {
  const n = table.length
  const names = table.map((row) => row[0])
  const compiled = {
    fields: names.map((name) => `${prefix}.${name}`),
    kinds: new Uint8Array(n),
    bits: new Uint16Array(n),
    min: new Float64Array(n),
    max: new Float64Array(n),
    counts: new Uint16Array(n),
    lengthRows: new Int8Array(n).fill(-1),
    int2Bits: 0,
    invalid: new Uint8Array(n),
  }
  for (let i = 0; i < n; i++) {
    const t = (table[i] as readonly [string, FieldType])[1]
    compiled.kinds[i] = KINDS[t.type]
    if (t.type === 'bitfield') compiled.bits[i] = t.bits
    if (t.type === 'string') compiled.bits[i] = t.chars
    if (t.type === 'arrayOfRanges') {
      compiled.bits[i] = t.keyBits
      compiled.counts[i] = t.typeBits
    }
    if (t.type === 'int' || t.type === 'intList') {
      compiled.bits[i] = t.bits
      compiled.min[i] = t.min
      compiled.max[i] = t.max
      compiled.counts[i] = t.count
      let invalid = 0
      for (let v = 0; v < 4; v++) if (v < t.min || v > t.max) invalid |= 1 << v
      compiled.invalid[i] = invalid
    }
    // An earlier row of the same table; a missing one reads as length 0.
    if (t.type === 'bitfieldOf') compiled.lengthRows[i] = names.indexOf(t.lengthField)
    const int2 = (t.type === 'int' || t.type === 'intList') && t.bits === 2
    compiled.int2Bits = int2 && compiled.int2Bits >= 0 ? compiled.int2Bits + 2 * t.count : -1
  }
  return compiled
}

/**
 * `readFields` for a table of 2-bit rows only (every US core), at an even bit position: one
 * bounds check for the whole table, then a shift and mask per value. Returns false, having
 * consumed nothing, when the table is not all 2-bit, the bits run out or a value is out of
 * range: then `readFields` reads the same rows again and names the field at fault.
 */
export function readInt2Fields(r: SegmentReader, table: CompiledTable, values: Values, at: number): boolean {
  const start = r.pos
  if (table.int2Bits < 0 || (start & 1) !== 0 || table.int2Bits > r.bitLength - start) return false
  const { kinds, counts, invalid } = table
  const bytes = r.bytes
  let pos = start
  for (let i = 0; i < kinds.length; i++) {
    const bad = invalid[i] as number
    if (kinds[i] === KIND_INT) {
      const v = ((bytes[pos >> 3] as number) >> (6 - (pos & 7))) & 3
      pos += 2
      if (((bad >> v) & 1) !== 0) return false
      values[at + i] = v
    } else {
      const count = counts[i] as number
      const list = new Array<number>(count)
      for (let k = 0; k < count; k++) {
        const v = ((bytes[pos >> 3] as number) >> (6 - (pos & 7))) & 3
        pos += 2
        if (((bad >> v) & 1) !== 0) return false
        list[k] = v
      }
      values[at + i] = list
    }
  }
  r.pos = pos
  return true
}

/**
 * Reads every row of `table` from `r` into `values`, row i at position `at + i`. Returns the
 * first failure, naming `<section>.<FieldName>`, or null when all fields were read. The common
 * types (Int, Boolean, N-Bitfield) are read inline: this loop runs for every section of every
 * request, so it allocates nothing but the values themselves.
 */
export function readFields(
  r: SegmentReader,
  table: CompiledTable,
  values: Values,
  at: number,
): DecodeFailure | null {
  const { fields, kinds, bits: widths, min: mins, max: maxes, counts } = table
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i] as number
    if (kind === KIND_INT) {
      const bits = widths[i] as number
      const v = bits === 2 ? r.read2() : r.readInt(bits)
      if (r.overrun) return truncated(fields[i] as string)
      const min = mins[i] as number
      const max = maxes[i] as number
      if (v < min || v > max) {
        const field = fields[i] as string
        return decodeError('out_of_range', field, `${field} is ${v}, allowed ${min}..${max}`)
      }
      values[at + i] = v
    } else if (kind === KIND_BOOL) {
      const v = r.readBool()
      if (r.overrun) return truncated(fields[i] as string)
      values[at + i] = v
    } else if (kind === KIND_INT_LIST) {
      const bits = widths[i] as number
      const count = counts[i] as number
      if (!r.has(bits * count)) return truncated(fields[i] as string)
      const min = mins[i] as number
      const max = maxes[i] as number
      const list = new Array<number>(count)
      for (let k = 0; k < count; k++) {
        const v = bits === 2 ? r.read2() : r.readInt(bits)
        if (v < min || v > max) {
          const field = fields[i] as string
          return decodeError('out_of_range', field, `${field}[${k + 1}] is ${v}, allowed ${min}..${max}`)
        }
        list[k] = v
      }
      values[at + i] = list
    } else {
      const failed = readOther(r, table, i, values, at)
      if (failed) return failed
    }
  }
  return null
}

// The less frequent types (tcfcav1): each stores its value and returns null, or the failure; the
// field's full name is only built when it is needed.
function readOther(
  r: SegmentReader,
  table: CompiledTable,
  i: number,
  values: Values,
  at: number,
): DecodeFailure | null {
  const field = table.fields[i] as string
  const size = table.bits[i] as number
  switch (table.kinds[i]) {
    case KIND_BITFIELD:
      values[at + i] = r.readBitfield(size)
      break
    case KIND_BITFIELD_OF: {
      const row = table.lengthRows[i] as number
      const n = row >= 0 ? values[at + row] : 0
      values[at + i] = r.readBitfield(typeof n === 'number' ? n : 0)
      break
    }
    case KIND_STRING: {
      const s = r.readString6(size)
      if (s === null && !r.overrun) {
        return decodeError('out_of_range', field, `${field} has a letter outside A..Z`)
      }
      values[at + i] = s
      break
    }
    case KIND_DATETIME:
      values[at + i] = readIsoDatetime(r)
      break
    case KIND_OPTIMIZED_RANGE:
    case KIND_ARRAY_OF_RANGES: {
      const value =
        table.kinds[i] === KIND_OPTIMIZED_RANGE
          ? readOptimizedRange(r, field)
          : readArrayOfRanges(r, size, table.counts[i] as number, field)
      if (isFailure(value)) return value
      values[at + i] = value
      break
    }
    default:
      // Int, Boolean and N-Bitfield are read inline by readFields.
      return decodeError('bad_table', field, `${field} has no reader`)
  }
  return r.overrun ? truncated(field) : null
}

/**
 * OptimizedRange as written by the IAB reference encoders (iabgpp-es / iabgpp-java
 * `EncodableOptimizedFibonacciRange`): MaxId Int(16), IsRange Boolean, then either a
 * Range(Fibonacci) or a Bitfield(MaxId). The spec's data-type table lists the Boolean first and
 * the Int(16) only inside the bitfield branch; every string the reference encoders produce puts
 * the Int(16) first, so that is the layout decoded here (docs/performance.md `## GPP decoder`).
 * Ids stay ranges and are bounded by MaxId.
 */
export function readOptimizedRange(r: SegmentReader, field: string): IdRanges | DecodeFailure {
  const maxId = r.readInt(16)
  const isRange = r.readBool()
  if (r.overrun) return truncated(field)
  if (isRange) return readFibonacciRanges(r, field, maxId)
  const ranges = r.readBitfieldRanges(maxId)
  return r.overrun ? truncated(`${field}.Bitfield`) : ranges
}

/** N-ArrayOfRanges(X, Y): NumEntries Int(12), then per entry Key Int(X), Type Int(Y), OptimizedRange. */
function readArrayOfRanges(
  r: SegmentReader,
  keyBits: number,
  typeBits: number,
  field: string,
): GppRangeEntry[] | DecodeFailure {
  const count = r.readInt(12)
  if (r.overrun) return truncated(`${field}.NumEntries`)
  // Each entry needs Key, Type, MaxId and IsRange at least: reject counts the bits cannot hold.
  const minEntryBits = keyBits + typeBits + 17
  if (count * minEntryBits > r.remaining) {
    return decodeError(
      'truncated',
      `${field}.NumEntries`,
      `${field}.NumEntries is ${count} but only ${r.remaining} bits remain`,
    )
  }
  const entries: GppRangeEntry[] = []
  const idsField = count > 0 ? `${field}.Ids` : ''
  for (let i = 0; i < count; i++) {
    const key = r.readInt(keyBits)
    const type = r.readInt(typeBits)
    if (r.overrun) return truncated(`${field}.Key`)
    const ids = readOptimizedRange(r, idsField)
    if (isFailure(ids)) return ids
    entries.push({ key, type, ids })
  }
  return entries
}

function truncated(field: string): DecodeFailure {
  return decodeError('truncated', field, `${field} runs past the end of the segment`)
}

/**
 * The failure for a segment `SegmentReader.load` refused (empty, or a character outside
 * base64url): `segment` is its text, which `decodeBase64Url` rejects with the reason and position.
 * Both paddings seen in the wild load the same: the spec's (zero bits up to a multiple of 6,
 * `DBABM`) and the IAB encoders' (zero bits up to a whole byte, then to a multiple of 6,
 * `DBABMA`); `checkPadding` accepts any run of zero bits after the last field.
 */
export function segmentError(segment: string, field: string, maxLength: number): DecodeFailure {
  const decoded = decodeBase64Url(segment, { field, maxLength })
  return decoded.ok ? decodeError('bad_base64', field, `${field} could not be read as base64url`) : decoded
}

/** The text of the segment that starts at `start`: up to the first '.' before `end`, or `end`. */
export function segmentText(text: string, start: number, end: number): string {
  const dot = text.indexOf('.', start)
  return text.slice(start, dot === -1 || dot > end ? end : dot)
}

/**
 * The bits after the last field are padding and must all be zero (GPP spec "Creating a GPP
 * String": "adding padding (0) on the right"). A set bit there means the string was written with a
 * different layout than the one decoded (e.g. a usnat v2 body labelled Version 1), so it is
 * rejected rather than half-read.
 */
export function checkPadding(r: SegmentReader, field: string): DecodeFailure | null {
  return r.restIsZero()
    ? null
    : decodeError('bad_padding', field, `${field} has set bits after its last field`)
}

/** How many '.'-separated segments `text[start..end)` holds, counting at most to `max + 1`. */
export function countSegments(text: string, start: number, end: number, max: number): number {
  let count = 1
  for (let i = start; i < end && count <= max; i++) if (text.charCodeAt(i) === 46) count++
  return count
}
