/**
 * Range lists, read over any `BitSource` (`./bits`) into merged `IdRanges` that are never
 * expanded: TCF's Range section ("Vendor Consent Section", "Publisher Restrictions Section":
 * NumEntries Int(12), then per entry IsARange, StartOrOnlyVendorId Int(16), [EndVendorId]) and
 * GPP's "Range (Fibonacci)" (the same with Fibonacci offsets from the previous id). Bounded by
 * construction: NumEntries is checked against the bits that remain before the first entry is
 * read, and the result holds at most one range per entry. Ids must lie in 1..maxId and
 * End >= Start; each violation is a failure naming the field. Never throws.
 */
import {
  type BitSource,
  type DecodeFailure,
  decodeError,
  type DecodeReason,
  type FibonacciSource,
  MAX_FIBONACCI_BITS,
} from './bits'
import { BOUNDS_SCRATCH, IdRanges } from './ranges'

/** A range list's field names as its spec writes them, for errors. */
export interface RangeNames {
  readonly numEntries: string
  readonly start: string
  readonly end: string
}

/** GPP's names ("Range (Int)", "Range (Fibonacci)"). */
export const RANGE_NAMES: RangeNames = { numEntries: 'NumEntries', start: 'StartOrOnlyId', end: 'EndId' }

/**
 * A Range (Int) list of `idBits`-bit ids after a `countBits`-bit NumEntries, as merged ranges
 * within 1..maxId, or the failure naming `<field>.<name>`.
 */
export function readIntRanges(
  r: BitSource,
  field: string,
  names: RangeNames,
  countBits: number,
  idBits: number,
  maxId: number,
): IdRanges | DecodeFailure {
  const count = r.readBits(countBits)
  // Every entry needs at least IsARange plus one id.
  if (r.overrun || count * (1 + idBits) > r.remaining) return countError(r, field, names, count, 1 + idBits)
  // Bounds as read, in pairs, copied out into the set in one piece (`collected`).
  const bounds = BOUNDS_SCRATCH
  for (let i = 0; i < count; i++) {
    const isRange = r.readBool()
    const start = r.readBits(idBits)
    const end = isRange ? r.readBits(idBits) : start
    // (A start above maxId fails one of the last two.)
    if (r.overrun || start < 1 || end < start || end > maxId) {
      return entryError(r, field, names, i, isRange, start, end, maxId)
    }
    bounds[2 * i] = start
    bounds[2 * i + 1] = end
  }
  return collected(count)
}

/**
 * A GPP "Range (Fibonacci)" list: NumEntries Int(12), then per entry IsRange, a Fibonacci offset
 * from the previous id to the start and, for a range, a Fibonacci length to its end; as merged
 * ranges within 1..maxId, or the failure naming `<field>.<name>`.
 */
export function readFibonacciRanges(
  r: FibonacciSource,
  field: string,
  maxId: number,
): IdRanges | DecodeFailure {
  const names = RANGE_NAMES
  const count = r.readInt(12)
  // Every entry needs at least IsRange plus a Fibonacci code of 2 bits.
  if (r.overrun || count * 3 > r.remaining) return countError(r, field, names, count, 3)
  // Bounds as read, in pairs (NumEntries is at most 4,095).
  const bounds = BOUNDS_SCRATCH
  let offset = 0
  for (let i = 0; i < count; i++) {
    const isRange = r.readBool()
    const s = r.readFibonacci()
    if (s < 0) return fibonacciError(r, `${field}.${names.start}`)
    const start = offset + s
    let end = start
    offset = start
    if (isRange) {
      const e = r.readFibonacci()
      if (e < 0) return fibonacciError(r, `${field}.${names.end}`)
      end = offset + e
      offset = end
    }
    if (r.overrun || start < 1 || end < start || end > maxId) {
      return entryError(r, field, names, i, isRange, start, end, maxId)
    }
    bounds[2 * i] = start
    bounds[2 * i + 1] = end
  }
  return collected(count)
}

/**
 * The set of the `count` ranges just read into `BOUNDS_SCRATCH`: entries written in ascending,
 * non-touching order (what encoders write) are copied as they are, others sorted and merged.
 */
function collected(count: number): IdRanges {
  const bounds = BOUNDS_SCRATCH
  for (let i = 1; i < count; i++) {
    if ((bounds[2 * i] as number) <= (bounds[2 * i - 1] as number) + 1)
      return IdRanges.ofUnsorted(bounds, count)
  }
  return IdRanges.ofSorted(bounds, count)
}

/** The failure for a Fibonacci code `readFibonacci` refused (-1): cut short, or too long. */
export function fibonacciError(r: FibonacciSource, field: string): DecodeFailure {
  return r.overrun
    ? decodeError('truncated', field, `${field} runs past the end`)
    : decodeError('bad_fibonacci', field, `${field} has no terminator within ${MAX_FIBONACCI_BITS} bits`)
}

// Failures are worded out of the loops (and names built only on failure): a typical TC string
// reads several range sections, a restriction-heavy one hundreds. JIT: docs/performance.md
// "Engine notes", "Small hot loops".
function countError(
  r: BitSource,
  field: string,
  names: RangeNames,
  count: number,
  minEntryBits: number,
): DecodeFailure {
  if (r.overrun) return failure('truncated', field, names.numEntries, 'runs past the end')
  return failure(
    'truncated',
    field,
    names.numEntries,
    `is ${count} but only ${r.remaining} bits remain (${minEntryBits} per entry at least)`,
  )
}

function entryError(
  r: BitSource,
  field: string,
  names: RangeNames,
  i: number,
  isRange: boolean,
  start: number,
  end: number,
  maxId: number,
): DecodeFailure {
  if (r.overrun) {
    const at = `${field}.${isRange ? names.end : names.start}`
    return decodeError('truncated', at, `${field} entry ${i + 1} runs past the end`)
  }
  if (start < 1 || start > maxId) {
    return failure('out_of_range', field, names.start, `${start} is outside 1..${maxId}`)
  }
  if (end < start) {
    return failure('bad_range', field, names.end, `${end} is before ${field}.${names.start} ${start}`)
  }
  return failure('out_of_range', field, names.end, `${end} is above ${maxId}`)
}

// `{ reason, field: "<field>.<name>", message: "<field>.<name> <detail>" }`.
function failure(reason: DecodeReason, field: string, name: string, detail: string): DecodeFailure {
  const at = `${field}.${name}`
  return decodeError(reason, at, `${at} ${detail}`)
}
