/**
 * What every consent-string decoder shares: the closed list of decode failure reasons, strict
 * base64url decoding (RFC 4648 section 5) with a length cap, the `BitSource` contract the bit
 * readers keep, the Fibonacci numbers GPP's Fibonacci coding adds up, and the datetime field
 * (36-bit deciseconds) as milliseconds or as ISO 8601 text. Range lists are read in
 * `bits-ranges.ts`, over any `BitSource`.
 *
 * Two readers keep the contract on the request path: `tcf/words.ts` `WordReader` (32-bit words,
 * for TC strings) and `gpp/reader.ts` `SegmentReader` (bytes straight from the input, for GPP);
 * one contract suite (`bits.contract.test.ts`) checks both, read by read, against a plain
 * reference reader kept with the tests. Pure TypeScript, no Workers imports; nothing here throws.
 */
import type { IdRanges } from './ranges'
import type { DecodeError, DecodeResult } from './types'

/** Default cap on an encoded consent string, checked before any decoding (8 KB). */
export const DEFAULT_MAX_LENGTH = 8192

/**
 * Why a consent string did not decode: the closed list every decoder draws from (the compiler
 * rejects any other), in the order docs/consent.md "Decode failures" describes them.
 */
export const DECODE_REASONS = [
  'bad_type',
  'empty',
  'too_long',
  'bad_base64',
  'bad_length',
  'bad_version',
  'bad_value',
  'truncated',
  'out_of_range',
  'bad_range',
  'bad_fibonacci',
  'bad_padding',
  'too_many_segments',
  'duplicate_segment',
  'unknown_segment',
  'unexpected_segment',
  'unknown_subsection',
  'duplicate_subsection',
  'too_many_sections',
  'section_count_mismatch',
  'bad_table',
  // CMP cookies (worker/consent/cmp)
  'bad_encoding',
  'bad_json',
  'bad_syntax',
  'missing',
  'too_many',
] as const

export type DecodeReason = (typeof DECODE_REASONS)[number]

/** The failure side of a `DecodeResult`. */
export type DecodeFailure = { ok: false; error: DecodeError }

/**
 * Whether a section reader's answer is its failure: readers return their value (an `IdRanges`, an
 * array) or a `DecodeFailure` rather than a Result, which spares a wrapper object per section;
 * only a failure has `ok`.
 */
export function isFailure(value: object): value is DecodeFailure {
  return (value as Partial<DecodeFailure>).ok === false
}

/** Builds the failure side of a `DecodeResult`. */
export function decodeError(reason: DecodeReason, field: string, message: string): DecodeFailure {
  return { ok: false, error: { reason, field, message } }
}

/** The RFC 4648 section 5 ("base64url") alphabet, unpadded as the IAB specs use it. */
export const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Each byte's (or character code's below 256) 6-bit value in `BASE64URL`, -1 for every other one:
 * '=' padding, '+' and '/' included. A -1 shifted left stays negative, so the decoders test four
 * characters with one sign check.
 */
export const SEXTET = new Int8Array(256).fill(-1)
for (let i = 0; i < BASE64URL.length; i++) SEXTET[BASE64URL.charCodeAt(i)] = i

