/**
 * The bit reader the GPP decoders share: one instance, reloaded for each base64url segment (the
 * header, a section's core, a sub-section) straight from a range of the input string, so a
 * request allocates no readers, no byte arrays and no substrings for the segments it reads.
 * Reads follow `../bits` `BitReader` (the TCF decoder's reader): big-endian fields, never
 * throwing, a sticky `overrun` flag when a read needs more bits than the segment has.
 *
 * Safe to share because decoding is synchronous and every GPP decoder finishes with one segment
 * before it loads the next; nothing read from it outlives the call that read it, and bytes past
 * the loaded segment (an earlier segment's) are never part of a value.
 */
import { type FibonacciSource, fibonacciNumbers, MAX_FIBONACCI_BITS, SEXTET } from '../bits'
import { BOUNDS_SCRATCH, IdRanges } from '../ranges'

const DOT = 46

// Fibonacci numbers F(2).. (1, 2, 3, 5, ...) for the codes of up to 32 bits `readFibonacci`
// decodes with Math.clz32, all below 2^30.
// JIT: docs/performance.md "Engine notes", "Small integers in the Fibonacci table".
const FIBONACCI = fibonacciNumbers(32)
// All of them, enough for MAX_FIBONACCI_BITS-bit codes, for the longer codes (past 2^30 ids,
// which every caller rejects).
const LONG_FIBONACCI = fibonacciNumbers(MAX_FIBONACCI_BITS)

// Slack after a segment's last byte, so a 32-bit window read up to 64 bits past the segment's end
// (the bitfield scan reads one window ahead) stays inside the buffer and needs no bounds checks.
// Those bytes may be an earlier segment's: every read masks or shifts off the bits past the end
// (and `load` writes the last partial byte's unused bits as zeros, which `restIsZero` relies on).
const TAIL = 16
// Segments up to the default GPP length cap (16 KB) decode into one buffer; a longer one (only
// with a larger `maxLength`) gets its own, dropped when the next segment loads.
const SCRATCH_CHARS = 16_384

export class SegmentReader implements FibonacciSource {
  bytes = new Uint8Array(Math.ceil((SCRATCH_CHARS * 6) / 8) + TAIL)
  readonly #scratch = this.bytes
  /** Bits in the loaded segment (6 per character). */
  bitLength = 0
  /** Next bit to read. */
  pos = 0
  /** Set once any read needed more bits than remained. */
  overrun = false

