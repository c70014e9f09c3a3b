/**
 * Sets of ids (TCF and GPP vendor ids) as sorted, merged, inclusive ranges in one flat array:
 * `[[1, 4], [10, 10]]` is stored as `[1, 4, 10, 10]`. A decoded TC string holds several of these,
 * some with hundreds of ranges; one `[start, end]` array per range was most of what a typical
 * decode allocated (docs/performance.md `## TCF decoder`). Ranges are never expanded into ids,
 * so a set's size follows the input, not the ids it covers.
 *
 * Serialises (`toJSON`) and iterates as the `[start, end]` pairs, so `JSON.stringify` and the
 * docs/api.md `[[start, end], ...]` output are what they were when sets were arrays of pairs. Pure
 * TypeScript, no Workers imports.
 */

/** Largest id a set holds (TCF and GPP ids are 16-bit fields; large sets store 32-bit bounds). */
export const MAX_ID = 0xffff_ffff

/**
 * Sorted, merged (no overlap, no adjacency), inclusive ranges of ids, immutable.
 *
 * @example IdRanges.from([[10, 10], [1, 4], [3, 5]]).toJSON() // [[1, 5], [10, 10]]
 */
export class IdRanges implements Iterable<[number, number]> {
  /**
   * `start0, end0, start1, end1, ...`, ascending; `end_i + 1 < start_(i+1)`.
   *
   * A plain array of small integers up to `LARGE_SET` ranges, a Uint32Array above.
   * JIT: docs/performance.md "Engine notes", "Set storage by size".
   */
  readonly bounds: ArrayLike<number>

  private constructor(bounds: ArrayLike<number>) {
    this.bounds = bounds
  }

  /** The set without ids; every empty set is this one instance. */
  static readonly empty: IdRanges = Object.freeze(new IdRanges(Object.freeze([])))

  /**
   * The set of `count` ranges whose bounds are `bounds[0 .. 2 * count)`, which must already be
   * sorted and merged (decoders check the order while reading: see `ofUnsorted` otherwise).
   * Copies them: `bounds` may be a scratch buffer the caller reuses.
   */
  static ofSorted(bounds: readonly number[], count: number): IdRanges {
    return count === 0 ? IdRanges.empty : new IdRanges(copied(bounds, 2 * count))
  }

  /**
   * The set of `count` ranges `bounds[2i] .. bounds[2i + 1]` in any order, overlapping or
   * adjacent (each with start <= end): sorted and merged. For range lists not written in order.
   */
  static ofUnsorted(bounds: readonly number[], count: number): IdRanges {
    if (count === 0) return IdRanges.empty
    // Ranges by start; merging takes the largest end, so ties need no second key.
    const order = new Array<number>(count)
    for (let i = 0; i < count; i++) order[i] = i
    order.sort((a, b) => (bounds[2 * a] as number) - (bounds[2 * b] as number))
    const out = scratch(2 * count)
    let n = 0
    let start = bounds[2 * (order[0] as number)] as number
    let end = bounds[2 * (order[0] as number) + 1] as number
    for (let k = 1; k < count; k++) {
      const i = order[k] as number
      const s = bounds[2 * i] as number
      const e = bounds[2 * i + 1] as number
      if (s <= end + 1) {
        if (e > end) end = e
      } else {
        out[n++] = start
        out[n++] = end
        start = s
        end = e
      }
    }
    out[n++] = start
    out[n++] = end
    return new IdRanges(copied(out, n))
  }

  /**
   * The set of `[start, end]` pairs in any order, overlapping or not. Throws a RangeError on a
   * pair that is not two integers with 0 <= start <= end <= MAX_ID: for tests and fixtures, not
   * for untrusted input (decoders build sets with `ofSorted` and check ids as they read them).
   */
  static from(pairs: Iterable<readonly [number, number]>): IdRanges {
    const bounds: number[] = []
    for (const [start, end] of pairs) {
      if (!isId(start) || !isId(end) || end < start) {
        throw new RangeError(`[${String(start)}, ${String(end)}] is not a range of ids in 0..${MAX_ID}`)
      }
      bounds.push(start, end)
    }
    return IdRanges.ofUnsorted(bounds, bounds.length >> 1)
  }

  /** The set of the given ids (any order, duplicates allowed): `[3, 1, 2, 7]` -> `[[1, 3], [7, 7]]`. */
  static fromIds(ids: Iterable<number>): IdRanges {
    return IdRanges.from(Array.from(ids, (id) => [id, id] as const))
  }

