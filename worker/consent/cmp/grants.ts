/**
 * What one CMP reading says about each Gatehouse purpose under a category -> purposes mapping: a
 * purpose is granted when at least one category mapped to it was accepted, refused when every
 * mapped category the cookie states was refused, and unstated when the cookie states none of them.
 * Pure: no Workers imports.
 */
import { PURPOSES, type Purpose } from '../types'
import type { CmpReading } from './types'

export type CmpVerdict = 'granted' | 'refused' | 'unstated'

export interface CmpGrant {
  verdict: CmpVerdict
  /** e.g. `C0002 accepted`, `C0004, C0005 refused`, `no mapped category stated`. */
  detail: string
}

/** Category id -> the Gatehouse purposes it stands for (the rules' mapping for one CMP). */
export type CmpMapping = Readonly<Record<string, readonly Purpose[]>>

/**
 * @example cmpGrants(reading, { C0002: ['storage', 'measurement'] }).measurement
 *   // -> { verdict: 'granted', detail: 'C0002 accepted' } when groups has C0002:1
 */
export function cmpGrants(r: CmpReading, mapping: CmpMapping): Record<Purpose, CmpGrant> {
  const out = {} as Record<Purpose, CmpGrant>
  for (const p of PURPOSES) {
    const accepted: string[] = []
    const refused: string[] = []
    for (const [category, purposes] of Object.entries(mapping)) {
      if (!purposes.includes(p)) continue
      const v = Object.hasOwn(r.categories, category) ? r.categories[category] : undefined
      if (v === true) accepted.push(category)
      else if (v === false || r.listsAcceptedOnly) refused.push(category)
    }
    out[p] = accepted.length
      ? { verdict: 'granted', detail: `${accepted.join(', ')} accepted` }
      : refused.length
        ? { verdict: 'refused', detail: `${refused.join(', ')} refused` }
        : { verdict: 'unstated', detail: `no category mapped to ${p} is stated` }
  }
  return out
}
