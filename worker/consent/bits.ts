/**
 * Low-level bit reading shared by the consent-string decoders (TCF, GPP, and the GPP sections
 * that embed TCF): strict base64url decoding with a length cap, a `BitReader` over the decoded
 * bytes, the field types the IAB specs use (fixed integers up to 48 bits, booleans, bitfields,
 * 6-bit letters, 36-bit deciseconds datetimes, Fibonacci integers) and range lists that stay
 * ranges (merged inclusive `IdRanges`, never expanded into id arrays).
 *
 * Nothing here throws on any input. Reads past the end return zero, set the sticky `overrun`
 * flag and leave the position alone; decoders check `overrun` after each field and report that
 * field. Pure TypeScript, no Workers imports.
 */
import type { DecodeError, DecodeResult, IdRanges } from './types'

/** Default cap on an encoded consent string, checked before any decoding (8 KB). */
export const DEFAULT_MAX_LENGTH = 8192

/** Builds the failure side of a `DecodeResult`. */
export function decodeError(
  reason: string,
  field: string,
  message: string,
): { ok: false; error: DecodeError } {
  return { ok: false, error: { reason, field, message } }
}

// RFC 4648 section 5 alphabet; every other code point maps to -1 (including '=' padding, '+'
// and '/': the IAB specs use unpadded base64url only).
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const SEXTET = new Int8Array(128).fill(-1)
for (let i = 0; i < BASE64URL.length; i++) SEXTET[BASE64URL.charCodeAt(i)] = i

/** Decoded base64url: the bytes, and how many of their bits the characters actually carried. */
export interface DecodedBits {
  bytes: Uint8Array
  /** `6 * characters`; the last byte may hold up to 7 zero bits beyond it. */
  bitLength: number
}

export interface Base64UrlOptions {
  /** Longest accepted input in characters; longer input is rejected before decoding. */
  maxLength?: number
  /** Field name reported in errors (default `input`). */
  field?: string
}

/**
 * Decodes unpadded base64url (RFC 4648 section 5) into bytes. Rejects empty input, input longer
 * than `maxLength` (before looking at a single character) and any character outside the
 * alphabet, naming its position.
 *
 * @example decodeBase64Url('CQ') // { ok: true, value: { bytes: Uint8Array [9, 0], bitLength: 12 } }
 */
export function decodeBase64Url(input: string, opts: Base64UrlOptions = {}): DecodeResult<DecodedBits> {
  const field = opts.field ?? 'input'
  const maxLength = opts.maxLength ?? DEFAULT_MAX_LENGTH
  if (input.length === 0) return decodeError('empty', field, `${field} is empty`)
  if (input.length > maxLength) {
    return decodeError('too_long', field, `${field} is ${input.length} characters, the limit is ${maxLength}`)
  }
  const bitLength = input.length * 6
  const bytes = new Uint8Array(Math.ceil(bitLength / 8))
  let acc = 0
  let accBits = 0
  let j = 0
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i)
    const v = code < 128 ? (SEXTET[code] as number) : -1
    if (v < 0) {
      return decodeError('bad_base64', field, `${field} has a character outside base64url at position ${i}`)
    }
    acc = (acc << 6) | v
    accBits += 6
    if (accBits >= 8) {
      accBits -= 8
      bytes[j++] = (acc >> accBits) & 0xff
      acc &= (1 << accBits) - 1
    }
  }
  if (accBits > 0) bytes[j] = (acc << (8 - accBits)) & 0xff
  return { ok: true, value: { bytes, bitLength } }
}

// Fibonacci numbers F(2).. as used by GPP's Fibonacci coding (1, 2, 3, 5, ...). 70 terms stay
// below 2^53, so sums are exact; longer codes are rejected.
const FIBONACCI: number[] = [1, 2]
while (FIBONACCI.length < 70) {
  FIBONACCI.push((FIBONACCI[FIBONACCI.length - 1] as number) + (FIBONACCI[FIBONACCI.length - 2] as number))
}

const PAD2: string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : `${i}`))

/**
 * `new Date(ms).toISOString()` for 0 <= ms < 10^13 (years 1970-2286), without a Date: profiling
 * showed the Date round trip was a third of a TC string decode. Days to civil date by Howard
 * Hinnant's `civil_from_days` ("chrono-Compatible Low-Level Date Algorithms").
 */
