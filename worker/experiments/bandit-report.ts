/**
 * What a bandit is doing now, for the experiment report: each arm's Beta posterior on its
 * conversion rate (Beta(1 + conversions, 1 + exposures - conversions), as worker/decide/bandit.ts
 * draws from) and the share of traffic Thompson sampling gives it, which is the posterior
 * probability that the arm is best (Thompson 1933; Chapelle and Li 2011), estimated from a fixed
 * number of seeded draws so the same counts always give the same report. Pure.
 */
import { mulberry32, sampleBeta } from '../decide/bandit'

export interface BanditArmReport {
  arm: string
  exposures: number
  conversions: number
  posterior: { alpha: number; beta: number; mean: number }
  /** Share of new traffic the arm gets now (0-1). */
  allocation: number
}

const DRAWS = 10_000

/**
 * @example
 *   banditReport(['a', 'b'], { a: { exposures: 100, conversions: 5 }, b: { exposures: 100, conversions: 15 } })
 *   // -> b's allocation is close to 1
 */
export function banditReport(
  arms: readonly string[],
  counts: Readonly<Record<string, { exposures: number; conversions: number }>>,
): BanditArmReport[] {
  const posts = arms.map((arm) => {
    const c = Object.hasOwn(counts, arm) ? counts[arm]! : { exposures: 0, conversions: 0 }
    const conversions = Math.max(0, Math.min(c.conversions, c.exposures))
    const alpha = 1 + conversions
    const beta = 1 + Math.max(0, c.exposures - conversions)
    return { arm, exposures: c.exposures, conversions: c.conversions, alpha, beta }
  })
  const wins = new Array<number>(arms.length).fill(0)
  const rand = mulberry32(0x5eed)
  for (let i = 0; i < DRAWS && posts.length > 0; i++) {
    let best = 0
    let bestDraw = -1
    posts.forEach((p, j) => {
      const d = sampleBeta(p.alpha, p.beta, rand)
      if (d > bestDraw) {
        bestDraw = d
        best = j
      }
    })
    wins[best]!++
  }
  return posts.map((p, j) => ({
    arm: p.arm,
    exposures: p.exposures,
    conversions: p.conversions,
    posterior: { alpha: p.alpha, beta: p.beta, mean: p.alpha / (p.alpha + p.beta) },
    allocation: wins[j]! / DRAWS,
  }))
}