  /**
   * Loads the segment that starts at `text[start]` and ends at the first '.' or at `end`: its
   * characters decoded to bits, position 0. Returns the index where it stopped (the '.' or
   * `end`), or -1 when the segment is empty or holds a character outside base64url; then nothing
   * can be read and the caller builds the error from the segment's text (`segmentError`).
   */
  load(text: string, start: number, end: number): number {
    let bytes = this.#scratch
    const most = end - start
    if (most > SCRATCH_CHARS) bytes = new Uint8Array(Math.ceil((most * 6) / 8) + TAIL)
    this.bytes = bytes
    this.pos = 0
    this.bitLength = 0
    this.overrun = false
    // Four characters make three bytes; the first group with a '.' or a bad character ends the
    // fast loop, and the tail loop finds which it was.
    let i = start
    let j = 0
    const S = SEXTET
    for (; i + 4 <= end; i += 4) {
      const c0 = text.charCodeAt(i)
      const c1 = text.charCodeAt(i + 1)
      const c2 = text.charCodeAt(i + 2)
      const c3 = text.charCodeAt(i + 3)
      if ((c0 | c1 | c2 | c3) > 127) break
      const a = S[c0] as number
      const b = S[c1] as number
      const c = S[c2] as number
      const d = S[c3] as number
      if ((a | b | c | d) < 0) break
      const v = (a << 18) | (b << 12) | (c << 6) | d
      bytes[j] = v >> 16
      bytes[j + 1] = (v >> 8) & 0xff
      bytes[j + 2] = v & 0xff
      j += 3
    }
    let acc = 0
    let accBits = 0
    for (; i < end; i++) {
      const code = text.charCodeAt(i)
      if (code === DOT) break
      const v = code < 128 ? (S[code] as number) : -1
      if (v < 0) return -1
      acc = (acc << 6) | v
      accBits += 6
      if (accBits >= 8) {
        accBits -= 8
        bytes[j++] = (acc >> accBits) & 0xff
        acc &= (1 << accBits) - 1
      }
    }
    if (i === start) return -1
    if (accBits > 0) bytes[j] = (acc << (8 - accBits)) & 0xff
    this.bitLength = (i - start) * 6
    return i
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

  /** Unsigned big-endian integer of `n` bits, 0 <= n <= 48. */
  readInt(n: number): number {
    if (n > this.bitLength - this.pos || n < 0 || n > 48) {
      this.overrun = true
      return 0
    }
    if (n <= 24) {
      if (n === 0) return 0
      const value = this.#word(this.pos) >>> (32 - n)
      this.pos += n
      return value
    }
    // Above 24 bits: high part times 2^24 plus the low 24 bits (no 32-bit overflow).
    const high = this.#word(this.pos) >>> (56 - n)
    const low = this.#word(this.pos + n - 24) >>> 8
    this.pos += n
    return high * 16_777_216 + low
  }

  /** `readInt` for 1 <= n <= 32 (the `BitSource` contract's 32-bit read). */
  readBits(n: number): number {
    return this.readInt(n)
  }

  /**
   * Int(2), nearly every US field. At an even bit position it cannot straddle a byte, so it is
   * one shift and mask; at an odd one (never in the US layouts) `readInt` takes it.
   */
  read2(): number {
    const pos = this.pos
    if ((pos & 1) !== 0 || pos + 2 > this.bitLength) return this.readInt(2)
    this.pos = pos + 2
    return ((this.bytes[pos >> 3] as number) >> (6 - (pos & 7))) & 3
  }

  readBool(): boolean {
    const pos = this.pos
    if (pos >= this.bitLength) {
      this.overrun = true
      return false
    }
    this.pos = pos + 1
    return (((this.bytes[pos >> 3] as number) >> (7 - (pos & 7))) & 1) === 1
  }

  /** True when every bit after the position is zero (the segment's padding). */
  restIsZero(): boolean {
    const pos = this.pos
    if (pos >= this.bitLength) return true
    const bytes = this.bytes
    // Bits past bitLength in the last byte are zero by construction (see `load`).
    const last = (this.bitLength + 7) >> 3
    let i = pos >> 3
    if (((bytes[i] as number) & (0xff >> (pos & 7))) !== 0) return false
    for (i++; i < last; i++) if (bytes[i] !== 0) return false
    return true
  }

  /** The 32 bits from `pos` as a signed 32-bit integer (bits past the segment are not zeroed). */
  #word(pos: number): number {
    const bytes = this.bytes
    const i = pos >> 3
    const off = pos & 7
    const hi =
      ((bytes[i] as number) << 24) |
      ((bytes[i + 1] as number) << 16) |
      ((bytes[i + 2] as number) << 8) |
      (bytes[i + 3] as number)
    return off === 0 ? hi : (hi << off) | ((bytes[i + 4] as number) >>> (8 - off))
  }

  /** `chars` letters of 6 bits, 0 = 'A' .. 25 = 'Z'; null when one is out of range or bits run out. */
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

  skip(n: number): void {
    if (this.has(n)) this.pos += n
  }

  /**
   * A Fibonacci-coded positive integer (GPP spec "Fibonacci Integer"): bit i adds F(i+2) and the
   * code ends at the first "11". Returns -1, without consuming, when no terminator appears
   * within `MAX_FIBONACCI_BITS` or before the end (then `overrun` is set).
   */
  readFibonacci(): number {
    // Codes up to 32 bits (every id and offset below F(33), 3.5 million): find the terminator with
    // Math.clz32 on `window & (window << 1)` (bit i set where bits i and i + 1 both are), then add
    // the Fibonacci numbers of the set bits before it. Longer codes take the bit loop below.
    const avail = this.bitLength - this.pos
    let window = this.#word(this.pos)
    // Bits past the segment's end are not zeroed (see `#word`): mask them off.
    if (avail < 32) window = avail <= 0 ? 0 : window & ~(-1 >>> avail)
    const pairs = window & (window << 1)
    if (pairs !== 0) {
      const last = Math.clz32(pairs) // the bit before the terminator, at most 30
      let bits = window & ~(-1 >>> (last + 1))
      let value = 0
      while (bits !== 0) {
        const i = Math.clz32(bits)
        value += FIBONACCI[i] as number
        bits &= ~(0x8000_0000 >>> i)
      }
      this.pos += last + 2
      return value
    }
    if (avail < 32) {
      this.overrun = true
      return -1
    }
    return this.#readLongFibonacci()
  }

