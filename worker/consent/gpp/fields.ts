/**
 * Table-driven reading of GPP section fields (GPP Consent String Specification, "Section
 * Encoding" data types): a section segment is a list of `[FieldName, FieldType]` rows read in
 * order by one small function per type, so no decoder counts bit offsets by hand. Built on the
 * shared `BitReader` (`../bits`); never throws, every failure names the field as
 * `<section>.<FieldName>`.
 */
import { BitReader, decodeBase64Url, decodeError, readRangeList } from '../bits'
import type { DecodeError, DecodeResult, GppRangeEntry, GppSectionFields, IdRanges } from '../types'

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

// Int and N-Bitfield rows are built only here, all with the same keys in the same order, so the
// hot loop in readFields sees one object shape for them.
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

export type FieldError = { ok: false; error: DecodeError }

/**
 * A FieldTable flattened once per isolate into parallel arrays, so the per-request loop reads
 * small integers from typed arrays instead of loading and switching on each row's type object.
 */
export interface CompiledTable {
  readonly names: readonly string[]
  /** KIND_* per row. */
  readonly kinds: Uint8Array
  /** Int / N-Bitfield widths, bounds and counts (0 for other types). */
  readonly bits: Uint8Array
  readonly min: Float64Array
  readonly max: Float64Array
  readonly counts: Uint16Array
  /** The row's type, for the less frequent types read by `readOther`. */
  readonly types: readonly FieldType[]
}

const KIND_INT = 0
const KIND_BOOL = 1
const KIND_INT_LIST = 2
const KIND_OTHER = 3

/** Flattens `table` for `readFields`; call once when the module loads, never per request. */
export function compileTable(table: FieldTable): CompiledTable {
  const n = table.length
  const compiled = {
    names: table.map((row) => row[0]),
    kinds: new Uint8Array(n),
    bits: new Uint8Array(n),
    min: new Float64Array(n),
    max: new Float64Array(n),
    counts: new Uint16Array(n),
    types: table.map((row) => row[1]),
  }
  for (let i = 0; i < n; i++) {
    const t = (table[i] as readonly [string, FieldType])[1]
    if (t.type === 'int' || t.type === 'intList') {
      compiled.kinds[i] = t.type === 'int' ? KIND_INT : KIND_INT_LIST
      compiled.bits[i] = t.bits
      compiled.min[i] = t.min
      compiled.max[i] = t.max
      compiled.counts[i] = t.count
    } else compiled.kinds[i] = t.type === 'bool' ? KIND_BOOL : KIND_OTHER
  }
  return compiled
}

/**
 * Reads every row of `table` from `r` into `out` (field names as in the table). Returns the
 * first failure, naming `<prefix>.<FieldName>`, or null when all fields were read. The common
 * types (Int, Boolean, N-Bitfield) are read inline: this loop runs for every section of every
 * request, so it allocates nothing but the values themselves.
 */
export function readFields(
  r: BitReader,
  table: CompiledTable,
  prefix: string,
  out: GppSectionFields,
): FieldError | null {
  const { names, kinds, bits: widths, min: mins, max: maxes, counts } = table
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i] as number
    if (kind === KIND_INT) {
      const bits = widths[i] as number
      const v = bits === 2 ? read2(r) : r.readInt(bits)
      if (r.overrun) return truncated(`${prefix}.${names[i] as string}`)
      const min = mins[i] as number
      const max = maxes[i] as number
      if (v < min || v > max) {
        const field = `${prefix}.${names[i] as string}`
        return decodeError('out_of_range', field, `${field} is ${v}, allowed ${min}..${max}`)
      }
      out[names[i] as string] = v
    } else if (kind === KIND_BOOL) {
      const v = r.readBool()
      if (r.overrun) return truncated(`${prefix}.${names[i] as string}`)
      out[names[i] as string] = v
    } else if (kind === KIND_INT_LIST) {
      const bits = widths[i] as number
      const count = counts[i] as number
      if (!r.has(bits * count)) return truncated(`${prefix}.${names[i] as string}`)
      const min = mins[i] as number
      const max = maxes[i] as number
      const values = new Array<number>(count)
      for (let k = 0; k < count; k++) {
        const v = bits === 2 ? read2(r) : r.readInt(bits)
        if (v < min || v > max) {
          const field = `${prefix}.${names[i] as string}`
          return decodeError('out_of_range', field, `${field}[${k + 1}] is ${v}, allowed ${min}..${max}`)
        }
        values[k] = v
      }
      out[names[i] as string] = values
    } else {
      const failed = readOther(r, table.types[i] as FieldType, prefix, names[i] as string, out)
      if (failed) return failed
    }
  }
  return null
}

