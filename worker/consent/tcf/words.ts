/**
 * The TC string decoder's bit source: base64url decoded straight into big-endian 32-bit words, and
 * a `WordReader` over them that keeps the `BitSource` contract (`../bits`): reads past the end
 * return a zero value, set the sticky `overrun` flag and leave the position alone; nothing throws.
 * Words rather than bytes because vendor BitFields dominate typical strings, and a 32-bit window
 * costs two loads from words where it costs five bounds-checked ones from bytes.
 */
import { type BitSource, SEXTET } from '../bits'
import { BOUNDS_SCRATCH, IdRanges } from '../ranges'
import { VENDOR_SECTION } from './fields'

const VENDOR_ID_BITS = VENDOR_SECTION.maxVendorIdBits

const ENCODER = new TextEncoder()

/**
 * The characters of `input` as bytes in `bytes` (which must hold `input.length`), with every
 * non-ASCII character as 0xFF, which no alphabet accepts, so byte i always stands for character
 * i. JIT: docs/performance.md "Engine notes", "TextEncoder for bytes".
 */
export function asciiBytes(input: string, bytes: Uint8Array): Uint8Array {
  const { read, written } = ENCODER.encodeInto(input, bytes)
  if (read !== input.length || written !== input.length) {
    // A multi-byte character shifted what follows it: copy character by character instead.
    for (let i = 0; i < input.length; i++) {
      const code = input.charCodeAt(i)
      bytes[i] = code < 128 ? code : 0xff
    }
  }
  return bytes
}

/** Words needed for `chars` base64url characters, plus the one a 32-bit window may look into. */
export function wordsFor(chars: number): number {
  return Math.ceil((chars * 6) / 32) + 1
}

/**
 * Decodes the base64url characters `bytes[start..end)` (from `asciiBytes`, unpadded) into
 * `words`, bit 0 being the top bit of `words[0]`. Returns the bit count (6 per character), or -1
 * if a character is outside the alphabet; the caller reports which (`badCharacterAt`). `words`
 * must hold `wordsFor(end - start)` words; bits past the returned length are unspecified.
 */
export function decodeWords(bytes: Uint8Array, start: number, end: number, words: Int32Array): number {
  let w = 0
  let i = start
  // Sixteen characters are 96 bits: exactly three words, written out rather than four quad()
  // calls (a -1 sextet shifted left stays negative).
  // JIT: docs/performance.md "Engine notes", "32-bit reads and inlining in the word reader".
  const S = SEXTET
  for (; i + 16 <= end; i += 16) {
    const a =
      ((S[bytes[i] as number] as number) << 18) |
      ((S[bytes[i + 1] as number] as number) << 12) |
      ((S[bytes[i + 2] as number] as number) << 6) |
      (S[bytes[i + 3] as number] as number)
    const b =
      ((S[bytes[i + 4] as number] as number) << 18) |
      ((S[bytes[i + 5] as number] as number) << 12) |
      ((S[bytes[i + 6] as number] as number) << 6) |
      (S[bytes[i + 7] as number] as number)
    const c =
      ((S[bytes[i + 8] as number] as number) << 18) |
      ((S[bytes[i + 9] as number] as number) << 12) |
      ((S[bytes[i + 10] as number] as number) << 6) |
      (S[bytes[i + 11] as number] as number)
    const d =
      ((S[bytes[i + 12] as number] as number) << 18) |
      ((S[bytes[i + 13] as number] as number) << 12) |
      ((S[bytes[i + 14] as number] as number) << 6) |
      (S[bytes[i + 15] as number] as number)
    if ((a | b | c | d) < 0) return -1
    words[w] = (a << 8) | (b >>> 16)
    words[w + 1] = (b << 16) | (c >>> 8)
    words[w + 2] = (c << 24) | d
    w += 3
  }
  // The rest, 24 bits at a time (a last partial group is zero-filled), into `cur` at bit `fill`.
  let cur = 0
  let fill = 0
  for (; i < end; i += 4) {
    const v = end - i >= 4 ? quad(bytes, i) : partialQuad(bytes, i, end)
    if (v < 0) return -1
    if (fill <= 8) {
      cur |= v << (8 - fill)
      fill += 24
      if (fill === 32) {
        words[w++] = cur
        cur = 0
        fill = 0
      }
    } else {
      words[w++] = cur | (v >>> (fill - 8))
      cur = v << (40 - fill)
      fill -= 8
    }
  }
  if (fill > 0) words[w] = cur
  return (end - start) * 6
}

/** Four characters as 24 bits; negative if any is outside the alphabet. */
function quad(bytes: Uint8Array, i: number): number {
  // A -1 entry shifted left stays negative, so one sign test covers all four.
  return (
    ((SEXTET[bytes[i] as number] as number) << 18) |
    ((SEXTET[bytes[i + 1] as number] as number) << 12) |
    ((SEXTET[bytes[i + 2] as number] as number) << 6) |
    (SEXTET[bytes[i + 3] as number] as number)
  )
}

