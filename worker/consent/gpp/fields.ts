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
 * Reads every row of `table` from `r` into `out` (field names as in the table). Returns the
 * first failure, naming `<prefix>.<FieldName>`, or null when all fields were read. The common
 * types (Int, Boolean, N-Bitfield) are read inline: this loop runs for every section of every
 * request, so it allocates nothing but the values themselves.
 */
export function readFields(
  r: BitReader,
  table: FieldTable,
  prefix: string,
  out: GppSectionFields,
): FieldError | null {
  for (let i = 0; i < table.length; i++) {
    // Index access, not destructuring: this is the innermost loop of every request's GPP decode.
    const row = table[i] as readonly [string, FieldType]
    const name = row[0]
    const t = row[1]
    switch (t.type) {
      case 'int': {
        const v = t.bits === 2 ? read2(r) : r.readInt(t.bits)
        if (r.overrun) return truncated(`${prefix}.${name}`)
        if (v < t.min || v > t.max) {
          const field = `${prefix}.${name}`
          return decodeError('out_of_range', field, `${field} is ${v}, allowed ${t.min}..${t.max}`)
        }
        out[name] = v
        break
      }
      case 'bool': {
        const v = r.readBool()
        if (r.overrun) return truncated(`${prefix}.${name}`)
        out[name] = v
        break
      }
      case 'intList': {
        if (!r.has(t.bits * t.count)) return truncated(`${prefix}.${name}`)
        const values = new Array<number>(t.count)
        for (let k = 0; k < t.count; k++) {
          const v = t.bits === 2 ? read2(r) : r.readInt(t.bits)
          if (v < t.min || v > t.max) {
            const field = `${prefix}.${name}`
            return decodeError(
              'out_of_range',
              field,
              `${field}[${k + 1}] is ${v}, allowed ${t.min}..${t.max}`,
            )
          }
          values[k] = v
        }
        out[name] = values
        break
      }
      default: {
        const failed = readOther(r, t, prefix, name, out)
        if (failed) return failed
      }
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
      out[name] = r.readBitfield(t.bits)
      break
    case 'bitfieldOf': {
      const n = out[t.lengthField]
      out[name] = r.readBitfield(typeof n === 'number' ? n : 0)
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
    return readRangeList(r, {
      field,
      encoding: 'fibonacci',
      maxId,
      names: { start: 'StartOrOnlyId', end: 'EndId' },
    })
  }
  const ranges = r.readBitfieldRanges(maxId)
  return r.overrun ? truncated(`${field}.Bitfield`) : { ok: true, value: ranges }
}

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
  const decoded = decodeBase64Url(segment, { field, maxLength, scratch: SCRATCH })
  // The reader itself is the success value: one allocation fewer per segment than a Result.
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
