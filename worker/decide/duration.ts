/** Durations as marketers write them in rule files (`90d`, `12h`, `30m`, `45s`). Pure. */

export const DURATION = /^(\d+)(ms|s|m|h|d|w)$/

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/** Milliseconds in `text`, or null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text)
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : null
}
