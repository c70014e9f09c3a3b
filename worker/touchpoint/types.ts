/** The touchpoint contract: where this visit came from, normalised against rules/utm.yaml. Types only. */

export interface Touchpoint {
  source: string | null
  medium: string | null
  campaign: string | null
  term: string | null
  content: string | null
  /** Click ids kept (only with advertising consent): `{ gclid: '...' }`. */
  clickIds: Record<string, string>
  referrerHost: string | null
  landingPath: string
  /** ms since epoch. */
  at: number
  /** UTM fields whose values were outside the taxonomy and became `(other)` (`['source']`). */
  unmapped: Array<'source' | 'medium'>
}