  #readLongFibonacci(): number {
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
      if (bit === 1) value += LONG_FIBONACCI[i] as number
      prev = bit
    }
    if (limit === this.bitLength) this.overrun = true
    return -1
  }

  /**
   * Bitfield(n) as the ids whose bit is set, bit i standing for id `firstId + i` (nothing read
   * when fewer than `n` bits remain): the runs `#scanRuns` finds, listed id by id.
   */
  readBitfield(n: number, firstId = 1): number[] {
    const ids: number[] = []
    if (!this.has(n)) return ids
    const bounds = boundsFor(n)
    const count = this.#scanRuns(n, firstId, bounds)
    for (let i = 0; i < count; i += 2) {
      const last = bounds[i + 1] as number
      for (let id = bounds[i] as number; id <= last; id++) ids.push(id)
    }
    return ids
  }

  /**
   * Bitfield(n) as merged inclusive ranges of the set ids, bit i standing for id `firstId + i`
   * (vendor bitfields, whose ids run into the tens of thousands).
   */
  readBitfieldRanges(n: number, firstId = 1): IdRanges {
    if (!this.has(n)) return IdRanges.empty
    const bounds = boundsFor(n)
    return IdRanges.ofSorted(bounds, this.#scanRuns(n, firstId, bounds) >> 1)
  }

  /**
   * The runs of set bits in the next `n` bits (which must remain), written to `bounds` as
   * alternately a run's first id and its last (bit i is id `firstId + i`); returns how many bounds, and
   * moves past the field. Finds run boundaries a 32-bit word at a time with Math.clz32, so the
   * cost is per run and per 32 bits, not per bit. Both bitfield readers share this loop on
   * purpose: docs/performance.md "Engine notes", "One scan for both bitfield readers".
   */
  #scanRuns(n: number, firstId: number, bounds: number[]): number {
    let count = 0
    const endPos = this.pos + n
    // Id of bit `pos` is `pos - base`.
    const base = this.pos - firstId
    // A word at a time: XOR with the bit before each bit marks where runs start and end, and
    // Math.clz32 walks those marks (as tcf/words.ts does). The bit before the field counts as 0;
    // bits past its end are cleared, so a run still open at the end closes on the field's last id.
    let before = 0
    for (let pos = this.pos; pos < endPos; pos += 32) {
      let w = this.#word(pos)
      const left = endPos - pos
      if (left < 32) w &= ~(-1 >>> left)
      let t = w ^ ((w >>> 1) | before)
      // Id of the window's first bit; an even mark starts a run at its bit, an odd one ends the
      // run at the bit before it.
      const id = pos - base
      while (t !== 0) {
        const k = Math.clz32(t)
        bounds[count] = id + k - (count & 1)
        count++
        t ^= 1 << (31 - k)
      }
      before = w << 31
    }
    // A run reaching a field that ends on a word boundary has no cleared bit to close it.
    if (count & 1) bounds[count++] = endPos - base - 1
    this.pos = endPos
    return count
  }
}

// Where `#scanRuns` writes an n-bit field's run bounds: n bits hold at most n + 1. A MaxId is at
// most 65,535, so the shared scratch always fits; a longer field would get its own.
function boundsFor(n: number): number[] {
  return n < BOUNDS_SCRATCH.length ? BOUNDS_SCRATCH : new Array<number>(n + 1)
}

/** The one reader every GPP decoder loads its segments into. */
export const SEGMENT = new SegmentReader()