/** One to three characters as the top of 24 bits, zero-filled; negative if any is bad. */
function partialQuad(bytes: Uint8Array, i: number, end: number): number {
  let v = 0
  for (let k = 0; k < 4; k++) {
    const sextet = i + k < end ? (SEXTET[bytes[i + k] as number] as number) : 0
    if (sextet < 0) return -1
    v = (v << 6) | sextet
  }
  return v
}

/**
 * The ids whose bit is set in the low `n` bits (n <= 32) of `value`, the top one standing for
 * `firstId`: `idsOfBits(0b1011, 4)` is `[1, 3, 4]`. One step per set bit.
 */
export function idsOfBits(value: number, n: number, firstId = 1): number[] {
  // Left-aligned, each set bit is found by counting leading zeros, then cleared.
  let w = n === 0 ? 0 : value << (32 - n)
  // Allocated at its final size: cheaper than growing by push from empty.
  const ids: number[] = new Array<number>(bitCount(w))
  for (let i = 0; w !== 0; i++) {
    const k = Math.clz32(w)
    ids[i] = firstId + k
    w ^= 1 << (31 - k)
  }
  return ids
}

/** How many bits of a 32-bit integer are set (SWAR population count). */
function bitCount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555)
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
}

// Every pair of 6-bit letters (TCF ConsentLanguage, PublisherCC) by its 12-bit value: one lookup
// instead of building a two-character string per field; null where a letter is past 'Z'.
const LETTER_PAIRS: Array<string | null> = Array.from({ length: 4096 }, (_, v) =>
  v >> 6 < 26 && (v & 63) < 26 ? String.fromCharCode(65 + (v >> 6), 65 + (v & 63)) : null,
)

/**
 * `chars` 6-bit letters (0 = 'A' .. 25 = 'Z') packed in `value`, first letter highest, as a
 * string; null when a letter is past 'Z'. `lettersOf(4 * 64 + 13, 2)` is 'EN'.
 */
export function lettersOf(value: number, chars: number): string | null {
  if (chars === 2) return LETTER_PAIRS[value] as string | null
  let out = ''
  for (let i = chars - 1; i >= 0; i--) {
    const letter = Math.floor(value / 64 ** i) % 64
    if (letter > 25) return null
    out += String.fromCharCode(65 + letter)
  }
  return out
}

// `readBitfieldRanges` scans BitFields up to a vendor BitField's longest, 65,535 bits: at most
// 65,536 run bounds, which `BOUNDS_SCRATCH` (`../ranges`) holds.
// JIT: docs/performance.md "Engine notes", "Scratch arrays sized once".
const MAX_SCAN_BITS = 2 ** VENDOR_ID_BITS - 1

/** Reads big-endian bit fields from decoded words, bounded by `bitLength`: `decodeWords` output. */
export class WordReader implements BitSource {
  words: Int32Array
  bitLength: number
  /** Next bit to read, from the top bit of `words[0]`. */
  pos: number
  /** Set once any read needed more bits than remained. Never cleared (until `load`). */
  overrun: boolean

  /** `words` must hold at least one word past the last one `bitLength` touches. */
  constructor(words: Int32Array, bitLength: number) {
    this.words = words
    this.bitLength = 0
    this.pos = 0
    this.overrun = false
    this.load(words, bitLength)
  }

  /**
   * Starts over on other words, as a new reader would: one reader serves every segment.
   * JIT: docs/performance.md "Engine notes", "32-bit reads and inlining in the word reader".
   */
  load(words: Int32Array, bitLength: number): this {
    this.words = words
    this.bitLength = Math.max(0, Math.min(bitLength, (words.length - 1) * 32))
    this.pos = 0
    this.overrun = false
    return this
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
    const pos = this.pos
    this.pos = pos + n
    return this.intAt(pos, n)
  }

  /**
   * `readInt` for 1 <= n <= 32, whose result stays a 32-bit integer.
   * JIT: docs/performance.md "Engine notes", "32-bit reads and inlining in the word reader".
   */
  readBits(n: number): number {
    if (!this.has(n)) return 0
    const pos = this.pos
    this.pos = pos + n
    return this.bitsAt(pos, n)
  }

  /**
   * The unsigned `n`-bit integer (0 <= n <= 48) at bit `pos`, without moving and without bounds
   * checks: for fields the caller has already checked fit.
   */
  intAt(pos: number, n: number): number {
    if (n === 0) return 0
    if (n <= 32) return this.bitsAt(pos, n)
    // Above 32 bits: the first n - 24 bits times 2^24 plus the last 24 (no 32-bit overflow).
    return this.bitsAt(pos, n - 24) * 16_777_216 + this.bitsAt(pos + n - 24, 24)
  }

  /**
   * `intAt` for 1 <= n <= 32, branch-free.
   * JIT: docs/performance.md "Engine notes", "32-bit reads and inlining in the word reader".
   */
  bitsAt(pos: number, n: number): number {
    const words = this.words
    const i = pos >>> 5
    const off = pos & 31
    // The next word's top `off` bits; `>>> 1 >>> (31 - off)` is 0 when off is 0, where a single
    // `>>> (32 - off)` would shift by 32, which JavaScript takes as 0.
    return (((words[i] as number) << off) | (((words[i + 1] as number) >>> 1) >>> (31 - off))) >>> (32 - n)
  }

