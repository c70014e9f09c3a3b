/**
 * Thompson sampling for Bernoulli arms (Thompson 1933; Chapelle and Li 2011): each arm's conversion
 * rate has a Beta(1 + conversions, 1 + non-conversions) posterior; draw one sample per arm and show
 * the arm with the highest draw. Draws come from a PRNG seeded by (experiment, unit, epoch), so a
 * visitor keeps their arm for one rebalance period and the result is reproducible. Pure.
 */
import type { ArmStats } from './context'
import { murmur3 } from './bucket'

/** mulberry32: a small, fast, well-distributed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function normal(rand: () => number): number {
  // Box-Muller; 1 - u keeps the logarithm finite.
  const u = 1 - rand()
  const v = rand()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** Gamma(shape, 1) by Marsaglia and Tsang (2000), boosted for shape < 1. */
export function sampleGamma(shape: number, rand: () => number): number {
  if (shape < 1) return sampleGamma(shape + 1, rand) * Math.pow(1 - rand(), 1 / shape)
  const d = shape - 1 / 3
  const c = 1 / Math.sqrt(9 * d)
  for (let i = 0; i < 1000; i++) {
    let x: number
    let v: number
    do {
      x = normal(rand)
      v = 1 + c * x
    } while (v <= 0)
    v = v * v * v
    const u = 1 - rand()
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v
  }
  return d
}

export function sampleBeta(a: number, b: number, rand: () => number): number {
  const x = sampleGamma(a, rand)
  const y = sampleGamma(b, rand)
  return x + y > 0 ? x / (x + y) : 0.5
}

/** Index of the arm Thompson sampling picks for this unit in this epoch. */
export function thompsonPick(
  arms: readonly string[],
  stats: Record<string, ArmStats> | undefined,
  seed: string,
): number {
  const rand = mulberry32(murmur3(seed))
  let best = 0
  let bestDraw = -1
  for (let i = 0; i < arms.length; i++) {
    const s = stats?.[arms[i]!]
    const exposures = Math.max(0, s?.exposures ?? 0)
    const conversions = Math.min(exposures, Math.max(0, s?.conversions ?? 0))
    const draw = sampleBeta(1 + conversions, 1 + exposures - conversions, rand)
    if (draw > bestDraw) {
      best = i
      bestDraw = draw
    }
  }
  return best
}