export function isoFromEpochMs(ms: number): string {
  const days = Math.floor(ms / 86_400_000)
  let rest = ms - days * 86_400_000
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  )
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  const hours = Math.floor(rest / 3_600_000)
  rest -= hours * 3_600_000
  const minutes = Math.floor(rest / 60_000)
  rest -= minutes * 60_000
  const seconds = Math.floor(rest / 1000)
  const millis = rest - seconds * 1000
  const msText = millis < 10 ? `00${millis}` : millis < 100 ? `0${millis}` : `${millis}`
  return `${year}-${PAD2[month]}-${PAD2[day]}T${PAD2[hours]}:${PAD2[minutes]}:${PAD2[seconds]}.${msText}Z`
}

/** The longest Fibonacci code (in bits, terminator included) `readFibonacci` accepts. */
export const MAX_FIBONACCI_BITS = 48

/**
 * Reads big-endian bit fields from decoded bytes. All reads are bounded by `bitLength`; past it
 * they return a zero value and set `overrun` (sticky), so a decoder reads a field, checks
 * `overrun`, and reports that field as truncated.
 */
export class BitReader {
  readonly bytes: Uint8Array
  readonly bitLength: number
  /** Next bit to read, from the start of `bytes`. */
  pos = 0
  /** Set once any read needed more bits than remained. Never cleared. */
  overrun = false

  constructor(bytes: Uint8Array, bitLength: number = bytes.length * 8) {
    this.bytes = bytes
    this.bitLength = Math.max(0, Math.min(bitLength, bytes.length * 8))
  }

  /** Reader over a decoded base64url string. */
  static of(decoded: DecodedBits): BitReader {
    return new BitReader(decoded.bytes, decoded.bitLength)
  }

  get remaining(): number {
    return this.bitLength - this.pos
  }

  /** True when `n` more bits are available; otherwise sets `overrun` and returns false. */
  has(n: number): boolean {
    if (n <= this.bitLength - this.pos) return true
    this.overrun = true
    return false
  }

  /** Unsigned big-endian integer of `n` bits, 0 <= n <= 48 (exact: uses arithmetic, not `<<`). */
  readInt(n: number): number {
    if (n < 0 || n > 48 || !this.has(n)) {
      this.overrun = true
      return 0
    }
    let value = 0
    let pos = this.pos
    let left = n
    while (left > 0) {
      const byte = this.bytes[pos >> 3] as number
      const offset = pos & 7
      const take = Math.min(left, 8 - offset)
      const chunk = (byte >> (8 - offset - take)) & ((1 << take) - 1)
      value = value * (1 << take) + chunk
      pos += take
      left -= take
    }
    this.pos = pos
    return value
  }

  readBool(): boolean {
    if (!this.has(1)) return false
    const bit = ((this.bytes[this.pos >> 3] as number) >> (7 - (this.pos & 7))) & 1
    this.pos++
    return bit === 1
  }

  /**
   * A bitfield of `n` bits as the sorted ids whose bit is set; bit i (0-based) stands for id
   * `firstId + i`. For purposes and special features (TCF "PurposesConsent" etc.).
   */
  readBitfield(n: number, firstId = 1): number[] {
    const ids: number[] = []
    if (!this.has(n)) return ids
    const bytes = this.bytes
    let pos = this.pos
    for (let i = 0; i < n; i++, pos++) {
      if ((((bytes[pos >> 3] as number) >> (7 - (pos & 7))) & 1) === 1) ids.push(firstId + i)
    }
    this.pos = pos
    return ids
  }

