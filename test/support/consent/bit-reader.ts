/**
 * The reference `BitSource` (worker/consent/bits.ts): the reading contract stated as plainly as
 * it can be, one bit at a time, with nothing tuned. The contract suite
 * (worker/consent/bits.contract.test.ts) holds the request-path readers (`WordReader`,
 * `SegmentReader`) to it read by read. Test support only: never on the request path.
 */
import {
  type DecodedBits,
  type FibonacciSource,
  fibonacciNumbers,
  MAX_FIBONACCI_BITS,
} from '../../../worker/consent/bits'
import { IdRanges } from '../../../worker/consent/ranges'

const FIBONACCI = fibonacciNumbers(MAX_FIBONACCI_BITS)
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'

export class BitReader implements FibonacciSource {
  readonly bytes: Uint8Array
  readonly bitLength: number
  pos = 0
  overrun = false

  constructor(bytes: Uint8Array, bitLength: number = bytes.length * 8) {
    this.bytes = bytes
    this.bitLength = Math.max(0, Math.min(bitLength, bytes.length * 8))
  }

  /** A reader over decoded base64url. */
  static of(decoded: DecodedBits): BitReader {
    return new BitReader(decoded.bytes, decoded.bitLength)
  }

  /** A reader over a string of '0' and '1'. */
  static ofBits(bits: string): BitReader {
    const bytes = new Uint8Array(Math.ceil(bits.length / 8))
    for (let i = 0; i < bits.length; i++) if (bits[i] === '1') bytes[i >> 3]! |= 0x80 >> (i & 7)
    return new BitReader(bytes, bits.length)
  }

  get remaining(): number {
    return this.bitLength - this.pos
  }

  has(n: number): boolean {
    const fits = this.pos + n <= this.bitLength
    if (!fits) this.overrun = true
    return fits
  }

  /** The bit at `pos` (which must be below `bitLength`). */
  #bit(pos: number): number {
    return ((this.bytes[pos >> 3] as number) >> (7 - (pos & 7))) & 1
  }

  readInt(n: number): number {
    if (n < 0 || n > 48 || !this.has(n)) {
      this.overrun = true
      return 0
    }
    let value = 0
    for (let i = 0; i < n; i++) value = value * 2 + this.#bit(this.pos++)
    return value
  }

  readBits(n: number): number {
    return this.readInt(n)
  }

  readBool(): boolean {
    return this.readInt(1) === 1
  }

  readBitfield(n: number, firstId = 1): number[] {
    const ids: number[] = []
    if (!this.has(n)) return ids
    for (let i = 0; i < n; i++) if (this.#bit(this.pos++) === 1) ids.push(firstId + i)
    return ids
  }

  readBitfieldRanges(n: number, firstId = 1): IdRanges {
    const pairs: Array<[number, number]> = []
    for (const id of this.readBitfield(n, firstId)) {
      const last = pairs[pairs.length - 1]
      if (last && last[1] === id - 1) last[1] = id
      else pairs.push([id, id])
    }
    return IdRanges.from(pairs)
  }

  readString6(chars: number): string | null {
    if (!this.has(chars * 6)) return null
    let out = ''
    // Letter by letter, stopping just after the first value that is not a letter.
    while (out.length < chars) {
      const letter = LETTERS[this.readInt(6)]
      if (letter === undefined) return null
      out += letter
    }
    return out
  }

  readFibonacci(): number {
    const limit = Math.min(this.bitLength, this.pos + MAX_FIBONACCI_BITS)
    let value = 0
    for (let i = 0, pos = this.pos; pos < limit; i++, pos++) {
      if (this.#bit(pos) === 1 && i > 0 && this.#bit(pos - 1) === 1) {
        this.pos = pos + 1
        return value
      }
      if (this.#bit(pos) === 1) value += FIBONACCI[i] as number
    }
    if (limit === this.bitLength) this.overrun = true
    return -1
  }

  skip(n: number): void {
    if (this.has(n)) this.pos += n
  }
}