  /** The union of several sets: what restriction entries repeating a purpose and type add up to. */
  static union(sets: readonly IdRanges[]): IdRanges {
    const all: number[] = []
    for (const set of sets) for (let i = 0; i < set.bounds.length; i++) all.push(set.bounds[i] as number)
    return IdRanges.ofUnsorted(all, all.length >> 1)
  }

  /** How many ranges. */
  get count(): number {
    return this.bounds.length >> 1
  }

  /** How many ids the ranges cover (without listing them). */
  get idCount(): number {
    const b = this.bounds
    let n = 0
    for (let i = 0; i < b.length; i += 2) n += (b[i + 1] as number) - (b[i] as number) + 1
    return n
  }

  /** Whether `id` is in the set: a binary search over the ranges. False for NaN. */
  has(id: number): boolean {
    const b = this.bounds
    let lo = 0
    let hi = (b.length >> 1) - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      // Tested as `<=` rather than `> end`, so that NaN is in no range.
      if (id < (b[2 * mid] as number)) hi = mid - 1
      else if (id <= (b[2 * mid + 1] as number)) return true
      else lo = mid + 1
    }
    return false
  }

  /** Whether both sets hold the same ids. */
  equals(other: IdRanges): boolean {
    const a = this.bounds
    const b = other.bounds
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }

  /** The ranges as `[start, end]` pairs: the docs/api.md wire form, used by `JSON.stringify`. */
  toJSON(): Array<[number, number]> {
    const b = this.bounds
    const pairs = new Array<[number, number]>(b.length >> 1)
    for (let i = 0; i < b.length; i += 2) pairs[i >> 1] = [b[i] as number, b[i + 1] as number]
    return pairs
  }

  /** The ranges as `[start, end]` pairs, in order (a new pair each). */
  *[Symbol.iterator](): IterableIterator<[number, number]> {
    const b = this.bounds
    for (let i = 0; i < b.length; i += 2) yield [b[i] as number, b[i + 1] as number]
  }
}

function isId(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_ID
}

// Up to this many ranges a copying loop, above `LARGE_SET` a Uint32Array, between them `slice`.
// JIT: docs/performance.md "Engine notes", "Set storage by size".
const SMALL_SET = 8
const LARGE_SET = 1024

/** `source[0 .. length)`, in the storage that is cheapest for its size (see `IdRanges.bounds`). */
function copied(source: readonly number[], length: number): ArrayLike<number> {
  if (length > 2 * LARGE_SET) {
    // Slice by slice. JIT: docs/performance.md "Engine notes", "Set storage by size".
    const out = new Uint32Array(length)
    for (let at = 0; at < length; at += 2 * LARGE_SET) {
      out.set(source.slice(at, Math.min(at + 2 * LARGE_SET, length)), at)
    }
    return out
  }
  if (length > 2 * SMALL_SET) return source.slice(0, length)
  const out = new Array<number>(length)
  for (let i = 0; i < length; i++) out[i] = source[i] as number
  return out
}

/** An array of `length` zeros kept as packed small integers, so `slice` is one copy. */
function smallIntegers(length: number): number[] {
  const out: number[] = []
  for (let i = 0; i < length; i++) out.push(0)
  return out
}

/**
 * Where decoders write a set's bounds while reading it, before `IdRanges.ofSorted` copies them
 * out: sized once for the most ranges 16-bit ids allow (32,768, an alternating 65,535-bit
 * BitField) plus one slot that a branch-free scan may write past the last bound, never grown.
 * One per isolate: decoding is synchronous, and each reader copies its set out before the next
 * one writes here. JIT: docs/performance.md "Engine notes", "Scratch arrays sized once".
 */
export const BOUNDS_SCRATCH: number[] = smallIntegers(2 * 32_768 + 2)

// Merge output of `ofUnsorted`, grown on demand (sorting is only for lists written out of order).
let SCRATCH: number[] = smallIntegers(1024)

function scratch(length: number): number[] {
  if (SCRATCH.length < length) SCRATCH = smallIntegers(Math.max(length, 2 * SCRATCH.length))
  return SCRATCH
}

// A few large sets built at load. JIT: docs/performance.md "Engine notes", "Large sets built at load".
for (let i = 0; i < 32; i++) IdRanges.ofSorted(BOUNDS_SCRATCH, LARGE_SET + 1)