/** Index of the first character of `input[start..end)` outside the base64url alphabet (or `end`). */
export function badCharacterAt(input: string, start: number, end: number): number {
  let i = start
  while (i < end && input.charCodeAt(i) < 128 && (SEXTET[input.charCodeAt(i)] as number) >= 0) i++
  return i
}

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
 * alphabet, naming its position. The readers decode in place; this names what they refused.
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
  const bytes = new Uint8Array(Math.ceil((n * 6) / 8))
  let acc = 0
  let accBits = 0
  let j = 0
  for (let i = 0; i < n; i++) {
    const code = input.charCodeAt(i)
    const v = code < 128 ? (SEXTET[code] as number) : -1
    if (v < 0) {
      const at = badCharacterAt(input, 0, n)
      return decodeError('bad_base64', field, `${field} has a character outside base64url at position ${at}`)
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
  return { ok: true, value: { bytes, bitLength: n * 6 } }
}

/**
 * The reading contract of a consent-string bit reader: big-endian fields from a position, bounded
 * by `bitLength`. A read that needs more bits than remain returns a zero value (0, false, [],
 * the empty set, null), sets the sticky `overrun` flag and leaves the position alone, so a decoder
 * reads a field, checks `overrun` and reports that field as truncated. Nothing throws.
 */
export interface BitSource {
  /** Bits the reader holds. */
  readonly bitLength: number
  /** Next bit to read. */
  pos: number
  /** Set once any read needed more bits than remained; never cleared (but by loading new bits). */
  readonly overrun: boolean
  /** `bitLength - pos`. */
  readonly remaining: number
  /** True when `n` more bits are available; otherwise sets `overrun` and returns false. */
  has(n: number): boolean
  /** Unsigned integer of `n` bits, 0 <= n <= 48 (exact); any other `n` is an overrun. */
  readInt(n: number): number
  /** `readInt` for 1 <= n <= 32, whose result stays a 32-bit integer. */
  readBits(n: number): number
  readBool(): boolean
  /** `n` bits as the sorted ids whose bit is set, bit i standing for id `firstId + i`. */
  readBitfield(n: number, firstId?: number): number[]
  /** `n` bits as merged inclusive ranges of the set ids (vendor bitfields): never expanded. */
  readBitfieldRanges(n: number, firstId?: number): IdRanges
  /**
   * `chars` 6-bit letters, 0 = 'A' .. 25 = 'Z' (TCF ConsentLanguage, PublisherCC). null when the
   * bits run out (nothing read) or a letter is past 'Z' (read up to and including that letter).
   */
  readString6(chars: number): string | null
  /** Moves `n` bits on when they remain; otherwise an overrun. */
  skip(n: number): void
}

/** A `BitSource` that also reads GPP's Fibonacci-coded integers. */
export interface FibonacciSource extends BitSource {
  /**
   * A Fibonacci-coded positive integer (GPP spec "Fibonacci Integer"): bit i adds F(i+2)
   * (1, 2, 3, 5, ...) and the code ends at the first "11". Returns -1, without consuming, when
   * no terminator appears within `MAX_FIBONACCI_BITS` or before the end (then `overrun` is set).
   */
  readFibonacci(): number
}

/** The longest Fibonacci code (in bits, terminator included) a reader accepts. */
export const MAX_FIBONACCI_BITS = 48

/**
 * The first `count` Fibonacci numbers of GPP's coding, F(2), F(3), ... (1, 2, 3, 5, ...): bit i
 * of a code stands for the i-th. Exact up to 76 of them (below 2^53).
 */
export function fibonacciNumbers(count: number): number[] {
  const out: number[] = []
  for (let a = 1, b = 2; out.length < count; [a, b] = [b, a + b]) out.push(a)
  return out
}

/** Width of the datetime fields (TCF Created, LastUpdated; GPP tcfcav1 the same): deciseconds. */
export const DATETIME_BITS = 36

/** A datetime field in epoch milliseconds (exact: 36-bit counts times 100 stay below 2^53). */
export function readDatetime(r: BitSource): number {
  return r.readInt(DATETIME_BITS) * 100
}

// The last datetime `readIsoDatetime` formatted: Created and LastUpdated are usually equal.
let lastDeciseconds = -1
let lastIso = ''

/** A datetime field as ISO 8601 text (GPP reports it so), formatted once when repeated. */
export function readIsoDatetime(r: BitSource): string {
  const deciseconds = r.readInt(DATETIME_BITS)
  if (deciseconds !== lastDeciseconds) {
    lastIso = isoFromDeciseconds(deciseconds)
    lastDeciseconds = deciseconds
  }
  return lastIso
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