  /**
   * A bitfield of `n` bits as merged inclusive ranges of the set ids (bit i is id `firstId + i`).
   * For vendor bitfields, whose ids can run into the tens of thousands.
   */
  readBitfieldRanges(n: number, firstId = 1): IdRanges {
    const ranges: IdRanges = []
    if (!this.has(n)) return ranges
    const bytes = this.bytes
    const startPos = this.pos
    const endPos = startPos + n
    // Id of bit `pos` is `pos - base`.
    const base = startPos - firstId
    let runStart = -1
    let pos = startPos
    while (pos < endPos) {
      const byte = bytes[pos >> 3] as number
      const offset = pos & 7
      // Whole bytes that do not end or start a run are skipped at once: sparse sections are mostly
      // 0x00 and "accept all" sections mostly 0xff.
      if (offset === 0 && pos + 8 <= endPos && byte === (runStart < 0 ? 0 : 0xff)) {
        pos += 8
        continue
      }
      const stop = Math.min(endPos, pos - offset + 8)
      for (; pos < stop; pos++) {
        const set = (byte >> (7 - (pos & 7))) & 1
        if (set === 1) {
          if (runStart < 0) runStart = pos - base
        } else if (runStart >= 0) {
          ranges.push([runStart, pos - base - 1])
          runStart = -1
        }
      }
    }
    if (runStart >= 0) ranges.push([runStart, endPos - base - 1])
    this.pos = endPos
    return ranges
  }

  /**
   * `chars` letters of 6 bits each, 0 = 'A' .. 25 = 'Z' (TCF ConsentLanguage, PublisherCC).
   * Returns null when a letter is out of range or the bits run out.
   */
  readString6(chars: number): string | null {
    if (!this.has(chars * 6)) return null
    let out = ''
    for (let i = 0; i < chars; i++) {
      const v = this.readInt(6)
      if (v > 25) return null
      out += String.fromCharCode(65 + v)
    }
    return out
  }

  /** 36-bit count of deciseconds since the Unix epoch, as an ISO 8601 string (TCF Created). */
  readDatetime(): string {
    return isoFromEpochMs(this.readInt(36) * 100)
  }

  /**
   * A Fibonacci-coded positive integer (GPP spec "Fibonacci Integer"): bit i adds F(i+2)
   * (1, 2, 3, 5, ...) and the code ends at the first "11". Returns -1, without consuming, when
   * no terminator appears within `MAX_FIBONACCI_BITS` or before the end (then `overrun` is set).
   */
  readFibonacci(): number {
    const bytes = this.bytes
    let pos = this.pos
    let value = 0
    let prev = 0
    const limit = Math.min(this.bitLength, this.pos + MAX_FIBONACCI_BITS)
    for (let i = 0; pos < limit; i++, pos++) {
      const bit = ((bytes[pos >> 3] as number) >> (7 - (pos & 7))) & 1
      if (bit === 1 && prev === 1) {
        this.pos = pos + 1
        return value
      }
      if (bit === 1) value += FIBONACCI[i] as number
      prev = bit
    }
    if (limit === this.bitLength) this.overrun = true
    return -1
  }

  skip(n: number): void {
    if (this.has(n)) this.pos += n
  }
}

/** How a range list is laid out and named (TCF vendor sections, GPP Range fields). */
export interface RangeListSpec {
  /** Section name used as the error field prefix, e.g. `VendorConsents`. */
  field: string
  /** Width of NumEntries (TCF and GPP: 12). */
  countBits?: number
  /** `int`: StartOrOnly and End are fixed `idBits` integers (TCF, GPP "Range (Int)").
   *  `fibonacci`: each is a Fibonacci offset from the previous id (GPP "Range (Fibonacci)"). */
  encoding?: 'int' | 'fibonacci'
  /** Width of an id in `int` encoding (default 16). */
  idBits?: number
  /** Largest valid id, inclusive (e.g. the section's MaxVendorId). Default `2^idBits - 1`. */
  maxId?: number
  /** Spec field names for errors. Defaults: NumEntries, StartOrOnlyId, EndId. */
  names?: { numEntries?: string; start?: string; end?: string }
}

/**
 * Reads a range list: NumEntries, then per entry IsARange(1), StartOrOnlyId, [EndId]. Bounded by
 * construction: NumEntries is checked against the bits that remain before the first entry is
 * read, and the result holds at most one range per entry (ranges are never expanded). Ids must
 * be in 1..maxId and End >= Start; each violation is an error naming the field.
 */
