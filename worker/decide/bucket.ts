/**
 * Bucketing: a versioned, seeded hash of (experiment, unit) -> a number in [0, 1). A version, once
 * shipped, never changes its output (fixed vectors in test/decide/cases/bucketing-v*.json guard
 * that); a better hash becomes a new version. Pure.
 *
 * v1: MurmurHash3 x86 32-bit (seed 0) over the UTF-8 bytes of `<seed>:<key>:<unit>`, divided by 2^32.
 */

export const HASH_VERSIONS = [1] as const
export type HashVersion = (typeof HASH_VERSIONS)[number]

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

// One 32-bit block into the running hash (the reference algorithm's body step).
function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, C2)
  h ^= k
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

/**
 * The end of MurmurHash3 x86_32: mixes the 1-3 tail bytes in `k` (when there are any) and the
 * total length into `h`, then the final avalanche (fmix32). Unsigned result.
 */
function finish(h: number, k: number, hasTail: boolean, length: number): number {
  if (hasTail) {
    k = Math.imul(k, C1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, C2)
    h ^= k
  }
  h ^= length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * MurmurHash3 x86_32 (Austin Appleby's reference algorithm), continued over the UTF-8 bytes of
 * `text` from a state (`h` with whole blocks mixed, up to 3 pending bytes in `k`, `length` bytes
 * so far), unsigned. The bytes are fed straight from the string (lone surrogates as U+FFFD, like
 * TextEncoder): no buffer, no allocation. Used when the ASCII fast paths decline.
 */
function murmur3Stream(
  start: { h: number; k: number; filled: number; length: number },
  text: string,
): number {
  let { h, k, filled, length } = start
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i)
    if (cp < 0x80) {
      k |= cp << (filled << 3)
      length++
      if (++filled === 4) {
        h = mixBlock(h, k)
        k = 0
        filled = 0
      }
      continue
    }
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const lo = i + 1 < text.length ? text.charCodeAt(i + 1) : 0
      if (cp <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00)
        i++
      } else cp = 0xfffd
    }
    // Multi-byte sequence: up to four bytes, packed little-endian into `seq`.
    let seq: number
    let n: number
    if (cp < 0x800) {
      seq = 0xc0 | (cp >> 6) | ((0x80 | (cp & 63)) << 8)
      n = 2
    } else if (cp < 0x10000) {
      seq = 0xe0 | (cp >> 12) | ((0x80 | ((cp >> 6) & 63)) << 8) | ((0x80 | (cp & 63)) << 16)
      n = 3
    } else {
      seq =
        0xf0 |
        (cp >> 18) |
        ((0x80 | ((cp >> 12) & 63)) << 8) |
        ((0x80 | ((cp >> 6) & 63)) << 16) |
        ((0x80 | (cp & 63)) << 24)
      n = 4
    }
    for (let j = 0; j < n; j++) {
      k |= ((seq >>> (j << 3)) & 0xff) << (filled << 3)
      length++
      if (++filled === 4) {
        h = mixBlock(h, k)
        k = 0
        filled = 0
      }
    }
  }
  // Tail bytes (1-3), as in the reference implementation's fall-through switch.
  return finish(h, k, filled > 0, length)
}

/**
 * The same hash for an all-ASCII `text` (UTF-8 bytes = char codes), four characters per block;
 * -1 when the text is not ASCII (the caller then streams it byte by byte).
 */
function murmur3Ascii(text: string, seed: number): number {
  let h = seed >>> 0
  const length = text.length
  const blocks = length & ~3
  for (let i = 0; i < blocks; i += 4) {
    const a = text.charCodeAt(i)
    const b = text.charCodeAt(i + 1)
    const c = text.charCodeAt(i + 2)
    const d = text.charCodeAt(i + 3)
    if ((a | b | c | d) >= 0x80) return -1
    h = mixBlock(h, a | (b << 8) | (c << 16) | (d << 24))
  }
  let k = 0
  for (let i = blocks, shift = 0; i < length; i++, shift += 8) {
    const ch = text.charCodeAt(i)
    if (ch >= 0x80) return -1
    k |= ch << shift
  }
  return finish(h, k, (length & 3) !== 0, length)
}

