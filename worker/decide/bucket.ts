/**
 * Bucketing: a versioned, seeded hash of (experiment, unit) -> a number in [0, 1). A version, once
 * shipped, never changes its output (fixed vectors in test/decide/cases/bucketing-v*.json guard
 * that); a better hash becomes a new version. Pure.
 *
 * v1: MurmurHash3 x86 32-bit (seed 0) over the UTF-8 bytes of `<seed>:<key>:<unit>`, divided by 2^32.
 */

export const HASH_VERSIONS = [1] as const
export type HashVersion = (typeof HASH_VERSIONS)[number]

const encoder = new TextEncoder()

/** MurmurHash3 x86_32 (Austin Appleby's reference algorithm), as an unsigned 32-bit integer. */
export function murmur3(text: string, seed = 0): number {
  const data = encoder.encode(text)
  const c1 = 0xcc9e2d51
  const c2 = 0x1b873593
  let h = seed >>> 0
  const blocks = data.length & ~3
  for (let i = 0; i < blocks; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  // Tail bytes (1-3), little-endian, as in the reference implementation's fall-through switch.
  const tail = data.length & 3
  if (tail > 0) {
    let k = 0
    if (tail === 3) k ^= data[blocks + 2]! << 16
    if (tail >= 2) k ^= data[blocks + 1]! << 8
    k ^= data[blocks]!
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
  }
  h ^= data.length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The unit's position in [0, 1) for `key` (experiment id, layer id, holdout) under `seed`. */
export function bucket(version: HashVersion, seed: string, key: string, unit: string): number {
  switch (version) {
    case 1:
      return murmur3(`${seed}:${key}:${unit}`) / 4294967296
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
