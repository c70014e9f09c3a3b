/**
 * Test helpers for the GPP decoder tests: write bit strings as base64url so tests can build
 * exactly the layouts (paddings, out-of-range values, hostile ranges) the IAB encoder will not
 * produce, and map `@iabgpp/cmpapi` field values onto the decoder's output shapes.
 */
import { IdRanges } from '../../worker/consent/ranges'
import type { GppRangeEntry } from '../../worker/consent/types'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** Base64url of a '0'/'1' string (spaces ignored), zero-padded to a multiple of `padTo` bits, then of 6. */
export function bitsToBase64(bits: string, padTo = 6): string {
  let b = bits.replace(/\s+/g, '')
  while (b.length % padTo !== 0) b += '0'
  while (b.length % 6 !== 0) b += '0'
  let out = ''
  for (let i = 0; i < b.length; i += 6) out += ALPHABET[parseInt(b.slice(i, i + 6), 2)]
  return out
}

/** `n` as a `width`-bit big-endian bit string. */
export function intBits(n: number, width: number): string {
  return n.toString(2).padStart(width, '0')
}

/** Fibonacci code of a positive integer (GPP "Integer (Fibonacci)"), terminator included. */
export function fibBits(n: number): string {
  const fib = [1, 2]
  while ((fib[fib.length - 1] as number) <= n)
    fib.push((fib[fib.length - 1] as number) + (fib[fib.length - 2] as number))
  const bits: string[] = []
  let rest = n
  for (let i = fib.length - 1; i >= 0; i--) {
    const f = fib[i] as number
    if (f <= rest) {
      bits[i] = '1'
      rest -= f
    } else bits[i] = '0'
  }
  const code = bits.join('').replace(/0+$/, '')
  return `${code}1`
}

/** The ids whose flag is set in a library boolean array (index 0 is id 1). */
export function flagsToIds(flags: boolean[]): number[] {
  const ids: number[] = []
  flags.forEach((f, i) => {
    if (f) ids.push(i + 1)
  })
  return ids
}

export function idsToFlags(ids: number[], length: number): boolean[] {
  return Array.from({ length }, (_, i) => ids.includes(i + 1))
}

/** Library vendor id arrays become the decoder's merged ranges. */
export function libraryIdsToRanges(ids: number[]): IdRanges {
  return IdRanges.fromIds(ids)
}

/** Library `RangeEntry` objects become `GppRangeEntry`. */
export function libraryRangeEntries(
  entries: Array<{ getKey(): number; getType(): number; getIds(): number[] }>,
): GppRangeEntry[] {
  return entries.map((e) => ({ key: e.getKey(), type: e.getType(), ids: IdRanges.fromIds(e.getIds()) }))
}