// Int(2) is nearly every US field. At an even bit position it cannot straddle a byte, so it is
// one shift and mask; otherwise (never in the US layouts) the general reader takes it.
function read2(r: BitReader): number {
  const pos = r.pos
  if ((pos & 1) !== 0 || pos + 2 > r.bitLength) return r.readInt(2)
  r.pos = pos + 2
  return ((r.bytes[pos >> 3] as number) >> (6 - (pos & 7))) & 3
}

// The less frequent types (tcfcav1): each writes `out[name]` itself and returns null, or the
// failure; the field's full name is only built when it is needed.
function readOther(
  r: BitReader,
  t: FieldType,
  prefix: string,
  name: string,
  out: GppSectionFields,
): FieldError | null {
  switch (t.type) {
    case 'int':
    case 'bool':
    case 'intList':
      // Read inline by readFields; listed so the switch stays exhaustive.
      return decodeError('bad_table', `${prefix}.${name}`, `${prefix}.${name} has no reader`)
    case 'bitfield':
      out[name] = readIdBitfield(r, t.bits)
      break
    case 'bitfieldOf': {
      const n = out[t.lengthField]
      out[name] = readIdBitfield(r, typeof n === 'number' ? n : 0)
      break
    }
    case 'string': {
      const s = r.readString6(t.chars)
      if (s === null && !r.overrun) {
        const field = `${prefix}.${name}`
        return decodeError('out_of_range', field, `${field} has a letter outside A..Z`)
      }
      out[name] = s
      break
    }
    case 'datetime':
      out[name] = r.readDatetime()
      break
    case 'optimizedRange':
    case 'arrayOfRanges': {
      const field = `${prefix}.${name}`
      const value =
        t.type === 'optimizedRange'
          ? readOptimizedRange(r, field)
          : readArrayOfRanges(r, t.keyBits, t.typeBits, field)
      if (!value.ok) return value
      out[name] = value.value
      break
    }
  }
  return r.overrun ? truncated(`${prefix}.${name}`) : null
}

/**
 * `r.readBitfield(n)` (the 1-based ids whose bit is set; nothing read when fewer than `n` bits
 * remain), skipping whole zero bytes: purpose bitfields are mostly zeros, and a bit-by-bit loop
 * over them was a tenth of a tcfcav1 decode.
 */
function readIdBitfield(r: BitReader, n: number): number[] {
  const ids: number[] = []
  if (!r.has(n)) return ids
  const bytes = r.bytes
  const first = r.pos
  const end = first + n
  let pos = first
  while (pos < end) {
    const byte = bytes[pos >> 3] as number
    if ((pos & 7) === 0 && byte === 0 && pos + 8 <= end) {
      pos += 8
      continue
    }
    if (((byte >> (7 - (pos & 7))) & 1) === 1) ids.push(pos - first + 1)
    pos++
  }
  r.pos = end
  return ids
}

/**
 * OptimizedRange as written by the IAB reference encoders (iabgpp-es / iabgpp-java
 * `EncodableOptimizedFibonacciRange`): MaxId Int(16), IsRange Boolean, then either a
 * Range(Fibonacci) or a Bitfield(MaxId). The spec's data-type table lists the Boolean first and
 * the Int(16) only inside the bitfield branch; every string the reference encoders produce puts
 * the Int(16) first, so that is the layout decoded here (docs/performance.md `## GPP decoder`).
 * Ids stay ranges and are bounded by MaxId.
 */
export function readOptimizedRange(r: BitReader, field: string): DecodeResult<IdRanges> {
  const maxId = r.readInt(16)
  const isRange = r.readBool()
  if (r.overrun) return truncated(field)
  if (isRange) {
    return readRangeList(r, { field, encoding: 'fibonacci', maxId, names: RANGE_NAMES })
  }
  const ranges = r.readBitfieldRanges(maxId)
  return r.overrun ? truncated(`${field}.Bitfield`) : { ok: true, value: ranges }
}

const RANGE_NAMES = { start: 'StartOrOnlyId', end: 'EndId' } as const

/** N-ArrayOfRanges(X, Y): NumEntries Int(12), then per entry Key Int(X), Type Int(Y), OptimizedRange. */
function readArrayOfRanges(
  r: BitReader,
  keyBits: number,
  typeBits: number,
  field: string,
): DecodeResult<GppRangeEntry[]> {
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
  for (let i = 0; i < count; i++) {
    const key = r.readInt(keyBits)
    const type = r.readInt(typeBits)
    if (r.overrun) return truncated(`${field}.Key`)
    const ids = readOptimizedRange(r, `${field}.Ids`)
    if (!ids.ok) return ids
    entries.push({ key, type, ids: ids.value })
  }
  return { ok: true, value: entries }
}