/**
 * `murmur3Ascii` of the prefix's bytes followed by `text`, resumed from the prefix's state (its
 * full blocks mixed once, at compile time) so only the unit is hashed per request, and without
 * building the concatenation; -1 when `text` is not ASCII.
 */
function murmur3AsciiResume(p: HashPrefix, text: string): number {
  let h = p.h
  let k = p.k
  let shift = p.filled << 3
  const n = text.length
  let i = 0
  // Finish the prefix's partial block, if any.
  for (; shift !== 0 && i < n; i++) {
    const ch = text.charCodeAt(i)
    if (ch >= 0x80) return -1
    k |= ch << shift
    shift += 8
    if (shift === 32) {
      h = mixBlock(h, k)
      k = 0
      shift = 0
    }
  }
  // Whole blocks, four characters at a time.
  for (const blocks = i + ((n - i) & ~3); i < blocks; i += 4) {
    const a = text.charCodeAt(i)
    const b = text.charCodeAt(i + 1)
    const c = text.charCodeAt(i + 2)
    const d = text.charCodeAt(i + 3)
    if ((a | b | c | d) >= 0x80) return -1
    h = mixBlock(h, a | (b << 8) | (c << 16) | (d << 24))
  }
  for (; i < n; i++) {
    const ch = text.charCodeAt(i)
    if (ch >= 0x80) return -1
    k |= ch << shift
    shift += 8
  }
  return finish(h, k, shift > 0, p.bytes.length + n)
}

/** MurmurHash3 x86_32 (Austin Appleby's reference algorithm) of the UTF-8 bytes of `text`, unsigned. */
export function murmur3(text: string, seed = 0): number {
  const fast = murmur3Ascii(text, seed)
  return fast >= 0 ? fast : murmur3Stream({ h: seed >>> 0, k: 0, filled: 0, length: 0 }, text)
}

/** The unit's position in [0, 1) for `key` (experiment id, layer id, holdout) under `seed`. */
export function bucket(version: HashVersion, seed: string, key: string, unit: string): number {
  switch (version) {
    case 1:
      return murmur3(`${seed}:${key}:${unit}`) / 4294967296
  }
}

/**
 * A `<seed>:<key>:` prefix encoded and hashed once: per-request hashing resumes from the state
 * after the prefix (`h` after its whole 4-byte blocks, `k` and `filled` its 0-3 trailing bytes).
 */
export interface HashPrefix {
  version: HashVersion
  text: string
  bytes: Uint8Array
  h: number
  k: number
  filled: number
}

export function hashPrefix(version: HashVersion, seed: string, key: string): HashPrefix {
  const text = `${seed}:${key}:`
  const bytes = new TextEncoder().encode(text)
  // The prefix's whole blocks are mixed once here, with seed 0 (what bucketing uses); hashing a
  // unit resumes from this state.
  let h = 0
  let k = 0
  let filled = 0
  for (let i = 0; i < bytes.length; i++) {
    k |= bytes[i]! << (filled << 3)
    if (++filled === 4) {
      h = mixBlock(h, k)
      k = 0
      filled = 0
    }
  }
  return { version, text, bytes, h, k, filled }
}

/** `bucket(version, seed, key, unit)` for a precomputed prefix: the same value, less work. */
export function bucketPrefixed(prefix: HashPrefix, unit: string): number {
  switch (prefix.version) {
    case 1: {
      const fast = murmur3AsciiResume(prefix, unit)
      return (fast >= 0 ? fast : murmur3Stream({ ...prefix, length: prefix.bytes.length }, unit)) / 4294967296
    }
  }
}

/** Index of the weight range `u` falls in (weights need not sum to 1); -1 when all weights are 0. */
export function pickWeighted(u: number, weights: readonly number[]): number {
  let total = 0
  for (const w of weights) total += w
  if (total <= 0) return -1
  let acc = 0
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]! / total
    if (u < acc) return i
  }
  // Rounding can leave u just above the last bound: it belongs to the last arm with weight.
  for (let i = weights.length - 1; i >= 0; i--) if (weights[i]! > 0) return i
  return -1
}