export function readRangeList(r: BitReader, spec: RangeListSpec): DecodeResult<IdRanges> {
  const countBits = spec.countBits ?? 12
  const fib = spec.encoding === 'fibonacci'
  const idBits = spec.idBits ?? 16
  const maxId = spec.maxId ?? 2 ** idBits - 1
  const numEntriesField = `${spec.field}.${spec.names?.numEntries ?? 'NumEntries'}`
  const startField = `${spec.field}.${spec.names?.start ?? 'StartOrOnlyId'}`
  const endField = `${spec.field}.${spec.names?.end ?? 'EndId'}`

  const count = r.readInt(countBits)
  if (r.overrun) return decodeError('truncated', numEntriesField, `${numEntriesField} runs past the end`)
  // Every entry needs at least IsARange plus one id (a Fibonacci code is at least 2 bits).
  const minEntryBits = 1 + (fib ? 2 : idBits)
  if (count * minEntryBits > r.remaining) {
    return decodeError(
      'truncated',
      numEntriesField,
      `${numEntriesField} is ${count} but only ${r.remaining} bits remain (${minEntryBits} per entry at least)`,
    )
  }
  const ranges: IdRanges = []
  let sorted = true
  let last = 0
  let offset = 0
  for (let i = 0; i < count; i++) {
    const isRange = r.readBool()
    let start: number
    let end: number
    if (fib) {
      const s = r.readFibonacci()
      if (s < 0) return fibError(r, startField)
      start = offset + s
      offset = start
      if (isRange) {
        const e = r.readFibonacci()
        if (e < 0) return fibError(r, endField)
        end = offset + e
        offset = end
      } else end = start
    } else {
      start = r.readInt(idBits)
      end = isRange ? r.readInt(idBits) : start
    }
    if (r.overrun)
      return decodeError(
        'truncated',
        isRange ? endField : startField,
        `${spec.field} entry ${i + 1} runs past the end`,
      )
    if (start < 1 || start > maxId) {
      return decodeError('out_of_range', startField, `${startField} ${start} is outside 1..${maxId}`)
    }
    if (end < start)
      return decodeError('bad_range', endField, `${endField} ${end} is before ${startField} ${start}`)
    if (end > maxId) return decodeError('out_of_range', endField, `${endField} ${end} is above ${maxId}`)
    if (start <= last) sorted = false
    last = end
    ranges.push([start, end])
  }
  return { ok: true, value: mergeRanges(ranges, sorted) }
}

function fibError(r: BitReader, field: string): { ok: false; error: DecodeError } {
  return r.overrun
    ? decodeError('truncated', field, `${field} runs past the end`)
    : decodeError('bad_fibonacci', field, `${field} has no terminator within ${MAX_FIBONACCI_BITS} bits`)
}

/**
 * Sorts (unless `alreadySorted`) and merges overlapping or adjacent inclusive ranges into a new
 * array: `[[5, 6], [1, 4], [9, 9]]` -> `[[1, 6], [9, 9]]`.
 */
export function mergeRanges(ranges: IdRanges, alreadySorted = false): IdRanges {
  if (ranges.length < 2) return ranges.map(([a, b]) => [a, b])
  const input = alreadySorted ? ranges : [...ranges].sort((x, y) => x[0] - y[0] || x[1] - y[1])
  const out: IdRanges = []
  let [curStart, curEnd] = input[0] as [number, number]
  for (let i = 1; i < input.length; i++) {
    const [s, e] = input[i] as [number, number]
    if (s <= curEnd + 1) {
      if (e > curEnd) curEnd = e
    } else {
      out.push([curStart, curEnd])
      curStart = s
      curEnd = e
    }
  }
  out.push([curStart, curEnd])
  return out
}

/** Merged ranges of a list of ids (any order, duplicates allowed): `[3, 1, 2, 7]` -> `[[1, 3], [7, 7]]`. */
export function idsToRanges(ids: readonly number[]): IdRanges {
  return mergeRanges(ids.map((id) => [id, id]))
}

/** Whether `id` is in merged, sorted `ranges` (binary search). */
export function rangesContain(ranges: IdRanges, id: number): boolean {
  let lo = 0
  let hi = ranges.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const [s, e] = ranges[mid] as [number, number]
    if (id < s) hi = mid - 1
    else if (id > e) lo = mid + 1
    else return true
  }
  return false
}

/** How many ids merged `ranges` cover. */
export function rangesCount(ranges: IdRanges): number {
  let n = 0
  for (const [s, e] of ranges) n += e - s + 1
  return n
}