  /** `chars` 6-bit letters at bit `pos` as in `readString6`, without moving or bounds checks. */
  lettersAt(pos: number, chars: number): string | null {
    return lettersOf(this.intAt(pos, chars * 6), chars)
  }

  readBool(): boolean {
    if (!this.has(1)) return false
    const pos = this.pos++
    return (this.words[pos >>> 5] as number) << (pos & 31) < 0
  }

  /**
   * A bitfield of `n` bits as the sorted ids whose bit is set; bit i (0-based) stands for id
   * `firstId + i`. Costs one step per set bit and per 32 bits, not per bit.
   */
  readBitfield(n: number, firstId = 1): number[] {
    const ids: number[] = []
    if (!this.has(n)) return ids
    let pos = this.pos
    const end = pos + n
    let id = firstId
    while (pos < end) {
      const take = Math.min(32, end - pos)
      // The next `take` bits, left-aligned; each set bit is found by counting leading zeros.
      let w = this.bitsAt(pos, 32) & (-1 << (32 - take))
      while (w !== 0) {
        const k = Math.clz32(w)
        ids.push(id + k)
        w ^= 1 << (31 - k)
      }
      pos += take
      id += take
    }
    this.pos = end
    return ids
  }

  /**
   * A bitfield of `n` bits as merged inclusive ranges of the set ids (bit i is id `firstId + i`).
   * For vendor bitfields, whose ids can run into the tens of thousands.
   */
  readBitfieldRanges(n: number, firstId = 1): IdRanges {
    if (!this.has(n)) return IdRanges.empty
    const words = this.words
    const first = this.pos
    const endPos = first + n
    this.pos = endPos
    if (n === 0) return IdRanges.empty
    if (n > MAX_SCAN_BITS) return this.#longBitfieldRanges(first, n, firstId)
    // The run bounds go straight into a reused scratch array, alternately a run's first id and
    // its last, and the set copies them out in one piece: no pair per run.
    const bounds = BOUNDS_SCRATCH
    let count = 0
    // A bit XORed with the bit before it is set exactly where a run starts or ends, so each word
    // costs a few operations plus one step per boundary in it, not one per bit. Bits outside the
    // field read as 0, so a run open at the end of the field ends at its last bit.
    let index = first >>> 5
    const last = (endPos - 1) >>> 5
    let id = (index << 5) - first + firstId // of the current word's top bit
    let w = (words[index] as number) & (-1 >>> (first & 31))
    let before = 0 // the previous word's last bit, as bit 31
    while (index <= last) {
      if (index === last && (endPos & 31) !== 0) w &= ~(-1 >>> (endPos & 31))
      let t = w ^ ((w >>> 1) | before)
      while (t !== 0) {
        const k = Math.clz32(t)
        // An even boundary is a run's first set bit; an odd one the first clear bit after the
        // run, whose last id is the one before.
        bounds[count] = id + k - (count & 1)
        count++
        t ^= 1 << (31 - k)
      }
      before = w << 31
      w = words[++index] as number
      id += 32
    }
    // A run still open at a word-aligned end was not closed by the masking: close it at the
    // field's last id. Branch-free on purpose:
    // docs/performance.md "Engine notes", "Scratch arrays sized once".
    bounds[count] = n + firstId - 1
    count += count & 1
    return IdRanges.ofSorted(bounds, count >> 1)
  }

  /** `readBitfieldRanges` bit by bit, for a field longer than any vendor BitField can be. */
  #longBitfieldRanges(first: number, n: number, firstId: number): IdRanges {
    const bounds: number[] = []
    let runStart = -1
    for (let i = 0; i <= n; i++) {
      const set = i < n && this.bitsAt(first + i, 1) === 1
      if (set && runStart < 0) runStart = i
      else if (!set && runStart >= 0) {
        bounds.push(runStart + firstId, i - 1 + firstId)
        runStart = -1
      }
    }
    return IdRanges.ofSorted(bounds, bounds.length >> 1)
  }

  /**
   * `chars` letters of 6 bits each, 0 = 'A' .. 25 = 'Z' (TCF ConsentLanguage, PublisherCC).
   * Returns null when a letter is out of range or the bits run out.
   */
  readString6(chars: number): string | null {
    if (!this.has(chars * 6)) return null
    const pos = this.pos
    const out = this.lettersAt(pos, chars)
    if (out !== null) this.pos = pos + chars * 6
    else {
      // Stop just after the first letter past 'Z', as BitReader does.
      let i = 0
      while (this.bitsAt(pos + 6 * i, 6) <= 25) i++
      this.pos = pos + 6 * (i + 1)
    }
    return out
  }

  skip(n: number): void {
    if (this.has(n)) this.pos += n
  }
}