function truncated(field: string): FieldError {
  return decodeError('truncated', field, `${field} runs past the end of the segment`)
}

// One reusable byte buffer for segment decoding (typed-array allocation is a large share of a
// small segment's cost). Safe because decoding is synchronous and every GPP decoder finishes with
// a segment's reader before it opens the next one; longer segments get their own buffer.
const SCRATCH = new Uint8Array(1024)

/**
 * Decodes one '.'-separated base64url segment into a reader. Both paddings seen in the wild decode
 * the same: the spec's (zero bits up to a multiple of 6, `DBABM`) and the IAB encoders' (zero bits
 * up to a whole byte, then to a multiple of 6, `DBABMA`); `checkPadding` accepts any run of zero
 * bits after the last field.
 */
export function segmentReader(segment: string, field: string, maxLength: number): BitReader | FieldError {
  const n = segment.length
  // Fast path for the common case (a valid segment that fits the scratch buffer): decode straight
  // into it, with no Result or DecodedBits objects. Anything else (empty, too long, a character
  // outside the alphabet, a segment larger than the buffer) goes through `decodeBase64Url`, which
  // writes the same bytes and builds the error, so both paths give the same reader or failure.
  if (n === 0 || n > maxLength || n > SCRATCH_CHARS) return generalSegmentReader(segment, field, maxLength)
  const bytes = SCRATCH
  const whole = n - (n & 3)
  let j = 0
  for (let i = 0; i < whole; i += 4) {
    const c0 = segment.charCodeAt(i)
    const c1 = segment.charCodeAt(i + 1)
    const c2 = segment.charCodeAt(i + 2)
    const c3 = segment.charCodeAt(i + 3)
    if ((c0 | c1 | c2 | c3) > 127) return generalSegmentReader(segment, field, maxLength)
    const a = SEXTET[c0] as number
    const b = SEXTET[c1] as number
    const c = SEXTET[c2] as number
    const d = SEXTET[c3] as number
    if ((a | b | c | d) < 0) return generalSegmentReader(segment, field, maxLength)
    const v = (a << 18) | (b << 12) | (c << 6) | d
    bytes[j] = v >> 16
    bytes[j + 1] = (v >> 8) & 0xff
    bytes[j + 2] = v & 0xff
    j += 3
  }
  let acc = 0
  let accBits = 0
  for (let i = whole; i < n; i++) {
    const code = segment.charCodeAt(i)
    const v = code < 128 ? (SEXTET[code] as number) : -1
    if (v < 0) return generalSegmentReader(segment, field, maxLength)
    acc = (acc << 6) | v
    accBits += 6
    if (accBits >= 8) {
      accBits -= 8
      bytes[j++] = (acc >> accBits) & 0xff
      acc &= (1 << accBits) - 1
    }
  }
  if (accBits > 0) bytes[j] = (acc << (8 - accBits)) & 0xff
  return new BitReader(bytes, n * 6)
}

// The longest segment the fast path decodes into SCRATCH (6 bits per character).
const SCRATCH_CHARS = Math.floor((SCRATCH.length * 8) / 6)

// RFC 4648 section 5 alphabet as in `decodeBase64Url`: every other code point maps to -1.
const SEXTET = new Int8Array(128).fill(-1)
for (let i = 0; i < 64; i++) {
  SEXTET['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.charCodeAt(i)] = i
}

function generalSegmentReader(segment: string, field: string, maxLength: number): BitReader | FieldError {
  const decoded = decodeBase64Url(segment, { field, maxLength, scratch: SCRATCH })
  return decoded.ok ? BitReader.of(decoded.value) : decoded
}

/**
 * The bits after the last field are padding and must all be zero (GPP spec "Creating a GPP
 * String": "adding padding (0) on the right"). A set bit there means the string was written with a
 * different layout than the one decoded (e.g. a usnat v2 body labelled Version 1), so it is
 * rejected rather than half-read.
 */
export function checkPadding(r: BitReader, field: string): FieldError | null {
  while (r.remaining > 0) {
    const n = Math.min(r.remaining, 48)
    if (r.readInt(n) !== 0) {
      return decodeError('bad_padding', field, `${field} has set bits after its last field`)
    }
  }
  return null
}

/**
 * Splits a section body on '.' into at most `max` segments without `String.prototype.split`
 * (measurably slower with a limit in V8). Returns null when there are more than `max`.
 */
export function splitSegments(body: string, max: number): string[] | null {
  const out: string[] = []
  let start = 0
  for (;;) {
    const dot = body.indexOf('.', start)
    if (dot === -1) {
      out.push(start === 0 ? body : body.slice(start))
      return out
    }
    if (out.length === max - 1) return null
    out.push(body.slice(start, dot))
    start = dot + 1
  }
}
