/**
 * Low-level bit reading for the consent-string decoders: strict base64url decoding with a length
 * cap, a `BitReader` over the decoded bytes, the field types the IAB specs use (fixed integers up
 * to 48 bits, booleans, bitfields, 6-bit letters, 36-bit deciseconds datetimes, Fibonacci
 * integers) and range lists that stay ranges (merged inclusive `IdRanges`, never expanded).
 *
 * `BitReader` is the plain, byte-at-a-time statement of that contract. The decoders on the
 * request path read with faster word-at-a-time readers of the same contract (`tcf/words.ts`,
 * `gpp/reader.ts`), and property tests check each of them against `BitReader` read by read.
 *
 * Nothing here throws on any input. Reads past the end return zero, set the sticky `overrun`
 * flag and leave the position alone; decoders check `overrun` after each field and report that
 * field. Pure TypeScript, no Workers imports.
 */
import { IdRanges, MAX_ID } from './ranges'
import type { DecodeError, DecodeResult } from './types'

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
  /**
   * Decode into this buffer when it is large enough, instead of allocating: the result's `bytes`
   * is then the buffer itself (stale bytes past `bitLength` are never read by a BitReader) and is
   * only valid until the buffer's next use. For synchronous decoders that do not keep the bytes.
   */
  scratch?: Uint8Array
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
  const n = input.length
  const bitLength = n * 6
  const byteLength = Math.ceil(bitLength / 8)
  const bytes = opts.scratch && opts.scratch.length >= byteLength ? opts.scratch : new Uint8Array(byteLength)
  // Four characters make three bytes: the hot loop handles whole groups, the tail goes bit by bit.
  const whole = n - (n % 4)
  let j = 0
  for (let i = 0; i < whole; i += 4) {
    const c0 = input.charCodeAt(i)
    const c1 = input.charCodeAt(i + 1)
    const c2 = input.charCodeAt(i + 2)
    const c3 = input.charCodeAt(i + 3)
    if ((c0 | c1 | c2 | c3) > 127) return badCharacter(input, field)
    const a = SEXTET[c0] as number
    const b = SEXTET[c1] as number
    const c = SEXTET[c2] as number
    const d = SEXTET[c3] as number
    if ((a | b | c | d) < 0) return badCharacter(input, field)
    const v = (a << 18) | (b << 12) | (c << 6) | d
    bytes[j] = v >> 16
    bytes[j + 1] = (v >> 8) & 0xff
    bytes[j + 2] = v & 0xff
    j += 3
  }
  let acc = 0
  let accBits = 0
  for (let i = whole; i < n; i++) {
    const code = input.charCodeAt(i)
    const v = code < 128 ? (SEXTET[code] as number) : -1
    if (v < 0) return badCharacter(input, field)
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

function badCharacter(input: string, field: string): { ok: false; error: DecodeError } {
  let i = 0
  while (i < input.length && (SEXTET[input.charCodeAt(i)] ?? -1) >= 0) i++
  return decodeError('bad_base64', field, `${field} has a character outside base64url at position ${i}`)
}

// Fibonacci numbers F(2).. as used by GPP's Fibonacci coding (1, 2, 3, 5, ...). 70 terms stay
// below 2^53, so sums are exact; longer codes are rejected.
const FIBONACCI: number[] = [1, 2]
while (FIBONACCI.length < 70) {
  FIBONACCI.push((FIBONACCI[FIBONACCI.length - 1] as number) + (FIBONACCI[FIBONACCI.length - 2] as number))
}

// Character codes of each two-digit number's digits, for `isoFromDeciseconds`.
const TENS = new Uint8Array(100)
const ONES = new Uint8Array(100)
for (let i = 0; i < 100; i++) {
  TENS[i] = 48 + Math.floor(i / 10)
  ONES[i] = 48 + (i % 10)
}

/**
 * `new Date(ds * 100).toISOString()` for a 36-bit count of deciseconds (years 1970-2187): the
 * TCF and GPP datetime fields, without a Date (the Date round trip was a third of a TC string
 * decode). Days to civil date by Howard Hinnant's `civil_from_days` ("chrono-Compatible
 * Low-Level Date Algorithms"), in 32-bit integers after the first division, and one
 * `String.fromCharCode` instead of joining 13 pieces.
 */
export function isoFromDeciseconds(ds: number): string {
  const days = Math.floor(ds / 864_000)
  let rest = ds - days * 864_000
  const z = days + 719_468
  const era = (z / 146_097) | 0
  const doe = z - era * 146_097
  const yoe = ((doe - ((doe / 1460) | 0) + ((doe / 36_524) | 0) - ((doe / 146_096) | 0)) / 365) | 0
  const doy = doe - (365 * yoe + (yoe >> 2) - ((yoe / 100) | 0))
  const mp = ((5 * doy + 2) / 153) | 0
  const day = doy - (((153 * mp + 2) / 5) | 0) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  const hours = (rest / 36_000) | 0
  rest -= hours * 36_000
  const minutes = (rest / 600) | 0
  rest -= minutes * 600
  const seconds = (rest / 10) | 0
  const tenths = rest - seconds * 10
  const century = (year / 100) | 0
  const yy = year - century * 100
  // prettier-ignore
  return String.fromCharCode(
    TENS[century] as number, ONES[century] as number, TENS[yy] as number, ONES[yy] as number, 45, // YYYY-
    TENS[month] as number, ONES[month] as number, 45, TENS[day] as number, ONES[day] as number, 84, // MM-DDT
    TENS[hours] as number, ONES[hours] as number, 58, TENS[minutes] as number, ONES[minutes] as number, 58, // hh:mm:
    TENS[seconds] as number, ONES[seconds] as number, 46, 48 + tenths, 48, 48, 90, // ss.d00Z
  )
}

/**
 * `new Date(ms).toISOString()`, through `isoFromDeciseconds` for the whole deciseconds that TCF
 * and GPP dates are (the Date round trip costs five times as much).
 */
export function isoFromEpochMs(ms: number): string {
  return ms % 100 === 0 && ms >= 0 && ms < 2 ** 36 * 100
    ? isoFromDeciseconds(ms / 100)
    : new Date(ms).toISOString()
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
  #lastDeciseconds = -1
  #lastIso = ''

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

  /** Unsigned big-endian integer of `n` bits, 0 <= n <= 48 (exact: wide reads use arithmetic). */
  readInt(n: number): number {
    if (n < 0 || n > 48 || !this.has(n)) {
      this.overrun = true
      return 0
    }
    if (n === 0) return 0
    if (n <= 24) {
      const value = this.#word(this.pos) >>> (32 - n)
      this.pos += n
      return value
    }
    // Above 24 bits: high part times 2^24 plus the low 24 bits (no 32-bit overflow).
    const high = this.#word(this.pos) >>> (32 - (n - 24))
    this.pos += n - 24
    const low = this.#word(this.pos) >>> 8
    this.pos += 24
    return high * 16_777_216 + low
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
    if (!this.has(n)) return IdRanges.empty
    // Run boundaries, in pairs: first id, last id.
    const bounds: number[] = []
    const endPos = this.pos + n
    // Id of bit `pos` is `pos - base`.
    const base = this.pos - firstId
    // Jump from one run boundary to the next with Math.clz32 on a 32-bit window (on its complement
    // inside a run): the cost is per run and per 32 bits, not per bit. `valid` counts the window's
    // bits still ahead of `pos`; shifted-in low bits are never taken for a boundary.
    let pos = this.pos
    let runStart = -1
    let window = this.#word(pos)
    let valid = 32
    while (pos < endPos) {
      const k = Math.clz32(runStart < 0 ? window : ~window)
      if (k >= valid) {
        pos += valid
        window = this.#word(pos)
        valid = 32
        continue
      }
      pos += k
      if (pos >= endPos) break
      if (runStart < 0) runStart = pos - base
      else {
        bounds.push(runStart, pos - base - 1)
        runStart = -1
      }
      window <<= k
      valid -= k
    }
    if (runStart >= 0) bounds.push(runStart, endPos - base - 1)
    this.pos = endPos
    return IdRanges.ofSorted(bounds, bounds.length >> 1)
  }

  /** The 32 bits from `pos`, as a signed 32-bit integer; bytes past the end read as zero. */
  #word(pos: number): number {
    const bytes = this.bytes
    const len = bytes.length
    const i = pos >> 3
    const off = pos & 7
    const b0 = i < len ? (bytes[i] as number) : 0
    const b1 = i + 1 < len ? (bytes[i + 1] as number) : 0
    const b2 = i + 2 < len ? (bytes[i + 2] as number) : 0
    const b3 = i + 3 < len ? (bytes[i + 3] as number) : 0
    const hi = (b0 << 24) | (b1 << 16) | (b2 << 8) | b3
    if (off === 0) return hi
    const b4 = i + 4 < len ? (bytes[i + 4] as number) : 0
    return (hi << off) | (b4 >>> (8 - off))
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
    const deciseconds = this.readInt(36)
    // Created and LastUpdated are usually equal: format once per reader.
    if (deciseconds !== this.#lastDeciseconds) {
      this.#lastDeciseconds = deciseconds
      this.#lastIso = isoFromDeciseconds(deciseconds)
    }
    return this.#lastIso
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
  /**
   * Largest valid id, inclusive (e.g. the section's MaxVendorId). Default `2^idBits - 1`, and
   * never above `MAX_ID` (`./ranges`, 2^32 - 1), the largest id an `IdRanges` holds.
   */
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
  const maxId = Math.min(spec.maxId ?? 2 ** idBits - 1, MAX_ID)
  // Field names are only built on failure (a restriction-heavy string calls this hundreds of
  // times), and with no per-call closures: bundlers' keepNames wraps each in a defineProperty.

  const count = r.readInt(countBits)
  if (r.overrun)
    return decodeError(
      'truncated',
      rangeFieldName(spec, 'numEntries'),
      `${rangeFieldName(spec, 'numEntries')} runs past the end`,
    )
  // Every entry needs at least IsARange plus one id (a Fibonacci code is at least 2 bits).
  const minEntryBits = 1 + (fib ? 2 : idBits)
  if (count * minEntryBits > r.remaining) {
    return decodeError(
      'truncated',
      rangeFieldName(spec, 'numEntries'),
      `${rangeFieldName(spec, 'numEntries')} is ${count} but only ${r.remaining} bits remain (${minEntryBits} per entry at least)`,
    )
  }
  // Bounds in pairs (start, end), as read.
  const bounds: number[] = []
  // Entries written in ascending, non-touching order (what encoders write) need no merge pass.
  let merged = true
  let last = -1
  let offset = 0
  for (let i = 0; i < count; i++) {
    const isRange = r.readBool()
    let start: number
    let end: number
    if (fib) {
      const s = r.readFibonacci()
      if (s < 0) return fibError(r, rangeFieldName(spec, 'start'))
      start = offset + s
      offset = start
      if (isRange) {
        const e = r.readFibonacci()
        if (e < 0) return fibError(r, rangeFieldName(spec, 'end'))
        end = offset + e
        offset = end
      } else end = start
    } else {
      start = r.readInt(idBits)
      end = isRange ? r.readInt(idBits) : start
    }
    if (r.overrun) {
      const field = isRange ? rangeFieldName(spec, 'end') : rangeFieldName(spec, 'start')
      return decodeError('truncated', field, `${spec.field} entry ${i + 1} runs past the end`)
    }
    if (start < 1 || start > maxId) {
      return decodeError(
        'out_of_range',
        rangeFieldName(spec, 'start'),
        `${rangeFieldName(spec, 'start')} ${start} is outside 1..${maxId}`,
      )
    }
    if (end < start) {
      return decodeError(
        'bad_range',
        rangeFieldName(spec, 'end'),
        `${rangeFieldName(spec, 'end')} ${end} is before ${rangeFieldName(spec, 'start')} ${start}`,
      )
    }
    if (end > maxId)
      return decodeError(
        'out_of_range',
        rangeFieldName(spec, 'end'),
        `${rangeFieldName(spec, 'end')} ${end} is above ${maxId}`,
      )
    if (start <= last + 1) merged = false
    last = end
    bounds.push(start, end)
  }
  return { ok: true, value: merged ? IdRanges.ofSorted(bounds, count) : IdRanges.ofUnsorted(bounds, count) }
}

const DEFAULT_RANGE_NAMES = { numEntries: 'NumEntries', start: 'StartOrOnlyId', end: 'EndId' } as const

function rangeFieldName(spec: RangeListSpec, which: 'numEntries' | 'start' | 'end'): string {
  return `${spec.field}.${spec.names?.[which] ?? DEFAULT_RANGE_NAMES[which]}`
}

function fibError(r: BitReader, field: string): { ok: false; error: DecodeError } {
  return r.overrun
    ? decodeError('truncated', field, `${field} runs past the end`)
    : decodeError('bad_fibonacci', field, `${field} has no terminator within ${MAX_FIBONACCI_BITS} bits`)
}
