/**
 * Bit strings for consent-string tests: write fields as '0'/'1' text, then as base64url, so a test
 * can build exactly the layouts no real encoder produces (hostile counts, backwards ranges, odd
 * paddings). The alphabet is the decoders' own (`BASE64URL` in worker/consent/bits.ts).
 */
import { BASE64URL, fibonacciNumbers } from '../../../worker/consent/bits'

/** `value` as an `n`-bit big-endian bit string; throws when it does not fit. */
export function int(value: number, n: number): string {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** n)
    throw new RangeError(`${value} does not fit ${n} bits`)
  return n === 0 ? '' : value.toString(2).padStart(n, '0')
}

/** A fixed-width bitfield with the given 1-based ids set. */
export function bitfield(ids: readonly number[], n: number): string {
  const bits = new Array<string>(n).fill('0')
  for (const id of ids) bits[id - 1] = '1'
  return bits.join('')
}

/**
 * Unpadded base64url of a '0'/'1' string (white space ignored), zero-padded to a multiple of
 * `padTo` bits, then of 6 (GPP encoders pad to whole bytes: `padTo` 8).
 */
export function toBase64Url(bits: string, padTo = 6): string {
  if (!Number.isInteger(padTo) || padTo < 1) throw new RangeError(`cannot pad to ${padTo} bits`)
  let b = bits.replace(/\s+/g, '')
  while (b.length % padTo !== 0) b += '0'
  while (b.length % 6 !== 0) b += '0'
  let out = ''
  for (let i = 0; i < b.length; i += 6) out += BASE64URL[parseInt(b.slice(i, i + 6), 2)]
  return out
}

const FIBONACCI = fibonacciNumbers(76)

/** Fibonacci code of a positive integer (GPP "Integer (Fibonacci)"), terminator included. */
export function fibonacciCode(n: number): string {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${n} has no Fibonacci code`)
  let top = 0
  while ((FIBONACCI[top + 1] as number) <= n) top++
  const bits = new Array<string>(top + 1).fill('0')
  let rest = n
  for (let i = top; i >= 0; i--) {
    if ((FIBONACCI[i] as number) <= rest) {
      bits[i] = '1'
      rest -= FIBONACCI[i] as number
    }
  }
  return `${bits.join('')}1`
}
